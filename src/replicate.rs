//! Copying a repository's objects between two backends: `export` (internal copy → target) and
//! `fetch` (target → a new internal copy, for recovery). The direction does not matter.
//!
//! Rules:
//! - Only objects the destination lacks or holds damaged are sent, so an interrupted copy resumes
//!   where it stopped and a damaged copy at the destination is healed. "Damaged" is decided by
//!   content, not size: an object of the same name and size is read back from the destination
//!   (never whole): a content-addressed object (a pack or key named by the blake3 of its bytes)
//!   must hash to its name ([`Backend::hash_object`]), any other object must equal the source's
//!   bytes, compared in [`COMPARE_BLOCK`] ranges. [`WORKERS`] objects are compared at once.
//!   This reads the whole destination on every copy: the price of noticing damage there.
//! - Commit order: `config`, `keys/`, any other object; then, with [`export_backups`], backup by
//!   backup (oldest first) the packs it needs and then its manifest; then packs no backup still
//!   to send needs. A manifest never reaches the destination before what it needs.
//! - Every object is checked at the source (a content-addressed object must hash to its name: a
//!   corrupt source copy is refused, never spread), written atomically, then read back from the
//!   destination and compared (size and blake3). The read-back is [`Backend::hash_object`]: the
//!   destination's bytes as it stores them, hashed where the backend reads them (an SMB worker
//!   process sends only the digest), never the bytes that were written. Recovery alone skips the
//!   read-back of packs ([`fetch_packs_checked_later`]): it verifies every pack of the new
//!   repository afterwards.
//! - With [`export_backups`], a damaged source object stops only the backups that need it: they
//!   are skipped (their manifests not sent) and listed in [`ExportReport::backups_skipped`]; the
//!   others are exported. A storage failure (unreachable, full, ...) stops the copy.
//! - A few objects are in flight at once: reading and hashing overlap the network.

use crate::backend::{Backend, ObjectInfo, ObjectKind};
use crate::error::{Error, Result, StorageErrorKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// How many objects are copied (or compared) at once.
pub const WORKERS: usize = 4;

/// Size of one range read while comparing an object at the destination.
pub const COMPARE_BLOCK: usize = 4 << 20;

/// Progress of a copy, reported after each object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgress {
    /// The phase: "config", "keys", "other", "data" or "backups".
    pub phase: &'static str,
    /// Objects sent so far.
    pub objects_done: u64,
    /// Objects to send in all.
    pub objects_total: u64,
    /// Bytes sent so far.
    pub bytes_done: u64,
    /// Bytes to send in all.
    pub bytes_total: u64,
    /// The object just sent.
    pub object: String,
}

/// A backup that was not exported because objects it needs are damaged at the source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedBackup {
    /// The backup id.
    pub id: String,
    /// Why: the damaged objects it needs.
    pub reason: String,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExportReport {
    /// Objects written to the destination.
    pub objects_sent: u64,
    /// Bytes written to the destination.
    pub bytes_sent: u64,
    /// Objects already intact at the destination (same name and content), not sent.
    pub objects_skipped: u64,
    /// Objects that were at the destination but damaged (other size or content): replaced.
    pub objects_healed: u64,
    /// Bytes read back from the destination to compare contents.
    pub bytes_compared: u64,
    /// Temporary files of an earlier interrupted copy removed from the destination.
    pub temp_removed: u64,
    /// Backups not exported because objects they need are damaged at the source.
    pub backups_skipped: Vec<SkippedBackup>,
    /// Source objects refused as damaged: name → what is wrong.
    pub damaged_objects: BTreeMap<String, String>,
    /// Wall time in seconds.
    pub seconds: f64,
}

const PHASES: [&str; 5] = ["config", "keys", "other", "data", "backups"];

fn phase_of(name: &str) -> usize {
    match ObjectKind::of(name) {
        ObjectKind::Config => 0,
        ObjectKind::Key => 1,
        ObjectKind::SealedKey | ObjectKind::Other => 2,
        ObjectKind::Pack => 3,
        ObjectKind::Manifest => 4,
    }
}

/// Send to `dst` every object of `src` that `dst` lacks or holds damaged. See the module
/// documentation. A damaged source object fails the copy (nothing after it is sent); use
/// [`export_backups`] to export the backups that do not need it.
pub fn export(
    src: &dyn Backend,
    dst: &dyn Backend,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    copy_whole(src, dst, ReadBack::Every, progress)
}

/// Copy every object, failing on the first damaged source object.
fn copy_whole(
    src: &dyn Backend,
    dst: &dyn Backend,
    read_back: ReadBack,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    let report = copy(src, dst, None, read_back, progress)?;
    if let Some((object, detail)) = report.damaged_objects.iter().next() {
        return Err(Error::corrupt(
            format!("{}: {object}", src.describe()),
            detail.clone(),
        ));
    }
    Ok(report)
}

/// Copy from the target to a (new) internal repository: [`export`] with the roles swapped
/// (`fetch(target, local, progress)`); the copy is direction-neutral.
pub use self::export as fetch;

/// What a copy reads back from the destination after writing an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    /// Every object (export, [`fetch`]).
    Every,
    /// Every object but packs ([`fetch_packs_checked_later`]).
    NotPacks,
}

/// [`fetch`], except that packs are not read back from the destination once written: for a
/// caller that hashes every pack at the destination once the copy is done (recovery checks the
/// new repository with `verify`, which reads and hashes every pack). A pack is still hashed on
/// its way and stored under its name only if it hashes to it; skipping the read-back here spares
/// reading and hashing every pack of the new local copy twice. Where the source has a process of
/// its own (an SMB worker) and the destination keeps local files, that process writes each pack
/// straight into its new file and reports its digest ([`Backend::fetch_into`]): the pack's bytes
/// cross no socket.
pub fn fetch_packs_checked_later(
    src: &dyn Backend,
    dst: &dyn Backend,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    copy_whole(src, dst, ReadBack::NotPacks, progress)
}

