//! `CachedDir::decode` (a directory's files cache record in `local/files-cache`) on arbitrary
//! bytes: a damaged cache must never panic the walk, only make it read the directory's files again.
#![no_main]

use cairn::index::CachedDir;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(d) = CachedDir::decode(data) {
        // the decoder takes only the canonical encoding of each version: what decodes re-encodes
        // to the input (version 3 as written, versions 1 and 2 as they were written)
        if data[0] == 3 {
            assert_eq!(d.encode(), data);
        } else {
            assert_eq!(d.encode_v2(), data);
            // an old record read is written as version 3 without losing a file
            assert_eq!(CachedDir::decode(&d.encode()).as_ref(), Some(&d));
        }
        for (i, _) in data.iter().enumerate().take(64) {
            let _ = CachedDir::decode(&data[..i]);
        }
    }
});
