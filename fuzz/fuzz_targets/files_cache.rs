//! `cachefile::decode_file` (the whole files cache file `local/files-cache`) and its header and
//! block decoders on arbitrary bytes: a damaged file must never panic a backup, only make it read
//! files again.
#![no_main]

use cairn::index::cachefile::{self, Header};
use cairn::index::DirKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = cachefile::decode_file(data);
    if let Some(h) = Header::<DirKey>::decode(data) {
        let at = usize::try_from(h.index_at).unwrap_or(usize::MAX);
        if let Some(marks) = data.get(at..).and_then(|b| cachefile::marks(&h, b)) {
            for m in &marks {
                let (a, n) = (m.at as usize, m.len as usize);
                if let Some(block) = data.get(a..a.saturating_add(n)) {
                    let _ = cachefile::find(m, block, &m.first);
                    let _ = cachefile::find(m, block, &DirKey([0xff; 16]));
                }
            }
        }
    }
    // records of a block parse or stop, whatever the bytes
    for r in cachefile::records::<DirKey>(data) {
        if r.is_none() {
            break;
        }
    }
    if let Some(recs) = whole {
        // what decodes is in strictly ascending key order
        assert!(recs.windows(2).all(|w| w[0].0 < w[1].0));
    }
});
