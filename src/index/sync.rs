//! Keeping the index in step with the packs on a store: index the packs it lacks from their
//! headers, rebuild it from scratch when it names packs that are gone.
//!
//! The packs a sync indexes are staged in memory ([`Bulk`], at most [`BULK_AT`] entries) and
//! written into the base file in one merge, not entry by entry into sled: rebuilding the index
//! of a recovered repository (200,000 chunks) took 4.2–4.6 s through sled (benches/RESULTS.md).

use super::base::Union;
use super::location::Stored;
use super::runs::Run;
use super::{ierr, Index};
use crate::backend::Backend;
use crate::error::{Error, Result, StorageErrorKind};
use crate::format::pack::{PackHeader, TRAILER_LEN};
use crate::id::{ChunkId, PackId};
use std::collections::HashSet;

impl Index {
    /// Make the index agree with the packs in `store`: index packs it lacks (from their headers),
    /// and rebuild from scratch if it names packs that are gone. Returns packs indexed.
    pub fn sync(&self, store: &dyn Backend) -> Result<usize> {
        let on_store = store.list(crate::object::ObjectKind::Pack.prefix())?;
        let present: HashSet<PackId> = on_store
            .iter()
            .filter_map(|o| pack_id_of(&o.name))
            .collect();
        let indexed: HashSet<PackId> = self.packs()?.into_iter().map(|(p, _)| p).collect();
        // before indexing anything: what would be indexed now would be thrown away by the rebuild
        if indexed.iter().any(|p| !present.contains(p)) {
            tracing::info!("index names packs that are gone; rebuilding it from the pack headers");
            self.clear_chunks().map_err(ierr)?;
            return self.sync(store);
        }
        let mut added = 0;
        let mut bulk = Bulk::default();
        let mut cut_off = None;
        for o in &on_store {
            let Some(id) = pack_id_of(&o.name) else {
                continue;
            };
            if !indexed.contains(&id) {
                match read_pack_header(store, &o.name, o.size) {
                    Ok(h) => {
                        self.stage(&mut bulk, id, o.size, &h)?;
                        added += 1;
                        if bulk.entries.len() >= BULK_AT {
                            self.spill(&mut bulk)?;
                        }
                    }
                    // a read that failed (the share dropped, a timeout) says nothing about the
                    // pack: stop, or prune would count its chunks dead and delete it
                    Err(Error::Storage(e)) if e.kind != StorageErrorKind::TooLarge => {
                        cut_off = Some(Error::Storage(e));
                        break;
                    }
                    Err(e) => tracing::warn!("pack {} not indexed: {e}", o.name),
                }
            }
        }
        // the packs read before the store failed are indexed all the same
        self.add_bulk(bulk)?;
        if added > 0 {
            self.flush()?;
        }
        match cut_off {
            Some(e) => Err(e),
            None => Ok(added),
        }
    }
}

/// Entries a sync stages in memory before it spills them into a sorted run on disk
/// ([`super::runs`]): about 56 bytes each (7 MiB). (Small in unit tests, so that they cross it.)
pub(super) const BULK_AT: usize = if cfg!(test) { 1 << 10 } else { 128 << 10 };

/// Packs a sync indexes (ordinal reserved, not yet recorded) and their entries: the runs spilled
/// so far (oldest first), then the entries staged since.
#[derive(Default)]
pub(super) struct Bulk {
    pub(super) packs: Vec<(u32, PackId, u64)>,
    pub(super) runs: Vec<Run>,
    pub(super) entries: Vec<(ChunkId, Stored)>,
    /// Runs written so far: the next one's number.
    spilled: u32,
}

impl Bulk {
    /// The number of the next run written (each has its own: see [`super::runs`]).
    pub(super) fn next_run(&mut self) -> u32 {
        self.spilled += 1;
        self.spilled - 1
    }

    /// Sort the staged entries by key; of a chunk in several packs keep the last one's entry,
    /// as sled's inserts would (the sort is stable; `dedup_by` keeps the earlier of two, so it
    /// takes the later's entry first).
    pub(super) fn sort_entries(&mut self) {
        self.entries.sort_by_key(|e| e.0);
        self.entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }
}

impl Index {
    /// Stage pack `pack` (header `h`) for [`Index::add_bulk`] under an ordinal reserved now.
    fn stage(&self, bulk: &mut Bulk, pack: PackId, size: u64, h: &PackHeader) -> Result<()> {
        let ordinal = self.reserve_ordinal()?;
        bulk.packs.push((ordinal, pack, size));
        bulk.entries
            .extend(h.entries.iter().map(|e| (e.id, Stored::of(ordinal, e))));
        Ok(())
    }

    /// Index the staged packs: in key order into the base file in one merge, or, where there is
    /// no base to merge into (a temporary index, a damaged base, another merge running, a
    /// failed write), through sled as [`Index::add_pack`] does.
    pub(super) fn add_bulk(&self, mut bulk: Bulk) -> Result<()> {
        if bulk.packs.is_empty() {
            return Ok(());
        }
        bulk.sort_entries();
        match self.merge_with(&bulk) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "staged packs not merged into the chunk index file ({e}); indexing them in sled"
            ),
        }
        for &(ordinal, pack, size) in &bulk.packs {
            self.record_pack(ordinal, pack, size)?;
        }
        // the runs' entries first: the staged ones are newer, and sled keeps the last insert
        let runs = Union::of_runs(&bulk.runs).filter_map(|r| match r {
            Ok((id, value)) => Stored::decode(&value).map(|s| Ok((id, s))),
            Err(e) => Some(Err(e)),
        });
        self.add_to_level(runs.chain(bulk.entries.iter().map(|&e| Ok(e))))
    }
}

/// The pack id in an object name `data/xx/<64 hex>`.
pub fn pack_id_of(name: &str) -> Option<PackId> {
    crate::object::ObjectName::pack(name)
}

/// Read and decode a pack's header with two range reads (trailer, header).
pub fn read_pack_header(store: &dyn Backend, name: &str, size: u64) -> Result<PackHeader> {
    if size < (crate::format::pack::LEAD_LEN + TRAILER_LEN) as u64 {
        return Err(Error::corrupt(name, "pack too short"));
    }
    let trailer = store.read_range(name, size - TRAILER_LEN as u64, TRAILER_LEN)?;
    let (hl, version) = PackHeader::header_len(&trailer, name)?;
    let hl = u64::from(hl);
    if hl + (TRAILER_LEN + crate::format::pack::LEAD_LEN) as u64 > size {
        return Err(Error::corrupt(name, "header length out of range"));
    }
    let header = store.read_range(name, size - TRAILER_LEN as u64 - hl, hl as usize)?;
    PackHeader::decode(&header, size, version, name)
}
