//! The alert catalogue: from a failed job's cause to the alert's subject, severity, message and
//! remediation steps specific to that cause.
//!
//! Input is the failing job's kind and its [`Error`]; the cause comes from
//! [`Error::cause_kind`], the service's name from [`Error::Service`], and the storage cause from
//! [`StorageErrorKind`](crate::error::StorageErrorKind). `Error::Service` carries its cause as
//! text, so a service failure is classified by its wording: the backup engine should say
//! "not found" / "does not exist" for a missing path, "permission denied" for an unreadable one,
//! and "command ... exited" for a failing command.

use super::JobKind;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something needs attention, no backup is at risk yet.
    Warning,
    /// A job that protects data failed: the newest data has no (off-site) copy until it is fixed.
    Error,
    /// Backups are damaged or missing, or the controller cannot keep any new backup.
    Critical,
}

/// What the catalogue makes of a failure: the makings of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The kind of job whose success clears the alert (`backup`, `export`, ...).
    pub kind: JobKind,
    /// What it is about: a service's name, `target`, `repository`, `keys`, `schedule`.
    pub subject: String,
    /// The cause's machine-readable name (`service_path_missing`, `share_unreachable`, ...).
    pub cause: String,
    /// How bad it is.
    pub severity: Severity,
    /// The cause, in one sentence.
    pub message: String,
    /// The steps that fix this cause.
    pub remedy: String,
}

/// Subject `target`: the external location.
pub const TARGET: &str = "target";
/// Subject `repository`: the internal repository (or the controller's disk).
pub const REPOSITORY: &str = "repository";

/// Diagnose job `kind` failing with `err`.
pub fn diagnose(kind: JobKind, err: &Error) -> Diagnosis {
    let on_target = (matches!(kind, JobKind::Export | JobKind::Recover)
        && !crate::remote::is_internal_damage(err))
        || crate::remote::is_target_damage(err);
    let storage_subject = if on_target { TARGET } else { REPOSITORY };
    let what = format!("{kind} failed: {err}");
    let d = |subject: &str, cause: &str, severity, remedy: String| Diagnosis {
        kind,
        subject: subject.to_string(),
        cause: cause.to_string(),
        severity,
        message: what.clone(),
        remedy,
    };
    let then = match kind {
        JobKind::Backup => "then run `cairn backup`",
        JobKind::Export => "then run `cairn export` (it sends only what is missing)",
        JobKind::Verify => "then run `cairn verify` again",
        JobKind::Prune => "then run `cairn prune` again",
        JobKind::Restore => "then run the restore again",
        JobKind::Recover => "then run `cairn recover` again",
        JobKind::KeyRotate => "then run `cairn key rotate` again",
    };
    match (err, err.cause_kind()) {
        (Error::Service { service, cause, .. }, _) => {
            let c = cause.to_lowercase();
            if ["not found", "does not exist", "no such file", "missing", "vanished"].iter().any(|w| c.contains(w)) {
                d(service, "service_path_missing", Severity::Error, format!(
                    "the data of service {service} is not where it is configured: restore or remount it, or point the service at its real location (`cairn service remove {service}` then `cairn service add {service} --path DIR`; `cairn service list` shows the current one); {then}"))
            } else if ["permission denied", "unreadable", "access denied", "not permitted"].iter().any(|w| c.contains(w)) {
                d(service, "service_path_unreadable", Severity::Error, format!(
                    "cairn cannot read all of service {service}'s data: run cairn as a user that can read every file under its path (usually root), or fix the files' ownership and modes; {then}"))
            } else if ["command", "exit", "status", "signal"].iter().any(|w| c.contains(w)) {
                d(service, "service_command_failed", Severity::Error, format!(
                    "service {service}'s command failed: run it by hand (`cairn service list` shows it) and fix what its error output says; it must exit 0 and write the data to standard output; {then}"))
            } else {
                d(service, "service_failed", Severity::Error, format!("{}; {then}", err.remedy()))
            }
        }
        (_, "unreachable") => d(TARGET, "share_unreachable", Severity::Error, format!(
            "the share cannot be reached: check the address in `cairn target show`, that the SMB server is running and listens on the port (445 unless the URL gives one), and that no firewall between this controller and the server blocks it; the backups are safe in the internal copy; {then}")),
        (_, "disconnected") => d(TARGET, "share_disconnected", Severity::Error, format!(
            "the connection to the share dropped mid-transfer: check the network and the server's log; {then}")),
        (_, "logon_failure") => d(TARGET, "logon_failure", Severity::Error, format!(
            "the share refused the username or password: set the right ones with `cairn target set smb://HOST/SHARE/PATH --username USER --password-file FILE` (check the account is not locked or expired on the server); {then}")),
        (_, "share_not_found") => d(TARGET, "share_not_found", Severity::Error, format!(
            "the share or the path on it does not exist: check the share name and path (`cairn target show`), create the folder or fix the URL with `cairn target set`; {then}")),
        (_, "access_denied") if on_target => d(TARGET, "share_access_denied", Severity::Error, format!(
            "the share's user may not write there: give it read and write access to the share and the path, or choose another path with `cairn target set`; {then}")),
        (_, "no_space") if on_target => d(TARGET, "share_full", Severity::Error, format!(
            "the share is full: free space on it or enlarge its quota, or drop old backups with `cairn prune` (they go from both copies); {then}")),
        (_, "no_space") => d(REPOSITORY, "local_disk_full", Severity::Critical, format!(
            "the controller's disk holding the repository is full, so no new backup can be kept: free space on that file system (`df -h` on --repo), or drop backups outside the retention policy with `cairn prune`; {then}")),
        (_, "damage") => d(storage_subject, "damage", Severity::Critical, format!(
            "stored backup data is damaged: run `cairn verify` (and `cairn verify --from-target`) to list the damaged backups and files; `cairn export` heals the target from an intact internal copy and `cairn recover` rebuilds the internal copy from an intact target; check the disk's health (SMART, dmesg); {then}")),
        (_, "key") => d("keys", "key_problem", Severity::Error, format!("{}; {then}", err.remedy())),
        (_, "storage_not_found") => d(storage_subject, "object_missing", Severity::Critical, format!("{}; {then}", err.remedy())),
        (_, "access_denied") => d(REPOSITORY, "repository_access_denied", Severity::Error, format!(
            "cairn may not read or write the repository: run it as the user that owns --repo (usually root) or fix the ownership of the repository directory; {then}")),
        (_, "usage") => d(storage_subject, "usage", Severity::Warning, format!("{}; {then}", err.remedy())),
        (_, cause) => d(storage_subject, cause, Severity::Error, format!("{}; {then}", err.remedy())),
    }
}

