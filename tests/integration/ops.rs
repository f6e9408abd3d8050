//! The operations layer driven directly, with no CLI: what a new front end (the management API)
//! would do.

use crate::fixtures::{init_repo, repo_with_service};
use crate::harness::{assert_same, make_tree, snapshot, subtree, write};
use cairn::controller::Controller;
use cairn::jobs::{History, JobKind, JobState, Trigger};
use cairn::keyring::KeyRing;
use cairn::ops::{self, Context, VerifyOptions};
use cairn::restore::RestoreOptions;
use cairn::retention::Policy;
use cairn::target::TargetConfig;
use std::path::Path;
use std::sync::atomic::Ordering;

/// A new repository at `repo` backing up `src` as service `service`, exporting to the local
/// directory `share`; the identity (age secret key text).
fn repo_with_target(repo: &Path, service: &str, src: &Path, share: &Path) -> String {
    let (ctl, identity) = repo_with_service(repo, service, src);
    std::fs::create_dir_all(share).unwrap();
    let target = TargetConfig::new(share.to_str().unwrap(), None, None).unwrap();
    cairn::remote::accept(&ctl, &target).unwrap();
    target.save(&ctl.root).unwrap();
    identity
}

#[test]
fn backup_export_verify_restore_prune_through_ops_are_recorded_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, src, share, out) = (
        dir.path().join("repo"),
        dir.path().join("src"),
        dir.path().join("share"),
        dir.path().join("out"),
    );
    make_tree(&src, 9, 1);
    let identity = repo_with_target(&repo, "identity", &src, &share);

    let cx = Context::new(&repo);
    // backup, then its export under the same lease
    let first = ops::backup(&cx).unwrap();
    // the report's manifest comes without its references (never held whole); its count is
    // the manifest's, as committed
    let committed = Controller::open(&repo)
        .unwrap()
        .repo
        .read_manifest(&first.manifest.name())
        .unwrap();
    assert!(first.manifest.refs.is_empty());
    assert_eq!(first.chunks, committed.refs.len() as u64);
    assert!(first.chunks > 0);
    let sent = match &first.export {
        Some(Ok(r)) => r.objects_sent,
        other => panic!("the backup was not exported: {other:?}"),
    };
    assert!(sent > 0);
    assert!(first.export_error().is_none());
    assert!(share.join("backups").join(&first.manifest.id).exists());
    // an export with nothing new sends nothing and succeeds
    let again = ops::export(&cx).unwrap();
    again.result().unwrap();
    assert_eq!(again.report.objects_sent, 0);

    // verify both copies, reading the data with the identity
    let keys = KeyRing::new(cairn::crypto::Identity::parse(&identity, "test").unwrap());
    for from_target in [false, true] {
        let v = ops::verify(
            &cx,
            &VerifyOptions {
                from_target,
                keys: Some(&keys),
            },
        )
        .unwrap();
        v.result().unwrap();
        assert!(v.report.chunks_read > 0 && v.report.backups == 1, "{v:?}");
    }

    // restore: byte for byte what was backed up
    let r = ops::restore(
        &cx,
        &keys,
        "latest",
        &RestoreOptions {
            target: out.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.backup, first.manifest.id);
    assert_same(
        &snapshot(&src),
        &subtree(&snapshot(&out), "identity"),
        "restored through ops",
    );

    // a cancelled restore stops at the next entry (before writing any file)
    let cancel = ops::Cancel::new();
    cancel.cancel();
    let ctl = Controller::open(&repo).unwrap();
    let e = cairn::restore::restore(
        &ctl.repo,
        &keys,
        &committed,
        &RestoreOptions {
            target: dir.path().join("out2"),
            ..Default::default()
        },
        &cairn::progress::Progress::with_cancel(cancel),
    )
    .unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
    let written = crate::harness::files_under(&dir.path().join("out2"));
    assert!(written.is_empty(), "files written: {written:?}");
    drop(ctl);

    // a second backup, then prune to the newest on both copies
    write(&src.join("new-file"), b"changed");
    let second = ops::backup(&cx).unwrap();
    assert!(matches!(second.export, Some(Ok(_))));
    let p = ops::prune(
        &cx,
        &Policy {
            keep_within: None,
            keep_last: Some(1),
        },
        false,
    )
    .unwrap();
    assert!(p.target_error.is_none(), "{:?}", p.target_error);
    assert_eq!(p.internal.backups_forgotten, [first.manifest.id.as_str()]);
    let on_target = p.target.expect("the target was pruned too");
    assert_eq!(on_target.backups_forgotten, [first.manifest.id.as_str()]);
    assert!(!share.join("backups").join(&first.manifest.id).exists());
    assert!(share.join("backups").join(&second.manifest.id).exists());

    // every operation is a recorded job, newest first
    let jobs = History::new(&repo.join("local")).list(20).unwrap();
    let seen: Vec<_> = jobs.iter().map(|j| (j.kind, j.state, j.trigger)).collect();
    let ok = |k| (k, JobState::Succeeded, Trigger::Manual);
    assert_eq!(
        seen,
        [
            ok(JobKind::Prune),
            ok(JobKind::Export),
            ok(JobKind::Backup),
            ok(JobKind::Restore),
            ok(JobKind::Verify),
            ok(JobKind::Verify),
            ok(JobKind::Export),
            ok(JobKind::Export),
            ok(JobKind::Backup),
        ]
    );
    assert_eq!(jobs[3].backup.as_deref(), Some(first.manifest.id.as_str()));
    assert_eq!(jobs[8].backup.as_deref(), Some(first.manifest.id.as_str()));
}

