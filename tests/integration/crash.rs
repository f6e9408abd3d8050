//! The crash test: `cairn backup` killed with SIGKILL at random moments, over and over, while the
//! source changes between runs. Afterwards only complete backups are listed, the repository
//! verifies clean, every listed backup restores the tree as it was when that backup ran, the
//! next backup succeeds, and no temporary file is left behind.
//!
//! The seed is printed; set CAIRN_CRASH_SEED to replay a run.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

const ITERATIONS: usize = 22;

fn build_source(src: &Path) {
    // static part: never changes (~53 MiB: 28 MiB random, 24 MiB of log, small files)
    for i in 0..2u64 {
        write(
            &src.join(format!("static/blob-{i}.bin")),
            &random_bytes(500 + i, 14 << 20),
        );
    }
    let mut log = String::new();
    let mut n = 0u64;
    while log.len() < 24 << 20 {
        n += 1;
        log.push_str(&format!(
            "2026-11-22T05:{:02}:{:02}Z tenant={} op=update quota={} ok\n",
            n % 60,
            (n * 7) % 60,
            n % 977,
            n * 31 % 100_003
        ));
    }
    write(&src.join("static/audit.log"), log.as_bytes());
    for i in 0..300 {
        write(
            &src.join(format!("static/conf/d{}/item-{i}.json", i % 13)),
            format!("{{\"item\": {i}, \"v\": \"{}\"}}\n", "abc".repeat(i % 97)).as_bytes(),
        );
    }
    // hot part: changed between runs (~4-7 MiB)
    write(&src.join("hot/db.bin"), &random_bytes(600, 4 << 20));
    for i in 0..60 {
        write(
            &src.join(format!("hot/rows/r{i}.txt")),
            format!("row {i}\n").as_bytes(),
        );
    }
}

/// Change the hot part; returns roughly how many new bytes a backup must store.
fn mutate(src: &Path, it: usize, rng: &mut rand::rngs::StdRng) -> u64 {
    let mut new = 0u64;
    let db = fs::OpenOptions::new()
        .write(true)
        .open(src.join("hot/db.bin"))
        .unwrap();
    let off = rng.gen_range(0..(4u64 << 20) - (256 << 10));
    db.write_all_at(&random_bytes(1000 + it as u64, 256 << 10), off)
        .unwrap();
    new += 1 << 20;
    for _ in 0..3 {
        let p = src.join(format!("hot/rows/r{}.txt", rng.gen_range(0..60)));
        let mut s = fs::read_to_string(&p).unwrap();
        s.push_str(&format!("change in run {it}\n"));
        fs::write(&p, s).unwrap();
    }
    write(
        &src.join(format!("hot/new/n{it}.txt")),
        format!("new in run {it}\n").as_bytes(),
    );
    if it % 3 == 0 {
        // one bulk file at a time: the previous one goes
        let _ = fs::remove_dir_all(src.join("hot/bulk"));
        let len = rng.gen_range(1usize << 20..3 << 20);
        write(
            &src.join(format!("hot/bulk/b{it}.bin")),
            &random_bytes(2000 + it as u64, len),
        );
        new += len as u64;
    }
    if it % 4 == 1 && it > 4 {
        let _ = fs::remove_file(src.join(format!("hot/new/n{}.txt", it - 4)));
    }
    new
}

fn temp_files(repo: &Path) -> Vec<String> {
    files_under(repo)
        .into_iter()
        .filter(|p| !p.starts_with(repo.join("local")))
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .map(|p| p.display().to_string())
        .collect()
}

/// Listing and verify after a crash: only recorded (complete) backups, a clean repository.
fn check_repo(e: &Env, recorded: &BTreeMap<String, Snapshot>, when: &str) {
    let o = e.run(["list", "--json"]);
    o.ok(&format!("list after {when}"));
    assert!(
        !o.stderr.contains("warning"),
        "list after {when} warns: {}",
        o.stderr
    );
    for b in o.json().as_array().unwrap() {
        let id = b["id"].as_str().unwrap();
        assert!(
            recorded.contains_key(id),
            "after {when}: backup {id} is listed but no backup run completed it"
        );
        assert_eq!(b["services"][0]["name"], "svc");
    }
    e.run(["--quiet", "verify"])
        .ok(&format!("verify after {when}"));
}

