//! `Bucket::decode` (a bucket of the chunk index in `local/index`) on arbitrary bytes: a damaged
//! index must never panic a backup, only fail with "malformed entry" (it is rebuilt).
#![no_main]

use cairn::index::Bucket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(b) = Bucket::decode(data) {
        // the decoder takes only the canonical encoding: what decodes re-encodes to the input
        assert_eq!(b.encode(), data);
        for (i, _) in data.iter().enumerate().take(64) {
            let _ = Bucket::decode(&data[..i]);
        }
    }
});
