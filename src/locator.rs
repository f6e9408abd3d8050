//! Finding and reading chunks without the writer's index: from the pack headers.
//!
//! Readers (restore, mount, deep verify) never open the sled index, which belongs to the job
//! that holds the lease; they scan the pack headers once and keep the locations they need.

use crate::error::{Error, Result};
use crate::format::pack::{group_aad, BlobKind, MAX_GROUP_LEN};
use crate::id::{ChunkId, KeyId, PackId};
use crate::index::read_pack_header;
use crate::keyring::KeyRing;
use crate::object::{ObjectKind, ObjectName};
use crate::prefix_index::PrefixIndex;
use crate::repository::Repository;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A chunk's place, as a reader needs it.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// Index into the locator's pack list.
    pub pack: u32,
    /// Offset of the sealed blob.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Plaintext length.
    pub raw_len: u32,
    /// What it holds.
    pub kind: BlobKind,
    /// Its place in the blob's plaintext, if the blob is a group.
    pub inner: Option<u32>,
}

/// Chunk id → place, for a set of wanted chunks (or all).
///
/// The places are one list sorted by id, searched by bisection: 60 bytes a chunk, where a hash
/// map took 90–120 with its spare buckets (and twice that while growing), and the wanted set is
/// a sorted list too (a backup's references are one already), not a second map. Measured on a
/// recovery of 4 GiB (262,000 chunks, benches/RESULTS.md): the map and the wanted set were 49 MB
/// of the 90 MB heap peak.
#[derive(Default)]
pub struct Locator {
    packs: Vec<(PackId, KeyId)>,
    places: Vec<(ChunkId, Place)>,
    /// Where each id prefix starts in `places`.
    index: PrefixIndex,
    /// Packs whose headers could not be read (name, error).
    pub unreadable: Vec<(String, String)>,
}

impl Locator {
    /// Scan every pack header in `repo`, keeping the chunks in `wanted` (all if `None`; sorted
    /// by whoever has them so, sorted here otherwise). A chunk in several packs is found in the
    /// last one listed (twice in one pack: at the larger offset).
    pub fn scan(repo: &Repository, wanted: Option<&[ChunkId]>) -> Result<Self> {
        let wanted: Option<Cow<'_, [ChunkId]>> = wanted.map(|w| {
            if w.is_sorted() {
                Cow::Borrowed(w)
            } else {
                let mut v = w.to_vec();
                v.sort_unstable();
                Cow::Owned(v)
            }
        });
        // the wanted ids with the table that finds one among them
        let wanted = wanted.as_deref().map(|w| (w, PrefixIndex::new(w, |id| id)));
        let mut loc = Locator::default();
        if let Some((w, _)) = &wanted {
            loc.places.reserve_exact(w.len());
        }
        for o in repo.store.list(ObjectKind::Pack.prefix())? {
            let Some(pid) = ObjectName::pack(&o.name) else {
                continue;
            };
            let h = match read_pack_header(repo.store.as_ref(), &o.name, o.size) {
                Ok(h) => h,
                Err(e) => {
                    loc.unreadable.push((o.name.clone(), e.to_string()));
                    continue;
                }
            };
            let idx = u32::try_from(loc.packs.len()).map_err(|_| {
                Error::corrupt(repo.store.describe(), "more packs than a locator can hold")
            })?;
            let mut used = false;
            for e in &h.entries {
                if wanted
                    .as_ref()
                    .is_none_or(|(w, t)| t.find(w, &e.id, |id| id).is_some())
                {
                    used = true;
                    loc.places.push((
                        e.id,
                        Place {
                            pack: idx,
                            offset: e.offset,
                            length: e.length,
                            raw_len: e.raw_len,
                            kind: e.kind,
                            inner: e.inner,
                        },
                    ));
                }
            }
            if used {
                loc.packs.push((pid, h.session));
            }
        }
        // a chunk's places in the order found (packs in listing order, blobs in offset
        // order), so that the last found is kept; an unstable sort needs no scratch memory
        loc.places
            .sort_unstable_by_key(|(id, p)| (*id, p.pack, p.offset, p.inner));
        keep_last_of_each(&mut loc.places);
        loc.places.shrink_to_fit();
        loc.index = PrefixIndex::new(&loc.places, |(id, _)| id);
        Ok(loc)
    }

    /// Where a chunk is.
    pub fn place(&self, id: &ChunkId) -> Option<(Place, PackId, KeyId)> {
        let at = self.index.find(&self.places, id, |(k, _)| k)?;
        let p = self.places[at].1;
        let (pack, session) = *self.packs.get(p.pack as usize)?;
        Some((p, pack, session))
    }

    /// Damage unless `id`, if located, is stored as a tree blob no larger than a tree may be.
    /// Checked before the blob is read, so a lying pack header cannot make restore or the mount
    /// decompress a giant blob as a directory listing. An unlocated id is left to the read.
    pub fn check_tree(&self, id: &ChunkId) -> Result<()> {
        self.check_meta(id, crate::format::tree::MAX_TREE_LEN, "tree")
    }

    /// As [`Locator::check_tree`], for a segment of a file's chunk list (stored with kind
    /// `Tree`, at most `segment::MAX_SEGMENT_LEN` bytes).
    pub fn check_segment(&self, id: &ChunkId) -> Result<()> {
        self.check_meta(id, crate::format::segment::MAX_SEGMENT_LEN, "segment")
    }

    fn check_meta(&self, id: &ChunkId, max: u32, what: &str) -> Result<()> {
        match self.place(id) {
            Some((p, _, _)) if p.kind != BlobKind::Tree || p.raw_len > max => Err(Error::corrupt(
                format!("{what} {}", id.to_hex()),
                format!("a {:?} blob of {} bytes, not a {what}", p.kind, p.raw_len),
            )),
            _ => Ok(()),
        }
    }

    /// Number of located chunks.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether nothing was located.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