#[test]
fn backups_killed_at_random_moments_leave_a_consistent_repository() {
    let t0 = Instant::now();
    let seed: u64 = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (CAIRN_CRASH_SEED={seed} to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let e = Env::new();
    let src = e.path("src");
    build_source(&src);
    e.add_path_service("svc", &src);
    let static_snap = subtree(&snapshot(&src), "static");
    let total: u64 = snapshot(&src)
        .values()
        .map(|v| match v {
            Entry::File { size, .. } => *size,
            _ => 0,
        })
        .sum();

    // hot-part snapshot of every backup that completed
    let mut recorded: BTreeMap<String, Snapshot> = BTreeMap::new();

    // a full run, measured
    let hot0 = subtree(&snapshot(&src), "hot");
    let t = Instant::now();
    let first = e.backup();
    let t_full = t.elapsed();
    recorded.insert(first.clone(), hot0);
    let rate = total as f64 / t_full.as_secs_f64(); // bytes per second, new data
                                                    // an incremental run, measured
    mutate(&src, 0, &mut rng);
    let hot = subtree(&snapshot(&src), "hot");
    let t = Instant::now();
    let id = e.backup();
    let t_incr = t.elapsed();
    recorded.insert(id, hot);
    eprintln!(
        "full backup of {} MiB in {:.1}s, incremental in {:.1}s",
        total >> 20,
        t_full.as_secs_f64(),
        t_incr.as_secs_f64()
    );

    let (mut killed, mut completed) = (0, 0);
    for it in 1..=ITERATIONS {
        let new = mutate(&src, it, &mut rng);
        let hot = subtree(&snapshot(&src), "hot");
        let expected = t_incr.as_secs_f64() + new as f64 / rate;
        let delay = Duration::from_secs_f64(rng.gen_range(0.0..1.15) * expected);
        let before = e.ids();
        let mut child = spawn(&e.repo, ["--quiet", "backup"]);
        // the random moment, or the end of a run that ends earlier
        let status = wait_timeout::ChildExt::wait_timeout(&mut child, delay).unwrap();
        let finished_ok = match status {
            Some(s) => {
                assert!(s.success(), "run {it}: backup failed on its own: {s}");
                true
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                let s = child.wait().unwrap();
                // it may have completed between the poll and the kill
                s.success()
            }
        };
        let after = e.ids();
        let new_ids: Vec<&String> = after.iter().filter(|i| !before.contains(i)).collect();
        assert!(
            new_ids.len() <= 1,
            "run {it}: several new backups {new_ids:?}"
        );
        if finished_ok {
            assert_eq!(
                new_ids.len(),
                1,
                "run {it}: a successful backup is not listed"
            );
        }
        if let Some(id) = new_ids.first() {
            recorded.insert((*id).clone(), hot);
            completed += 1;
        } else {
            killed += 1;
        }
        check_repo(&e, &recorded, &format!("run {it} (killed after {delay:?})"));
    }
    eprintln!(
        "{killed} runs killed before commit, {completed} completed; {:.1}s so far",
        t0.elapsed().as_secs_f64()
    );
    assert!(killed >= ITERATIONS / 3, "too few runs were killed mid-way");

    // the next job succeeds and reclaims the debris
    mutate(&src, ITERATIONS + 1, &mut rng);
    let last_tree = snapshot(&src);
    let last = e.backup();
    recorded.insert(last.clone(), subtree(&last_tree, "hot"));
    check_repo(&e, &recorded, "the final backup");
    assert_eq!(
        temp_files(&e.repo),
        Vec::<String>::new(),
        "temporary files left after the next backup"
    );

    // every listed backup restores what the source held when it ran
    let ids = e.ids();
    assert_eq!(ids.len(), recorded.len());
    for id in &ids {
        let t = e.path(&format!("r-{id}"));
        e.restore(id, &t, &["--path", "hot"])
            .ok(&format!("restore {id} --path hot"));
        assert_same(
            &recorded[id],
            &snapshot(&t.join("svc/hot")),
            &format!("backup {id} (hot part)"),
        );
        fs::remove_dir_all(&t).unwrap();
    }
    // whole trees: the newest and the first
    let t = e.path("r-last");
    e.restore(&last, &t, &[]).ok("restore of the final backup");
    assert_same(&last_tree, &snapshot(&t.join("svc")), "final backup");
    fs::remove_dir_all(&t).unwrap();
    // the static part is the same chunks in every backup; its tree in the first one
    let t = e.path("r-first");
    e.restore(&first, &t, &["--path", "static/conf"])
        .ok("restore of the first backup");
    assert_same(
        &subtree(&static_snap, "conf"),
        &snapshot(&t.join("svc/static/conf")),
        "first backup (static/conf)",
    );
    eprintln!("crash test done in {:.1}s", t0.elapsed().as_secs_f64());
}
