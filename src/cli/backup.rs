//! `cairn backup` (then export, if a target is set).

use super::{output, Global};
use cairn::format::manifest::Manifest;
use cairn::jobs::{Job, JobKind, ServiceFigures, Trigger};
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

/// Record a backup's figures on its job, with the warnings' texts (kept only in the job record).
pub fn record(job: &mut Job, m: &Manifest, warnings: &[String]) -> Result<()> {
    job.progress(|r| {
        r.bytes_read = m.bytes();
        r.bytes_stored = m.bytes_new();
        r.backup = Some(m.id.clone());
        r.warnings = warnings.to_vec();
        r.services = m
            .services
            .iter()
            .map(|s| ServiceFigures {
                name: s.name.clone(),
                files: s.files,
                bytes: s.bytes,
                bytes_new: s.bytes_new,
                duration_ms: s.duration_ms,
            })
            .collect();
    })
}

/// Run a backup and print its id last.
pub fn run(g: &Global, a: BackupArgs) -> Result<()> {
    let ctl = g.controller()?;
    let local = ctl.local();
    let mut job = Job::begin(&local, JobKind::Backup, Trigger::Manual)?;
    let progress = Arc::new(Progress::default());
    let t0 = std::time::Instant::now();
    let outcome = {
        let _bar = output::Bar::start("backup", progress.clone(), g.quiet);
        cairn::backup::run_with_warnings(&ctl, &progress)
    };
    if let Ok((m, w)) = &outcome {
        let _ = record(&mut job, m, w);
    }
    let outcome = outcome.map(|(m, w)| {
        for w in &w {
            eprintln!("warning: {w}");
        }
        m
    });
    let target = cairn::target::TargetConfig::load(&ctl.root).ok().flatten();
    let export_outcome = match (&outcome, target) {
        (Ok(_), Some(_)) => {
            let (done, next) = job.then(&outcome, JobKind::Export);
            super::finished(done);
            let mut export_job = next?;
            let p = Arc::new(Progress::default());
            let res = {
                let _bar = output::Bar::start("export", p.clone(), g.quiet);
                cairn::remote::export(&ctl, &p)
            };
            if let Ok(r) = &res {
                let _ = export_job.progress(|rec| rec.bytes_exported = r.bytes_sent);
            }
            super::finished(export_job.finish(&res));
            Some(res)
        }
        _ => {
            super::finished(job.finish(&outcome));
            None
        }
    };
    let m = outcome?;
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        output::json(&super::listing::backup_json(
            &m,
            export_outcome.as_ref().map(|r| r.is_ok()),
        ));
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
                "backup {} of {} in {secs:.1}s, {} new",
                m.id,
                output::size(m.bytes()),
                output::size(m.bytes_new())
            );
            if let Some(Ok(r)) = &export_outcome {
                println!(
                    "exported {} objects ({}) to the target",
                    r.objects_sent,
                    output::size(r.bytes_sent)
                );
            }
        }
        println!("{}", m.id);
    }
    match export_outcome {
        Some(Err(e)) => Err(cairn::Error::failed(
            format!(
                "backup {} is complete in the internal repository, but its export failed: {e}",
                m.id
            ),
            format!(
                "{} Then run `cairn export` (it sends only what is missing).",
                e.remedy()
            ),
        )),
        _ => Ok(()),
    }
}
