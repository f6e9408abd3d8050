//! The local sled index is a cache: deleted, corrupted or stale, it is rebuilt from the packs,
//! and dedup and verify keep working.

use crate::harness::*;
use std::fs;

/// A repository with one service of ~3 MiB and one backup.
fn setup() -> (Env, std::path::PathBuf, String, u64) {
    let e = Env::new();
    let src = e.path("src");
    write(&src.join("big.bin"), &random_bytes(11, 3 << 20));
    for i in 0..40 {
        write(
            &src.join(format!("conf/item-{i}.json")),
            format!("{{\"item\": {i}, \"pad\": \"{}\"}}\n", "x".repeat(i * 50)).as_bytes(),
        );
    }
    e.add_path_service("svc", &src);
    let id = e.backup();
    let logical = 3 << 20;
    (e, src, id, logical)
}

fn bytes_new(e: &Env, id: &str) -> u64 {
    e.list()
        .iter()
        .find(|b| b["id"] == id)
        .expect("backup listed")["bytes_new"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_deleted_index_is_rebuilt_and_dedup_still_works() {
    let (e, src, b1, logical) = setup();
    let index = e.repo.join("local/index");
    assert!(index.exists(), "no index at {}", index.display());
    fs::remove_dir_all(&index).unwrap();
    e.run(["verify"]).ok("verify without an index");
    assert!(index.exists(), "verify did not rebuild the index");
    fs::remove_dir_all(&index).unwrap();
    let s1 = e.stored_bytes();
    let b2 = e.backup();
    let s2 = e.stored_bytes();
    assert!(
        (s2 - s1) * 100 < logical,
        "a backup after deleting the index stored {} new bytes",
        s2 - s1
    );
    assert!(bytes_new(&e, &b2) * 100 < logical);
    let t = e.path("r");
    e.restore(&b2, &t, &[]).ok("restore");
    assert_same(&snapshot(&src), &snapshot(&t.join("svc")), "restore");
    e.run(["verify"]).ok("verify");
    assert_ne!(b1, b2);
}

#[test]
fn a_corrupt_index_is_rebuilt_without_a_panic() {
    let (e, src, _b1, logical) = setup();
    let index = e.repo.join("local/index");
    let files = files_under(&index);
    assert!(!files.is_empty());
    for (i, f) in files.iter().enumerate() {
        fs::write(f, random_bytes(100 + i as u64, 4096)).unwrap();
    }
    let s1 = e.stored_bytes();
    let o = e.run(["--quiet", "backup"]);
    o.ok("backup over a corrupt index");
    let b2 = o.last_line();
    let s2 = e.stored_bytes();
    assert!(
        (s2 - s1) * 100 < logical,
        "a backup after corrupting the index stored {} new bytes",
        s2 - s1
    );
    let t = e.path("r");
    e.restore(&b2, &t, &[]).ok("restore");
    assert_same(&snapshot(&src), &snapshot(&t.join("svc")), "restore");
    // and again: garbage in the index, this time verify meets it first
    for (i, f) in files_under(&index).iter().enumerate() {
        fs::write(f, random_bytes(200 + i as u64, 100)).unwrap();
    }
    e.run(["verify"]).ok("verify over a corrupt index");
    e.run(["verify"]).ok("verify after the rebuild");
}

#[test]
fn a_stale_index_is_rebuilt_and_verify_names_the_backups_hurt() {
    let (e, src, b1, _) = setup();
    // a second backup with data of its own, in a pack of its own
    let before = e.packs();
    write(&src.join("extra.bin"), &random_bytes(12, 2 << 20));
    let b2 = e.backup();
    let new: Vec<_> = e
        .packs()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(!new.is_empty());
    for p in &new {
        fs::remove_file(p).unwrap();
    }
    let o = e.run(["verify"]);
    o.expect(1, "verify with a pack deleted by hand");
    assert!(
        o.all().contains(&format!("damaged backup {b2}")),
        "verify did not name {b2}:\n{}",
        o.all()
    );
    assert!(
        !o.all().contains(&format!("damaged backup {b1}")),
        "verify named the intact {b1}:\n{}",
        o.all()
    );
    let t = e.path("r1");
    e.restore(&b1, &t, &[]).ok("restore of the intact backup");
    // the next backup does not trust the stale index: it stores the missing data again
    let b3 = e.backup();
    let t = e.path("r3");
    e.restore(&b3, &t, &[]).ok("restore of the new backup");
    assert_same(&snapshot(&src), &snapshot(&t.join("svc")), "restore");
    e.run(["verify"])
        .ok("verify after the data was stored again");
}
