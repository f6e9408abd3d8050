//! `segment::decode` and `segment::expand` on hostile plaintext (what a session key holder could
//! have sealed): the first 12 bytes play the file entry's claim (chunk count u32 LE, bytes u64
//! LE), the rest the segment blob.
#![no_main]

use cairn::format::segment::{self, SegmentRef};
use cairn::id::ChunkId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let mut n = [0u8; 4];
    n.copy_from_slice(&data[..4]);
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[4..12]);
    let want = SegmentRef {
        id: ChunkId([0; 32]),
        chunks: u32::from_le_bytes(n),
        bytes: u64::from_le_bytes(b),
    };
    let blob = &data[12..];
    if let Ok(c) = segment::decode(blob, &want) {
        // what decodes re-encodes to something that decodes to the same list
        assert_eq!(segment::decode(&segment::encode(&c), &want).ok(), Some(c));
    }
    let mut budget = 1 << 16;
    let _ = segment::expand(&[want, want], &mut budget, |_| Ok(blob.to_vec()));
});
