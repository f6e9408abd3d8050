//! Export to the target every backup not yet there.

use super::Context;
use crate::jobs::JobKind;
use crate::replicate::ExportReport;
use crate::Result;

/// What [`export`] did.
#[derive(Debug)]
pub struct ExportOutcome {
    /// Objects sent, skipped, healed; backups skipped because objects they need are damaged here.
    pub report: ExportReport,
}

impl ExportOutcome {
    /// The operation's result: an error naming each backup not exported (the job failed with it).
    pub fn result(&self) -> Result<()> {
        if self.report.backups_skipped.is_empty() {
            return Ok(());
        }
        Err(crate::remote::skipped_error(&self.report))
    }
}

/// Export (as an `export` job) every object the target lacks or holds damaged, backup by backup,
/// resuming an interrupted export. A backup that needs an object damaged here is skipped and
/// the others are exported; the job then fails naming it, and the report says so
/// ([`ExportOutcome::result`]). Without a target, fails before any job is recorded.
pub fn export(cx: &Context) -> Result<ExportOutcome> {
    crate::remote::configured(cx.controller()?)?;
    let mut job = cx.begin(JobKind::Export, true)?;
    let res = cx.cancel.check().and_then(|()| {
        let (p, _bar) = cx.phase("export");
        crate::remote::export_report(cx.controller()?, &p)
    });
    let outcome = res.map(|report| ExportOutcome { report });
    if let Ok(o) = &outcome {
        cx.record(&mut job, |rec| rec.bytes_exported = o.report.bytes_sent);
    }
    match outcome {
        Ok(o) => {
            cx.finish(job, &o.result());
            Ok(o)
        }
        Err(_) => {
            cx.finish(job, &outcome);
            outcome
        }
    }
}
