//! `cairn notify set|show|clear`: the command that receives every alert.

use super::{output, Global};
use cairn::jobs::Notifier;
use cairn::Result;
use clap::Subcommand;

/// Notify commands.
#[derive(Subcommand, Debug)]
pub enum NotifyCmd {
    /// Run CMD (sh -c) with each alert raised or cleared as one JSON document on stdin.
    ///
    /// Example: cairn notify set --command 'logger -t cairn'
    Set {
        /// The command.
        #[arg(long)]
        command: String,
    },
    /// Show the notifier.
    Show,
    /// Remove the notifier.
    Clear,
}

/// `cairn notify`.
pub fn run(g: &Global, c: NotifyCmd) -> Result<()> {
    let l = g.controller()?.local();
    match c {
        NotifyCmd::Set { command } => Notifier::set(&l, &command),
        NotifyCmd::Clear => Notifier::clear(&l),
        NotifyCmd::Show => {
            match &Notifier::load(&l)?.config().command {
                Some(c) => println!("{}", output::escape(c)),
                None => println!("no notifier; set one with `cairn notify set --command CMD`"),
            }
            Ok(())
        }
    }
}
