//! `cairn schedule set|show`: the schedule and retention policy `cairn serve` keeps.

use super::{output, Global};
use cairn::schedule::{ScheduleChange, ScheduleConfig};
use cairn::Result;
use clap::Subcommand;

/// Schedule commands.
#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Set the schedule and retention policy (flags not given keep their value).
    ///
    /// Example: cairn schedule set --backup-every 12h --verify-every 7d --keep-within 7d --keep-last 14
    Set {
        /// Time between backups.
        #[arg(long)]
        backup_every: Option<String>,
        /// Time in which every pack is verified once.
        #[arg(long)]
        verify_every: Option<String>,
        /// Keep backups younger than this.
        #[arg(long)]
        keep_within: Option<String>,
        /// Keep this many newest backups whatever their age.
        #[arg(long)]
        keep_last: Option<usize>,
    },
    /// Show the schedule.
    Show {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// `cairn schedule`.
pub fn run(g: &Global, c: ScheduleCmd) -> Result<()> {
    let l = g.controller()?.local();
    match c {
        ScheduleCmd::Set {
            backup_every,
            verify_every,
            keep_within,
            keep_last,
        } => {
            let change = ScheduleChange {
                backup_every,
                verify_every,
                keep_within,
                keep_last,
            };
            ScheduleConfig::update(&l, &change).map(|_| ())
        }
        ScheduleCmd::Show { json } => {
            let s = ScheduleConfig::load(&l)?.summary();
            if json {
                output::json(&s);
            } else {
                println!(
                    "backup every {}, verify every {}, keep backups within {}{}",
                    s.backup_every,
                    s.verify_every,
                    s.keep_within,
                    s.keep_last
                        .map(|n| format!(" and the last {n}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}
