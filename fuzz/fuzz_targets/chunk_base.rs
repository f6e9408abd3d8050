//! The chunk index's base file `local/chunks` (FORMAT.md section 10.2): its header, sparse index
//! and block decoders and the whole-file decoder on arbitrary bytes. A damaged file must never
//! panic a job or give a wrong location: it is removed and the chunk index rebuilt.
#![no_main]

use cairn::id::ChunkId;
use cairn::index::cachefile::{self, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = cachefile::decode_with::<ChunkId, _>(data, |r| Some(r.to_vec()));
    if let Some(h) = Header::<ChunkId>::decode(data) {
        let at = usize::try_from(h.index_at).unwrap_or(usize::MAX);
        if let Some(marks) = data.get(at..).and_then(|b| cachefile::marks(&h, b)) {
            for m in &marks {
                let (a, n) = (m.at as usize, m.len as usize);
                if let Some(block) = data.get(a..a.saturating_add(n)) {
                    let _ = cachefile::find(m, block, &m.first);
                    let _ = cachefile::find(m, block, &ChunkId([0xff; 32]));
                }
            }
        }
    }
    for r in cachefile::records::<ChunkId>(data) {
        if r.is_none() {
            break;
        }
    }
    if let Some((_, recs)) = whole {
        // what decodes is in strictly ascending key order
        assert!(recs.windows(2).all(|w| w[0].0 < w[1].0));
    }
});
