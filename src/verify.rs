//! Verify a repository (the internal one or the target's copy).
//!
//! Without the identity: every manifest decodes and its signature holds, and the chain of
//! manifests has no gap (see `chain`); every pack's bytes hash
//! to its name and its header decodes; every chunk a backup references is in an intact pack.
//! With `--read-data` and the identity: every referenced chunk is also decrypted, decompressed
//! and checked against its id, and damaged backups are walked to name the files they hurt.

use crate::backend::ObjectInfo;
use crate::error::Result;
use crate::format::manifest::Manifest;
use crate::format::pack::PackHeader;
use crate::format::tree::{NodeKind, Tree};
use crate::id::{ChunkId, PackId};
use crate::index::{pack_id_of, read_pack_header, Index};
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Locator};
use crate::progress::Progress;
use crate::repository::Repository;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// What verify found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Backups checked.
    pub backups: usize,
    /// Packs checked.
    pub packs: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Chunks decrypted and checked (with --read-data).
    pub chunks_read: u64,
    /// Damaged objects: name → what is wrong.
    pub damaged_objects: BTreeMap<String, String>,
    /// Damaged backups: id → what is hurt (missing/damaged chunks, files).
    pub damaged_backups: BTreeMap<String, Vec<String>>,
}

impl VerifyReport {
    /// Whether anything is damaged.
    pub fn clean(&self) -> bool {
        self.damaged_objects.is_empty() && self.damaged_backups.is_empty()
    }
}

/// Check `repo` using `index` (synced with it); decrypt everything if `keys` is given.
pub fn verify(
    repo: &Repository,
    index: &Index,
    keys: Option<&KeyRing>,
    progress: &Progress,
) -> Result<VerifyReport> {
    run(repo, index, keys, progress, None)
}

/// Like [`verify`], but read and hash only the packs of one rotating subset: those whose id's
/// first byte modulo `slices` is `slice` (the scheduler checks one subset per run, so every pack
/// is read once per verify interval). Every backup's references are still checked in full.
pub fn verify_slice(
    repo: &Repository,
    index: &Index,
    progress: &Progress,
    slice: u32,
    slices: u32,
) -> Result<VerifyReport> {
    run(repo, index, None, progress, Some((slice, slices.max(1))))
}

fn run(
    repo: &Repository,
    index: &Index,
    keys: Option<&KeyRing>,
    progress: &Progress,
    subset: Option<(u32, u32)>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let manifests = check_manifests(repo, keys, &mut report)?;
    let packs = packs_to_check(repo, subset)?;
    progress.total.store(
        packs.iter().map(|p| p.size).sum(),
        std::sync::atomic::Ordering::Relaxed,
    );
    // 1. every pack: hash matches name, header decodes (in parallel)
    let found = Findings::default();
    check_packs(repo, keys, &packs, progress, &found);
    // a verify stopped early has not checked everything: never a clean report
    progress.check_cancel()?;
    report.packs = packs.len();
    report.bytes = progress.snapshot().1;
    report.chunks_read = found.chunks_read.load(std::sync::atomic::Ordering::Relaxed);
    report.damaged_objects.extend(take(found.objects));
    let damaged_packs = take(found.packs);
    let mut damaged_chunks = take(found.chunks);
    // 2. every backup's references resolve to intact packs
    for m in &manifests {
        let mut hurt = references_hurt(repo, index, m, &damaged_packs, &mut damaged_chunks)?;
        if !hurt.is_empty() {
            if let Some(k) = keys {
                hurt.extend(files_hurt(repo, k, m, &damaged_chunks));
            }
            report.damaged_backups.insert(m.id.clone(), hurt);
        }
    }
    Ok(report)
}

/// What the pack checks found, filled by several threads.
#[derive(Default)]
struct Findings {
    /// Packs whose bytes or header are damaged.
    packs: Mutex<HashSet<PackId>>,
    /// Chunks that failed to decrypt or to match their id.
    chunks: Mutex<HashSet<ChunkId>>,
    /// Damaged objects: name → what is wrong.
    objects: Mutex<BTreeMap<String, String>>,
    /// Chunks decrypted and checked.
    chunks_read: std::sync::atomic::AtomicU64,
}

