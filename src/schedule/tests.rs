use super::*;
use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

const H: u64 = 3600;

/// The jobs a fake run started, with their start times.
type Ran = Vec<(Action, DateTime<Utc>)>;
const FIVE_MIN: Duration = Duration::from_secs(300);

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-10T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * H)
}

/// A clock that jumps to where it is asked to sleep; shuts the loop down past `horizon`.
struct FakeClock {
    now: Mutex<DateTime<Utc>>,
    horizon: DateTime<Utc>,
}

impl FakeClock {
    fn advance(&self, d: Duration) {
        let mut t = self.now.lock().unwrap();
        *t += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }
    fn sleep_until(&self, t: DateTime<Utc>, shutdown: &AtomicBool) {
        assert!(t > self.now(), "the loop must never busy-wait");
        if t > self.horizon {
            shutdown.store(true, Ordering::SeqCst);
        } else {
            *self.now.lock().unwrap() = t;
        }
    }
}

/// Runs fake jobs: each takes `job_len`; `fail` decides which fail.
struct FakeRunner<'a> {
    clock: &'a FakeClock,
    job_len: Duration,
    fail: fn(&Action) -> bool,
    ran: Ran,
    stale: Vec<DateTime<Utc>>,
    stop_inside: Option<usize>,
}

impl Runner for FakeRunner<'_> {
    fn run(&mut self, action: &Action, shutdown: &AtomicBool) -> crate::Result<Done> {
        let now = self.clock.now();
        self.ran.push((*action, now));
        if self.stop_inside == Some(self.ran.len()) {
            shutdown.store(true, Ordering::SeqCst); // a signal arrives mid-job
            return Err(Error::failed("stopped", "none"));
        }
        self.clock.advance(self.job_len);
        if (self.fail)(action) {
            Err(Error::failed("fake failure", "none"))
        } else {
            Ok(Done {
                export_needed: true,
            })
        }
    }
    fn stale(&mut self, d: &Diagnosis) {
        assert_eq!(d.cause, "backup_stale");
        self.stale.push(self.clock.now());
    }
}

fn run_until(
    horizon: Duration,
    job_len: Duration,
    state: &mut ScheduleState,
    fail: fn(&Action) -> bool,
) -> (Ran, Vec<DateTime<Utc>>) {
    let clock = FakeClock {
        now: Mutex::new(t0()),
        horizon: t0() + horizon,
    };
    let mut runner = FakeRunner {
        clock: &clock,
        job_len,
        fail,
        ran: vec![],
        stale: vec![],
        stop_inside: None,
    };
    let shutdown = AtomicBool::new(false);
    serve(
        &ScheduleConfig::default(),
        state,
        &mut runner,
        &clock,
        &shutdown,
    );
    (runner.ran, runner.stale)
}

fn times_of(ran: &[(Action, DateTime<Utc>)], kind: JobKind) -> Vec<DateTime<Utc>> {
    ran.iter()
        .filter(|(a, _)| a.kind() == kind)
        .map(|(_, t)| *t)
        .collect()
}

#[test]
fn catches_up_after_downtime_with_one_run_not_a_burst() {
    // The controller was off for 3 days: six backups were missed.
    let mut state = ScheduleState::new(t0() - hours(24 * 30));
    state.backup.last_success = Some(t0() - hours(72));
    state.backup.last_attempt = state.backup.last_success;
    state.verify.last_success = Some(t0() - hours(1));
    let (ran, _) = run_until(hours(25), FIVE_MIN, &mut state, |_| false);
    let backups = times_of(&ran, JobKind::Backup);
    assert_eq!(
        backups,
        vec![t0(), t0() + hours(12), t0() + hours(24)],
        "one catch-up run, then every 12h"
    );
    // Each backup is followed by its export, then a prune, one at a time.
    assert_eq!(ran[0].0, Action::Backup);
    assert_eq!(ran[1].0, Action::Export);
    assert_eq!(ran[2].0, Action::Prune);
    assert_eq!(times_of(&ran, JobKind::Prune).len(), 3);
    // Jobs never overlap: each starts after the previous one's 5 minutes.
    for w in ran.windows(2) {
        assert!(w[1].1 >= w[0].1 + Duration::from_secs(300), "{w:?}");
    }
}

