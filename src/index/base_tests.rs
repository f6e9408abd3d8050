//! Tests of the chunk index's two levels: lookups in each, merges, removed packs, crashes,
//! damage, the layout 4 conversion and lookups during a merge.

use super::super::cachefile;
use super::*;
use crate::backend::{Backend, MemoryBackend};
use crate::format::pack::{BlobKind, PackEntry, PackHeader};
use crate::id::{KeyId, PackId};

thread_local! {
    /// Make [`Index::merge`] stop after the new base is in place, as a crash there would.
    pub static STOP_AFTER_RENAME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How many base files this thread's merges wrote.
    pub static BASE_WRITES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The sorted runs a sync left beside the base file in `dir`.
fn runs_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("chunks.run"))
        .collect()
}

fn id(i: u32) -> ChunkId {
    ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes())
}

/// A pack header of the chunks `range`, chunk `i` at offset `i + shift`.
fn header(range: std::ops::Range<u32>, shift: u32) -> PackHeader {
    PackHeader {
        session: KeyId([0; 32]),
        entries: range
            .map(|i| PackEntry {
                id: id(i),
                kind: BlobKind::Data,
                offset: i + shift,
                length: 10,
                raw_len: 5,
                inner: None,
            })
            .collect(),
    }
}

fn at(idx: &Index, i: u32) -> Option<(PackId, u32)> {
    idx.lookup(&id(i)).unwrap().map(|l| (l.pack, l.offset))
}

fn open(dir: &Path) -> Index {
    Index::open(&dir.join("index")).unwrap()
}

#[test]
fn lookups_find_entries_in_each_level_and_across_merges() {
    let d = tempfile::tempdir().unwrap();
    let idx = open(d.path());
    let (a, b) = (PackId([1; 32]), PackId([2; 32]));
    idx.add_pack(a, 9, &header(0..300, 0)).unwrap();
    assert!(idx.merge().unwrap());
    assert!(idx.chunks.is_empty(), "merged entries leave sled");
    assert!(d.path().join(FILE_NAME).exists());
    idx.add_pack(b, 9, &header(250..400, 1000)).unwrap();
    assert_eq!(idx.chunks.len(), 150);
    for i in 0..400 {
        let want = if i < 250 { (a, i) } else { (b, i + 1000) };
        assert_eq!(at(&idx, i), Some(want), "chunk {i}");
        assert!(idx.contains(&id(i)).unwrap());
    }
    assert!(!idx.contains(&id(400)).unwrap());
    assert_eq!(at(&idx, 400), None);
    assert_eq!(idx.chunk_count(), 400);
    assert!(idx.merge().unwrap());
    assert!(idx.chunks.is_empty());
    drop(idx);
    let idx = open(d.path());
    for i in 0..400 {
        let want = if i < 250 { (a, i) } else { (b, i + 1000) };
        assert_eq!(
            at(&idx, i),
            Some(want),
            "chunk {i} after a merge and a reopen"
        );
    }
    assert_eq!(idx.chunk_count(), 400);
}

/// The sled level is merged from `add_pack` once it holds `MERGE_AT` entries.
#[test]
fn a_full_sled_level_is_merged_by_add_pack() {
    let d = tempfile::tempdir().unwrap();
    let idx = open(d.path());
    let n = MERGE_AT as u32;
    idx.add_pack(PackId([1; 32]), 9, &header(0..n / 2, 0))
        .unwrap();
    assert_eq!(idx.chunks.len(), n as usize / 2);
    idx.add_pack(PackId([2; 32]), 9, &header(n / 2..n + 5, 0))
        .unwrap();
    assert!(idx.chunks.is_empty(), "merged");
    assert_eq!(idx.chunk_count(), n as usize + 5);
    assert_eq!(at(&idx, n - 1), Some((PackId([2; 32]), n - 1)));
}

