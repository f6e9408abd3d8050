//! `compress::decompress` of a hostile payload, bounded at 1 MiB: never more output than that.
#![no_main]

use cairn::compress;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = compress::decompress(data, MAX, "fuzz") {
        assert!(out.len() <= MAX);
        // and the forward direction round-trips whatever came out
        let again = compress::compress(&out, 1);
        assert_eq!(
            compress::decompress(&again, out.len(), "fuzz").ok(),
            Some(out)
        );
    }
});