#[test]
fn a_cancelled_context_runs_no_operation_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init_repo(&repo);
    let cancel = ops::Cancel::new();
    let cx = Context::new(&repo).with_cancel(cancel.clone());
    cancel.cancel();
    assert!(cancel.flag().load(Ordering::SeqCst));
    let e = ops::backup(&cx).unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
    // a verify stopped early never reports a clean copy, however far it got
    let ctl = Controller::open(&repo).unwrap();
    let index = ctl.index().unwrap();
    let progress = cairn::progress::Progress::with_cancel(cancel.clone());
    let e = cairn::verify::verify(&ctl.repo, &index, None, &progress).unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
    drop((index, ctl));
    assert!(ops::verify(&cx, &VerifyOptions::default()).is_err());
    let jobs = History::new(&repo.join("local")).list(5).unwrap();
    assert_eq!(
        jobs.iter().map(|j| (j.kind, j.state)).collect::<Vec<_>>(),
        [
            (JobKind::Verify, JobState::Failed),
            (JobKind::Backup, JobState::Failed)
        ]
    );
}

#[test]
fn key_rotation_is_a_job_under_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (_, first) = cairn::crypto::generate_identity();
    let (_, second) = cairn::crypto::generate_identity();
    Controller::init(&repo, &[cairn::crypto::parse_recipient(&first).unwrap()]).unwrap();
    let cx = Context::new(&repo);
    let new = [cairn::crypto::parse_recipient(&second).unwrap()];
    // another job holding the lease makes the rotation busy (exit 3), unrecorded
    let holder =
        cairn::jobs::Job::begin(&repo.join("local"), JobKind::Prune, Trigger::Manual).unwrap();
    assert_eq!(ops::rotate_keys(&cx, &new).unwrap_err().exit_code(), 3);
    holder.finish(&Ok(()));
    let r = ops::rotate_keys(&cx, &new).unwrap();
    assert_eq!(r.recipients, 1);
    let jobs = History::new(&repo.join("local")).list(5).unwrap();
    assert_eq!(
        (jobs[0].kind, jobs[0].state),
        (JobKind::KeyRotate, JobState::Succeeded)
    );
}

