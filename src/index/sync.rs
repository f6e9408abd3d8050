//! Keeping the index in step with the packs on a store: index the packs it lacks from their
//! headers, rebuild it from scratch when it names packs that are gone.

use super::{ierr, Index};
use crate::backend::Backend;
use crate::error::{Error, Result, StorageErrorKind};
use crate::format::pack::{PackHeader, TRAILER_LEN};
use crate::id::PackId;
use std::collections::HashSet;

impl Index {
    /// Make the index agree with the packs in `store`: index packs it lacks (from their headers),
    /// and rebuild from scratch if it names packs that are gone. Returns packs indexed.
    pub fn sync(&self, store: &dyn Backend) -> Result<usize> {
        let on_store = store.list(crate::object::ObjectKind::Pack.prefix())?;
        let mut present = HashSet::with_capacity(on_store.len());
        let indexed: HashSet<PackId> = self.packs()?.into_iter().map(|(p, _)| p).collect();
        let mut added = 0;
        for o in &on_store {
            let Some(id) = pack_id_of(&o.name) else {
                continue;
            };
            present.insert(id);
            if !indexed.contains(&id) {
                match read_pack_header(store, &o.name, o.size) {
                    Ok(h) => {
                        self.add_pack(id, o.size, &h)?;
                        added += 1;
                    }
                    // a read that failed (the share dropped, a timeout) says nothing about the
                    // pack: stop, or prune would count its chunks dead and delete it
                    Err(Error::Storage(e)) if e.kind != StorageErrorKind::TooLarge => {
                        return Err(Error::Storage(e))
                    }
                    Err(e) => tracing::warn!("pack {} not indexed: {e}", o.name),
                }
            }
        }
        if indexed.iter().any(|p| !present.contains(p)) {
            tracing::info!("index names packs that are gone; rebuilding it from the pack headers");
            self.clear_chunks().map_err(ierr)?;
            return self.sync(store);
        }
        if added > 0 {
            self.flush()?;
        }
        Ok(added)
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
