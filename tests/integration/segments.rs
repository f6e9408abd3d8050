//! A large file's chunk list stored in segment blobs (docs/FORMAT.md §8a), through the real
//! CLI: an unchanged stretch of a dump costs nothing the next time, and every reader follows
//! the segments (restore, verify, prune keeps them, recover rebuilds from them).

use crate::harness::*;
use std::fs;

/// A command service printing `file`, chunked at a 1 KiB average: a 2 MiB output is some 1500
/// chunks, far above the segmenting threshold.
fn dump_env(data: &[u8]) -> (Env, std::path::PathBuf) {
    let e = Env::new();
    let file = e.path("dump.sql");
    write(&file, data);
    let cat = format!("cat {}", file.display());
    e.run([
        "service",
        "add",
        "db",
        "--command",
        &cat,
        "--chunk-size",
        "1K",
    ])
    .ok("service add --chunk-size 1K");
    (e, file)
}

fn bytes_new(e: &Env, id: &str) -> u64 {
    let b = e
        .list()
        .into_iter()
        .find(|b| b["id"] == id)
        .expect("listed");
    b["bytes_new"].as_u64().expect("bytes_new")
}

/// One byte changed in the middle of a 2 MiB dump adds a few KiB, not the whole chunk list
/// again (1500 refs of 36 bytes, some 54 KB): the unchanged segments are the same blobs.
#[test]
fn an_edit_in_a_large_dump_stores_only_the_segments_around_it() {
    let mut data = random_bytes(5, 2 << 20);
    let (e, file) = dump_env(&data);
    let first = e.backup();
    assert!(
        bytes_new(&e, &first) > 2 << 20,
        "the first backup stores it all"
    );
    data[1 << 20] ^= 0x55;
    write(&file, &data);
    let second = e.backup();
    let added = bytes_new(&e, &second);
    assert!(added < 20_000, "one edit added {added} bytes");
    let t = e.path("r");
    e.restore(&second, &t, &[]).ok("restore");
    assert!(
        fs::read(t.join("db/stdout")).unwrap() == data,
        "restored bytes differ"
    );
}

/// Prune deletes what only the forgotten backup needed, never a segment the kept one needs:
/// the kept backup restores identical and verifies clean, data read.
#[test]
fn prune_keeps_the_segments_of_kept_backups() {
    let mut data = random_bytes(6, 2 << 20);
    let (e, file) = dump_env(&data);
    e.backup();
    for at in [1000usize, 700_000, 1_500_000] {
        data[at] ^= 0xff;
    }
    data.extend_from_slice(&random_bytes(7, 300_000));
    write(&file, &data);
    let kept = e.backup();
    let before = e.stored_bytes();
    e.run(["prune", "--keep-last", "1"]).ok("prune");
    assert!(e.stored_bytes() < before, "prune deleted nothing");
    e.run([
        "verify",
        "--read-data",
        "--identity",
        e.identity.to_str().unwrap(),
    ])
    .ok("verify --read-data after prune");
    let t = e.path("r");
    e.restore(&kept, &t, &[]).ok("restore after prune");
    assert!(
        fs::read(t.join("db/stdout")).unwrap() == data,
        "restored bytes differ"
    );
}

/// Damage to one segment blob is named by verify (as the file that needs it) and by restore,
/// which writes no wrong bytes.
#[test]
fn a_damaged_segment_is_named_and_never_restored_as_content() {
    let data = random_bytes(8, 2 << 20);
    let (e, _file) = dump_env(&data);
    let id = e.backup();
    // the writer puts the segments (some 100 of ~600 bytes), then the tree (~4 KB) and the
    // definitions last before the pack header: 20 KB before the header is inside a segment
    let packs = e.packs();
    let pack = packs
        .iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let len = fs::metadata(pack).unwrap().len();
    let bytes = fs::read(pack).unwrap();
    let header_len = u32::from_le_bytes(
        bytes[bytes.len() - 14..bytes.len() - 10]
            .try_into()
            .unwrap(),
    );
    crate::fixtures::flip_at(pack, len - 14 - u64::from(header_len) - 20_000, 1);
    let o = e.run([
        "verify",
        "--read-data",
        "--identity",
        e.identity.to_str().unwrap(),
    ]);
    assert_ne!(o.code, 0, "verify missed the damage: {}", o.stdout);
    assert!(o.stdout.contains("file db/stdout"), "{}", o.stdout);
    let t = e.path("r");
    let o = e.restore(&id, &t, &[]);
    assert_ne!(o.code, 0, "restore of a damaged file succeeded");
    assert!(
        o.stderr.contains("db/stdout"),
        "the file is not named: {}",
        o.stderr
    );
    if let Ok(got) = fs::read(t.join("db/stdout")) {
        assert!(
            got != data || got.is_empty(),
            "damaged file restored as if whole"
        );
    }
}