/// The alert for backups gone stale: none succeeded since `last_success` (or ever, since
/// `since`), which is longer than twice the backup interval `every`.
pub fn stale_backup(
    last_success: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    every: Duration,
) -> Diagnosis {
    let every_s = crate::retention::format_duration(every);
    let (what, t) = match last_success {
        Some(t) => ("no backup has succeeded since", t),
        None => ("no backup has ever succeeded; backups were due from", since),
    };
    let message = format!(
        "{what} {} (more than twice the backup interval of {every_s})",
        super::time::rfc3339(&t)
    );
    Diagnosis {
        kind: JobKind::Backup,
        subject: "schedule".into(),
        cause: "backup_stale".into(),
        severity: Severity::Critical,
        message,
        remedy: "see why the backups fail with `cairn alerts` and `cairn jobs`; check that `cairn serve` is running (e.g. `systemctl status cairn`); then run `cairn backup`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StorageError, StorageErrorKind as K};

    fn storage(kind: K) -> Error {
        Error::Storage(StorageError::new(kind, "smb://nas/backups", "detail"))
    }

    fn service(cause: &str) -> Error {
        Error::Service {
            service: "ad".into(),
            cause: cause.into(),
            remedy: "engine remedy".into(),
        }
    }

    #[test]
    fn service_failures_name_the_service_and_the_cause() {
        let d = diagnose(JobKind::Backup, &service("path /srv/ad not found"));
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            ("ad", "service_path_missing")
        );
        assert!(d.message.contains("ad") && d.remedy.contains("cairn service add ad --path"));
        assert_eq!(
            diagnose(
                JobKind::Backup,
                &service("reading /srv/ad/x: Permission denied (os error 13)")
            )
            .cause,
            "service_path_unreadable"
        );
        assert_eq!(
            diagnose(
                JobKind::Backup,
                &service("command `pg_dump` exited with status 1")
            )
            .cause,
            "service_command_failed"
        );
        assert_eq!(
            diagnose(JobKind::Backup, &service("odd")).remedy,
            "engine remedy; then run `cairn backup`"
        );
    }

    #[test]
    fn storage_failures_get_remedies_for_their_cause() {
        let d = diagnose(JobKind::Export, &storage(K::Unreachable));
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            (TARGET, "share_unreachable")
        );
        assert!(d.remedy.contains("445") && d.remedy.contains("firewall"));
        assert!(diagnose(JobKind::Export, &storage(K::LogonFailure))
            .remedy
            .contains("cairn target set"));
        let full = diagnose(JobKind::Export, &storage(K::NoSpace));
        assert_eq!(
            (full.subject.as_str(), full.cause.as_str()),
            (TARGET, "share_full")
        );
        let local = diagnose(JobKind::Backup, &storage(K::NoSpace));
        assert_eq!(
            (local.subject.as_str(), local.cause.as_str(), local.severity),
            (REPOSITORY, "local_disk_full", Severity::Critical)
        );
        let dmg = diagnose(
            JobKind::Verify,
            &Error::corrupt("data/ab/abcd", "hash mismatch"),
        );
        assert_eq!(
            (dmg.cause.as_str(), dmg.severity),
            ("damage", Severity::Critical)
        );
        assert!(dmg.remedy.contains("cairn verify"));
        // an export that skipped backups damaged in the internal copy: the repository needs healing
        let skipped = diagnose(
            JobKind::Export,
            &Error::corrupt(crate::remote::INTERNAL_COPY, "1 backup(s) not exported"),
        );
        assert_eq!(
            (skipped.subject.as_str(), skipped.cause.as_str()),
            (REPOSITORY, "damage")
        );
        let on_share = diagnose(
            JobKind::Export,
            &Error::corrupt("data/ab/abcd", "hash mismatch"),
        );
        assert_eq!(on_share.subject, TARGET);
        let key = diagnose(
            JobKind::Restore,
            &Error::WrongIdentity {
                backup: "b".into(),
                recipients: vec!["age1x".into()],
            },
        );
        assert_eq!(
            (key.subject.as_str(), key.cause.as_str()),
            ("keys", "key_problem")
        );
    }

    #[test]
    fn stale_backup_alert_says_since_when() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = stale_backup(Some(t), t, Duration::from_secs(12 * 3600));
        assert_eq!(d.kind, JobKind::Backup);
        assert!(
            d.message.contains("2026-01-01T00:00:00.000Z") && d.message.contains("12h"),
            "{}",
            d.message
        );
        let never = stale_backup(None, t, Duration::from_secs(3600));
        assert!(never.message.contains("ever") && never.message.contains("2026-01-01"));
    }
}