#[test]
fn failed_exports_back_off_exponentially_up_to_an_hour() {
    let mut state = ScheduleState::new(t0());
    state.verify.last_success = Some(t0());
    let (ran, _) = run_until(hours(11), Duration::ZERO, &mut state, |a| {
        *a == Action::Export
    });
    let exports = times_of(&ran, JobKind::Export);
    let gaps: Vec<u64> = exports
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds() as u64)
        .collect();
    // Jobs here take no time, so the gaps are the backoff itself: 1m doubling, capped at 1h.
    assert_eq!(
        &gaps[..7],
        &[60, 120, 240, 480, 960, 1920, 3600],
        "{gaps:?}"
    );
    assert!(gaps.iter().all(|g| *g <= 3600), "capped at 1h: {gaps:?}");
    assert_eq!(*gaps.last().unwrap(), 3600);
    // Failing exports do not hold back the rest: one backup, its prune.
    assert_eq!(times_of(&ran, JobKind::Backup), vec![t0()]);
    assert_eq!(times_of(&ran, JobKind::Prune).len(), 1);
}

#[test]
fn stale_backups_alert_once_after_twice_the_interval() {
    let mut state = ScheduleState::new(t0());
    state.verify.last_success = Some(t0());
    let (ran, stale) = run_until(hours(30), FIVE_MIN, &mut state, |a| *a == Action::Backup);
    assert_eq!(stale.len(), 1, "raised once: {stale:?}");
    assert!(
        stale[0] > t0() + hours(24) && stale[0] <= t0() + hours(25),
        "{stale:?}"
    );
    // Failing backups are retried with backoff, never more often than the retry delay.
    let backups = times_of(&ran, JobKind::Backup);
    assert!(backups.len() < 20, "{}", backups.len());
    assert!(backups
        .windows(2)
        .all(|w| w[1] - w[0] <= chrono::Duration::hours(12)));
}

#[test]
fn verify_rotates_through_the_slices() {
    let mut state = ScheduleState::new(t0());
    let (ran, _) = run_until(hours(24 * 3 + 1), FIVE_MIN, &mut state, |_| false);
    let slices: Vec<u32> = ran
        .iter()
        .filter_map(|(a, _)| match a {
            Action::Verify { slice, slices: 7 } => Some(*slice),
            _ => None,
        })
        .collect();
    assert_eq!(slices, vec![0, 1, 2, 3]);
}

#[test]
fn stops_on_shutdown_inside_a_job() {
    let clock = FakeClock {
        now: Mutex::new(t0()),
        horizon: t0() + hours(100),
    };
    let mut runner = FakeRunner {
        clock: &clock,
        job_len: Duration::ZERO,
        fail: |_| false,
        ran: vec![],
        stale: vec![],
        stop_inside: Some(2),
    };
    let shutdown = AtomicBool::new(false);
    let mut state = ScheduleState::new(t0());
    serve(
        &ScheduleConfig::default(),
        &mut state,
        &mut runner,
        &clock,
        &shutdown,
    );
    assert_eq!(runner.ran.len(), 2, "no job after the shutdown");
    assert_eq!(
        state.export,
        KindState::default(),
        "the cut-short job is not counted as a failure"
    );
    // Set before starting: nothing runs.
    let mut runner = FakeRunner {
        clock: &clock,
        job_len: Duration::ZERO,
        fail: |_| false,
        ran: vec![],
        stale: vec![],
        stop_inside: None,
    };
    serve(
        &ScheduleConfig::default(),
        &mut state,
        &mut runner,
        &clock,
        &shutdown,
    );
    assert!(runner.ran.is_empty());
}