/// Of each run of places with the same id (a sorted list), keeps the last, in place.
fn keep_last_of_each(places: &mut Vec<(ChunkId, Place)>) {
    let mut kept = 0;
    for at in 0..places.len() {
        if kept > 0 && places[kept - 1].0 == places[at].0 {
            places[kept - 1] = places[at];
        } else {
            places[kept] = places[at];
            kept += 1;
        }
    }
    places.truncate(kept);
}

/// Groups opened lately, most recent last: a restore or a mount reads a group's members one
/// after another, but not in the order they were stored (the backup's threads filled groups
/// from several directories at once, a restore's threads write files of several). Measured on
/// `src` (benches/RESULTS.md, "Groups"), a restore keeping 32 groups spent 1.70–1.87 s of user
/// CPU, 19 % of it in zstd; keeping 96 or 256, 1.22–1.61 s. 96 groups hold about 16 MB.
const GROUPS_KEPT: usize = 96;

/// A blob's place: its pack and offset.
type BlobAt = (PackId, u32);

/// Groups opened lately, by their blob's place (pack, offset), most recent last. One can be
/// shared by readers made one after another (the mount makes one per read).
#[derive(Default)]
pub struct Groups {
    kept: Mutex<VecDeque<(BlobAt, Arc<Vec<u8>>)>>,
    opened: std::sync::atomic::AtomicU64,
}

impl Groups {
    /// How many groups were decrypted and decompressed (not found kept).
    pub fn opened(&self) -> u64 {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn get(&self, key: &BlobAt) -> Option<Arc<Vec<u8>>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().find(|(k, _)| k == key).map(|(_, g)| g.clone())
    }

    fn keep(&self, key: BlobAt, group: Arc<Vec<u8>>) {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= GROUPS_KEPT {
            kept.pop_front();
        }
        kept.push_back((key, group));
    }
}

/// Reads, decrypts, decompresses and checks chunks.
pub struct ChunkReader<'a> {
    /// The repository.
    pub repo: &'a Repository,
    /// The unwrapped keys.
    pub keys: &'a KeyRing,
    /// The locations.
    pub locator: &'a Locator,
    groups: Arc<Groups>,
}