/// What a copy will send.
#[derive(Debug, Default)]
pub struct Plan {
    /// Objects to send, by phase (names sorted within a phase).
    pub phases: Vec<Vec<ObjectInfo>>,
    /// Objects already intact at the destination.
    pub skipped: u64,
    /// Objects present at the destination but damaged there.
    pub healed: u64,
    /// Bytes read from the destination to compare.
    pub bytes_compared: u64,
    /// Every source object's name.
    pub at_source: HashSet<String>,
}

/// The objects of `src` that `dst` lacks or holds damaged, by phase.
pub fn missing(src: &dyn Backend, dst: &dyn Backend) -> Result<Plan> {
    let have: HashMap<String, u64> = dst
        .list("")?
        .into_iter()
        .map(|o| (o.name, o.size))
        .collect();
    let mut plan = Plan {
        phases: vec![Vec::new(); PHASES.len()],
        ..Default::default()
    };
    let mut same_size = Vec::new();
    for o in src.list("")? {
        plan.at_source.insert(o.name.clone());
        match have.get(&o.name) {
            Some(&size) if size == o.size => same_size.push(o),
            Some(_) => {
                plan.healed += 1;
                plan.phases[phase_of(&o.name)].push(o);
            }
            None => plan.phases[phase_of(&o.name)].push(o),
        }
    }
    let compared = AtomicU64::new(0);
    let mut verdicts = vec![false; same_size.len()];
    parallel(
        &same_size,
        |o| same_content(src, dst, o, &compared),
        |i, same| verdicts[i] = same,
    )?;
    for (o, same) in same_size.into_iter().zip(verdicts) {
        if same {
            plan.skipped += 1;
        } else {
            plan.healed += 1;
            plan.phases[phase_of(&o.name)].push(o);
        }
    }
    plan.bytes_compared = compared.into_inner();
    for p in &mut plan.phases {
        p.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(plan)
}

/// Run `f` on every item with [`WORKERS`] threads, handing each result to `each` on the calling
/// thread as it comes, with the item's index. The first `Err` stops the workers (items not
/// started are not run) and is returned.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
    mut each: impl FnMut(usize, R),
) -> Result<()> {
    let (res_tx, res_rx) = crossbeam_channel::unbounded::<(usize, Result<R>)>();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(items.len()) {
            let res_tx = res_tx.clone();
            let (next, stop, f) = (&next, &stop, &f);
            s.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if r.is_err() {
                    stop.store(true, Ordering::SeqCst);
                }
                if res_tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        let mut first_err = None;
        for (i, r) in res_rx.iter() {
            match r {
                Ok(v) => each(i, v),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    })
}

/// The blake3 hex of a content-addressed object's name (`data/ab/<64 hex>`, `keys/<64 hex>`).
pub(crate) fn name_hash(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next()?;
    (ObjectKind::of(name).content_addressed()
        && base.len() == 64
        && base.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(base)
}

/// Whether `dst` holds `o` intact: its bytes hash to its name (content-addressed, hashed where
/// `dst` reads them) or equal the source's (read in [`COMPARE_BLOCK`] ranges, never whole).
fn same_content(
    src: &dyn Backend,
    dst: &dyn Backend,
    o: &ObjectInfo,
    compared: &AtomicU64,
) -> Result<bool> {
    let absent = |e: &crate::error::StorageError| {
        matches!(
            e.kind,
            StorageErrorKind::NotFound | StorageErrorKind::TooLarge
        )
    };
    if let Some(named_by) = name_hash(&o.name) {
        return match dst.hash_object(&o.name) {
            Ok((hash, len)) => {
                compared.fetch_add(len, Ordering::Relaxed);
                Ok(len == o.size && hash.to_hex().as_str() == named_by)
            }
            Err(e) if absent(&e) => Ok(false),
            Err(e) => Err(e.into()),
        };
    }
    let mut offset = 0u64;
    while offset < o.size {
        let theirs = match dst.read_range(&o.name, offset, COMPARE_BLOCK) {
            Ok(b) => b,
            Err(e) if absent(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        compared.fetch_add(theirs.len() as u64, Ordering::Relaxed);
        if theirs.is_empty() {
            return Ok(false);
        }
        let ours = src.read_range(&o.name, offset, theirs.len())?;
        if ours != theirs {
            return Ok(false);
        }
        offset += theirs.len() as u64;
    }
    Ok(true)
}

/// The objects (by name) a backup needs besides its manifest, given the manifest's name; an
/// error if the backup cannot be exported (its manifest or a chunk is damaged or missing here).
pub type Needs<'a> = &'a dyn Fn(&str) -> Result<Vec<String>>;

/// Export backup by backup (see the module documentation): a backup whose objects are damaged
/// here is skipped and reported, the others reach the destination.
pub fn export_backups(
    src: &dyn Backend,
    dst: &dyn Backend,
    needs: Needs<'_>,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    copy(src, dst, Some(needs), ReadBack::Every, progress)
}

fn copy(
    src: &dyn Backend,
    dst: &dyn Backend,
    needs: Option<Needs<'_>>,
    read_back: ReadBack,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    let start = Instant::now();
    let temp_removed = dst.clean_temp()? as u64;
    let plan = missing(src, dst)?;
    let mut report = ExportReport {
        objects_skipped: plan.skipped,
        objects_healed: plan.healed,
        bytes_compared: plan.bytes_compared,
        temp_removed,
        ..Default::default()
    };
    let sender = Sender {
        src,
        dst,
        read_back,
        progress,
        objects_total: plan.phases.iter().map(|p| p.len() as u64).sum(),
        // Listed sizes come from the source (a hostile share when fetching): never overflow.
        bytes_total: plan
            .phases
            .iter()
            .flatten()
            .fold(0u64, |t, o| t.saturating_add(o.size)),
    };
    for objects in &plan.phases[..3] {
        sender.send(objects, &mut report)?;
    }
    let (data, manifests) = (&plan.phases[3], &plan.phases[4]);
    match needs {
        None => {
            sender.send(data, &mut report)?;
            if report.damaged_objects.is_empty() {
                sender.send(manifests, &mut report)?;
            }
        }
        Some(needs) => {
            let mut pending: BTreeMap<&str, &ObjectInfo> =
                data.iter().map(|o| (o.name.as_str(), o)).collect();
            for m in manifests {
                sender.send_backup(m, needs, &plan.at_source, &mut pending, &mut report)?;
            }
            let rest: Vec<ObjectInfo> = pending.into_values().cloned().collect();
            sender.send(&rest, &mut report)?;
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Sends sets of objects for [`copy`], counting them in the report and telling `progress`.
struct Sender<'a> {
    src: &'a dyn Backend,
    dst: &'a dyn Backend,
    read_back: ReadBack,
    progress: &'a dyn Fn(ExportProgress),
    objects_total: u64,
    bytes_total: u64,
}

impl Sender<'_> {
    /// Send `objects`; those damaged at the source go to `report.damaged_objects`.
    fn send(&self, objects: &[ObjectInfo], report: &mut ExportReport) -> Result<()> {
        let damaged = copy_set(
            self.src,
            self.dst,
            self.read_back,
            objects,
            &mut |name, bytes| {
                report.objects_sent += 1;
                report.bytes_sent += bytes;
                (self.progress)(ExportProgress {
                    phase: PHASES[phase_of(name)],
                    objects_done: report.objects_sent,
                    objects_total: self.objects_total,
                    bytes_done: report.bytes_sent,
                    bytes_total: self.bytes_total,
                    object: name.to_string(),
                });
            },
        )?;
        report.damaged_objects.extend(damaged);
        Ok(())
    }

    /// Export one backup: the objects its manifest `m` needs (taken from `pending`), then the
    /// manifest, unless one of them is damaged or missing here: then the backup is skipped and
    /// reported.
    fn send_backup(
        &self,
        m: &ObjectInfo,
        needs: Needs<'_>,
        at_source: &HashSet<String>,
        pending: &mut BTreeMap<&str, &ObjectInfo>,
        report: &mut ExportReport,
    ) -> Result<()> {
        let id = ObjectKind::Manifest
            .strip(&m.name)
            .unwrap_or(&m.name)
            .to_string();
        let wanted = match needs(&m.name) {
            Ok(w) => w,
            Err(e) => {
                report.damaged_objects.insert(m.name.clone(), e.to_string());
                report.backups_skipped.push(SkippedBackup {
                    id,
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        let batch: Vec<ObjectInfo> = wanted
            .iter()
            .filter_map(|n| pending.remove(n.as_str()))
            .cloned()
            .collect();
        self.send(&batch, report)?;
        let bad: Vec<String> = wanted
            .iter()
            .filter(|n| report.damaged_objects.contains_key(*n) || !at_source.contains(*n))
            .map(|n| match report.damaged_objects.get(n) {
                Some(why) => format!("{n} is damaged here ({why})"),
                None => format!("{n} is missing here"),
            })
            .collect();
        if bad.is_empty() {
            self.send(std::slice::from_ref(m), report)?;
        } else {
            report.backups_skipped.push(SkippedBackup {
                id,
                reason: bad.join("; "),
            });
        }
        Ok(())
    }
}

/// Copy `objects` with a few workers. Objects found damaged at the source are returned (name,
/// what is wrong) and the others still copied; any other failure stops the copy and is returned.
/// `done` runs on the calling thread after each object sent.
fn copy_set(
    src: &dyn Backend,
    dst: &dyn Backend,
    read_back: ReadBack,
    objects: &[ObjectInfo],
    done: &mut dyn FnMut(&str, u64),
) -> Result<Vec<(String, String)>> {
    let mut damaged = Vec::new();
    parallel(
        objects,
        |o| copy_one(src, dst, &o.name, read_back),
        |i, sent| match sent {
            Sent::Copied(bytes) => done(&objects[i].name, bytes),
            Sent::DamagedAtSource(why) => damaged.push((objects[i].name.clone(), why)),
        },
    )?;
    Ok(damaged)
}

/// What became of one object.
enum Sent {
    /// Copied and checked: its size.
    Copied(u64),
    /// Refused: the source's copy is damaged (why).
    DamagedAtSource(String),
}

/// The source side of a streamed copy: reads the object in [`COMPARE_BLOCK`] ranges, hashes it
/// on the way, and fails the read at the end if a content-addressed object does not hash to its
/// name, so the destination never stores it under that name.
struct Source<'a> {
    src: &'a dyn Backend,
    name: &'a str,
    size: u64,
    offset: u64,
    buf: Vec<u8>,
    pos: usize,
    hasher: blake3::Hasher,
    /// Why the source's copy is damaged, once found.
    damage: Option<String>,
    /// A failure to read the source (not damage), once met.
    failure: Option<crate::error::StorageError>,
}

impl<'a> Source<'a> {
    fn new(src: &'a dyn Backend, name: &'a str, size: u64) -> Self {
        Source {
            src,
            name,
            size,
            offset: 0,
            buf: Vec::new(),
            pos: 0,
            hasher: blake3::Hasher::new(),
            damage: None,
            failure: None,
        }
    }
}

impl std::io::Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let fail = |what: &str| std::io::Error::other(what.to_string());
        if self.pos == self.buf.len() {
            if self.offset >= self.size {
                let hash = self.hasher.finalize();
                self.damage = not_its_name(self.src, self.name, &hash, self.size);
                if self.damage.is_some() {
                    return Err(fail("damaged at the source"));
                }
                return Ok(0);
            }
            let want = usize::try_from(self.size - self.offset)
                .unwrap_or(COMPARE_BLOCK)
                .min(COMPARE_BLOCK);
            // A caller's buffer of a block, or of the whole rest, is filled in place (the
            // streamed copy's is): one buffer per object in flight and no copy between two.
            let direct = out.len() >= want.min(crate::backend::COPY_BLOCK);
            let into = if direct {
                let n = want.min(out.len());
                &mut out[..n]
            } else {
                self.buf.resize(want, 0);
                &mut self.buf[..]
            };
            match self.src.read_range_into(self.name, self.offset, into) {
                Ok(0) => {
                    self.damage = Some(ends_early(self.src, self.offset, self.size));
                    return Err(fail("truncated at the source"));
                }
                Ok(n) => {
                    self.hasher.update(&into[..n]);
                    self.offset += n as u64;
                    if direct {
                        return Ok(n);
                    }
                    self.buf.truncate(n);
                    self.pos = 0;
                }
                Err(e) if e.kind == StorageErrorKind::TooLarge => {
                    self.damage = Some(e.to_string());
                    return Err(fail("too large at the source"));
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.failure = Some(e);
                    return Err(fail(&msg));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Why a content-addressed object whose `size` bytes at `src` hash to `hash` is damaged there:
/// `None` when that is its name (or it is not named by its hash).
fn not_its_name(src: &dyn Backend, name: &str, hash: &blake3::Hash, size: u64) -> Option<String> {
    let want = name_hash(name)?;
    (want != hash.to_hex().as_str()).then(|| {
        format!(
            "its bytes at {} hash to {} ({size} bytes), not to its name; it was not copied",
            src.describe(),
            hash.to_hex(),
        )
    })
}

/// Why an object of `size` bytes that ends after `got` at `src` is damaged there.
fn ends_early(src: &dyn Backend, got: u64, size: u64) -> String {
    format!("it ends at {got} of its {size} bytes at {}", src.describe())
}

/// A pack copied by the source's own process straight into a new file of the destination (an
/// SMB worker writing into the new local repository) with `fetch`, the source's
/// [`Backend::fetch_into`]: its bytes cross no socket and no buffer of this process. What that
/// process reports is checked before the file takes the pack's name: the length, and that the
/// digest is the name (a recovery hashes every pack again, here, before any restore command
/// runs). `None` where the destination keeps no local files or the fetch cannot write into the
/// one it made: the caller streams.
fn fetch_through_file(
    src: &dyn Backend,
    dst: &dyn Backend,
    name: &str,
    size: u64,
    fetch: crate::backend::FetchInto<'_>,
) -> Result<Option<Sent>> {
    use crate::error::StorageError;
    let (mut damage, mut unsupported) = (None, false);
    let mut fetch = Some(fetch);
    let stored = dst.write_through_file(name, size, &mut |path| {
        let refuse = |why: &str| {
            StorageError::new(
                StorageErrorKind::Io,
                format!("{}: {name}", src.describe()),
                why,
            )
        };
        let Some(fetch) = fetch.take() else {
            return Err(refuse("the destination asked for the pack twice"));
        };
        let Some((hash, len)) = fetch(path)? else {
            unsupported = true;
            return Err(refuse("the source cannot write into a file"));
        };
        damage = if len != size {
            Some(ends_early(src, len, size))
        } else {
            not_its_name(src, name, &hash, size)
        };
        match damage {
            Some(_) => Err(refuse("damaged at the source")),
            None => Ok(()),
        }
    });
    match stored {
        Ok(true) => Ok(Some(Sent::Copied(size))),
        Ok(false) => Ok(None),
        Err(_) if unsupported => Ok(None),
        Err(_) if damage.is_some() => Ok(damage.map(Sent::DamagedAtSource)),
        // (a size over its kind's cap was refused as damage before: `copy_one`)
        Err(e) => Err(e.into()),
    }
}

/// Copy one object, streaming it, checking it at both ends (a pack at the destination only with
/// [`ReadBack::Every`]): one [`COPY_BLOCK`](crate::backend::COPY_BLOCK) buffer per object in
/// flight, whatever its size (the source reads into the buffer the destination sends from).
fn copy_one(src: &dyn Backend, dst: &dyn Backend, name: &str, read_back: ReadBack) -> Result<Sent> {
    let size = match src.stat(name)? {
        Some(s) => s,
        None => {
            return Err(Error::Storage(crate::error::StorageError::new(
                StorageErrorKind::NotFound,
                format!("{}: {name}", src.describe()),
                "it vanished while being copied",
            )))
        }
    };
    if let Err(e) = crate::backend::check_size(name, size, format!("{}: {name}", src.describe())) {
        return Ok(Sent::DamagedAtSource(e.to_string()));
    }
    let pack = ObjectKind::of(name) == ObjectKind::Pack;
    if read_back == ReadBack::NotPacks && pack {
        if let Some(fetch) = src.fetch_into(name, size) {
            if let Some(sent) = fetch_through_file(src, dst, name, size, fetch)? {
                return Ok(sent);
            }
        }
    }
    let mut source = Source::new(src, name, size);
    if let Err(e) = dst.write_from(name, &mut source, size) {
        if let Some(why) = source.damage {
            return Ok(Sent::DamagedAtSource(why));
        }
        return Err(source.failure.map_or(e, |f| f).into());
    }
    let hash = source.hasher.finalize();
    if read_back == ReadBack::NotPacks && pack {
        return Ok(Sent::Copied(size));
    }
    // What the destination holds, read back there: never trust what was written.
    let (back_hash, back_len) = dst.hash_object(name)?;
    if back_len != size || back_hash != hash {
        // Do not leave a bad copy under the object's name: the next run sends it again.
        let _ = dst.delete(name);
        return Err(Error::corrupt(
            format!("{}: {name}", dst.describe()),
            format!(
                "it read back as {back_len} bytes with blake3 {} after writing {size} bytes with blake3 {}; the bad copy was removed, run the copy again",
                back_hash.to_hex(),
                hash.to_hex()
            ),
        ));
    }
    Ok(Sent::Copied(size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FaultyBackend, MemoryBackend, PowerCut};
    use crate::error::StorageErrorKind;
    use std::sync::Mutex;

    fn pack(seed: u8, len: usize) -> (String, Vec<u8>) {
        let bytes: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let h = blake3::hash(&bytes).to_hex().to_string();
        (format!("data/{}/{h}", &h[..2]), bytes)
    }

    fn repo() -> MemoryBackend {
        let m = MemoryBackend::new();
        m.write("config", b"repository config").unwrap();
        let key = b"key envelope".to_vec();
        m.write(&format!("keys/{}", blake3::hash(&key).to_hex()), &key)
            .unwrap();
        for i in 0..12 {
            let (n, b) = pack(i, 1000 + i as usize * 97);
            m.write(&n, &b).unwrap();
        }
        m.write("backups/20261122T053600.123Z", b"manifest 1")
            .unwrap();
        m.write("backups/20261122T173600.456Z", b"manifest 2")
            .unwrap();
        m
    }

    fn same(a: &dyn Backend, b: &dyn Backend) {
        let mut la = a.list("").unwrap();
        let mut lb = b.list("").unwrap();
        la.sort_by(|x, y| x.name.cmp(&y.name));
        lb.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(la, lb);
        for o in la {
            assert_eq!(
                a.read(&o.name).unwrap(),
                b.read(&o.name).unwrap(),
                "{}",
                o.name
            );
        }
    }

    /// A destination that records the order of writes.
    fn recorder() -> PowerCut<MemoryBackend> {
        PowerCut::counting(MemoryBackend::new())
    }

    /// The objects written to `b`, in order.
    fn writes(b: &PowerCut<MemoryBackend>) -> Vec<String> {
        b.log()
            .into_iter()
            .filter(|p| p.call == "write")
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn everything_is_copied_in_commit_order() {
        let src = repo();
        let dst = recorder();
        let seen = Mutex::new(0u64);
        let r = export(&src, &dst, &|p| {
            *seen.lock().unwrap() += 1;
            assert!(p.objects_done <= p.objects_total);
        })
        .unwrap();
        assert_eq!(r.objects_sent, 16);
        assert_eq!(*seen.lock().unwrap(), 16);
        assert_eq!(r.objects_skipped, 0);
        same(&src, dst.inner());
        let w = writes(&dst);
        assert_eq!(w[0], "config");
        assert!(w[1].starts_with("keys/"));
        let last_pack = w.iter().rposition(|n| n.starts_with("data/")).unwrap();
        let first_manifest = w.iter().position(|n| n.starts_with("backups/")).unwrap();
        assert!(
            last_pack < first_manifest,
            "a manifest was written before a pack: {w:?}"
        );
        assert_eq!(w.len(), 16);
        // A second run sends nothing.
        let r2 = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!((r2.objects_sent, r2.objects_skipped), (0, 16));
    }

    #[test]
    fn a_dropped_connection_resumes_with_only_what_is_missing() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        // clean_temp + list, then a few objects (write + read-back each), then the line drops.
        dst.disconnect_after(2 + 2 * 5);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Disconnected, "{err}");
        let there = dst.inner().list("").unwrap();
        assert!(!there.is_empty() && there.len() < 16);
        assert!(
            there.iter().all(|o| !o.name.starts_with("backups/")),
            "a manifest was committed before its packs"
        );
        dst.heal();
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16 - there.len() as u64);
        assert_eq!(r.objects_skipped, there.len() as u64);
        same(&src, dst.inner());
    }

    #[test]
    fn a_truncated_write_is_resent() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        // Op 1 clean_temp, op 2 list, op 3 write config, ops 4-5 read it back (its bytes, then
        // the end), op 6 write the key: cut short.
        dst.truncate_write(6, 3);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Disconnected);
        let key = src.list("keys/").unwrap().remove(0);
        assert_eq!(dst.inner().stat(&key.name).unwrap(), Some(3));
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 15);
        same(&src, dst.inner());
    }

    #[test]
    fn a_silently_truncated_write_is_detected_by_reading_back() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        dst.plan(crate::backend::Fault::TruncateWriteAt {
            op: 6,
            keep: 3,
            kind: None,
        });
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        match &err {
            Error::Corrupt { object, detail, .. } => {
                assert!(object.contains("keys/"), "{object}");
                assert!(detail.contains("read back as 3 bytes"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let key = src.list("keys/").unwrap().remove(0);
        assert_eq!(
            dst.inner().stat(&key.name).unwrap(),
            None,
            "the bad copy was left in place"
        );
        assert!(dst.inner().list("backups/").unwrap().is_empty());
        export(&src, &dst, &|_| {}).unwrap();
        same(&src, dst.inner());
    }

    #[test]
    fn a_corrupt_source_is_refused_not_spread() {
        let src = repo();
        let (name, _) = pack(3, 1000 + 3 * 97);
        src.tamper(&name, |v| v[10] ^= 1);
        let dst = MemoryBackend::new();
        match export(&src, &dst, &|_| {}) {
            Err(Error::Corrupt { object, .. }) => assert!(object.contains(&name)),
            other => panic!("{other:?}"),
        }
        assert_eq!(dst.stat(&name).unwrap(), None);
        assert!(dst.list("backups/").unwrap().is_empty());
    }

    #[test]
    fn a_different_size_at_the_destination_is_replaced_and_fetch_goes_back() {
        let src = repo();
        let dst = MemoryBackend::new();
        export(&src, &dst, &|_| {}).unwrap();
        dst.write("backups/20261122T053600.123Z", b"short").unwrap();
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 1);
        let back = MemoryBackend::new();
        let r = fetch(&dst, &back, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16);
        same(&src, &back);
    }

    #[test]
    fn a_same_size_damaged_object_at_the_destination_is_found_and_replaced() {
        let src = repo();
        let dst = MemoryBackend::new();
        export(&src, &dst, &|_| {}).unwrap();
        let (pack, _) = pack(5, 1000 + 5 * 97);
        dst.tamper(&pack, |v| v[500] ^= 1);
        dst.tamper("backups/20261122T053600.123Z", |v| v[0] ^= 1);
        dst.tamper("config", |v| v[3] ^= 1);
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(
            (r.objects_sent, r.objects_healed, r.objects_skipped),
            (3, 3, 13)
        );
        assert!(r.bytes_compared > 10_000, "{r:?}");
        same(&src, &dst);
        // Intact now: the next run reads the destination and sends nothing.
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!((r.objects_sent, r.objects_healed), (0, 0));
    }

    #[test]
    fn a_damaged_source_pack_skips_only_the_backups_that_need_it() {
        let src = repo();
        let packs: Vec<String> = src
            .list("data/")
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        // Backup 1 needs packs 0..6, backup 2 needs packs 6..12; a pack of backup 1 is damaged.
        let (first, second) = (packs[..6].to_vec(), packs[6..].to_vec());
        let intact = src.read(&first[2]).unwrap();
        src.tamper(&first[2], |v| v[7] ^= 1);
        let needs = |m: &str| -> Result<Vec<String>> {
            Ok(if m.ends_with("053600.123Z") {
                first.clone()
            } else {
                second.clone()
            })
        };
        let dst = recorder();
        let r = export_backups(&src, &dst, &needs, &|_| {}).unwrap();
        assert_eq!(r.backups_skipped.len(), 1, "{r:?}");
        assert_eq!(r.backups_skipped[0].id, "20261122T053600.123Z");
        assert!(r.backups_skipped[0].reason.contains(&first[2]), "{r:?}");
        assert!(r.damaged_objects.contains_key(&first[2]));
        assert_eq!(
            dst.inner().stat("backups/20261122T053600.123Z").unwrap(),
            None
        );
        assert!(dst
            .inner()
            .stat("backups/20261122T173600.456Z")
            .unwrap()
            .is_some());
        assert_eq!(dst.inner().stat(&first[2]).unwrap(), None);
        // Backup by backup: each manifest right after what it needs.
        let w = writes(&dst);
        let at = |n: &str| w.iter().position(|x| x == n).unwrap();
        let m2 = at("backups/20261122T173600.456Z");
        assert!(second.iter().all(|p| at(p) < m2), "{w:?}");
        // The damaged local copy was never spread; the intact packs of backup 1 were sent.
        assert!(first
            .iter()
            .filter(|p| **p != first[2])
            .all(|p| w.contains(p)));
        // Once the local pack is healed, the next export sends backup 1 and only what it lacks.
        src.write(&first[2], &intact).unwrap();
        let r = export_backups(&src, &dst, &needs, &|_| {}).unwrap();
        assert!(r.backups_skipped.is_empty());
        assert_eq!(r.objects_sent, 2);
        same(&src, dst.inner());
    }

    /// Refuses whole reads of packs and range reads over [`COMPARE_BLOCK`]; counts the range
    /// reads made into the caller's buffer.
    struct RangesOnly(MemoryBackend, AtomicU64);

    impl RangesOnly {
        fn new(b: MemoryBackend) -> Self {
            RangesOnly(b, AtomicU64::new(0))
        }
    }

    impl Backend for RangesOnly {
        fn describe(&self) -> String {
            "ranges-only".into()
        }
        fn list(
            &self,
            p: &str,
        ) -> std::result::Result<Vec<ObjectInfo>, crate::error::StorageError> {
            self.0.list(p)
        }
        fn read(&self, n: &str) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            assert!(!n.starts_with("data/"), "a whole pack was read: {n}");
            self.0.read(n)
        }
        fn read_range(
            &self,
            n: &str,
            o: u64,
            l: usize,
        ) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            assert!(l <= COMPARE_BLOCK, "a range of {l} bytes was read from {n}");
            self.0.read_range(n, o, l)
        }
        fn read_range_into(
            &self,
            n: &str,
            o: u64,
            buf: &mut [u8],
        ) -> std::result::Result<usize, crate::error::StorageError> {
            assert!(
                buf.len() <= COMPARE_BLOCK,
                "a range of {} bytes was read from {n}",
                buf.len()
            );
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.read_range_into(n, o, buf)
        }
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), crate::error::StorageError> {
            self.0.write(n, d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), crate::error::StorageError> {
            self.0.delete(n)
        }
        fn stat(&self, n: &str) -> std::result::Result<Option<u64>, crate::error::StorageError> {
            self.0.stat(n)
        }
        fn clean_temp(&self) -> std::result::Result<usize, crate::error::StorageError> {
            self.0.clean_temp()
        }
    }

    #[test]
    fn packs_are_copied_and_compared_in_bounded_ranges_never_whole() {
        let src = RangesOnly::new(repo());
        let (name, bytes) = pack(99, 9 * 1024 * 1024 + 7);
        src.write(&name, &bytes).unwrap();
        let dst = RangesOnly::new(MemoryBackend::new());
        export(&src, &dst, &|_| {}).unwrap();
        same(&src.0, &dst.0);
        // the source is read into the buffer the destination takes the bytes from
        assert!(
            src.1.load(Ordering::Relaxed) >= 3,
            "the pack was not read in place"
        );
        dst.0.tamper(&name, |v| v[5 << 20] ^= 1);
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!((r.objects_sent, r.objects_healed), (1, 1));
        same(&src.0, &dst.0);
        // A damaged source pack is refused while streaming: nothing is stored under its name.
        src.0.tamper(&name, |v| v[7 << 20] ^= 1);
        let fresh = RangesOnly::new(MemoryBackend::new());
        assert!(export(&src, &fresh, &|_| {}).is_err());
        assert_eq!(fresh.0.stat(&name).unwrap(), None);
    }

    #[test]
    fn a_copy_buffer_of_a_block_is_filled_in_place_and_a_smaller_one_through_the_sources() {
        use std::io::Read;
        let src = repo();
        let block = crate::backend::COPY_BLOCK;
        let (name, bytes) = pack(7, block + 10);
        src.write(&name, &bytes).unwrap();
        let mut s = Source::new(&src, &name, bytes.len() as u64);
        let mut out = vec![0u8; block];
        assert_eq!(s.read(&mut out).unwrap(), block);
        assert!(out == bytes[..block]);
        assert_eq!(s.buf.capacity(), 0, "a block went through a second buffer");
        let mut small = [0u8; 4];
        assert_eq!(s.read(&mut small).unwrap(), 4);
        assert_eq!(s.buf.len(), 10);
        let mut rest = vec![0u8; 64];
        assert_eq!(s.read(&mut rest).unwrap(), 6);
        assert_eq!([&small[..], &rest[..6]].concat(), bytes[block..]);
        // the end, where the pack hashes to its name
        assert_eq!(s.read(&mut rest).unwrap(), 0);
        assert!(s.damage.is_none());
    }

    /// Counts the reads of packs (whole, ranges, hashed where stored).
    struct PackReads {
        inner: MemoryBackend,
        packs: AtomicU64,
        others: AtomicU64,
    }

    impl PackReads {
        fn count(&self, n: &str) {
            let c = if n.starts_with("data/") {
                &self.packs
            } else {
                &self.others
            };
            c.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Backend for PackReads {
        fn describe(&self) -> String {
            "pack-reads".into()
        }
        fn list(
            &self,
            p: &str,
        ) -> std::result::Result<Vec<ObjectInfo>, crate::error::StorageError> {
            self.inner.list(p)
        }
        fn read(&self, n: &str) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            self.count(n);
            self.inner.read(n)
        }
        fn read_range(
            &self,
            n: &str,
            o: u64,
            l: usize,
        ) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            self.count(n);
            self.inner.read_range(n, o, l)
        }
        fn hash_object(
            &self,
            n: &str,
        ) -> std::result::Result<(blake3::Hash, u64), crate::error::StorageError> {
            self.count(n);
            self.inner.hash_object(n)
        }
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.write(n, d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.delete(n)
        }
        fn stat(&self, n: &str) -> std::result::Result<Option<u64>, crate::error::StorageError> {
            self.inner.stat(n)
        }
        fn clean_temp(&self) -> std::result::Result<usize, crate::error::StorageError> {
            self.inner.clean_temp()
        }
    }

    #[test]
    fn a_fetch_for_recovery_reads_back_every_object_but_packs() {
        let src = repo();
        let counted = || PackReads {
            inner: MemoryBackend::new(),
            packs: AtomicU64::new(0),
            others: AtomicU64::new(0),
        };
        let dst = counted();
        let r = fetch_packs_checked_later(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16);
        same(&src, &dst.inner);
        assert_eq!(dst.packs.load(Ordering::SeqCst), 0, "a pack was read back");
        assert!(
            dst.others.load(Ordering::SeqCst) >= 4,
            "config, key, manifests"
        );
        // the ordinary fetch reads every pack back
        let dst = counted();
        fetch(&src, &dst, &|_| {}).unwrap();
        assert!(dst.packs.load(Ordering::SeqCst) >= 12);
        // a pack damaged at the source is still refused by name, and not stored
        let (name, _) = pack(3, 1000 + 3 * 97);
        src.tamper(&name, |v| v[10] ^= 1);
        let dst = counted();
        match fetch_packs_checked_later(&src, &dst, &|_| {}) {
            Err(Error::Corrupt { object, .. }) => assert!(object.contains(&name), "{object}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(dst.inner.stat(&name).unwrap(), None);
        assert!(dst.inner.list("backups/").unwrap().is_empty());
    }

    /// What a source's own process says after it wrote a pack into a file.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Says {
        Truth,
        /// A digest that is not the pack's name.
        OtherDigest,
        /// One byte fewer than the pack's size.
        Shorter,
        /// The truth about the pack, but it wrote nothing.
        WroteNothing,
    }

    /// A source with a process of its own that writes packs into files (as an SMB worker
    /// does), saying `says` about it; counts the packs it wrote.
    struct IntoFiles {
        inner: MemoryBackend,
        says: Says,
        fetched: AtomicU64,
    }

    impl IntoFiles {
        fn open(&self, _: &str) -> std::result::Result<(), crate::error::StorageError> {
            Ok(())
        }
    }

    impl Backend for IntoFiles {
        crate::backend::guarded_calls!(open);
        fn describe(&self) -> String {
            "into-files".into()
        }
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.write(n, d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.delete(n)
        }
        fn fetch_into(&self, name: &str, size: u64) -> Option<crate::backend::FetchInto<'_>> {
            let name = name.to_string();
            Some(Box::new(move |into| {
                use std::io::Write;
                self.fetched.fetch_add(1, Ordering::SeqCst);
                let all = self.inner.read(&name)?;
                let bytes = &all[..all.len().min(size as usize)];
                let mut f = std::fs::OpenOptions::new().write(true).open(into).unwrap();
                if self.says != Says::WroteNothing {
                    f.write_all(bytes).unwrap();
                }
                let (h, len) = (blake3::hash(bytes), bytes.len() as u64);
                Ok(Some(match self.says {
                    Says::OtherDigest => (blake3::hash(b"other bytes"), len),
                    Says::Shorter => (h, len - 1),
                    Says::Truth | Says::WroteNothing => (h, len),
                }))
            }))
        }
    }

    #[test]
    fn a_recovery_fetch_lets_the_sources_process_write_packs_and_checks_what_it_says() {
        let source = |says| IntoFiles {
            inner: repo(),
            says,
            fetched: AtomicU64::new(0),
        };
        let temps = |d: &std::path::Path| {
            walk(d)
                .iter()
                .filter(|e| e.contains(crate::backend::TEMP_PREFIX))
                .count()
        };
        let src = source(Says::Truth);
        let d = tempfile::tempdir().unwrap();
        let dst = crate::backend::LocalBackend::new(d.path());
        let r = fetch_packs_checked_later(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16);
        same(&src.inner, &dst);
        assert_eq!(
            src.fetched.load(Ordering::SeqCst),
            12,
            "one per pack, no other"
        );
        // an export reads every object back: never through the source's process
        let d2 = tempfile::tempdir().unwrap();
        let src = source(Says::Truth);
        export(&src, &crate::backend::LocalBackend::new(d2.path()), &|_| {}).unwrap();
        assert_eq!(src.fetched.load(Ordering::SeqCst), 0);
        // a destination that keeps no local files: the source streams as before
        let src = source(Says::Truth);
        let mem = MemoryBackend::new();
        fetch_packs_checked_later(&src, &mem, &|_| {}).unwrap();
        same(&src.inner, &mem);
        assert_eq!(src.fetched.load(Ordering::SeqCst), 0);
        // what the process says is checked before a pack takes its name
        for (says, why) in [
            (Says::OtherDigest, "not to its name"),
            (Says::Shorter, "it ends at"),
            (Says::WroteNothing, "bytes"),
        ] {
            let src = source(says);
            let d = tempfile::tempdir().unwrap();
            let dst = crate::backend::LocalBackend::new(d.path());
            let e = fetch_packs_checked_later(&src, &dst, &|_| {}).unwrap_err();
            assert!(e.to_string().contains(why), "{says:?}: {e}");
            let stored = dst.list("data/").unwrap();
            assert!(stored.is_empty(), "{says:?}: {stored:?}");
            assert!(dst.list("backups/").unwrap().is_empty());
            assert_eq!(temps(d.path()), 0, "{says:?}: a temporary file was left");
        }
    }

    /// A local directory that counts the files it makes for a source's process to fill.
    struct MadeFiles {
        inner: crate::backend::LocalBackend,
        made: AtomicU64,
    }

    impl MadeFiles {
        fn open(&self, _: &str) -> std::result::Result<(), crate::error::StorageError> {
            Ok(())
        }
    }

    impl Backend for MadeFiles {
        crate::backend::guarded_calls!(open);
        fn describe(&self) -> String {
            "made-files".into()
        }
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.write(n, d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.delete(n)
        }
        fn write_through_file(
            &self,
            name: &str,
            size: u64,
            fill: &mut dyn FnMut(
                &std::path::Path,
            )
                -> std::result::Result<(), crate::error::StorageError>,
        ) -> std::result::Result<bool, crate::error::StorageError> {
            self.made.fetch_add(1, Ordering::SeqCst);
            self.inner.write_through_file(name, size, fill)
        }
    }

    #[test]
    fn a_source_without_a_process_of_its_own_has_no_file_made_for_it() {
        let d = tempfile::tempdir().unwrap();
        let dst = MadeFiles {
            inner: crate::backend::LocalBackend::new(d.path()),
            made: AtomicU64::new(0),
        };
        let src = repo();
        let r = fetch_packs_checked_later(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16);
        same(&src, &dst.inner);
        assert_eq!(
            dst.made.load(Ordering::SeqCst),
            0,
            "a file was made for nobody"
        );
        // one that has: a file per pack
        let d = tempfile::tempdir().unwrap();
        let dst = MadeFiles {
            inner: crate::backend::LocalBackend::new(d.path()),
            made: AtomicU64::new(0),
        };
        let src = IntoFiles {
            inner: repo(),
            says: Says::Truth,
            fetched: AtomicU64::new(0),
        };
        fetch_packs_checked_later(&src, &dst, &|_| {}).unwrap();
        same(&src.inner, &dst.inner);
        assert_eq!(dst.made.load(Ordering::SeqCst), 12);
    }

    /// Every path under `d`, as text.
    fn walk(d: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p.display().to_string());
        }
        out
    }

    #[test]
    fn content_addressed_names_are_recognised() {
        assert_eq!(name_hash("config"), None);
        assert_eq!(name_hash("keys/not-a-hash"), None);
        let h = "ab".repeat(32);
        assert_eq!(name_hash(&format!("data/ab/{h}")), Some(h.as_str()));
    }

    #[test]
    fn no_space_is_reported_as_such() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        dst.fail_op(3, StorageErrorKind::NoSpace);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::NoSpace);
        assert!(err.remedy().contains("prune"));
    }
}
