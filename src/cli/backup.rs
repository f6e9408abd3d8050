//! `cairn backup` (then export, if a target is set).

use super::{output, Global};
use cairn::Result;
use clap::Args;

/// Backup options.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run a backup (and its export) and print its id last.
pub fn run(g: &Global, a: BackupArgs) -> Result<()> {
    let term = g.term();
    // SIGINT/SIGTERM stop the backup between steps, so the services it prepared are released
    // now rather than at cairn's next start; a second signal ends cairn at once.
    let cancel = cairn::ops::Cancel::new();
    cancel.on_signals_twice_to_exit(&cairn::ops::SHUTDOWN_SIGNALS)?;
    let r = cairn::ops::backup(&g.context(&term).with_cancel(cancel))?;
    let m = &r.manifest;
    if a.json {
        let v = cairn::ops::backup_json(m, r.chunks, r.export.as_ref().map(|r| r.is_ok()));
        output::json(&v);
    } else {
        if !g.quiet {
            for s in &m.services {
                println!(
                    "{:<16} {:>8} files {:>12} {:>10} new",
                    s.name,
                    s.files,
                    output::size(s.bytes),
                    output::size(s.bytes_new)
                );
            }
            println!(
                "backup {} of {} in {:.1}s, {} new",
                m.id,
                output::size(m.bytes()),
                r.seconds,
                output::size(m.bytes_new())
            );
            if let Some(Ok(e)) = &r.export {
                println!(
                    "exported {} objects ({}) to the target",
                    e.objects_sent,
                    output::size(e.bytes_sent)
                );
            }
        }
        println!("{}", m.id);
    }
    match r.export_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
