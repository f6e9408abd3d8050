//! The checks of the controller itself: repository, recipients, last backup, alerts, local disk,
//! clock.

use super::{sizing, Check, Status};
use crate::controller::Controller;
use crate::jobs::{Alerts, Severity};
use crate::object::ObjectKind;
use crate::schedule::ScheduleConfig;
use crate::text::size;
use crate::Error;
use chrono::{DateTime, Utc};
use std::path::Path;

/// What several checks use, read once.
pub(super) struct Facts {
    /// The schedule and retention (the defaults when unset or unreadable).
    pub schedule: ScheduleConfig,
    /// How many backups that keeps.
    pub kept: u64,
    /// Bytes of the internal repository's packs: one full backup and the history kept.
    pub stored: u64,
    /// The observed growth per backup, once there is more than the first.
    pub growth: Option<u64>,
    /// The newest backup's time (ms since the epoch) and id.
    pub newest_ms: Option<i64>,
    /// The newest backup's id.
    pub newest: Option<String>,
    /// How many backups, and how many manifests could not be read.
    pub backups: usize,
    /// Manifests that could not be read.
    pub damaged: usize,
}

impl Facts {
    pub fn gather(ctl: &Controller) -> Facts {
        let schedule = ScheduleConfig::load(&ctl.local()).unwrap_or_default();
        let kept = sizing::backups_kept(
            schedule.backup_every,
            schedule.keep_within,
            schedule.keep_last,
        );
        let stored = ctl
            .repo
            .store
            .list(ObjectKind::Pack.prefix())
            .map(|l| l.iter().map(|o| o.size).sum())
            .unwrap_or(0);
        let (manifests, damaged) = ctl.repo.manifests().unwrap_or_default();
        let new_bytes: Vec<u64> = manifests
            .iter()
            .filter(|m| m.prev.is_some())
            .map(|m| m.bytes_new())
            .collect();
        let newest = manifests.last();
        Facts {
            kept,
            stored,
            growth: sizing::growth(&new_bytes, kept),
            newest_ms: newest.map(|m| m.time_ms),
            newest: newest.map(|m| m.id.clone()),
            backups: manifests.len(),
            damaged: damaged.len(),
            schedule,
        }
    }
}

/// The repository could not be opened.
pub(super) fn unopened(root: &Path, e: &Error) -> Check {
    Check::failed(
        "repository",
        format!("the repository at {} cannot be opened: {e}", root.display()),
        e.remedy(),
    )
}

/// Readable, and its fingerprint known (the signing key here is the one the repository names).
pub(super) fn repository(ctl: &Controller, f: &Facts) -> Check {
    let at = ctl.root.display();
    if let Err(e) = ctl.signer() {
        return Check::failed(
            "repository",
            format!("the repository at {at} is readable, but its signing key is not: {e}"),
            e.remedy(),
        );
    }
    if f.damaged > 0 {
        return Check::failed(
            "repository",
            format!("the repository at {at} holds {} manifest(s) that cannot be read", f.damaged),
            "run `cairn verify` to name the damage; `cairn export` or `cairn recover` can heal it from the target's copy",
        );
    }
    Check::ok(
        "repository",
        format!(
            "the repository at {at} is readable ({} backup(s)); its fingerprint is {} (keep it with the identity: `cairn recover` needs it)",
            f.backups,
            ctl.repo.fingerprint()
        ),
    )
}

/// New backups have recipients to encrypt to.
pub(super) fn recipients(ctl: &Controller) -> Check {
    let remedy = "set them with `cairn key rotate --recipient age1…` (the public key of an identity kept off this controller; `cairn key generate --output FILE` makes one)";
    let found = ctl
        .keys()
        .and_then(|(epoch, _)| ctl.repo.epoch_recipients(&epoch));
    match found {
        Ok(r) if !r.is_empty() => Check::ok(
            "recipients",
            format!(
                "new backups are encrypted to {} recipient(s): {}",
                r.len(),
                r.join(", ")
            ),
        ),
        Ok(_) => Check::failed(
            "recipients",
            "no recipients are set: new backups cannot be encrypted",
            remedy,
        ),
        Err(e) => Check::failed(
            "recipients",
            format!("no recipients are set for new backups ({e}): they cannot be encrypted"),
            remedy,
        ),
    }
}

