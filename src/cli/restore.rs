//! `cairn restore`.

use super::{output, Global, IdentityArg};
use cairn::progress::Progress;
use cairn::restore::RestoreOptions;
use cairn::Result;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

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

/// Run a restore.
pub fn run(g: &Global, a: RestoreArgs) -> Result<()> {
    let ctl = g.controller()?;
    let m = ctl.repo.resolve(&a.id)?;
    let keys = a.identity.require("restore")?;
    let opts = RestoreOptions {
        target: a.target,
        service: a.service,
        path: a.path,
        overwrite: a.overwrite,
    };
    let progress = Arc::new(Progress::default());
    let t0 = std::time::Instant::now();
    let r = {
        let _bar = output::Bar::start("restore", progress.clone(), g.quiet);
        cairn::restore::restore(&ctl.repo, &keys, &m, &opts, &progress)?
    };
    for w in &r.warnings {
        eprintln!("warning: {}", output::escape(w));
    }
    if !g.quiet {
        println!(
            "restored backup {}: {} files, {} dirs, {} in {:.1}s, every byte checked",
            output::escape(&m.id),
            r.files,
            r.dirs,
            output::size(r.bytes),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
