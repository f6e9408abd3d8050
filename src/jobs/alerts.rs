//! Alerts: a failed job raises one, with the catalogue's remediation; the next success of the same
//! kind of job clears it.
//!
//! An alert is identified by its job kind and subject (`backup` + service `ad`, `export` +
//! `target`, ...). While one is active, the same failure again updates it (`count`, `last_seen`,
//! the newest message and remedy) instead of piling up a second one.

use super::catalogue::{diagnose, Diagnosis, Severity};
use super::history::{JobId, JobRecord};
use super::state::{decode, encode, read_state, with_state};
use super::time::{serde_rfc3339, serde_rfc3339_opt};
use super::JobKind;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const TREE: &str = "alerts";

/// Whether an alert still needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The problem stands.
    Active,
    /// The same kind of job succeeded since.
    Cleared,
}

/// One alert. `cairn alerts --json` prints an array of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's id; sorts by the time it was raised.
    pub id: String,
    /// The kind of job that failed (and whose success clears it).
    pub kind: JobKind,
    /// What it is about: a service's name, `target`, `repository`, `keys`, `schedule`.
    pub subject: String,
    /// The cause's machine-readable name (see the catalogue).
    pub cause: String,
    /// How bad it is.
    pub severity: Severity,
    /// Active or cleared.
    pub state: AlertState,
    /// The cause in one sentence.
    pub message: String,
    /// The steps that fix it.
    pub remedy: String,
    /// When it was first raised.
    #[serde(with = "serde_rfc3339")]
    pub raised: DateTime<Utc>,
    /// When it was raised last (the same failure again).
    #[serde(with = "serde_rfc3339")]
    pub last_seen: DateTime<Utc>,
    /// How many times it was raised while active.
    pub count: u32,
    /// When it cleared (null while active).
    #[serde(with = "serde_rfc3339_opt", default)]
    pub cleared: Option<DateTime<Utc>>,
    /// The job that raised it last, if a job did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobId>,
    /// The job that cleared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_by: Option<JobId>,
}

/// The alerts of one repository (`REPO/local/state`, tree `alerts`).
#[derive(Debug, Clone)]
pub struct Alerts {
    local: PathBuf,
}

impl Alerts {
    /// The alerts of the repository whose private state directory is `local_dir` (`REPO/local`).
    pub fn new(local_dir: &Path) -> Self {
        Alerts {
            local: local_dir.to_path_buf(),
        }
    }

    /// Raise the alert for `job` failing with `err` (diagnosed by the catalogue).
    pub fn raise(&self, job: &JobRecord, err: &Error) -> Result<Alert> {
        self.raise_diagnosis(&diagnose(job.kind, err), Some(&job.id))
    }

    /// [`Alerts::raise`] in the state database `db`, already open.
    pub(super) fn raise_in(db: &sled::Db, job: &JobRecord, err: &Error) -> Result<Alert> {
        Self::raise_diagnosis_in(db, &diagnose(job.kind, err), Some(&job.id))
    }

    /// Raise an alert for a diagnosis (e.g. [`stale_backup`](super::catalogue::stale_backup)).
    /// If one of the same kind and subject is active, it is updated and returned with its
    /// `count` incremented; a new alert has `count == 1`.
    pub fn raise_diagnosis(&self, d: &Diagnosis, job: Option<&JobId>) -> Result<Alert> {
        with_state(&self.local, |db| Self::raise_diagnosis_in(db, d, job))
    }

    /// [`Alerts::raise_diagnosis`] in the state database `db`, already open.
    fn raise_diagnosis_in(db: &sled::Db, d: &Diagnosis, job: Option<&JobId>) -> Result<Alert> {
        let now = Utc::now();
        let tree = db.open_tree(TREE)?;
        let existing = load(&tree)?
            .into_iter()
            .find(|a| a.state == AlertState::Active && a.kind == d.kind && a.subject == d.subject);
        let alert = match existing {
            Some(mut a) => {
                a.count = a.count.saturating_add(1);
                a.last_seen = now;
                a.cause = d.cause.clone();
                a.severity = d.severity;
                a.message = d.message.clone();
                a.remedy = d.remedy.clone();
                if job.is_some() {
                    a.job = job.cloned();
                }
                a
            }
            None => Alert {
                id: super::time::sortable_id(),
                kind: d.kind,
                subject: d.subject.clone(),
                cause: d.cause.clone(),
                severity: d.severity,
                state: AlertState::Active,
                message: d.message.clone(),
                remedy: d.remedy.clone(),
                raised: now,
                last_seen: now,
                count: 1,
                cleared: None,
                job: job.cloned(),
                cleared_by: None,
            },
        };
        tree.insert(alert.id.as_str(), encode(&alert)?)?;
        Ok(alert)
    }

