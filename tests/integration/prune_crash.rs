//! `cairn prune` killed with SIGKILL at random points: the repository always verifies clean,
//! every listed backup restores byte for byte, and the next prune finishes the work.

use crate::fixtures::bytes;
use rand::Rng;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cairn");

fn cairn(repo: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--repo")
        .arg(repo)
        .arg("--quiet")
        .args(args)
        .env_remove("CAIRN_REPO")
        .output()
        .expect("run cairn")
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let o = cairn(repo, args);
    assert!(
        o.status.success(),
        "cairn {args:?} failed ({:?}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    let s = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(s.success(), "cp -a {} {}", from.display(), to.display());
}

/// What identifies a repository's state: its backups and its packs.
fn state(repo: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = |d: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![repo.join(d)];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        out
    };
    (names("backups"), names("data"))
}

fn same_files(a: &Path, b: &Path) {
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(a), list(b), "{} vs {}", a.display(), b.display());
    for n in list(a) {
        assert!(
            std::fs::read(a.join(&n)).unwrap() == std::fs::read(b.join(&n)).unwrap(),
            "{n} differs after restore"
        );
    }
}

/// Verify clean, and restore every listed backup, comparing with its source snapshot.
fn check(repo: &Path, work: &Path, expect: &Path, what: &str) {
    let o = cairn(repo, &["verify"]);
    assert!(
        o.status.success(),
        "{what}: verify failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let list: serde_json::Value = serde_json::from_str(&ok(repo, &["list", "--json"])).unwrap();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.is_empty(), "{what}: no backup left");
    for id in ids {
        let out = work.join(format!("restore-{}", rand::random::<u64>()));
        let id_file = work.join("id.txt");
        ok(
            repo,
            &[
                "restore",
                &id,
                "--target",
                out.to_str().unwrap(),
                "--identity",
                id_file.to_str().unwrap(),
            ],
        );
        same_files(&expect.join(&id), &out.join("svc"));
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// Run a whole prune, watching the repository: (total time, first change, last change).
fn watch_prune(
    repo: &Path,
    initial: &(BTreeSet<String>, BTreeSet<String>),
) -> (Duration, Duration, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(BIN)
        .arg("--repo")
        .arg(repo)
        .args(["--quiet", "prune", "--keep-last", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut first, mut last, mut seen) = (None, Duration::ZERO, initial.clone());
    loop {
        let finished = child.try_wait().unwrap();
        let s = state(repo);
        if s != seen {
            first.get_or_insert(t0.elapsed());
            last = t0.elapsed();
            seen = s;
        }
        if let Some(status) = finished {
            assert!(status.success(), "prune failed");
            break;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    let full = t0.elapsed();
    (full, first.unwrap_or(full), last)
}

#[test]
fn prune_killed_at_random_points_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let (repo, src, expect) = (work.join("repo"), work.join("src"), work.join("expect"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&expect).unwrap();
    let recipient = ok(
        &repo,
        &[
            "key",
            "generate",
            "--output",
            work.join("id.txt").to_str().unwrap(),
        ],
    );
    ok(&repo, &["init", "--recipient", recipient.trim()]);
    ok(
        &repo,
        &["service", "add", "svc", "--path", src.to_str().unwrap()],
    );
    // Seven backups: the first pack ends up partly live (rewritten), the second's stays, and
    // the four after them each hold a file the last backup no longer has (g*) beside one it
    // keeps (h*), so the prune rewrites five packs: its work takes long enough (a copy, a write
    // and a sync per pack) for random kills to land inside it, whatever the machine's jitter.
    let steps: [&[(&str, u64, usize)]; 7] = [
        &[
            ("f0", 1, 300 << 10),
            ("f1", 2, 300 << 10),
            ("f2", 3, 200 << 10),
        ],
        &[("f3", 4, 300 << 10)],
        &[("g3", 7, 300 << 10), ("h3", 8, 200 << 10)],
        &[("g4", 9, 300 << 10), ("h4", 10, 200 << 10)],
        &[("g5", 11, 300 << 10), ("h5", 12, 200 << 10)],
        &[("g6", 13, 300 << 10), ("h6", 14, 200 << 10)],
        &[("f1", 5, 250 << 10), ("small", 6, 1000)],
    ];
    for (i, files) in steps.iter().enumerate() {
        if i == 1 {
            std::fs::remove_file(src.join("f0")).unwrap();
        }
        if i == 6 {
            for g in ["g3", "g4", "g5", "g6"] {
                std::fs::remove_file(src.join(g)).unwrap();
            }
        }
        for (name, seed, len) in files.iter() {
            std::fs::write(src.join(name), bytes(*seed, *len)).unwrap();
        }
        let id = ok(&repo, &["backup"]).trim().to_string();
        copy_dir(&src, &expect.join(&id));
    }
    let initial = state(&repo);
    // How long a whole prune takes, when it starts and stops changing things, what it leaves.
    let calib = work.join("calib");
    copy_dir(&repo, &calib);
    let (full, first, last) = watch_prune(&calib, &initial);
    let done = state(&calib);
    assert_eq!(done.0.len(), 1);
    assert_ne!(done.1, initial.1, "prune reclaimed nothing");
    check(&calib, work, &expect, "uninterrupted prune");
    std::fs::remove_dir_all(&calib).unwrap();

    let mut rng = rand::thread_rng();
    let (mut runs, mut mid, mut before, mut after) = (0, 0, 0, 0);
    let ms = |d: Duration| d.as_millis() as u64;
    let max_ms = (ms(full) * 6 / 5).max(20);
    // Half the kills anywhere, half inside the window where the prune changes things: it starts
    // as measured, then narrows on each kill that landed before or after it (timing varies).
    let (mut lo, mut hi) = (ms(first) * 9 / 10, ms(last) + 5);
    while runs < 20 || (mid == 0 && runs < 120) {
        runs += 1;
        let copy = work.join(format!("run{runs}"));
        copy_dir(&repo, &copy);
        let mut child = Command::new(BIN)
            .arg("--repo")
            .arg(&copy)
            .args(["--quiet", "prune", "--keep-last", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = if runs % 2 == 0 {
            rng.gen_range(0..=max_ms)
        } else {
            if hi <= lo + 2 {
                let m = (lo + hi) / 2;
                (lo, hi) = (m.saturating_sub(15), m + 15);
            }
            rng.gen_range(lo..=hi)
        };
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let s = state(&copy);
        if s == initial {
            before += 1;
            lo = lo.max(delay);
        } else if s == done {
            after += 1;
            hi = hi.min(delay);
        } else {
            mid += 1;
        }
        let what = format!("run {runs} (killed)");
        check(&copy, work, &expect, &what);
        ok(&copy, &["prune", "--keep-last", "1"]);
        assert_eq!(
            state(&copy).0,
            done.0,
            "run {runs}: the second prune kept other backups"
        );
        check(&copy, work, &expect, &format!("run {runs} (pruned again)"));
        std::fs::remove_dir_all(&copy).unwrap();
    }
    eprintln!(
        "prune ({full:?} uninterrupted, changes from {first:?} to {last:?}) killed {runs} times: {before} before any change, {mid} mid-work, {after} after the work"
    );
    assert!(mid > 0, "no kill landed mid-work in {runs} runs");
}
