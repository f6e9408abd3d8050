//! Moving the chunk index of layouts 2 and 3 (one sled entry per chunk, tree `chunks`) into
//! buckets (layout 4), at open.
//!
//! The old entries are read in id order and written as full buckets, a batch at a time, never
//! all in memory. Crash-safe: the version key is written only once every bucket is, so an
//! interrupted move is started again from the empty bucket tree at the next open; the old tree is
//! dropped only after the version key is durable.

use super::location::Stored;
use super::{Index, PER_CHUNK_TREE};

impl Index {
    /// Move the per-chunk tree's entries into buckets. An entry that does not decode makes the
    /// whole chunk index start afresh (rebuilt from the pack headers by the next sync), never
    /// half of it.
    pub(super) fn migrate_chunks(&self) -> sled::Result<()> {
        self.chunks.clear()?;
        let old = self.db.open_tree(PER_CHUNK_TREE)?;
        let pairs = old.iter().map(|kv| {
            let (k, v) = kv?;
            match (<[u8; 32]>::try_from(&k[..]), Stored::decode(&v)) {
                (Ok(id), Some(s)) => Ok((id, s)),
                _ => Err(sled::Error::Unsupported("malformed chunk entry".into())),
            }
        });
        match super::chunks::fill_sorted(&self.chunks, pairs) {
            Ok(n) => {
                tracing::info!("local index: {n} chunk locations moved into buckets");
                Ok(())
            }
            Err(sled::Error::Unsupported(_)) => {
                tracing::info!(
                    "local index holds a malformed chunk entry; rebuilding it from the pack headers"
                );
                self.clear_chunks()
            }
            Err(e) => Err(e),
        }
    }

    /// Drop the per-chunk tree of layouts 2 and 3, if it is still there.
    pub(super) fn drop_per_chunk_tree(&self) -> sled::Result<()> {
        if self
            .db
            .tree_names()
            .iter()
            .any(|n| &n[..] == PER_CHUNK_TREE.as_bytes())
        {
            self.db.drop_tree(PER_CHUNK_TREE)?;
        }
        Ok(())
    }
}