#[test]
fn plan_is_pure_and_orders_due_jobs() {
    let c = ScheduleConfig::default();
    let mut s = ScheduleState::new(t0());
    assert_eq!(
        plan(&c, &s, t0()),
        Plan {
            action: Action::Backup,
            at: t0()
        }
    );
    s.record(
        &Action::Backup,
        t0(),
        &Ok(Done {
            export_needed: true,
        }),
    );
    assert_eq!(plan(&c, &s, t0()).action, Action::Export);
    s.record(&Action::Export, t0(), &Ok(Done::default()));
    assert_eq!(plan(&c, &s, t0()).action, Action::Prune);
    s.record(&Action::Prune, t0(), &Ok(Done::default()));
    assert_eq!(
        plan(&c, &s, t0()).action,
        Action::Verify {
            slice: 0,
            slices: 7
        }
    );
    s.record(
        &Action::Verify {
            slice: 0,
            slices: 7,
        },
        t0(),
        &Ok(Done::default()),
    );
    assert_eq!(
        plan(&c, &s, t0()),
        Plan {
            action: Action::Backup,
            at: t0() + hours(12)
        }
    );
    assert!(stale(&c, &s, t0() + hours(24)).is_none());
    assert!(stale(&c, &s, t0() + hours(25)).is_some());
}

#[test]
fn state_rebuilds_from_the_job_history() {
    let dir = tempfile::tempdir().unwrap();
    let h = crate::jobs::History::new(dir.path());
    let ok = crate::jobs::JobId::new();
    h.start(&ok, JobKind::Backup, crate::jobs::Trigger::Schedule)
        .unwrap();
    let ok_rec = h.finish(&ok, Ok(())).unwrap();
    std::thread::sleep(Duration::from_millis(2));
    let bad = crate::jobs::JobId::new();
    h.start(&bad, JobKind::Export, crate::jobs::Trigger::Schedule)
        .unwrap();
    h.finish(&bad, Err(&Error::failed("x", "y"))).unwrap();
    let s = ScheduleState::from_history(&h.list(100).unwrap(), t0());
    assert_eq!(s.backup.last_success, Some(ok_rec.started));
    assert_eq!((s.export.failures, s.export.last_success), (1, None));
    assert!(s.prune_pending);
}

#[test]
fn config_round_trips_and_rejects_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ScheduleConfig::load(dir.path()).unwrap(),
        ScheduleConfig::default()
    );
    let c = ScheduleConfig {
        backup_every: hours(6),
        keep_last: Some(3),
        ..ScheduleConfig::default()
    };
    c.save(dir.path()).unwrap();
    assert_eq!(ScheduleConfig::load(dir.path()).unwrap(), c);
    std::fs::write(
        dir.path().join(SCHEDULE_FILE),
        "backup_every = \"6 hours\"\n",
    )
    .unwrap();
    let e = ScheduleConfig::load(dir.path()).unwrap_err();
    assert!(
        e.to_string().contains("6 hours") && e.remedy().contains("12h"),
        "{e}"
    );
    std::fs::write(dir.path().join(SCHEDULE_FILE), "backup_every = \"0s\"\n").unwrap();
    assert!(ScheduleConfig::load(dir.path()).is_err());
    std::fs::write(dir.path().join(SCHEDULE_FILE), "keep_within = \"2w\"\n").unwrap();
    assert_eq!(
        ScheduleConfig::load(dir.path())
            .unwrap()
            .retention()
            .keep_within,
        Some(hours(24 * 14))
    );
}

#[test]
fn the_schedule_is_saved_whole_private_and_reads_back() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let c = ScheduleConfig {
        keep_last: Some(7),
        ..ScheduleConfig::default()
    };
    c.save(d.path()).unwrap();
    assert_eq!(ScheduleConfig::load(d.path()).unwrap(), c);
    let path = d.path().join(SCHEDULE_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [SCHEDULE_FILE], "no temporary file left");
}
