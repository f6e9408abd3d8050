//! `compress::decompress` of a hostile payload, never more output than the bound: 1 MiB (the
//! bulk path chunks take) for inputs of even length, 8 MiB (the streaming path a large tree
//! takes, above `BULK_LIMIT`) for odd ones.
#![no_main]

use cairn::compress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let max: usize = if data.len() % 2 == 0 { 1 << 20 } else { 8 << 20 };
    if let Ok(out) = compress::decompress(data, max, &"fuzz") {
        assert!(out.len() <= max);
        // and the forward direction round-trips whatever came out (small outputs: speed)
        if out.len() <= 1 << 20 {
            let again = compress::compress(&out, 1);
            assert_eq!(
                compress::decompress(&again, out.len(), &"fuzz").ok(),
                Some(out)
            );
        }
    }
});