#[test]
fn a_removed_packs_base_entries_are_absent_and_its_ordinal_is_not_reused() {
    let d = tempfile::tempdir().unwrap();
    let idx = open(d.path());
    let (a, b, c) = (PackId([1; 32]), PackId([2; 32]), PackId([3; 32]));
    idx.add_pack(a, 9, &header(0..100, 0)).unwrap();
    idx.add_pack(b, 9, &header(100..200, 0)).unwrap();
    idx.merge().unwrap();
    assert!(!idx.merge_due().unwrap());
    // the highest pack goes: its ordinal must not come back for the next pack
    idx.remove_pack(b, &header(100..200, 0)).unwrap();
    assert!(idx.merge_due().unwrap(), "dead entries to drop");
    idx.add_pack(c, 9, &header(500..510, 0)).unwrap();
    for i in 100..200 {
        assert_eq!(at(&idx, i), None, "a removed pack's chunk {i}");
        assert!(!idx.contains(&id(i)).unwrap());
    }
    assert_eq!(at(&idx, 5), Some((a, 5)));
    assert_eq!(at(&idx, 505), Some((c, 505)));
    assert_eq!(idx.chunk_count(), 110);
    idx.merge().unwrap();
    let bytes = std::fs::read(d.path().join(FILE_NAME)).unwrap();
    let (_, recs) = cachefile::decode_with::<ChunkId, _>(&bytes, Stored::decode).unwrap();
    assert_eq!(recs.len(), 110, "the merge dropped the dead entries");
    drop(idx);
    let idx = open(d.path());
    idx.add_pack(PackId([4; 32]), 9, &header(600..601, 0))
        .unwrap();
    assert_eq!(at(&idx, 150), None);
    assert_eq!(at(&idx, 600), Some((PackId([4; 32]), 600)));
}

#[test]
fn a_merge_interrupted_after_the_rename_is_correct() {
    let d = tempfile::tempdir().unwrap();
    let idx = open(d.path());
    let (a, b) = (PackId([1; 32]), PackId([2; 32]));
    idx.add_pack(a, 9, &header(0..100, 0)).unwrap();
    idx.merge().unwrap();
    idx.add_pack(b, 9, &header(50..150, 7)).unwrap();
    STOP_AFTER_RENAME.with(|s| s.set(true));
    let merged = idx.merge();
    STOP_AFTER_RENAME.with(|s| s.set(false));
    assert!(merged.unwrap());
    assert_eq!(idx.chunks.len(), 100, "the crash left sled's entries");
    idx.flush().unwrap();
    drop(idx);
    let idx = open(d.path());
    let want = |i: u32| if i < 50 { (a, i) } else { (b, i + 7) };
    for i in 0..150 {
        assert_eq!(at(&idx, i), Some(want(i)), "chunk {i}");
    }
    assert_eq!(idx.chunk_count(), 150, "no entry counted twice");
    idx.merge().unwrap();
    assert!(idx.chunks.is_empty());
    assert_eq!(idx.chunk_count(), 150);
    assert_eq!(at(&idx, 120), Some(want(120)));
}

/// A store of `n` packs of 100 chunks each, indexed and merged into the base file.
fn store_of(dir: &Path, n: u8) -> (MemoryBackend, Vec<(ChunkId, PackId, u32)>) {
    let store = MemoryBackend::new();
    let mut want = Vec::new();
    for p in 0..n {
        let blobs: Vec<_> = (0..100u32)
            .map(|i| (id(u32::from(p) * 1000 + i), BlobKind::Data, 60, 5, p))
            .collect();
        let pack = crate::format::pack::assemble(KeyId([0; 32]), &blobs);
        let pid = PackId(*blake3::hash(&pack).as_bytes());
        store.write(&pid.object_name(), &pack).unwrap();
        for (i, b) in blobs.iter().enumerate() {
            want.push((b.0, pid, 10 + 60 * i as u32));
        }
    }
    let idx = open(dir);
    assert_eq!(idx.sync(&store).unwrap(), usize::from(n));
    idx.merge().unwrap();
    assert!(idx.chunks.is_empty());
    for (c, p, off) in &want {
        let l = idx.lookup(c).unwrap().unwrap();
        assert_eq!((l.pack, l.offset), (*p, *off));
    }
    (store, want)
}

