//! `cairn verify`.

use super::{output, Global, IdentityArg};
use cairn::Result;
use clap::Args;

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

/// Run verify (recorded as a job); exit 1 on any damage.
pub fn run(g: &Global, a: VerifyArgs) -> Result<()> {
    let term = g.term();
    let cx = g.context(&term);
    cx.controller()?;
    let keys = if a.read_data {
        Some(a.identity.require("verify --read-data")?)
    } else {
        None
    };
    let opts = cairn::ops::VerifyOptions {
        from_target: a.from_target,
        keys: keys.as_ref(),
    };
    let o = cairn::ops::verify(&cx, &opts)?;
    print_report(&o.report, a.json, g.quiet);
    o.result()
}

/// Print a verify report.
fn print_report(r: &cairn::verify::VerifyReport, json: bool, quiet: bool) {
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
}