    /// Clear the active alerts of job kind `kind`: all of them when `subjects` is `None` (a
    /// successful backup covers every configured service, so it clears the alerts of services
    /// since removed too), else only those about one of `subjects`. Returns the alerts cleared.
    pub fn clear_for(
        &self,
        kind: JobKind,
        subjects: Option<&[String]>,
        by: Option<&JobId>,
    ) -> Result<Vec<Alert>> {
        with_state(&self.local, |db| Self::clear_for_in(db, kind, subjects, by))
    }

    /// [`Alerts::clear_for`] in the state database `db`, already open.
    pub(super) fn clear_for_in(
        db: &sled::Db,
        kind: JobKind,
        subjects: Option<&[String]>,
        by: Option<&JobId>,
    ) -> Result<Vec<Alert>> {
        let now = Utc::now();
        let tree = db.open_tree(TREE)?;
        let mut cleared = Vec::new();
        for mut a in load(&tree)? {
            let hit = a.state == AlertState::Active
                && a.kind == kind
                && subjects.is_none_or(|s| s.contains(&a.subject));
            if hit {
                a.state = AlertState::Cleared;
                a.cleared = Some(now);
                a.cleared_by = by.cloned();
                tree.insert(a.id.as_str(), encode(&a)?)?;
                cleared.push(a);
            }
        }
        Ok(cleared)
    }

    /// The active alerts, newest first.
    pub fn active(&self) -> Result<Vec<Alert>> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|a| a.state == AlertState::Active)
            .collect())
    }

    /// Every alert, active and cleared, newest first.
    pub fn all(&self) -> Result<Vec<Alert>> {
        read_state(&self.local, |db| load(&db.open_tree(TREE)?))
    }
}

/// All alerts in the tree, newest first.
fn load(tree: &sled::Tree) -> Result<Vec<Alert>> {
    tree.iter()
        .rev()
        .map(|item| {
            let (k, v) = item?;
            decode("alert", &k, &v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StorageError, StorageErrorKind};
    use crate::jobs::{History, Trigger};

    fn failed_job(h: &History, kind: JobKind, err: &Error) -> JobRecord {
        let id = JobId::new();
        h.start(&id, kind, Trigger::Manual).unwrap();
        h.finish(&id, Err(err)).unwrap()
    }

    #[test]
    fn raise_dedupe_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let (h, alerts) = (History::new(dir.path()), Alerts::new(dir.path()));
        let broken = Error::service(
            "broken",
            crate::error::ServiceCause::PathMissing,
            "path /x does not exist",
        );
        let a1 = alerts
            .raise(&failed_job(&h, JobKind::Backup, &broken), &broken)
            .unwrap();
        assert_eq!(
            (a1.subject.as_str(), a1.count, a1.state),
            ("broken", 1, AlertState::Active)
        );
        let a2 = alerts
            .raise(&failed_job(&h, JobKind::Backup, &broken), &broken)
            .unwrap();
        assert_eq!(
            (a2.id.as_str(), a2.count),
            (a1.id.as_str(), 2),
            "the same failure updates the alert"
        );
        let share = Error::Storage(StorageError::new(
            StorageErrorKind::Unreachable,
            "smb://nas/b",
            "refused",
        ));
        alerts
            .raise(&failed_job(&h, JobKind::Export, &share), &share)
            .unwrap();
        assert_eq!(alerts.active().unwrap().len(), 2);

        // A successful export clears only export alerts.
        let cleared = alerts.clear_for(JobKind::Export, None, None).unwrap();
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].subject, "target");
        let active = alerts.active().unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].subject, "broken");

        // A backup of other services only does not clear it; a full backup does.
        assert!(alerts
            .clear_for(JobKind::Backup, Some(&["ad".to_string()]), None)
            .unwrap()
            .is_empty());
        let by = JobId::new();
        let cleared = alerts.clear_for(JobKind::Backup, None, Some(&by)).unwrap();
        assert_eq!(cleared.len(), 1);
        assert!(cleared[0].cleared.is_some());
        assert!(alerts.active().unwrap().is_empty());
        let all = alerts.all().unwrap();
        assert_eq!(all.len(), 2);

        // Raised again after clearing: a new alert.
        let a3 = alerts
            .raise(&failed_job(&h, JobKind::Backup, &broken), &broken)
            .unwrap();
        assert_ne!(a3.id, a1.id);
        assert_eq!(a3.count, 1);

        let json = serde_json::to_value(alerts.all().unwrap()).unwrap();
        let cleared_one = json
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["state"] == "cleared")
            .unwrap();
        for field in [
            "id", "kind", "subject", "severity", "state", "message", "remedy", "raised", "cleared",
        ] {
            assert!(
                !cleared_one[field].is_null(),
                "{field} missing: {cleared_one}"
            );
        }
        assert_eq!(json[0]["state"], "active");
        assert!(json[0]["cleared"].is_null());
    }
}