/// `n` packs of `per` chunks written to `store`, each sharing its first chunk with the pack before
/// it; returns every chunk with the packs that hold it and its offset in each.
fn overlapping_packs(store: &dyn Backend, n: u32, per: u32) -> Vec<(ChunkId, Vec<(PackId, u32)>)> {
    overlapping_packs_from(store, 0, n, per)
}

/// [`overlapping_packs`] of the chunks numbered from `from`.
fn overlapping_packs_from(
    store: &dyn Backend,
    from: u32,
    n: u32,
    per: u32,
) -> Vec<(ChunkId, Vec<(PackId, u32)>)> {
    let mut held: Vec<(ChunkId, Vec<(PackId, u32)>)> = Vec::new();
    for p in 0..n {
        let first = from + p * (per - 1);
        let blobs: Vec<_> = (first..first + per)
            .map(|i| (id(i), BlobKind::Data, 60, 5, p as u8))
            .collect();
        let pack = crate::format::pack::assemble(KeyId([0; 32]), &blobs);
        let pid = PackId(*blake3::hash(&pack).as_bytes());
        store.write(&pid.object_name(), &pack).unwrap();
        for (j, i) in (first..first + per).enumerate() {
            let place = (pid, 10 + 60 * j as u32);
            match held.get_mut((i - from) as usize) {
                Some((_, holders)) => holders.push(place),
                None => held.push((id(i), vec![place])),
            }
        }
    }
    held
}

/// Every chunk of `held` is found in one of the packs holding it, at its offset there.
fn finds_all(idx: &Index, held: &[(ChunkId, Vec<(PackId, u32)>)]) {
    for (c, holders) in held {
        let l = idx.lookup(c).unwrap().expect("indexed");
        assert!(
            holders.contains(&(l.pack, l.offset)),
            "chunk {c:?} at {l:?}"
        );
    }
    assert_eq!(idx.chunk_count(), held.len());
}

/// [`finds_all`], then again once `idx` is reopened from `dir` and synced with `store`, which
/// finds nothing to index: the base is the one sled names, and every pack is recorded.
fn finds_all_once_reopened(
    idx: Index,
    dir: &Path,
    store: &dyn Backend,
    held: &[(ChunkId, Vec<(PackId, u32)>)],
) {
    finds_all(&idx, held);
    drop(idx);
    let idx = open(dir);
    assert_eq!(idx.sync(store).unwrap(), 0);
    finds_all(&idx, held);
}

#[test]
fn a_sync_writes_the_packs_it_indexes_into_the_base_file_not_into_sled() {
    let d = tempfile::tempdir().unwrap();
    let store = MemoryBackend::new();
    // 3,000 entries: the staged entries pass BULK_AT twice, then the rest at the end
    let held = overlapping_packs(&store, 5, 600);
    let idx = open(d.path());
    BASE_WRITES.with(|n| n.set(0));
    assert_eq!(idx.sync(&store).unwrap(), 5);
    assert_eq!(BASE_WRITES.with(|n| n.get()), 1, "the base is written once");
    assert!(idx.chunks.is_empty(), "no entry went through sled");
    assert!(d.path().join(FILE_NAME).exists());
    assert_eq!(runs_left(d.path()), Vec::<String>::new());
    finds_all_once_reopened(idx, d.path(), &store, &held);
}

#[test]
fn a_sync_of_many_runs_writes_the_base_once_and_each_entry_once_per_run_size() {
    let d = tempfile::tempdir().unwrap();
    let store = MemoryBackend::new();
    // and a base of 100 entries already indexed, which the base written keeps
    let mut held = overlapping_packs_from(&store, 1_000_000, 1, 100);
    let idx = open(d.path());
    assert_eq!(idx.sync(&store).unwrap(), 1);
    // 39,901 entries: 33 spills of 1,200 (BULK_AT is 1,024), merged RUNS_MAX (3) at a time:
    // 3 runs of 1,200 into one of 3,600, 3 of those into one of 10,800, 3 of those into one
    let new = overlapping_packs(&store, 100, 400);
    held.extend_from_slice(&new);
    BASE_WRITES.with(|n| n.set(0));
    super::super::runs::RUN_RECORDS.with(|n| n.set(0));
    assert_eq!(idx.sync(&store).unwrap(), 100);
    assert_eq!(BASE_WRITES.with(|n| n.get()), 1, "the base is written once");
    let runs = super::super::runs::RUN_RECORDS.with(|n| n.get());
    let n = new.len() as u64;
    // spilled once, then rewritten once per run size: 3 sizes above the first (merging every
    // run into one each time RUNS_MAX wait writes 9.6 times the entries)
    assert!(
        runs > 3 * n && runs <= 4 * n,
        "{runs} entries written into runs for {n}"
    );
    assert_eq!(runs_left(d.path()), Vec::<String>::new());
    assert!(idx.chunks.is_empty(), "no entry went through sled");
    finds_all_once_reopened(idx, d.path(), &store, &held);
}

