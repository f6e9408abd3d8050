//! `cairn doctor`: every requirement of a working controller checked, each with what was found
//! and, when it is not fine, what to do (PRODUCT §10).
//!
//! The requirements are those of the appliance's backup documentation: the repository is
//! readable and its fingerprint known, recipients are set, the target is reachable, writable and
//! readable (the probe of `cairn target set`) over an encrypted transport, the space there fits
//! the schedule and retention at the observed growth ([`sizing`]), the last backup is recent, no
//! alert is active, the local disk has room for the next backup, and the clock is sane.
//!
//! Nothing here fails as a whole: a check that cannot be made is reported as such. Reading the
//! repository takes no lease and records no job; the target probe writes and deletes one
//! temporary object, as `target set` does.

mod local;
pub mod sizing;
mod target;

use crate::controller::Controller;
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// How one check came out. Ordered: the worst is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The requirement holds.
    Ok,
    /// It holds for now, or could not be checked; backups go on.
    Warning,
    /// It does not hold: backups are failing or will fail.
    Failed,
}

impl Status {
    /// `ok`, `warning` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
        }
    }
}

/// One requirement checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Which requirement: `repository`, `recipients`, `target`, `transport`, `target_space`,
    /// `last_backup`, `alerts`, `local_disk`, `clock`.
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found (may hold names from the repository or the share: escape to print).
    pub summary: String,
    /// What to do when it is not fine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Check {
    pub(crate) fn ok(name: &'static str, summary: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            summary: summary.into(),
            remedy: None,
        }
    }

    pub(crate) fn warning(
        name: &'static str,
        summary: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Check {
        Check::with_remedy(name, Status::Warning, summary.into(), remedy.into())
    }

    pub(crate) fn failed(
        name: &'static str,
        summary: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Check {
        Check::with_remedy(name, Status::Failed, summary.into(), remedy.into())
    }

    fn with_remedy(name: &'static str, status: Status, summary: String, remedy: String) -> Check {
        Check {
            name,
            status,
            summary,
            remedy: Some(remedy),
        }
    }

    /// A check that needs the repository, which could not be opened.
    fn needs_repository(name: &'static str) -> Check {
        Check::warning(
            name,
            "not checked: the repository cannot be opened",
            "fix the repository first (see above)",
        )
    }
}

/// Every check, in the order they are printed.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The worst status of the checks.
    pub status: Status,
    /// The checks.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn new(checks: Vec<Check>) -> Self {
        let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
        DoctorReport { status, checks }
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.count(Status::Failed)
    }

    /// How many checks came out with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// Check the controller whose repository is at `root` (`ctl`: the repository opened, or why it
/// could not be).
pub fn run(root: &Path, ctl: Result<&Controller>) -> DoctorReport {
    let now = chrono::Utc::now();
    let ctl = match ctl {
        Ok(c) => c,
        Err(e) => {
            let mut checks = vec![local::unopened(root, &e)];
            for name in [
                "recipients",
                "target",
                "transport",
                "target_space",
                "last_backup",
                "alerts",
                "local_disk",
            ] {
                checks.push(Check::needs_repository(name));
            }
            checks.push(local::clock(now, None));
            return DoctorReport::new(checks);
        }
    };
    let facts = local::Facts::gather(ctl);
    let mut checks = vec![local::repository(ctl, &facts), local::recipients(ctl)];
    checks.extend(target::checks(ctl, &facts));
    checks.push(local::last_backup(ctl, &facts, now));
    checks.push(local::alerts(ctl));
    checks.push(local::disk(ctl, &facts));
    checks.push(local::clock(now, facts.newest_ms));
    DoctorReport::new(checks)
}
