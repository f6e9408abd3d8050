//! Attacks on the target and what the share serves (see ../hostile.rs): a damaged object on the
//! share must be found by `verify --from-target` and healed by `export`; a damaged local object
//! must not stop the export of the backups that do not need it; a folder of another repository
//! is refused; an oversize object is refused with bounded memory.

use crate::fixtures::{flip, largest};
use crate::harness::{files_under, random_bytes, write, Env};
use std::fs;
use std::path::{Path, PathBuf};

/// An Env with a service holding `mib` MiB of incompressible data and a target directory set.
fn with_local_target(mib: usize) -> (Env, PathBuf) {
    let env = Env::new();
    let src = env.path("src/app");
    write(&src.join("big.bin"), &random_bytes(11, mib << 20));
    write(&src.join("note.txt"), b"a small note\n");
    env.add_path_service("app", &src);
    let share = env.path("share/ctl1");
    fs::create_dir_all(&share).unwrap();
    env.run(["target", "set", share.to_str().unwrap()])
        .ok("target set");
    (env, share)
}

#[test]
fn verify_from_target_checks_the_targets_own_copy_and_export_heals_it() {
    let (env, share) = with_local_target(3);
    env.backup();
    let pack = largest(&share.join("data"));
    let name = pack.file_name().unwrap().to_str().unwrap().to_string();
    let local = env.repo.join("data").join(&name[..2]).join(&name);
    flip(&pack);
    // The flag is not ignored: the internal copy is intact, the target's is not.
    env.run(["verify"]).ok("verify of the intact internal copy");
    let v = env.run(["verify", "--from-target"]);
    v.expect(1, "verify --from-target with a damaged pack on the target");
    assert!(
        v.all().contains(&name[..16]),
        "verify --from-target does not name the damaged pack {name}:\n{}",
        v.all()
    );
    let ids = env.ids();
    assert!(
        v.all().contains(&ids[0]),
        "the hurt backup is not named:\n{}",
        v.all()
    );
    // --read-data decrypts every chunk of the target's copy, and says the same.
    let id = env.identity.to_str().unwrap().to_string();
    env.run(["verify", "--from-target", "--read-data", "--identity", &id])
        .expect(1, "verify --from-target --read-data");
    // Export compares contents, not sizes: the same-size damaged pack is replaced.
    let e = env.run(["export"]);
    e.ok("export after the target was damaged");
    assert!(
        e.stdout.contains("replaced"),
        "export did not say it replaced a damaged object: {}",
        e.stdout
    );
    assert!(
        fs::read(&pack).unwrap() == fs::read(&local).unwrap(),
        "export left the damaged copy of {name} on the target"
    );
    env.run(["verify", "--from-target"])
        .ok("verify --from-target after export healed it");
    env.run(["verify", "--from-target", "--read-data", "--identity", &id])
        .ok("verify --from-target --read-data after the heal");
}

#[test]
fn verify_from_target_without_an_export_says_so() {
    let (env, _share) = with_local_target(1);
    let v = env.run(["verify", "--from-target"]);
    v.expect(1, "verify --from-target before any export");
    assert!(v.stderr.contains("cairn export"), "{}", v.stderr);
}