#[test]
fn runs_a_crash_left_are_removed_at_open() {
    let d = tempfile::tempdir().unwrap();
    drop(open(d.path()));
    for n in ["chunks.run0", "chunks.run17"] {
        std::fs::write(d.path().join(n), b"left by a crash").unwrap();
    }
    std::fs::write(d.path().join("chunks.runaway"), b"not a run").unwrap();
    drop(open(d.path()));
    assert_eq!(runs_left(d.path()), vec!["chunks.runaway".to_string()]);
}

#[test]
fn a_sync_cut_off_by_the_store_indexes_what_it_read_and_the_next_indexes_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let store = crate::backend::FaultyBackend::new(MemoryBackend::new());
    let held = overlapping_packs(store.inner(), 5, 600);
    let idx = open(d.path());
    // the list and three packs' headers (two reads each), then the share drops: the first two
    // packs were spilled into a run, the third staged; all three are indexed before the error
    store.disconnect_after(1 + 2 * 3);
    BASE_WRITES.with(|n| n.set(0));
    assert!(idx.sync(&store).is_err());
    assert_eq!(BASE_WRITES.with(|n| n.get()), 1);
    assert_eq!(idx.packs().unwrap().len(), 3);
    assert_eq!(runs_left(d.path()), Vec::<String>::new());
    store.heal();
    assert_eq!(idx.sync(&store).unwrap(), 2);
    finds_all_once_reopened(idx, d.path(), &store, &held);
}