impl Findings {
    fn object(&self, name: String, why: String) {
        lock(&self.objects).insert(name, why);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn take<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// The manifests that decode, their chain gaps and damaged manifests noted in `report`. A wrong
/// identity is bad input (exit 2) naming the backup, not damage to every pack.
fn check_manifests(
    repo: &Repository,
    keys: Option<&KeyRing>,
    report: &mut VerifyReport,
) -> Result<Vec<Manifest>> {
    let (hashed, bad) = repo.manifests_hashed()?;
    for (id, what) in crate::chain::gaps(&hashed) {
        report.damaged_backups.entry(id).or_default().push(what);
    }
    let manifests: Vec<_> = hashed.into_iter().map(|(m, _)| m).collect();
    for (name, e) in bad {
        let id = crate::object::ObjectKind::Manifest
            .strip(&name)
            .unwrap_or(&name)
            .to_string();
        report.damaged_objects.insert(name, e.to_string());
        report
            .damaged_backups
            .entry(id)
            .or_default()
            .push("its manifest is damaged".into());
    }
    report.backups = manifests.len();
    if let Some(k) = keys {
        for m in &manifests {
            if let Err(e @ crate::Error::WrongIdentity { .. }) = k.session(repo, &m.session, &m.id)
            {
                return Err(e);
            }
        }
    }
    Ok(manifests)
}

/// The packs to read: all of them, or those of one subset (`slice` of `slices`).
fn packs_to_check(repo: &Repository, subset: Option<(u32, u32)>) -> Result<Vec<ObjectInfo>> {
    let mut packs = repo.store.list(crate::object::ObjectKind::Pack.prefix())?;
    if let Some((slice, slices)) = subset {
        packs.retain(|o| pack_id_of(&o.name).is_some_and(|p| p.0[0] as u32 % slices == slice));
    }
    Ok(packs)
}

/// Read every pack of `packs` on a few threads, until done or cancelled.
fn check_packs(
    repo: &Repository,
    keys: Option<&KeyRing>,
    packs: &[ObjectInfo],
    progress: &Progress,
    found: &Findings,
) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let locator = Locator::default();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                if progress.cancel.is_cancelled() {
                    break;
                }
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(o) = packs.get(i) else { break };
                let Some(pid) = pack_id_of(&o.name) else {
                    continue;
                };
                let reader = keys.map(|keys| ChunkReader::new(repo, keys, &locator));
                if let Some(p) = check_pack(repo, reader.as_ref(), o, pid, progress, found) {
                    lock(&found.packs).insert(pid);
                    found.object(o.name.clone(), p);
                }
            });
        }
    });
}

/// One pack: its bytes hash to its name and its header decodes (then, with `reader`, every
/// chunk in it opens); what is wrong with it, if anything.
fn check_pack(
    repo: &Repository,
    reader: Option<&ChunkReader>,
    o: &ObjectInfo,
    pid: PackId,
    progress: &Progress,
    found: &Findings,
) -> Option<String> {
    match reader {
        None => check_pack_streamed(repo, o, pid, progress),
        Some(reader) => check_pack_whole(repo, reader, o, pid, progress, found),
    }
}

/// [`check_pack`] without chunks to open: the pack is hashed as it streams by
/// ([`Backend::hash_object`]: one block in memory, not the whole pack, on each checking thread;
/// the SMB backend hashes in its worker) and its header is read from its end afterwards. A pack
/// that hashes to its name holds the bytes that were written, whose header decodes; a store
/// that gave other bytes to the second read could only make a sound pack look damaged.
///
/// [`Backend::hash_object`]: crate::backend::Backend::hash_object
fn check_pack_streamed(
    repo: &Repository,
    o: &ObjectInfo,
    pid: PackId,
    progress: &Progress,
) -> Option<String> {
    let (hash, len) = match repo.store.hash_object(&o.name) {
        Err(e) => return Some(e.to_string()),
        Ok(h) => h,
    };
    progress.add(len);
    if hash.as_bytes() != &pid.0 {
        return Some(NOT_ITS_NAME.to_string());
    }
    read_pack_header(repo.store.as_ref(), &o.name, len)
        .err()
        .map(|e| e.to_string())
}