#[test]
fn scheduled_ticks_are_recorded_and_raise_and_clear_alerts() {
    use cairn::schedule::{Action, ScheduleConfig};
    let dir = tempfile::tempdir().unwrap();
    let (repo, src, share) = (
        dir.path().join("repo"),
        dir.path().join("src"),
        dir.path().join("share"),
    );
    write(&src.join("a"), b"scheduled");
    repo_with_target(&repo, "quota", &src, &share);

    let cx = Context::new(&repo).with_trigger(Trigger::Schedule);
    let cfg = ScheduleConfig::default();
    let done = ops::tick(&cx, &cfg, &Action::Backup).unwrap();
    assert!(done.export_needed, "a target is set: the export is next");
    // the share is gone (a file where its folder was): the export fails, an alert names the target
    std::fs::remove_dir_all(&share).unwrap();
    write(&share, b"not a folder");
    assert!(ops::tick(&cx, &cfg, &Action::Export).is_err());
    let active = cairn::jobs::Alerts::new(&repo.join("local"))
        .active()
        .unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(
        (active[0].kind, active[0].subject.as_str()),
        (JobKind::Export, "target")
    );
    // back again: the next export succeeds and clears it
    std::fs::remove_file(&share).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    ops::tick(&cx, &cfg, &Action::Export).unwrap();
    assert!(cairn::jobs::Alerts::new(&repo.join("local"))
        .active()
        .unwrap()
        .is_empty());
    ops::tick(&cx, &cfg, &Action::Prune).unwrap();
    let jobs = History::new(&repo.join("local")).list(10).unwrap();
    let seen: Vec<_> = jobs.iter().map(|j| (j.kind, j.state, j.trigger)).collect();
    let t = Trigger::Schedule;
    assert_eq!(
        seen,
        [
            (JobKind::Prune, JobState::Succeeded, t),
            (JobKind::Export, JobState::Succeeded, t),
            (JobKind::Export, JobState::Failed, t),
            (JobKind::Backup, JobState::Succeeded, t),
        ]
    );
    // a manual job holding the lease makes a scheduled run busy (exit 3), unrecorded
    let manual =
        cairn::jobs::Job::begin(&repo.join("local"), JobKind::Prune, Trigger::Manual).unwrap();
    let e = ops::tick(&cx, &cfg, &Action::Backup).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    manual.finish(&Ok(()));
    assert_eq!(History::new(&repo.join("local")).list(10).unwrap().len(), 5);
}

/// Runs `cairn prune` and `cairn verify` (as their own processes) the moment a restore job starts,
/// while it holds the lease.
struct DuringRestore {
    repo: std::path::PathBuf,
    seen: std::sync::Mutex<Option<(crate::harness::Out, crate::harness::Out, String)>>,
}

impl ops::Sink for DuringRestore {
    fn started(&self, job: &cairn::jobs::JobRecord) {
        if job.kind == JobKind::Restore {
            let prune = crate::harness::cairn(&self.repo, ["prune", "--keep-last", "1"]);
            let verify = crate::harness::cairn(&self.repo, ["verify"]);
            *self.seen.lock().expect("not poisoned") = Some((prune, verify, job.id.to_string()));
        }
    }
}

#[test]
fn a_prune_is_busy_while_a_restore_reads_and_a_verify_reads_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, src, share) = (
        dir.path().join("repo"),
        dir.path().join("src"),
        dir.path().join("share"),
    );
    make_tree(&src, 5, 0);
    let identity = repo_with_target(&repo, "identity", &src, &share);
    ops::backup(&Context::new(&repo)).unwrap();
    write(&src.join("new-file"), b"changed");
    ops::backup(&Context::new(&repo)).unwrap();
    let keys = KeyRing::new(cairn::crypto::Identity::parse(&identity, "test").unwrap());

    let sink = DuringRestore {
        repo: repo.clone(),
        seen: Default::default(),
    };
    let cx = Context::new(&repo).with_sink(&sink);
    let opts = RestoreOptions {
        target: dir.path().join("out"),
        ..Default::default()
    };
    ops::restore(&cx, &keys, "latest", &opts).unwrap();
    let (prune, verify, restore_job) = sink
        .seen
        .into_inner()
        .expect("not poisoned")
        .expect("the restore job started");
    prune.expect(3, "prune while a restore reads");
    assert!(
        prune.stderr.contains(&format!(
            "repository busy: restore job {restore_job} running since "
        )),
        "{}",
        prune.stderr
    );
    verify.ok("verify beside a restore");
    // Once the restore ended the prune runs, and nothing was pruned meanwhile.
    assert_eq!(
        crate::harness::cairn(&repo, ["list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    crate::harness::cairn(&repo, ["prune", "--keep-last", "1"]).ok("prune after the restore");
}
