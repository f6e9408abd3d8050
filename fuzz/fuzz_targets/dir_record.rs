//! `CachedDir::decode` (a directory's files cache record in `local/index`) on arbitrary bytes:
//! a damaged index must never panic the walk, only make it read the directory's files again.
#![no_main]

use cairn::index::CachedDir;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(d) = CachedDir::decode(data) {
        // the decoder takes only the canonical encoding: what decodes re-encodes to the input
        assert_eq!(d.encode(), data);
        for (i, _) in data.iter().enumerate().take(64) {
            let _ = CachedDir::decode(&data[..i]);
        }
    }
});
