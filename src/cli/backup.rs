//! `cairn backup`.

use super::{output, Global};
use cairn::progress::Progress;
use cairn::Result;
use clap::Args;
use std::sync::Arc;

/// Backup options.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run a backup and print its id last.
pub fn run(g: &Global, a: BackupArgs) -> Result<()> {
    let ctl = g.controller()?;
    let progress = Arc::new(Progress::default());
    let t0 = std::time::Instant::now();
    let m = {
        let _bar = output::Bar::start("backup", progress.clone(), g.quiet);
        cairn::backup::run(&ctl, &progress)?
    };
    let secs = t0.elapsed().as_secs_f64();
    for w in &m.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        output::json(&super::listing::backup_json(&m, None));
        return Ok(());
    }
    if !g.quiet {
        for s in &m.services {
            println!(
                "{:<16} {:>8} files {:>12} new {:>10}",
                s.name,
                s.files,
                output::size(s.bytes),
                output::size(s.bytes_new)
            );
        }
        println!(
            "backup {} of {} in {secs:.1}s, {} new",
            m.id,
            output::size(m.bytes()),
            output::size(m.bytes_new())
        );
    }
    println!("{}", m.id);
    Ok(())
}
