//! The serving threads of a mount are pinned one to a CPU by default, and left alone with
//! `pin = false`. Its own test binary: it reads the affinity of every `fuser-N` thread of the
//! process, which no other mount may share.
#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
mod common;

use std::fs;
use std::sync::Arc;

use cairn_fuse::{MountOptions, ROOT_INO};
use common::{require_fuse, MemTree, MountDir};

/// The CPUs listed in a `Cpus_allowed_list` value such as `0-2,5`.
fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// Every thread of this process named `fuser-N`, with the CPUs it may run on.
fn serving_threads() -> Vec<(usize, Vec<usize>)> {
    let mut out = Vec::new();
    for t in fs::read_dir("/proc/self/task").unwrap() {
        let dir = t.unwrap().path();
        let Ok(comm) = fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        let Some(n) = comm.trim().strip_prefix("fuser-") else {
            continue;
        };
        let Ok(status) = fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap();
        out.push((n.parse().unwrap(), parse_cpu_list(list)));
    }
    out.sort();
    out
}

/// A few directories, listed and stat'ed through the mount at `md`.
fn use_mount(md: &MountDir) {
    for d in fs::read_dir(&md.path).unwrap() {
        let d = d.unwrap().path();
        for e in fs::read_dir(&d).unwrap() {
            fs::metadata(e.unwrap().path()).unwrap();
        }
    }
}

fn tree() -> Arc<MemTree> {
    let mut t = MemTree::new();
    for d in 0..20 {
        let dir = t.dir(ROOT_INO, &format!("d{d}"));
        for f in 0..50 {
            t.file(dir, &format!("f{f}"), vec![b'x'; f]);
        }
    }
    Arc::new(t)
}

#[test]
fn serving_threads_are_pinned_one_to_a_cpu_unless_told_not_to() {
    require_fuse();
    let cpus = parse_cpu_list(
        fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap(),
    );
    if cpus.len() < 2 {
        eprintln!("skipped: this process may use only {cpus:?}");
        return;
    }
    let tree = tree();

    let o = MountOptions::default();
    assert_eq!(o.threads, cpus.len().min(4), "one serving thread per CPU");
    let md = MountDir::new();
    let h = cairn_fuse::spawn(tree.clone(), &md.path, &o).unwrap();
    use_mount(&md);
    let threads = serving_threads();
    assert_eq!(threads.len(), o.threads, "{threads:?}");
    let mut pinned = 0;
    for (n, allowed) in &threads {
        if allowed.len() == 1 {
            assert_eq!(
                allowed[0],
                cpus[n % cpus.len()],
                "fuser-{n} on the wrong CPU"
            );
            pinned += 1;
        } else {
            // a thread that has served nothing yet is still where it started
            assert_eq!(allowed, &cpus, "fuser-{n}");
        }
    }
    assert!(pinned >= 1, "no serving thread was pinned: {threads:?}");
    drop(h);
    assert!(
        serving_threads().is_empty(),
        "the serving threads end with the mount"
    );

    let mut o = MountOptions::default();
    o.pin = false;
    let md = MountDir::new();
    let _h = cairn_fuse::spawn(tree, &md.path, &o).unwrap();
    use_mount(&md);
    let threads = serving_threads();
    assert_eq!(threads.len(), o.threads, "{threads:?}");
    for (n, allowed) in &threads {
        assert_eq!(allowed, &cpus, "fuser-{n} pinned though pin = false");
    }
}
