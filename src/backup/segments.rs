//! A large file's chunk list stored in segment blobs (docs/FORMAT.md §8a): the writer's half of
//! [`crate::format::segment`].

use super::store::ChunkStore;
use crate::crypto::IdKey;
use crate::error::Result;
use crate::format::pack::BlobKind;
use crate::format::segment::{self, SegmentRef, SEGMENT_ABOVE};
use crate::format::tree::{NodeKind, Tree};

/// `tree` with every file of more than [`SEGMENT_ABOVE`] chunks turned into
/// [`NodeKind::FileSegments`], its segments stored (or referenced, if already stored: an
/// unchanged stretch of a file gives the same segment blobs); `None` if it has no such file.
pub(super) fn segmented(
    tree: &Tree,
    store: &ChunkStore,
    id_key: &IdKey,
    svc: usize,
) -> Result<Option<Tree>> {
    let big = |k: &NodeKind| matches!(k, NodeKind::File { chunks } if chunks.len() > SEGMENT_ABOVE);
    if !tree.nodes.iter().any(|n| big(&n.kind)) {
        return Ok(None);
    }
    let mut out = tree.clone();
    for n in &mut out.nodes {
        let NodeKind::File { chunks } = &n.kind else {
            continue;
        };
        if chunks.len() <= SEGMENT_ABOVE {
            continue;
        }
        let mut segments = Vec::new();
        for part in segment::split(chunks) {
            let bytes = segment::encode(part);
            let id = id_key.chunk_id(&bytes);
            store.put(id, BlobKind::Tree, &bytes, svc)?;
            segments.push(SegmentRef {
                id,
                chunks: part.len() as u32,
                bytes: part.iter().map(|c| u64::from(c.len)).sum(),
            });
        }
        n.kind = NodeKind::FileSegments { segments };
    }
    Ok(Some(out))
}