impl<'a> ChunkReader<'a> {
    /// A reader of the chunks `locator` found in `repo`, with `keys`.
    pub fn new(repo: &'a Repository, keys: &'a KeyRing, locator: &'a Locator) -> Self {
        Self::sharing(repo, keys, locator, Arc::default())
    }

    /// The same, keeping opened groups in `groups`.
    pub fn sharing(
        repo: &'a Repository,
        keys: &'a KeyRing,
        locator: &'a Locator,
        groups: Arc<Groups>,
    ) -> Self {
        ChunkReader {
            repo,
            keys,
            locator,
            groups,
        }
    }
}

impl ChunkReader<'_> {
    /// The plaintext of a chunk, checked against its id. `backup` names the backup in errors.
    pub fn read(&self, id: &ChunkId, backup: &str) -> Result<Vec<u8>> {
        let (p, pack, session) = self.locator.place(id).ok_or_else(|| {
            Error::corrupt(
                format!("chunk {}", id.to_hex()),
                "missing: no pack holds it",
            )
        })?;
        let Some(at) = p.inner else {
            let sealed = self.sealed(id, &p, &pack)?;
            return self.open(id, &sealed, p.raw_len, &pack, &session, backup);
        };
        let key = (pack, p.offset);
        let plain = match self.groups.get(&key) {
            Some(g) => g,
            None => {
                let sealed = self.sealed(id, &p, &pack)?;
                let g = Arc::new(self.open_group(id, &sealed, &pack, &session, backup)?);
                self.groups.keep(key, g.clone());
                g
            }
        };
        self.member(id, &plain, at, p.raw_len, &pack, &session, backup)
    }

    /// The sealed blob at `p` in `pack`.
    fn sealed(&self, id: &ChunkId, p: &Place, pack: &PackId) -> Result<Vec<u8>> {
        let length = usize::try_from(p.length).map_err(|_| {
            Error::corrupt(
                pack.object_name(),
                "a blob length this machine cannot address",
            )
        })?;
        let sealed =
            self.repo
                .store
                .read_range(&pack.object_name(), u64::from(p.offset), length)?;
        if sealed.len() != length {
            return Err(Error::corrupt(
                format!("chunk {} in pack {}", id.to_hex(), pack.to_hex()),
                format!(
                    "the pack ends before the blob: {} of {length} bytes at offset {}",
                    sealed.len(),
                    p.offset
                ),
            ));
        }
        Ok(sealed)
    }

    /// The whole chunk list of a file stored in `segments`, each segment checked before it is
    /// read ([`Locator::check_segment`]) and against its ref (`format::segment::expand`).
    pub fn expand(
        &self,
        segments: &[crate::format::segment::SegmentRef],
        backup: &str,
    ) -> Result<Vec<crate::format::tree::ChunkRef>> {
        let mut budget = crate::format::segment::MAX_EXPANDED_CHUNKS;
        crate::format::segment::expand(segments, &mut budget, |id| {
            self.locator.check_segment(id)?;
            self.read(id, backup)
        })
    }

    /// Open a sealed group read from `pack` (`id` is the member wanted, for errors): its whole
    /// plaintext, at most [`MAX_GROUP_LEN`] bytes. Members are checked by [`ChunkReader::member`].
    pub fn open_group(
        &self,
        id: &ChunkId,
        sealed: &[u8],
        pack: &PackId,
        session: &KeyId,
        backup: &str,
    ) -> Result<Vec<u8>> {
        let what = Blob {
            what: "group of chunk",
            id,
            pack,
        };
        let payload = self.unseal(&group_aad(), sealed, session, backup, &what)?;
        crate::compress::decompress(&payload, MAX_GROUP_LEN as usize, &what)
    }

    /// Member `id` of an opened group: the bytes `at .. at + raw_len` of its plaintext, checked
    /// against the id.
    #[allow(clippy::too_many_arguments)]
    pub fn member(
        &self,
        id: &ChunkId,
        group: &[u8],
        at: u32,
        raw_len: u32,
        pack: &PackId,
        session: &KeyId,
        backup: &str,
    ) -> Result<Vec<u8>> {
        let what = Blob::chunk(id, pack);
        let bytes = (at as usize)
            .checked_add(raw_len as usize)
            .and_then(|end| group.get(at as usize..end))
            .ok_or_else(|| Error::corrupt(what.to_string(), "its group ends before it"))?;
        self.check(id, bytes, session, backup, &what)?;
        Ok(bytes.to_vec())
    }

    /// Open a sealed blob read from `pack`.
    pub fn open(
        &self,
        id: &ChunkId,
        sealed: &[u8],
        raw_len: u32,
        pack: &PackId,
        session: &KeyId,
        backup: &str,
    ) -> Result<Vec<u8>> {
        let what = Blob::chunk(id, pack);
        let payload = self.unseal(id, sealed, session, backup, &what)?;
        let raw = usize::try_from(raw_len).map_err(|_| {
            Error::corrupt(
                what.to_string(),
                "a plaintext length this machine cannot address",
            )
        })?;
        let plain = crate::compress::decompress(&payload, raw, &what)?;
        if plain.len() != raw {
            return Err(Error::corrupt(
                what.to_string(),
                "content does not match its id",
            ));
        }
        self.check(id, &plain, session, backup, &what)?;
        Ok(plain)
    }

    /// The payload of a blob sealed with `aad` under `session`.
    fn unseal(
        &self,
        aad: &ChunkId,
        sealed: &[u8],
        session: &KeyId,
        backup: &str,
        what: &Blob<'_>,
    ) -> Result<Vec<u8>> {
        let keys = self.keys.session(self.repo, session, backup)?;
        keys.session.open(aad, sealed).ok_or_else(|| {
            Error::corrupt(what.to_string(), "authentication failed (altered bytes)")
        })
    }

    /// Damage unless `plain` is the content of chunk `id`.
    fn check(
        &self,
        id: &ChunkId,
        plain: &[u8],
        session: &KeyId,
        backup: &str,
        what: &Blob<'_>,
    ) -> Result<()> {
        let keys = self.keys.session(self.repo, session, backup)?;
        match keys.id_key.chunk_id(plain) == *id {
            true => Ok(()),
            false => Err(Error::corrupt(
                what.to_string(),
                "content does not match its id",
            )),
        }
    }
}