#[test]
fn a_damaged_base_file_gives_a_rebuild_with_correct_locations() {
    let d = tempfile::tempdir().unwrap();
    let (store, want) = store_of(d.path(), 3);
    let path = d.path().join(FILE_NAME);
    let good = std::fs::read(&path).unwrap();
    let mut other = good.clone();
    other[12] ^= 1; // another instance, checks made to hold
    let h = cachefile::Header::<ChunkId>::decode(&other).unwrap();
    let check = cachefile::check_of(&[&h.fields(), &other[h.index_at as usize..]]);
    other[48..64].copy_from_slice(&check);
    let mut flipped = good.clone();
    flipped[cachefile::HEADER_LEN + 100] ^= 0x20;
    let mut marks = good.clone();
    let end = marks.len() - 3;
    marks[end] ^= 1;
    let cases = [
        ("truncated", Some(good[..good.len() - 1].to_vec())),
        ("bit flipped in a block", Some(flipped)),
        ("bit flipped in the sparse index", Some(marks)),
        ("another instance", Some(other)),
        ("missing", None),
    ];
    for (what, bytes) in cases {
        match &bytes {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let idx = open(d.path());
        for (c, p, off) in &want {
            let got = idx.lookup(c).unwrap().map(|l| (l.pack, l.offset));
            assert!(
                got.is_none() || got == Some((*p, *off)),
                "{what}: a wrong location"
            );
        }
        drop(idx);
        let idx = open(d.path());
        idx.sync(&store).unwrap();
        for (c, p, off) in &want {
            let l = idx.lookup(c).unwrap();
            assert_eq!(l.map(|l| (l.pack, l.offset)), Some((*p, *off)), "{what}");
        }
        idx.merge().unwrap();
        assert_eq!(idx.chunk_count(), want.len(), "{what}");
    }
}

#[test]
fn a_layout_4_index_opens_and_keeps_its_chunks() {
    let d = tempfile::tempdir().unwrap();
    let idx = open(d.path());
    let a = PackId([1; 32]);
    idx.add_pack(a, 9, &header(0..100, 0)).unwrap();
    let stamp = idx.stamp().unwrap();
    // what layout 4 left: every chunk in sled, no counter, no base file
    idx.db
        .insert(super::super::VERSION_KEY, &4u32.to_le_bytes())
        .unwrap();
    idx.db.remove(super::super::NEXT_ORDINAL_KEY).unwrap();
    idx.flush().unwrap();
    drop(idx);
    let idx = open(d.path());
    assert_eq!(
        idx.stamp().unwrap(),
        stamp,
        "same instance: the files cache stays trusted"
    );
    assert_eq!(at(&idx, 42), Some((a, 42)));
    idx.add_pack(PackId([2; 32]), 9, &header(100..101, 0))
        .unwrap();
    idx.merge().unwrap();
    assert_eq!(at(&idx, 42), Some((a, 42)));
    assert_eq!(at(&idx, 100), Some((PackId([2; 32]), 100)));
    assert_eq!(idx.chunk_count(), 101);
}

#[test]
fn lookups_stay_correct_while_merges_run() {
    let d = tempfile::tempdir().unwrap();
    let idx = std::sync::Arc::new(open(d.path()));
    idx.add_pack(PackId([0; 32]), 9, &header(0..2000, 0))
        .unwrap();
    idx.merge().unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (idx, stop) = (idx.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for i in (t..2000).step_by(7) {
                        let l = idx.lookup(&id(i)).unwrap().expect("indexed");
                        assert_eq!(l.offset, i, "chunk {i}");
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    for round in 1..6u8 {
        let lo = u32::from(round) * 1000;
        idx.add_pack(PackId([round; 32]), 9, &header(lo..lo + 1000, 0))
            .unwrap();
        idx.merge().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(idx.chunk_count(), 6000);
}

#[test]
fn a_sync_that_cannot_write_the_base_indexes_its_runs_through_sled() {
    let d = tempfile::tempdir().unwrap();
    let store = MemoryBackend::new();
    let held = overlapping_packs(&store, 12, 400);
    let idx = open(d.path());
    // as after a damaged block was met: no merge until the next open rebuilds
    idx.base.damaged.store(true, Ordering::Relaxed);
    BASE_WRITES.with(|n| n.set(0));
    assert_eq!(idx.sync(&store).unwrap(), 12);
    assert_eq!(BASE_WRITES.with(|n| n.get()), 0);
    assert_eq!(runs_left(d.path()), Vec::<String>::new());
    assert_eq!(
        idx.chunks.len(),
        held.len(),
        "every entry went through sled"
    );
    finds_all(&idx, &held);
}

#[test]
fn a_union_gives_each_key_once_in_order_with_the_newest_sources_value() {
    let src = |recs: &[(u8, &str)]| -> Records<'static> {
        let v: Vec<Result<(ChunkId, Vec<u8>)>> = recs
            .iter()
            .map(|&(k, v)| Ok((ChunkId([k; 32]), v.as_bytes().to_vec())))
            .collect();
        Box::new(v.into_iter())
    };
    let sources = vec![
        src(&[(1, "a"), (3, "a"), (9, "a")]),
        src(&[]),
        src(&[(1, "b"), (2, "b"), (9, "b")]),
        src(&[(1, "c"), (3, "c")]),
    ];
    let got: Vec<(u8, String)> = Union::of(sources, None)
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.0[0], String::from_utf8(v).unwrap())
        })
        .collect();
    let want = [(1, "c"), (2, "b"), (3, "c"), (9, "b")];
    assert_eq!(got, want.map(|(k, v)| (k, v.to_string())));
    // a source's error is given, not skipped
    let broken: Records<'static> = Box::new(
        vec![
            Ok((ChunkId([5; 32]), vec![])),
            Err(Error::failed("damaged", "nothing")),
        ]
        .into_iter(),
    );
    let mut u = Union::of(vec![src(&[(1, "a"), (7, "a")]), broken], None);
    assert!(u.next().is_some_and(|r| r.is_ok()));
    assert!(u.any(|r| r.is_err()));
}
