//! The alert catalogue: from a failed job's cause to the alert's subject, severity, message and
//! remediation steps specific to that cause.
//!
//! Input is the failing job's kind and its [`Error`]; the cause comes from [`Error::kind`], a
//! service failure's from its [`ServiceCause`](crate::error::ServiceCause) (set by the engine
//! where it failed), and which copy a failure is on from [`CopySide`] (set by its reader: the
//! target's backend marks its errors, verify and export mark the damage they find). Nothing
//! is decided by an error's wording. The remedy for each cause is [`crate::remedy`]'s, the one
//! [`Error::remedy`] gives; the catalogue appends the step that runs the job again.

use super::JobKind;
use crate::error::{CopySide, Error, ErrorKind};
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
    // on the copy its reader names; else export and recover fail on the target's copy
    let on_target = match err.side() {
        CopySide::Target => true,
        CopySide::Internal => false,
        CopySide::Unknown => matches!(kind, JobKind::Export | JobKind::Recover),
    };
    let (storage_subject, side) = if on_target {
        (TARGET, CopySide::Target)
    } else {
        (REPOSITORY, CopySide::Internal)
    };
    let d = |subject: &str, cause: &str, severity| Diagnosis {
        kind,
        subject: subject.to_string(),
        cause: cause.to_string(),
        severity,
        message: format!("{kind} failed: {err}"),
        remedy: format!("{}; {}", crate::remedy::of(err, side), then(kind)),
    };
    use ErrorKind as K;
    use Severity::{Critical, Error as Failed, Warning};
    match (err.kind(), err) {
        (_, Error::Service { service, cause, .. })
            if *cause == crate::error::ServiceCause::ReleasedAfterCrash =>
        {
            d(service, cause.name(), Warning)
        }
        (_, Error::Service { service, cause, .. }) => d(service, cause.name(), Failed),
        (K::Unreachable, _) => d(TARGET, "share_unreachable", Failed),
        (K::Disconnected, _) => d(TARGET, "share_disconnected", Failed),
        (K::LogonFailure, _) => d(TARGET, "logon_failure", Failed),
        (K::ShareNotFound, _) => d(TARGET, "share_not_found", Failed),
        (K::AccessDenied, _) if on_target => d(TARGET, "share_access_denied", Failed),
        (K::AccessDenied, _) => d(REPOSITORY, "repository_access_denied", Failed),
        (K::NoSpace, _) if on_target => d(TARGET, "share_full", Failed),
        (K::NoSpace, _) => d(REPOSITORY, "local_disk_full", Critical),
        (K::Damage, _) => d(storage_subject, "damage", Critical),
        (K::Key, _) => d("keys", "key_problem", Failed),
        (K::StorageNotFound, _) => d(storage_subject, "object_missing", Critical),
        (K::Usage, _) => d(storage_subject, "usage", Warning),
        (k, _) => d(storage_subject, k.name(), Failed),
    }
}

