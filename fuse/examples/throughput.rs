//! Sequential read throughput through the mount: a 256 MiB in-memory file read by `cat`
//! (and by 1 MiB `read(2)` calls) under several open/readahead policies.
//!
//! Run as root: `cargo run --release -p cairn-fuse --example throughput`
#![allow(clippy::unwrap_used)] // a test or bench: a panic is the failure report

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use cairn_fuse::{MountOptions, ROOT_INO};
use common::{pseudo_random, require_fuse, MemTree, MountDir};

const SIZE: usize = 256 << 20;

fn measure(label: &str, tree: &Arc<MemTree>, opts: &MountOptions) {
    let md = MountDir::new();
    let h = cairn_fuse::spawn(tree.clone(), &md.path, opts).expect("mount");
    let file = md.path.join("big.bin");
    let ra = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == md.path.to_str())
        .and_then(|l| l.split(' ').nth(2).map(str::to_string))
        .and_then(|dev| std::fs::read_to_string(format!("/sys/class/bdi/{dev}/read_ahead_kb")).ok())
        .unwrap_or_default();
    let (r0, b0) = (tree.reads.load(Relaxed), tree.read_bytes.load(Relaxed));

    // cold: cat, as an operator would
    let t = Instant::now();
    let st = Command::new("cat")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let cat = SIZE as f64 / 1e6 / t.elapsed().as_secs_f64();
    let (r1, b1) = (tree.reads.load(Relaxed), tree.read_bytes.load(Relaxed));
    let avg_kib = (b1 - b0) / (r1 - r0).max(1) / 1024;

    // again: warm page cache when the policy keeps it
    let t = Instant::now();
    let mut f = std::fs::File::open(&file).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        let r = f.read(&mut buf).unwrap();
        if r == 0 {
            break;
        }
        n += r;
    }
    assert_eq!(n, SIZE);
    let again = SIZE as f64 / 1e6 / t.elapsed().as_secs_f64();
    drop(f);
    h.unmount().unwrap();

    // cold again, with a small-read program (16 KiB reads, like tar's 10 KiB records)
    let h = cairn_fuse::spawn(tree.clone(), &md.path, opts).expect("mount");
    let t = Instant::now();
    let mut f = std::fs::File::open(&file).unwrap();
    let mut buf = vec![0u8; 16 << 10];
    let mut n = 0;
    loop {
        let r = f.read(&mut buf).unwrap();
        if r == 0 {
            break;
        }
        n += r;
    }
    assert_eq!(n, SIZE);
    let small = SIZE as f64 / 1e6 / t.elapsed().as_secs_f64();
    drop(f);
    h.unmount().unwrap();
    println!(
        "{label:<40} ra_kb={:>5} | cat cold {cat:>5.0} MB/s ({avg_kib:>4} KiB requests) | \
         1 MiB reads warm {again:>5.0} MB/s | 16 KiB reads cold {small:>5.0} MB/s",
        ra.trim()
    );
}

fn main() {
    require_fuse();
    // CPU_PASSES=n imitates a tree that spends CPU per byte (decrypt, decompress, hash).
    let passes: u32 = std::env::var("CPU_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut t = MemTree::new();
    t.cpu_passes = passes;
    t.file(ROOT_INO, "big.bin", pseudo_random(SIZE, 1));
    let tree = Arc::new(t);
    println!("256 MiB in-memory file, {passes} extra CPU passes per read");

    for threads in [1, 4] {
        for (ra, direct) in [
            (0, false),
            (1024, false),
            (4096, false),
            (16384, false),
            (0, true),
        ] {
            let mut o = MountOptions::default();
            o.threads = threads;
            o.read_ahead_kb = ra;
            o.direct_io = direct;
            let label = if direct {
                format!("threads={threads} FOPEN_DIRECT_IO")
            } else if ra == 0 {
                format!("threads={threads} KEEP_CACHE, kernel readahead")
            } else {
                format!("threads={threads} KEEP_CACHE read_ahead_kb={ra}")
            };
            measure(&label, &tree, &o);
        }
    }
}