/// A blob named in errors ("chunk ID in pack ID"), formatted only when an error is made: a
/// restore reads tens of thousands of chunks, and naming each up front cost 2 % of its CPU.
struct Blob<'a> {
    what: &'static str,
    id: &'a ChunkId,
    pack: &'a PackId,
}

impl<'a> Blob<'a> {
    fn chunk(id: &'a ChunkId, pack: &'a PackId) -> Self {
        Blob {
            what: "chunk",
            id,
            pack,
        }
    }
}

impl std::fmt::Display for Blob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} in pack {}", self.what, self.id, self.pack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use std::collections::{HashMap, HashSet};

    fn place(pack: u32) -> Place {
        Place {
            pack,
            offset: 0,
            length: 1,
            raw_len: 1,
            kind: BlobKind::Data,
            inner: None,
        }
    }

    #[test]
    fn of_a_chunk_in_several_packs_the_last_found_is_kept() {
        let (a, b, c) = (ChunkId([1; 32]), ChunkId([2; 32]), ChunkId([3; 32]));
        // as `scan` leaves them: sorted by id, then in the order found
        let mut places = vec![
            (a, place(0)),
            (a, place(4)),
            (b, place(1)),
            (c, place(2)),
            (c, place(3)),
            (c, place(5)),
        ];
        keep_last_of_each(&mut places);
        let kept: Vec<_> = places.iter().map(|(id, p)| (*id, p.pack)).collect();
        assert_eq!(kept, [(a, 4), (b, 1), (c, 5)]);
        let mut none = Vec::new();
        keep_last_of_each(&mut none);
        assert!(none.is_empty());
    }

    /// A chunk stored twice in one pack, and again in another, is found where it was found
    /// last: in the pack listed last, at the larger offset within a pack.
    #[test]
    fn a_chunk_stored_twice_is_found_where_it_was_found_last() {
        use crate::format::pack::assemble;
        let t = crate::testutil::TestRepo::with_service("svc");
        let (x, y) = (ChunkId([9; 32]), ChunkId([8; 32]));
        let one = assemble(
            KeyId([1; 32]),
            &[
                (x, BlobKind::Data, 100, 10, 1),
                (y, BlobKind::Data, 60, 5, 2),
                (x, BlobKind::Data, 70, 7, 3),
            ],
        );
        let two = assemble(KeyId([1; 32]), &[(x, BlobKind::Data, 120, 12, 4)]);
        let mut names = Vec::new();
        for bytes in [&one, &two] {
            let h = blake3::hash(bytes).to_hex().to_string();
            let name = format!("data/{}/{h}", &h[..2]);
            t.ctl.repo.store.write(&name, bytes).unwrap();
            names.push(name);
        }
        let listed: Vec<String> = t
            .ctl
            .repo
            .store
            .list("data/")
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .filter(|n| names.contains(n))
            .collect();
        let last = listed.last().unwrap();
        let length = if *last == names[0] { 70 } else { 120 };
        for wanted in [Some(&[x][..]), None] {
            let loc = Locator::scan(&t.ctl.repo, wanted).unwrap();
            assert!(loc.unreadable.is_empty(), "{:?}", loc.unreadable);
            let (p, pack, _) = loc.place(&x).unwrap();
            assert_eq!(p.length, length);
            assert!(last.ends_with(&pack.to_hex()), "{last}");
            assert_eq!(loc.place(&y).is_some(), wanted.is_none());
        }
    }

    /// A scan keeps exactly the wanted chunks, sorted or not, in a list of exactly their number
    /// (the memory the module documentation counts), and finds every one of them.
    #[test]
    fn a_scan_keeps_exactly_the_wanted_chunks_in_any_order() {
        let t = crate::testutil::TestRepo::with_service("svc");
        for i in 0..40u32 {
            let text = format!("file {i} with its own words {} ", i * 31).repeat(40 + i as usize);
            std::fs::write(t.src.join(format!("f{i:02}")), text).unwrap();
        }
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let all = Locator::scan(&t.ctl.repo, None).unwrap();
        let ids: Vec<ChunkId> = all.places.iter().map(|(id, _)| *id).collect();
        assert!(ids.len() > 40, "{} chunks", ids.len());
        assert!(ids.is_sorted());
        assert_eq!(all.places.capacity(), all.places.len());
        assert!(std::mem::size_of::<(ChunkId, Place)>() <= 60);
        let absent = ChunkId([0xee; 32]);
        let mut wanted: Vec<ChunkId> = ids.iter().step_by(2).copied().collect();
        wanted.push(absent);
        let mut unsorted = wanted.clone();
        unsorted.reverse();
        wanted.sort_unstable();
        for w in [&wanted, &unsorted] {
            let loc = Locator::scan(&t.ctl.repo, Some(w)).unwrap();
            assert_eq!(loc.len(), wanted.len() - 1);
            assert_eq!(loc.places.capacity(), loc.places.len());
            for (n, id) in ids.iter().enumerate() {
                let found = loc.place(id);
                assert_eq!(found.is_some(), n % 2 == 0, "chunk {n}");
                if let Some((p, pack, _)) = found {
                    let (q, pack_all, _) = all.place(id).unwrap();
                    assert_eq!((p.offset, p.length, pack), (q.offset, q.length, pack_all));
                }
            }
            assert!(loc.place(&absent).is_none());
        }
    }

    /// A backup of many small files stores them in groups (far fewer blobs than chunks); every
    /// chunk reads back checked, and a reader going through the members in order opens each
    /// group once.
    #[test]
    fn small_files_are_stored_in_groups_and_each_group_is_opened_once() {
        let t = crate::testutil::TestRepo::with_service("svc");
        let mut files = Vec::new();
        for i in 0..300u32 {
            let text = format!("file {i}: tenant quota certificate serial {} ", i * 7).repeat(20);
            std::fs::write(t.src.join(format!("f{i:03}")), &text).unwrap();
            files.push(text.into_bytes());
        }
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let loc = Locator::scan(&t.ctl.repo, None).unwrap();
        let mut places: Vec<(ChunkId, Place, PackId)> = loc
            .places
            .iter()
            .map(|(id, p)| (*id, *p, loc.packs[p.pack as usize].0))
            .collect();
        places.sort_by_key(|(_, p, pack)| (*pack, p.offset, p.inner));
        let members = places.iter().filter(|(_, p, _)| p.inner.is_some()).count();
        let mut blobs: Vec<(PackId, u32)> = places
            .iter()
            .filter(|(_, p, _)| p.inner.is_some())
            .map(|(_, p, pack)| (*pack, p.offset))
            .collect();
        blobs.dedup();
        assert!(members >= 300, "{members} chunks stored in groups");
        assert!(blobs.len() * 10 <= members, "{} groups", blobs.len());
        let keys = t.keys();
        let reader = ChunkReader::new(&t.ctl.repo, &keys, &loc);
        let mut read = HashSet::new();
        for (id, _, _) in &places {
            read.insert(reader.read(id, "b").unwrap());
        }
        assert!(
            files.iter().all(|f| read.contains(f)),
            "a file's chunk did not read back"
        );
        assert_eq!(reader.groups.opened(), blobs.len() as u64);
    }

    /// Readers going through the members of many groups at once (a restore's threads, files of
    /// several directories) still open each group once, up to [`GROUPS_KEPT`] groups at a time.
    #[test]
    fn members_read_across_many_groups_at_once_open_each_group_once() {
        let t = crate::testutil::TestRepo::with_service("svc");
        for i in 0..180u32 {
            let text = format!("group test file {i}, line of configuration {} ", i * 3).repeat(700);
            std::fs::write(t.src.join(format!("f{i:03}")), &text).unwrap();
        }
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let loc = Locator::scan(&t.ctl.repo, None).unwrap();
        let mut groups: HashMap<(u32, u32), Vec<ChunkId>> = HashMap::new();
        for (id, p) in &loc.places {
            if p.inner.is_some() {
                groups.entry((p.pack, p.offset)).or_default().push(*id);
            }
        }
        assert!((33..=96).contains(&groups.len()), "{} groups", groups.len());
        // one member of every group in turn, round after round
        let mut rounds: Vec<Vec<ChunkId>> = groups.into_values().collect();
        let opened_groups = rounds.len() as u64;
        let keys = t.keys();
        let reader = ChunkReader::new(&t.ctl.repo, &keys, &loc);
        while rounds.iter().any(|g| !g.is_empty()) {
            for g in &mut rounds {
                if let Some(id) = g.pop() {
                    reader.read(&id, "b").unwrap();
                }
            }
        }
        assert_eq!(reader.groups.opened(), opened_groups);
    }

    /// A member whose place in its group is wrong (a lying pack header) is damage, named.
    #[test]
    fn a_member_out_of_its_group_or_not_matching_its_id_is_damage() {
        let t = crate::testutil::TestRepo::with_service("svc");
        for i in 0..5u32 {
            std::fs::write(
                t.src.join(format!("f{i}")),
                format!("small file {i}").repeat(9),
            )
            .unwrap();
        }
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let mut loc = Locator::scan(&t.ctl.repo, None).unwrap();
        let keys = t.keys();
        let (at, id, p) = loc
            .places
            .iter()
            .enumerate()
            .find(|(_, (_, p))| p.inner.is_some_and(|at| at > 0))
            .map(|(at, (id, p))| (at, *id, *p))
            .unwrap();
        for lie in [Some(0), Some(MAX_GROUP_LEN - p.raw_len), None] {
            loc.places[at].1 = Place { inner: lie, ..p };
            let err = ChunkReader::new(&t.ctl.repo, &keys, &loc)
                .read(&id, "b")
                .unwrap_err()
                .to_string();
            assert!(err.contains(&id.to_hex()), "{err}");
        }
    }
}