/// The step that ends every remedy: run the failed job again.
fn then(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => "then run `cairn backup`",
        JobKind::Export => "then run `cairn export` (it sends only what is missing)",
        JobKind::Verify => "then run `cairn verify` again",
        JobKind::Prune => "then run `cairn prune` again",
        JobKind::Restore => "then run the restore again",
        JobKind::Recover => "then run `cairn recover` again",
        JobKind::KeyRotate => "then run `cairn key rotate` again",
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
    use crate::backend::{Backend, LocalBackend};
    use crate::controller::Controller;
    use crate::error::{ServiceCause, StorageError};
    use crate::progress::Progress;
    use crate::service::ServiceDef;

    /// The error of a backup of the one service `def`, run by the backup engine.
    fn backup_of(def: ServiceDef) -> Error {
        let dir = tempfile::tempdir().unwrap();
        let (_, public) = crate::crypto::generate_identity();
        let r = crate::crypto::parse_recipient(&public).unwrap();
        let ctl = Controller::init(&dir.path().join("repo"), &[r]).unwrap();
        let mut services = ctl.services().unwrap();
        services.add(def).unwrap();
        ctl.save_services(&services).unwrap();
        crate::backup::run(&ctl, &Progress::default()).expect_err("the backup must fail")
    }

    fn path_service(name: &str, path: &std::path::Path) -> ServiceDef {
        ServiceDef {
            name: name.into(),
            path: Some(path.display().to_string()),
            command: None,
            restore_command: None,
            ..Default::default()
        }
    }

    /// The diagnosis's remedy is the error's own remedy plus the step that reruns the job.
    fn assert_one_remedy(d: &Diagnosis, err: &Error, side: CopySide) {
        assert_eq!(
            d.remedy,
            format!("{}; {}", crate::remedy::of(err, side), then(d.kind))
        );
    }

    #[test]
    fn a_missing_service_path_is_diagnosed_by_its_cause() {
        let d0 = tempfile::tempdir().unwrap();
        let err = backup_of(path_service("ad", &d0.path().join("gone")));
        assert!(
            matches!(
                &err,
                Error::Service {
                    cause: ServiceCause::PathMissing,
                    ..
                }
            ),
            "{err:?}"
        );
        let source =
            std::error::Error::source(&err).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            source.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        let d = diagnose(JobKind::Backup, &err);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str(), d.severity),
            ("ad", "service_path_missing", Severity::Error)
        );
        assert!(d.message.contains("ad") && d.remedy.contains("cairn service add ad --path"));
        assert_eq!(
            err.remedy(),
            crate::remedy::service(&ServiceCause::PathMissing, "ad")
        );
        assert_one_remedy(&d, &err, CopySide::Internal);
        // a file where the directory should be: the data is not where it is configured either
        let file = d0.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let not_dir = diagnose(JobKind::Backup, &backup_of(path_service("ad", &file)));
        assert_eq!(not_dir.cause, "service_path_missing");
    }

    #[test]
    fn a_failing_command_is_diagnosed_by_its_cause() {
        let err = backup_of(ServiceDef {
            name: "db".into(),
            path: None,
            command: Some("echo 'db not found' >&2; exit 3".into()),
            restore_command: None,
            ..Default::default()
        });
        assert!(err.to_string().contains("status 3"), "{err}");
        let d = diagnose(JobKind::Backup, &err);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            ("db", "service_command_failed")
        );
        assert!(d.remedy.contains("run it by hand") && d.remedy.contains("cairn service list"));
        assert_one_remedy(&d, &err, CopySide::Internal);
    }

    #[test]
    fn a_service_failure_is_classified_by_its_cause_never_by_its_wording() {
        // wording that the old classifier took for a missing path, an unreadable one, a command
        let misleading = [
            (
                ServiceCause::CommandFailed,
                "its command said: file not found, permission denied",
            ),
            (
                ServiceCause::PathUnreadable,
                "cannot list /srv/missing-command-exit-status",
            ),
            (
                ServiceCause::PathMissing,
                "path /srv/permission denied/command does not exist",
            ),
            (
                ServiceCause::Other,
                "cannot read /srv/vanished: Input/output error",
            ),
        ];
        for (cause, text) in misleading {
            let err = Error::service("ad", cause.clone(), text);
            let d = diagnose(JobKind::Backup, &err);
            assert_eq!(d.cause, cause.name(), "{text}");
            assert_one_remedy(&d, &err, CopySide::Internal);
        }
        // an unreadable path, as the walker reports the OS's refusal
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(ServiceCause::of_path(&denied), ServiceCause::PathUnreadable);
        let gone = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(ServiceCause::of_path(&gone), ServiceCause::PathMissing);
        assert_eq!(
            ServiceCause::of_path(&std::io::Error::from_raw_os_error(libc::EIO)),
            ServiceCause::Other
        );
    }

    #[test]
    fn a_closed_port_is_an_unreachable_share() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = crate::target::TargetConfig::new(
            &format!("smb://127.0.0.1:{port}/backups"),
            Some("cairn".into()),
            Some("pw".into()),
        )
        .unwrap();
        let err = crate::target::open_backend(&cfg)
            .err()
            .expect("nothing listens there");
        let d = diagnose(JobKind::Export, &err);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            (TARGET, "share_unreachable"),
            "{err}"
        );
        assert!(d.remedy.contains("445") && d.remedy.contains("firewall"));
        assert!(err.remedy().contains("445") && err.remedy().contains("firewall"));
        assert_one_remedy(&d, &err, CopySide::Target);
    }

    #[test]
    fn a_full_disk_is_the_shares_on_export_and_the_controllers_otherwise() {
        let os = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let err = Error::Storage(StorageError::from_io("/srv/repo/data/ab/abcd", &os));
        let full = diagnose(JobKind::Export, &err);
        assert_eq!(
            (full.subject.as_str(), full.cause.as_str()),
            (TARGET, "share_full")
        );
        assert_one_remedy(&full, &err, CopySide::Target);
        let local = diagnose(JobKind::Backup, &err);
        assert_eq!(
            (local.subject.as_str(), local.cause.as_str(), local.severity),
            (REPOSITORY, "local_disk_full", Severity::Critical)
        );
        assert!(local.remedy.contains("df -h") && local.remedy.contains("cairn prune"));
        assert_one_remedy(&local, &err, CopySide::Internal);
        // not knowing the copy, the error's own remedy names both
        assert!(err.remedy().contains("df -h") && err.remedy().contains("quota"));
    }

    #[test]
    fn a_missing_object_and_a_refusal_are_diagnosed_by_kind() {
        let d0 = tempfile::tempdir().unwrap();
        let store = LocalBackend::new(d0.path());
        let err = Error::from(store.read("data/ab/abcd").unwrap_err());
        let d = diagnose(JobKind::Verify, &err);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str(), d.severity),
            (REPOSITORY, "object_missing", Severity::Critical)
        );
        assert_one_remedy(&d, &err, CopySide::Internal);
        // the same failure on the target's backend is the target's, whatever the job
        let cfg =
            crate::target::TargetConfig::new(&d0.path().display().to_string(), None, None).unwrap();
        let target = crate::target::open_backend(&cfg).unwrap();
        let err = Error::from(target.read("data/ab/abcd").unwrap_err());
        let d = diagnose(JobKind::Verify, &err);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            (TARGET, "object_missing")
        );
        assert_one_remedy(&d, &err, CopySide::Target);
        let denied = Error::io(
            "/srv/repo/config",
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(
            diagnose(JobKind::Backup, &denied).cause,
            "repository_access_denied"
        );
        let on_share = diagnose(JobKind::Export, &denied);
        assert_eq!(
            (on_share.subject.as_str(), on_share.cause.as_str()),
            (TARGET, "share_access_denied")
        );
        assert!(on_share.remedy.contains("cairn target set"));
        // placed on the target by its backend: the share's remedy, in the error and the alert
        let on_target = denied.on_copy(CopySide::Target);
        let d = diagnose(JobKind::Verify, &on_target);
        assert_eq!(d.cause, "share_access_denied");
        assert_eq!(
            on_target.remedy(),
            crate::remedy::storage(
                crate::error::StorageErrorKind::AccessDenied,
                CopySide::Target
            )
        );
    }

    #[test]
    fn damage_is_placed_on_the_copy_its_reader_names_never_by_its_object_name() {
        let mut report = crate::verify::VerifyReport::default();
        report
            .damaged_objects
            .insert("data/ab/abcd".into(), "hash mismatch".into());
        let on_target = crate::ops::VerifyOutcome {
            report,
            place: format!("{} at /mnt/share", crate::remote::TARGET_COPY),
            side: CopySide::Target,
        }
        .result()
        .unwrap_err();
        let dmg = diagnose(JobKind::Verify, &on_target);
        assert_eq!(
            (dmg.subject.as_str(), dmg.cause.as_str(), dmg.severity),
            (TARGET, "damage", Severity::Critical)
        );
        assert!(dmg.remedy.contains("cairn verify") && dmg.remedy.contains("cairn export"));
        assert_one_remedy(&dmg, &on_target, CopySide::Target);
        // an export that skipped backups damaged in the internal copy: the repository needs healing
        let skipped = crate::remote::skipped_error(&crate::replicate::ExportReport {
            backups_skipped: vec![crate::replicate::SkippedBackup {
                id: "20260101T000000.000Z".into(),
                reason: "pack x is damaged".into(),
            }],
            ..Default::default()
        });
        let d = diagnose(JobKind::Export, &skipped);
        assert_eq!(
            (d.subject.as_str(), d.cause.as_str()),
            (REPOSITORY, "damage")
        );
        // damage a reader did not place: the job decides (export: the target's copy)
        let unplaced = Error::corrupt("data/ab/abcd", "hash mismatch");
        assert_eq!(diagnose(JobKind::Export, &unplaced).subject, TARGET);
        assert_eq!(diagnose(JobKind::Verify, &unplaced).subject, REPOSITORY);
        // the object's name says nothing: wording that names a copy does not place it
        let named = Error::corrupt(crate::remote::TARGET_COPY, "x");
        assert_eq!(diagnose(JobKind::Verify, &named).subject, REPOSITORY);
        let named = Error::corrupt(crate::remote::INTERNAL_COPY, "x");
        assert_eq!(diagnose(JobKind::Export, &named).subject, TARGET);
        // a storage error of an object too large to be honest is damage too
        let big = Error::Storage(StorageError::new(
            crate::error::StorageErrorKind::TooLarge,
            "data/ab/abcd",
            "too large",
        ));
        assert_eq!(diagnose(JobKind::Verify, &big).cause, "damage");
        assert_eq!(big.remedy(), crate::remedy::DAMAGE);
    }

    #[test]
    fn a_wrong_identity_is_a_key_problem() {
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
        assert!(key.remedy.starts_with(crate::remedy::WRONG_IDENTITY));
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
