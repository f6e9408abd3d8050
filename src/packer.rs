//! The one pack writer: sealed blobs of one session are appended to a pack in memory until it
//! is big enough, then the pack is stored under the blake3 of its bytes and indexed. A backup
//! fills packs with newly sealed blobs (in an unnamed file where it can: `backup::spill`, which
//! places blobs and seals the header with [`placed`] and [`sealed_header`]); prune with live
//! blobs copied from the packs it rewrites.
//!
//! Layout (docs/FORMAT.md, "Packs"): lead ‖ sealed blobs ‖ header (postcard) ‖ trailer.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::pack::{self, PackEntry, PackHeader};
use crate::id::{KeyId, PackId};
use crate::index::Index;

/// A pack being built: the blobs of one session key, in order.
pub struct PackBuilder {
    session: KeyId,
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl PackBuilder {
    /// An empty pack for blobs sealed under `session`.
    pub fn new(session: KeyId) -> Self {
        PackBuilder {
            session,
            buf: pack::lead(),
            entries: Vec::new(),
        }
    }

    /// The session key of its blobs.
    pub fn session(&self) -> KeyId {
        self.session
    }

    /// Bytes so far (lead and blobs; the header is added by [`PackBuilder::finish`]).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether it holds no blob yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Append a sealed blob; `entries` describe what it holds (one chunk, or a group's
    /// members), their `offset` and `length` set here.
    pub fn push(&mut self, entries: &[PackEntry], sealed: &[u8]) -> Result<()> {
        place(
            &mut self.entries,
            entries,
            self.buf.len() as u64,
            sealed.len(),
        )?;
        self.buf.extend_from_slice(sealed);
        Ok(())
    }

    /// The finished pack's bytes and header, or `None` if it holds no blob; the builder is
    /// empty again afterwards (same session).
    pub fn finish(&mut self) -> Option<(Vec<u8>, PackHeader)> {
        if self.entries.is_empty() {
            return None;
        }
        let (header, tail) = sealed_header(self.session, &mut self.entries);
        let mut bytes = std::mem::replace(&mut self.buf, pack::lead());
        bytes.extend_from_slice(&tail);
        Some((bytes, header))
    }
}

/// Add `entries` to `to` as describing the blob of `len` bytes appended at `offset` of a pack
/// (an error past 4 GiB).
pub(crate) fn place(
    to: &mut Vec<PackEntry>,
    entries: &[PackEntry],
    offset: u64,
    len: usize,
) -> Result<()> {
    let too_big = || Error::failed("a pack grew past 4 GiB", "report a bug");
    let offset = u32::try_from(offset).map_err(|_| too_big())?;
    let length = u32::try_from(len).map_err(|_| too_big())?;
    to.extend(entries.iter().map(|e| PackEntry {
        offset,
        length,
        ..*e
    }));
    Ok(())
}

/// The header of a pack of `session` holding `entries` (taken), and its encoded tail.
pub(crate) fn sealed_header(session: KeyId, entries: &mut Vec<PackEntry>) -> (PackHeader, Vec<u8>) {
    let header = PackHeader {
        session,
        entries: std::mem::take(entries),
    };
    let tail = header.encode_tail();
    (header, tail)
}

/// Store a finished pack as `data/xx/<blake3 of its bytes>` (the backend's write is atomic and
/// durable), then add its blobs to `index`. Returns its id.
pub fn store_pack(
    store: &dyn Backend,
    index: &Index,
    bytes: &[u8],
    header: &PackHeader,
) -> Result<PackId> {
    let id = PackId(*blake3::hash(bytes).as_bytes());
    store.write(&id.object_name(), bytes)?;
    index.add_pack(id, bytes.len() as u64, header)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::BlobKind;
    use crate::id::ChunkId;

    #[test]
    fn built_packs_decode_and_are_stored_under_their_hash() {
        let mut b = PackBuilder::new(KeyId([3; 32]));
        assert!(b.finish().is_none(), "an empty pack is never written");
        let entry = |n: u8| PackEntry {
            id: ChunkId([n; 32]),
            kind: BlobKind::Data,
            offset: 0,
            length: 0,
            raw_len: 7,
            inner: None,
        };
        // sealed blobs are at least nonce + tag + 1 byte long
        let (first, second) = ([1u8; 50], [2u8; 41]);
        b.push(&[entry(1)], &first).unwrap();
        b.push(&[entry(2)], &second).unwrap();
        let (bytes, header) = b.finish().unwrap();
        assert!(b.is_empty() && b.len() == pack::lead().len());
        let decoded = PackHeader::from_pack(&bytes, "p").unwrap();
        assert_eq!(decoded.session, KeyId([3; 32]));
        let e = &decoded.entries[1];
        let at = e.offset as usize;
        assert_eq!(&bytes[at..at + e.length as usize], &second[..]);
        assert_eq!(decoded.entries, header.entries);
        let store = crate::backend::MemoryBackend::new();
        let index = Index::temporary().unwrap();
        let id = store_pack(&store, &index, &bytes, &header).unwrap();
        assert_eq!(store.read(&id.object_name()).unwrap(), bytes);
        assert_eq!(id.0, *blake3::hash(&bytes).as_bytes());
        assert_eq!(index.lookup(&ChunkId([2; 32])).unwrap().unwrap().pack, id);
    }
}
