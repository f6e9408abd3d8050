//! `cairn verify`.

use super::{output, Global, IdentityArg};
use cairn::progress::Progress;
use cairn::{Error, Result};
use clap::Args;
use std::sync::Arc;

/// Verify options.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Check the target's own copy (read over the network) instead of the internal repository.
    #[arg(long)]
    pub from_target: bool,
    /// Decrypt and check every chunk (needs --identity).
    #[arg(long)]
    pub read_data: bool,
    /// The identity (for --read-data).
    #[command(flatten)]
    pub identity: IdentityArg,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Run verify; exit 1 on any damage.
pub fn run(g: &Global, a: VerifyArgs) -> Result<()> {
    let ctl = g.controller()?;
    let keys = if a.read_data {
        Some(a.identity.require("verify --read-data")?)
    } else {
        None
    };
    let progress = Arc::new(Progress::default());
    if a.from_target {
        let (report, place) = {
            let _bar = output::Bar::start("verify", progress.clone(), g.quiet);
            cairn::remote::verify_target(&ctl, keys.as_ref(), &progress)?
        };
        return print_report(
            &report,
            a.json,
            g.quiet,
            &format!("the target's copy at {place}"),
        );
    }
    let index = ctl.index()?;
    let report = {
        let _bar = output::Bar::start("verify", progress.clone(), g.quiet);
        cairn::verify::verify(&ctl.repo, &index, keys.as_ref(), &progress)?
    };
    print_report(&report, a.json, g.quiet, &ctl.repo.store.describe())
}

/// Print a verify report; an error (exit 1) if anything is damaged.
pub fn print_report(
    r: &cairn::verify::VerifyReport,
    json: bool,
    quiet: bool,
    place: &str,
) -> Result<()> {
    if json {
        output::json(r);
    } else {
        for (obj, why) in &r.damaged_objects {
            println!(
                "damaged object {}: {}",
                output::escape(obj),
                output::escape(why)
            );
        }
        for (b, hurt) in &r.damaged_backups {
            println!(
                "damaged backup {}: {}",
                output::escape(b),
                output::escape(&hurt.join("; "))
            );
        }
        if !quiet || !r.clean() {
            println!(
                "checked {} backups, {} packs ({}){}",
                r.backups,
                r.packs,
                output::size(r.bytes),
                if r.chunks_read > 0 {
                    format!(", {} chunks decrypted", r.chunks_read)
                } else {
                    String::new()
                }
            );
        }
    }
    if r.clean() {
        return Ok(());
    }
    Err(Error::corrupt(
        place.to_string(),
        format!(
            "{} damaged object(s); backups hurt: {}",
            r.damaged_objects.len(),
            r.damaged_backups
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}
