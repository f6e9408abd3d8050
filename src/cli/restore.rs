//! `cairn restore`.

use super::{output, Global, IdentityArg};
use cairn::restore::RestoreOptions;
use cairn::Result;
use clap::Args;
use std::path::PathBuf;

/// Restore options.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup id, or `latest`.
    pub id: String,
    /// Directory to restore into (as DIR/<service>/…).
    #[arg(long)]
    pub target: PathBuf,
    /// The identity.
    #[command(flatten)]
    pub identity: IdentityArg,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this path inside the service (e.g. conf/d5).
    #[arg(long)]
    pub path: Option<String>,
    /// Restore into a non-empty directory, replacing what is there.
    #[arg(long)]
    pub overwrite: bool,
}

/// Run a restore (recorded as a job).
pub fn run(g: &Global, a: RestoreArgs) -> Result<()> {
    let term = g.term();
    let cx = g.context(&term);
    // a bad id or repository is reported before a missing identity
    cx.controller()?.repo.resolve(&a.id)?;
    let keys = a.identity.require("restore")?;
    let opts = RestoreOptions {
        target: a.target,
        service: a.service,
        path: a.path,
        overwrite: a.overwrite,
    };
    let o = cairn::ops::restore(&cx, &keys, &a.id, &opts)?;
    if !g.quiet {
        println!(
            "restored backup {}: {} files, {} dirs, {} in {:.1}s, every byte checked",
            output::escape(&o.backup),
            o.report.files,
            o.report.dirs,
            output::size(o.report.bytes),
            o.seconds
        );
    }
    Ok(())
}