/// The newest backup is no older than two backup intervals.
pub(super) fn last_backup(ctl: &Controller, f: &Facts, now: DateTime<Utc>) -> Check {
    let every = f.schedule.backup_every;
    let Some((ms, id)) = f.newest_ms.zip(f.newest.as_ref()) else {
        return Check::warning(
            "last_backup",
            "there is no backup yet",
            "run `cairn backup` once, then let the schedule run (`systemctl enable --now cairn`)",
        );
    };
    let age = now.timestamp_millis().saturating_sub(ms).max(0) as u64 / 1000;
    let limit = every.as_secs().saturating_mul(2);
    let when = crate::text::rfc3339_ms(ms);
    if age > limit {
        return Check::failed(
            "last_backup",
            format!(
                "the last backup ({id}, {when}) is {} old, more than twice the interval ({})",
                crate::retention::format_duration(std::time::Duration::from_secs(age)),
                crate::retention::format_duration(every)
            ),
            "check that the scheduler runs (`systemctl status cairn`), then `cairn jobs` and `cairn alerts` for why backups fail; `cairn backup` makes one now",
        );
    }
    let on_target = crate::ops::on_target(ctl)(id);
    if on_target == Some(false) {
        return Check::warning(
            "last_backup",
            format!("the last backup ({id}, {when}) is recent but not on the target yet"),
            "run `cairn export` (the scheduler retries on its own); `cairn alerts` says why an export failed",
        );
    }
    Check::ok(
        "last_backup",
        format!("the last backup ({id}) was made at {when}, within twice the interval"),
    )
}

/// No alert is active.
pub(super) fn alerts(ctl: &Controller) -> Check {
    let active = match Alerts::new(&ctl.local()).active() {
        Ok(a) => a,
        Err(e) => {
            return Check::warning(
                "alerts",
                format!("the alerts cannot be read: {e}"),
                e.remedy(),
            )
        }
    };
    let Some(first) = active.first() else {
        return Check::ok("alerts", "no alert is active");
    };
    let listed: Vec<String> = active
        .iter()
        .map(|a| format!("{} ({}): {}", a.subject, a.kind, a.message))
        .collect();
    let summary = format!("{} active alert(s): {}", active.len(), listed.join("; "));
    let remedy = format!("{} (`cairn alerts` shows every remedy)", first.remedy);
    if active.iter().all(|a| a.severity == Severity::Warning) {
        Check::warning("alerts", summary, remedy)
    } else {
        Check::failed("alerts", summary, remedy)
    }
}

/// The local disk has room for the next backup (twice the observed growth, for the index and
/// the packs being written).
pub(super) fn disk(ctl: &Controller, f: &Facts) -> Check {
    let free = match ctl.repo.store.free_space() {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Check::warning(
                "local_disk",
                "the free space of the repository's file system is unknown",
                "check it with `df`",
            )
        }
        Err(e) => {
            return Check::warning(
                "local_disk",
                format!("the free space of the repository's file system cannot be read: {e}"),
                "check it with `df`",
            )
        }
    };
    let at = ctl.root.display();
    let Some(growth) = f.growth else {
        return Check::ok(
            "local_disk",
            format!(
                "{} free at {at} (no growth observed yet to size the next backup)",
                size(free)
            ),
        );
    };
    let status = match free {
        b if b < growth => Status::Failed,
        b if b < growth.saturating_mul(2) => Status::Warning,
        _ => Status::Ok,
    };
    let summary = format!(
        "{} free at {at}; the next backup needs about {} (the observed growth), twice that for comfort",
        size(free),
        size(growth)
    );
    Check {
        name: "local_disk",
        status,
        summary,
        remedy: (status != Status::Ok).then(|| {
            format!("free space on the file system holding {at}, or run `cairn prune` to drop backups outside the retention")
        }),
    }
}

/// The clock is plausible: not before 2024, and no backup dated in its future.
pub(super) fn clock(now: DateTime<Utc>, newest_ms: Option<i64>) -> Check {
    const FLOOR_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    const SLACK_MS: i64 = 5 * 60 * 1000;
    let remedy =
        "set the clock and keep it synchronised (`timedatectl set-ntp true`, or chrony/ntpsec)";
    let now_ms = now.timestamp_millis();
    let shown = crate::text::rfc3339_ms(now_ms);
    if now_ms < FLOOR_MS {
        return Check::failed(
            "clock",
            format!("the clock reads {shown}, before this version of cairn was made"),
            remedy,
        );
    }
    if let Some(ms) = newest_ms.filter(|&ms| ms > now_ms + SLACK_MS) {
        return Check::failed(
            "clock",
            format!(
                "the clock reads {shown}, but the newest backup is dated {}: the clock went back, and schedule and retention go wrong",
                crate::text::rfc3339_ms(ms)
            ),
            remedy,
        );
    }
    Check::ok(
        "clock",
        format!("the clock reads {shown}; no backup is dated in its future"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_behind_the_newest_backup_or_before_2024_fails() {
        let now = Utc::now();
        assert_eq!(clock(now, None).status, Status::Ok);
        let past = now.timestamp_millis() - 1000;
        assert_eq!(clock(now, Some(past)).status, Status::Ok);
        let future = now.timestamp_millis() + 3_600_000;
        let c = clock(now, Some(future));
        assert_eq!(c.status, Status::Failed);
        assert!(c.remedy.unwrap().contains("timedatectl"));
        let old = DateTime::from_timestamp(1_600_000_000, 0).unwrap();
        assert_eq!(clock(old, None).status, Status::Failed);
    }
}