/// [`check_pack`] with every chunk opened: the pack is read whole.
fn check_pack_whole(
    repo: &Repository,
    reader: &ChunkReader,
    o: &ObjectInfo,
    pid: PackId,
    progress: &Progress,
    found: &Findings,
) -> Option<String> {
    let bytes = match repo.store.read(&o.name) {
        Err(e) => return Some(e.to_string()),
        Ok(b) => b,
    };
    progress.add(bytes.len() as u64);
    if blake3::hash(&bytes).as_bytes() != &pid.0 {
        return Some(NOT_ITS_NAME.to_string());
    }
    match PackHeader::from_pack(&bytes, &o.name) {
        Err(e) => Some(e.to_string()),
        Ok(h) => {
            check_chunks(reader, &bytes, &h, o, pid, found);
            None
        }
    }
}

/// What a pack whose bytes do not hash to its name is reported with.
const NOT_ITS_NAME: &str = "bytes do not match the pack's name (flipped or truncated)";

/// Decrypt and check every chunk of a pack; a wrong identity names the pack and stops.
fn check_chunks(
    reader: &ChunkReader,
    bytes: &[u8],
    h: &PackHeader,
    o: &ObjectInfo,
    pid: PackId,
    found: &Findings,
) {
    for blob in h.blobs() {
        let Some(first) = blob.first() else {
            continue;
        };
        let sealed = &bytes[first.offset as usize..(first.offset + first.length) as usize];
        found
            .chunks_read
            .fetch_add(blob.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // a group is opened once, then each member is checked against its id
        let failed = |e: crate::Error| {
            (
                matches!(e, crate::Error::WrongIdentity { .. }),
                e.to_string(),
            )
        };
        let group = first.inner.map(|_| {
            reader
                .open_group(&first.id, sealed, &pid, &h.session, &o.name)
                .map_err(failed)
        });
        for e in blob {
            let checked = match (&group, e.inner) {
                (Some(Ok(plain)), Some(at)) => reader
                    .member(&e.id, plain, at, e.raw_len, &pid, &h.session, &o.name)
                    .map(drop)
                    .map_err(failed),
                (Some(Err(err)), _) => Err(err.clone()),
                _ => reader
                    .open(&e.id, sealed, e.raw_len, &pid, &h.session, &o.name)
                    .map(drop)
                    .map_err(failed),
            };
            if let Err((wrong_identity, err)) = checked {
                if wrong_identity {
                    found.object(o.name.clone(), err);
                    return;
                }
                lock(&found.chunks).insert(e.id);
                found.object(format!("{} chunk {}", o.name, e.id.short()), err);
            }
        }
    }
}

/// How much of a manifest is read at once to go through its references.
const REFS_BLOCK: usize = 1 << 20;

/// What is hurt in backup `m`'s references: chunks missing, chunks in damaged packs (those are
/// added to `damaged_chunks`).
/// The references are read from the manifest a block at a time, never all held.
fn references_hurt(
    repo: &Repository,
    index: &Index,
    m: &Manifest,
    damaged_packs: &HashSet<PackId>,
    damaged_chunks: &mut HashSet<ChunkId>,
) -> Result<Vec<String>> {
    let mut hurt = Vec::new();
    let (mut missing, mut in_damaged) = (0usize, 0usize);
    let mut each = |ids: &[ChunkId]| -> Result<()> {
        for r in ids {
            match index.lookup(r)? {
                None => {
                    missing += 1;
                    damaged_chunks.insert(*r);
                }
                Some(loc) if damaged_packs.contains(&loc.pack) => {
                    in_damaged += 1;
                    damaged_chunks.insert(*r);
                }
                Some(_) if damaged_chunks.contains(r) => in_damaged += 1,
                Some(_) => {}
            }
        }
        Ok(())
    };
    if let Err(e) = repo.read_refs(&m.name(), REFS_BLOCK, &mut each) {
        // read whole a moment ago: changed or gone since (what was counted is not trusted)
        return Ok(vec![format!("its manifest could not be read again ({e})")]);
    }
    if missing > 0 {
        hurt.push(format!("{missing} chunk(s) missing"));
    }
    if in_damaged > 0 {
        hurt.push(format!("{in_damaged} chunk(s) in damaged packs"));
    }
    Ok(hurt)
}

/// Walk a backup's trees and name the files and directories that use damaged chunks.
fn files_hurt(
    repo: &Repository,
    keys: &KeyRing,
    m: &crate::format::manifest::Manifest,
    damaged: &HashSet<ChunkId>,
) -> Vec<String> {
    let mut wanted: Vec<ChunkId> = Vec::new();
    let mut each = |ids: &[ChunkId]| {
        wanted.extend_from_slice(ids);
        Ok(())
    };
    if repo.read_refs(&m.name(), REFS_BLOCK, &mut each).is_err() {
        return Vec::new();
    }
    wanted.sort_unstable();
    wanted.dedup();
    let Ok(locator) = Locator::scan(repo, Some(&wanted)) else {
        return Vec::new();
    };
    let reader = ChunkReader::new(repo, keys, &locator);
    let mut out = Vec::new();
    for s in &m.services {
        let mut stack = vec![(s.root, format!("{}/", s.name))];
        while let Some((tree, path)) = stack.pop() {
            if out.len() >= 100 {
                out.push("… (more)".into());
                return out;
            }
            let t = match reader.read(&tree, &m.id).and_then(|b| Tree::decode(&b)) {
                Ok(t) => t,
                Err(_) => {
                    out.push(format!("directory {path} (its listing is damaged)"));
                    continue;
                }
            };
            for n in t.nodes {
                let name = format!("{path}{}", String::from_utf8_lossy(&n.name));
                match n.kind {
                    NodeKind::Dir { tree } => stack.push((tree, format!("{name}/"))),
                    NodeKind::File { chunks } if chunks.iter().any(|c| damaged.contains(&c.id)) => {
                        out.push(format!("file {name}"))
                    }
                    NodeKind::FileSegments { segments } => {
                        // hurt if a segment is, or a chunk a segment lists
                        let hurt = segments.iter().any(|s| damaged.contains(&s.id))
                            || reader.expand(&segments, &m.id).map_or(true, |chunks| {
                                chunks.iter().any(|c| damaged.contains(&c.id))
                            });
                        if hurt {
                            out.push(format!("file {name}"));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_partition_the_packs_and_find_damage_in_their_slice() {
        let crate::testutil::TestRepo {
            dir: d, ctl, src, ..
        } = crate::testutil::TestRepo::with_service("s");
        for i in 0..4u8 {
            std::fs::write(src.join(format!("f{i}")), vec![i; 100_000 + i as usize]).unwrap();
            crate::backup::run(&ctl, &Progress::default()).unwrap();
        }
        let index = ctl.index().unwrap();
        let total = ctl.repo.store.list("data/").unwrap().len();
        assert!(total >= 4, "one pack per backup expected, got {total}");
        let checked: usize = (0..7)
            .map(|s| {
                verify_slice(&ctl.repo, &index, &Progress::default(), s, 7)
                    .unwrap()
                    .packs
            })
            .sum();
        assert_eq!(checked, total, "the slices cover every pack exactly once");
        // damage one pack: only the slice holding it finds it; a full verify finds it too
        let victim = ctl.repo.store.list("data/").unwrap().remove(0);
        let pid = pack_id_of(&victim.name).unwrap();
        let path = d.path().join("repo").join(&victim.name);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let slice = pid.0[0] as u32 % 7;
        assert!(
            !verify_slice(&ctl.repo, &index, &Progress::default(), slice, 7)
                .unwrap()
                .clean()
        );
        assert!(
            verify_slice(&ctl.repo, &index, &Progress::default(), (slice + 1) % 7, 7)
                .unwrap()
                .damaged_objects
                .is_empty()
        );
        assert!(!verify(&ctl.repo, &index, None, &Progress::default())
            .unwrap()
            .clean());
    }

    /// Counts the whole reads of packs; everything goes to the wrapped store.
    struct WholePackReads {
        inner: std::sync::Arc<dyn crate::backend::Backend>,
        whole: std::sync::atomic::AtomicU64,
    }

    type StoreResult<T> = std::result::Result<T, crate::error::StorageError>;

    impl crate::backend::Backend for WholePackReads {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
            self.inner.list(prefix)
        }
        fn read(&self, name: &str) -> StoreResult<Vec<u8>> {
            if name.starts_with("data/") {
                self.whole.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            self.inner.read(name)
        }
        fn read_range(&self, name: &str, offset: u64, len: usize) -> StoreResult<Vec<u8>> {
            self.inner.read_range(name, offset, len)
        }
        fn read_range_into(&self, name: &str, offset: u64, buf: &mut [u8]) -> StoreResult<usize> {
            self.inner.read_range_into(name, offset, buf)
        }
        fn write(&self, name: &str, data: &[u8]) -> StoreResult<()> {
            self.inner.write(name, data)
        }
        fn delete(&self, name: &str) -> StoreResult<()> {
            self.inner.delete(name)
        }
        fn stat(&self, name: &str) -> StoreResult<Option<u64>> {
            self.inner.stat(name)
        }
        fn clean_temp(&self) -> StoreResult<usize> {
            self.inner.clean_temp()
        }
    }

    /// Without an identity, verify hashes packs as they stream (no pack read whole, so a
    /// checking thread never holds one) and still names a flipped and a truncated pack.
    #[test]
    fn without_an_identity_packs_are_hashed_as_they_stream_and_damage_is_named() {
        let crate::testutil::TestRepo {
            dir: d, ctl, src, ..
        } = crate::testutil::TestRepo::with_service("s");
        for i in 0..3u8 {
            let bytes: Vec<u8> = (0..300_000u32)
                .map(|n| (n.wrapping_mul(2_654_435_761) >> (13 + i)) as u8)
                .collect();
            std::fs::write(src.join(format!("f{i}")), bytes).unwrap();
            crate::backup::run(&ctl, &Progress::default()).unwrap();
        }
        let index = ctl.index().unwrap();
        let counted = std::sync::Arc::new(WholePackReads {
            inner: ctl.repo.store.clone(),
            whole: Default::default(),
        });
        let repo = Repository::open(counted.clone()).unwrap();
        let r = verify(&repo, &index, None, &Progress::default()).unwrap();
        assert!(r.clean(), "{:?}", r.damaged_objects);
        assert!(r.packs >= 3, "{} packs", r.packs);
        let sizes: u64 = ctl
            .repo
            .store
            .list("data/")
            .unwrap()
            .iter()
            .map(|o| o.size)
            .sum();
        assert_eq!(r.bytes, sizes, "every pack byte is hashed");
        assert_eq!(counted.whole.load(std::sync::atomic::Ordering::SeqCst), 0);

        let packs = ctl.repo.store.list("data/").unwrap();
        let (flipped, cut) = (&packs[0].name, &packs[1].name);
        let path = |n: &str| d.path().join("repo").join(n);
        let mut bytes = std::fs::read(path(flipped)).unwrap();
        bytes[40] ^= 1;
        std::fs::write(path(flipped), bytes).unwrap();
        let bytes = std::fs::read(path(cut)).unwrap();
        std::fs::write(path(cut), &bytes[..bytes.len() - 100]).unwrap();
        let r = verify(&repo, &index, None, &Progress::default()).unwrap();
        let damaged: Vec<_> = r.damaged_objects.keys().collect();
        assert!(
            damaged.contains(&flipped) && damaged.contains(&cut),
            "{damaged:?}"
        );
        assert_eq!(r.damaged_objects[flipped], NOT_ITS_NAME);
        assert_eq!(counted.whole.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