#[test]
fn one_damaged_local_pack_does_not_stop_the_export_of_other_backups() {
    let env = Env::new();
    let src = env.path("src/app");
    write(&src.join("first.bin"), &random_bytes(1, 2 << 20));
    env.add_path_service("app", &src);
    let b1 = env.backup();
    let before: Vec<PathBuf> = env.packs();
    write(&src.join("second.bin"), &random_bytes(2, 3 << 20));
    let b2 = env.backup();
    // A pack only the second backup needs is damaged on the controller's disk.
    let new: Vec<PathBuf> = env
        .packs()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let victim = new
        .iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap()
        .clone();
    flip(&victim);
    let vname = victim.file_name().unwrap().to_str().unwrap().to_string();
    let share = env.path("share/ctl1");
    fs::create_dir_all(&share).unwrap();
    env.run(["target", "set", share.to_str().unwrap()])
        .ok("target set");
    let e = env.run(["export"]);
    e.expect(1, "export with a damaged local pack");
    assert!(
        e.all().contains(&b2),
        "the export does not name backup {b2}:\n{}",
        e.all()
    );
    assert!(
        e.all().contains(&vname[..16]),
        "the damaged pack is not named:\n{}",
        e.all()
    );
    // The first backup reached the target whole; the second's manifest did not, nor the bad pack.
    assert!(
        share.join("backups").join(&b1).is_file(),
        "backup {b1} was not exported"
    );
    assert!(
        !share.join("backups").join(&b2).exists(),
        "backup {b2} was exported"
    );
    assert!(!share.join("data").join(&vname[..2]).join(&vname).exists());
    env.run(["verify", "--from-target"])
        .ok("the exported backup verifies on the target");
    // The failure is a job and an alert that name the backup.
    let jobs = env.run(["jobs", "--json"]);
    jobs.ok("jobs");
    // the newest export job (the manual verify since is a job too)
    let jobs = jobs.json();
    let last = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "export")
        .expect("an export job");
    assert_eq!(last["state"], "failed");
    assert!(last["error"].as_str().unwrap_or("").contains(&b2), "{last}");
    let alerts = env.run(["alerts", "--json"]);
    assert!(
        alerts.stdout.contains(&b2),
        "no alert names backup {b2}: {}",
        alerts.stdout
    );
}

#[test]
fn a_target_belongs_to_one_repository() {
    let one = Env::new();
    let two = Env::new();
    for (env, seed) in [(&one, 1), (&two, 2)] {
        let src = env.path("src/app");
        write(&src.join("data.bin"), &random_bytes(seed, 100_000));
        env.add_path_service("app", &src);
    }
    let shared = one.path("share/folder");
    let mine = one.path("share/mine");
    fs::create_dir_all(&shared).unwrap();
    fs::create_dir_all(&mine).unwrap();
    // An empty folder is fine for either.
    one.run(["target", "set", shared.to_str().unwrap()])
        .ok("target set on an empty folder");
    two.run(["target", "set", shared.to_str().unwrap()])
        .ok("target set on an empty folder");
    let theirs = two.backup(); // exports: the folder now holds repository two
    assert!(shared.join("backups").join(&theirs).is_file());
    // Repository one may not export or prune there, nor set it again.
    let e = one.run(["export"]);
    e.expect(1, "export into another repository's folder");
    assert!(e.stderr.contains("another repository"), "{}", e.stderr);
    assert!(
        e.stderr.contains("another folder"),
        "no remedy: {}",
        e.stderr
    );
    one.backup_expecting_export_failure();
    assert_eq!(
        files_under(&shared.join("backups")).len(),
        1,
        "repository one's backups reached repository two's folder"
    );
    one.run(["--quiet", "prune", "--keep-last", "1"])
        .expect(1, "prune with another repository at the target");
    assert!(
        shared.join("backups").join(&theirs).is_file(),
        "prune forgot the other repository's backup"
    );
    let set = one.run(["target", "set", mine.to_str().unwrap()]);
    set.ok("target set on its own folder");
    let refused = one.run(["target", "set", shared.to_str().unwrap()]);
    assert!(
        refused.code == 1 || refused.code == 2,
        "target set on another repository's folder exited {}: {}",
        refused.code,
        refused.stderr
    );
    assert!(
        refused.stderr.contains("another repository"),
        "{}",
        refused.stderr
    );
    let show = one.run(["target", "show", "--json"]);
    show.ok("target show");
    assert!(
        show.stdout.contains("share/mine") && !show.stdout.contains("share/folder"),
        "a refused target set changed the target: {}",
        show.stdout
    );
    // Its own folder takes its exports; the other repository's folder is untouched.
    one.run(["export"]).ok("export to its own folder");
    two.run(["verify", "--from-target"])
        .ok("repository two's target still verifies");
}

trait ExportFailure {
    fn backup_expecting_export_failure(&self);
}

