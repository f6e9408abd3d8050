//! Backup, then its export when a target is set.

use super::Context;
use crate::format::manifest::Manifest;
use crate::jobs::{Job, JobKind, JobRecord, ServiceFigures};
use crate::replicate::ExportReport;
use crate::{Error, Result};

/// What [`backup`] did.
#[derive(Debug)]
pub struct BackupReport {
    /// The new backup (without its references, [`Manifest::refs`]: read it back for them).
    pub manifest: Manifest,
    /// How many chunks it references.
    pub chunks: u64,
    /// What it left out or worked around (also in its job record, and given to the sink).
    pub warnings: Vec<String>,
    /// Seconds the backup took (without the export).
    pub seconds: f64,
    /// The export that followed (a target is set): its report, or why it failed. The backup is
    /// complete in the internal repository either way.
    pub export: Option<Result<ExportReport>>,
}

impl BackupReport {
    /// The export's failure as the operation's error: the backup is complete here, what to do.
    pub fn export_error(&self) -> Option<Error> {
        let Some(Err(e)) = &self.export else {
            return None;
        };
        Some(Error::failed(
            format!(
                "backup {} is complete in the internal repository, but its export failed: {e}",
                self.manifest.id
            ),
            format!(
                "{} Then run `cairn export` (it sends only what is missing).",
                e.remedy()
            ),
        ))
    }
}

/// A backup's figures, for its job record.
fn figures(r: &mut JobRecord, m: &Manifest) {
    r.bytes_read = m.bytes();
    r.bytes_stored = m.bytes_new();
    r.backup = Some(m.id.clone());
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
}

/// The backup job's own work: back up every service, record the figures (on success) and the
/// texts of the warnings (also on failure) on `job`. Those texts name files, so they live only in
/// the job record under `REPO/local`, never in the repository. Also returns how many chunks the
/// backup references (its manifest comes without them: [`crate::backup::run`]).
pub(super) fn backup_job(cx: &Context, job: &mut Job) -> (Result<Manifest>, Vec<String>, u64) {
    let (outcome, warnings, chunks) = match cx.cancel.check().and_then(|()| cx.controller()) {
        Ok(ctl) => {
            let (progress, _bar) = cx.phase("backup");
            let out = crate::backup::run_counted(ctl, &progress);
            let chunks = out.as_ref().map_or(0, |(_, n)| *n);
            (out.map(|(m, _)| m), progress.take_warnings(), chunks)
        }
        Err(e) => (Err(e), Vec::new(), 0),
    };
    let w = warnings.clone();
    cx.record(job, |r| {
        if let Ok(m) = &outcome {
            figures(r, m);
        }
        r.warnings = w;
    });
    (outcome, warnings, chunks)
}

/// Run one coordinated backup of every service as a `backup` job; when a target is set, export
/// it at once as an `export` job under the same lease (nothing slips in between). A failed
/// export leaves the backup complete: it comes back in [`BackupReport::export`].
///
/// The backup's warnings go to the sink (also when it failed: the end of a failing command's
/// error output is among them) and into its job record; never into an error or an alert.
pub fn backup(cx: &Context) -> Result<BackupReport> {
    cx.controller()?; // no repository: no job (and nothing created)
    let mut job = cx.begin(JobKind::Backup, true)?;
    let t0 = std::time::Instant::now();
    let (outcome, warnings, chunks) = backup_job(cx, &mut job);
    let seconds = t0.elapsed().as_secs_f64();
    let target = cx
        .controller()
        .ok()
        .and_then(|c| crate::target::TargetConfig::load(&c.root).ok().flatten());
    let export = match (&outcome, target) {
        (Ok(_), Some(_)) => {
            let (done, next) = job.then(&outcome, JobKind::Export);
            cx.finished(done, None);
            Some(next.and_then(|mut export_job| {
                cx.sink.started(export_job.record());
                let res = export_work(cx, &mut export_job);
                cx.finish(export_job, &res);
                res
            }))
        }
        _ => {
            cx.finish(job, &outcome);
            None
        }
    };
    for w in &warnings {
        cx.sink.warn(w);
    }
    Ok(BackupReport {
        manifest: outcome?,
        chunks,
        warnings,
        seconds,
        export,
    })
}

/// Export what the target lacks and record the bytes sent on `job`; fails naming skipped backups.
pub(super) fn export_work(cx: &Context, job: &mut Job) -> Result<ExportReport> {
    cx.cancel.check()?;
    let ctl = cx.controller()?;
    let (p, _bar) = cx.phase("export");
    let r = crate::remote::export(ctl, &p)?;
    cx.record(job, |rec| rec.bytes_exported = r.bytes_sent);
    Ok(r)
}
