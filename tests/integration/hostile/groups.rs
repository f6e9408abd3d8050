//! Attacks on chunk groups (see ../hostile.rs): a share writer who rewrites a pack header so a
//! group member names another member's bytes, a place past its group, or claims to be a blob of
//! its own. The pack is rewritten under its new hash, as a writer of the share can. Restore must
//! name the files and never write another file's bytes.

use crate::harness::{files_under, Env};
use cairn::format::pack::{BlobKind, PackHeader};
use std::fs;

/// Rewrite the pack at `path` with its header's entries changed by `lie`, stored under the
/// blake3 of the new bytes (so only the header check and the member check stand in the way).
fn rewrite_header(path: &std::path::Path, lie: impl Fn(&mut PackHeader)) {
    let bytes = fs::read(path).unwrap();
    let mut h = PackHeader::from_pack(&bytes, "pack").unwrap();
    let blobs_end = bytes.len() - h.encode_tail().len();
    lie(&mut h);
    let mut forged = bytes[..blobs_end].to_vec();
    forged.extend_from_slice(&h.encode_tail());
    let hex = blake3::hash(&forged).to_hex().to_string();
    let name = path
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(&hex[..2])
        .join(&hex);
    fs::create_dir_all(name.parent().unwrap()).unwrap();
    fs::write(&name, &forged).unwrap();
    fs::remove_file(path).unwrap();
}

/// A backup of `n` small, distinct, compressible files (stored in groups); the env, the backup
/// id and the files' contents by name.
fn small_files(n: usize) -> (Env, String, Vec<(String, Vec<u8>)>) {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let mut files = Vec::new();
    for i in 0..n {
        let name = format!("f{i:02}");
        let body = format!("tenant {i} holds certificate serial {} ", i * 31).repeat(30);
        fs::write(src.join(&name), &body).unwrap();
        files.push((name, body.into_bytes()));
    }
    env.add_path_service("svc", &src);
    let id = env.backup();
    (env, id, files)
}

/// Restore and check: it fails naming damage, and every file written holds its own bytes.
fn restore_refuses_the_lie(env: &Env, id: &str, files: &[(String, Vec<u8>)], what: &str) {
    let t = env.path(what);
    let o = env.restore(id, &t, &[]);
    o.expect(1, what);
    assert!(
        o.stderr.contains("damage") || o.stderr.contains("damaged"),
        "{what}: {}",
        o.stderr
    );
    let mut refused = 0;
    for (name, body) in files {
        match fs::read(t.join("svc").join(name)) {
            Ok(got) => assert_eq!(&got, body, "{what}: {name} restored with other bytes"),
            Err(_) => {
                refused += 1;
                assert!(
                    o.stderr.contains(name.as_str()),
                    "{what}: {name} not named: {}",
                    o.stderr
                );
            }
        }
    }
    assert!(refused > 0, "{what}: no file was refused");
}

#[test]
fn a_group_member_pointed_at_another_members_bytes_is_damage_never_content() {
    let (env, id, files) = small_files(40);
    let pack = files_under(&env.repo.join("data")).pop().unwrap();
    rewrite_header(&pack, |h| {
        // every member's place and length moved to the next member's: each names real,
        // authentic bytes of the same group, of another file
        // (files' chunks only: a tree lied about would hide the files behind it)
        let members: Vec<usize> = (0..h.entries.len())
            .filter(|&i| h.entries[i].inner.is_some() && h.entries[i].kind == BlobKind::Data)
            .collect();
        assert!(members.len() >= 20, "the files were not stored in a group");
        let places: Vec<_> = members
            .iter()
            .map(|&i| (h.entries[i].inner, h.entries[i].raw_len))
            .collect();
        for (k, &i) in members.iter().enumerate() {
            let (inner, raw_len) = places[(k + 1) % places.len()];
            h.entries[i].inner = inner;
            h.entries[i].raw_len = raw_len;
        }
    });
    restore_refuses_the_lie(&env, &id, &files, "swapped");
    let o = env.run([
        "verify",
        "--read-data",
        "--identity",
        env.identity.to_str().unwrap(),
    ]);
    o.expect(1, "verify --read-data of swapped members");
    assert!(
        o.all().contains("content does not match its id"),
        "{}",
        o.all()
    );
}

#[test]
fn a_group_member_placed_past_the_end_of_its_group_is_damage() {
    let (env, id, files) = small_files(40);
    let pack = files_under(&env.repo.join("data")).pop().unwrap();
    rewrite_header(&pack, |h| {
        let data = h
            .entries
            .iter_mut()
            .filter(|e| e.inner.is_some() && e.kind == BlobKind::Data);
        for e in data.step_by(2) {
            e.inner = e.inner.map(|at| at + 300_000); // inside the format's bound, past the group
        }
    });
    restore_refuses_the_lie(&env, &id, &files, "past");
}

/// A pack header in which one member of a group claims a blob of its own (no `inner`) while
/// its neighbours still share that blob does not decode: the pack is named unreadable and its
/// chunks missing, never read as another layout.
#[test]
fn a_header_mixing_a_group_and_a_single_blob_at_one_place_is_refused() {
    let (env, _id, _files) = small_files(40);
    let pack = files_under(&env.repo.join("data")).pop().unwrap();
    rewrite_header(&pack, |h| {
        let i = (1..h.entries.len())
            .find(|&i| {
                h.entries[i].inner.is_some() && h.entries[i - 1].offset == h.entries[i].offset
            })
            .expect("a group of two or more");
        h.entries[i].inner = None;
    });
    let o = env.run(["verify"]);
    o.expect(1, "verify of a mixed header");
    assert!(o.all().contains("out of bounds"), "{}", o.all());
}