impl ExportFailure for Env {
    fn backup_expecting_export_failure(&self) {
        let o = self.run(["--quiet", "backup"]);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(
            o.stderr.contains("another repository"),
            "the backup's export into another repository's folder did not fail: {} {}",
            o.code,
            o.stderr
        );
    }
}

/// Peak resident memory of cairn (KiB), its exit code and its output.
fn run_measured(repo: &Path, args: &[&str]) -> (u64, i32, String) {
    let (o, kib) = crate::harness::cairn_measured(repo, args);
    (kib, o.code, o.all())
}

#[test]
fn a_300_mb_manifest_is_refused_with_bounded_memory() {
    let env = Env::new();
    let src = env.path("src/app");
    write(&src.join("a.txt"), b"hello\n");
    env.add_path_service("app", &src);
    let id = env.backup();
    // A share writer (or a bad disk) plants a giant manifest; sparse, it costs no disk.
    let giant = env.repo.join("backups/20300101T000000.000Z");
    let f = fs::File::create(&giant).unwrap();
    f.set_len(300_000_000).unwrap();
    drop(f);
    for args in [["list"].as_slice(), ["verify"].as_slice()] {
        let (kib, code, text) = run_measured(&env.repo, args);
        eprintln!("cairn {args:?}: exit {code}, peak RSS {} MiB", kib / 1024);
        assert!(!text.contains("panicked"), "{text}");
        assert!(
            kib < 100 * 1024,
            "cairn {args:?} peaked at {} MiB with a 300 MB manifest",
            kib / 1024
        );
        if args == ["verify"] {
            assert_eq!(code, 1, "verify did not report the giant manifest: {text}");
            assert!(text.contains("20300101T000000.000Z"), "{text}");
            assert!(
                text.contains("300000000 bytes"),
                "the size is not named: {text}"
            );
        } else if code == 0 {
            assert!(text.contains(&id), "list lost the real backup: {text}");
        }
    }
}

#[test]
fn serve_verifies_the_targets_own_copy_and_alerts_about_the_target() {
    let (env, share) = with_local_target(2);
    env.backup();
    let pack = largest(&share.join("data"));
    let name = pack.file_name().unwrap().to_str().unwrap().to_string();
    flip(&pack);
    // One verify subset (every pack each run), nothing else due soon.
    fs::write(
        env.repo.join("local/schedule.toml"),
        "backup_every = \"1h\"\nverify_every = \"1h\"\nverify_slices = 1\n",
    )
    .unwrap();
    let log = fs::File::create(env.path("serve.log")).unwrap();
    let mut child = crate::harness::command(&env.repo, ["serve"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let verified = loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let jobs = env.run(["jobs", "--json"]).json();
        let v = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["kind"] == "verify" && j["state"] != "running")
            .cloned();
        if v.is_some() || t0.elapsed().as_secs() > 60 {
            break v;
        }
    };
    crate::harness::terminate(&child);
    let _ = child.wait();
    let log = fs::read_to_string(env.path("serve.log")).unwrap_or_default();
    let v = verified.unwrap_or_else(|| panic!("no scheduled verify ran: {log}"));
    assert_eq!(
        v["state"], "failed",
        "the scheduled verify missed the target's damage: {v}"
    );
    let err = v["error"].as_str().unwrap_or("");
    assert!(err.contains("target"), "{err}");
    assert!(err.contains(&name), "the damaged pack is not named: {err}");
    let alerts = env.run(["alerts", "--json"]).json();
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "verify" && a["subject"] == "target"),
        "no verify alert about the target: {alerts}"
    );
}

#[test]
fn a_damaged_config_on_the_target_is_healed_not_taken_for_another_repository() {
    let (env, share) = with_local_target(1);
    env.backup();
    // A flipped bit in the middle of the config lands in or near the repository id.
    let config = share.join("config");
    flip(&config);
    let e = env.run(["export"]);
    e.ok("export with a damaged config on the target");
    assert!(
        fs::read(&config).unwrap() == fs::read(env.repo.join("config")).unwrap(),
        "the damaged config was not replaced"
    );
    env.run(["verify", "--from-target"])
        .ok("verify --from-target after the heal");
}
