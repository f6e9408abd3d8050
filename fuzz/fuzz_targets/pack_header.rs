//! `PackHeader::from_pack` on a whole (hostile) pack, and `PackHeader::decode` on a header
//! with an arbitrary claimed pack length. Neither may panic; an accepted header must keep every
//! entry inside the blob area, in order.
#![no_main]

use cairn::format::pack::{PackHeader, LEAD_LEN, TRAILER_LEN};
use libfuzzer_sys::fuzz_target;

fn check_bounds(h: &PackHeader, blobs_end: u64) {
    let mut next = LEAD_LEN as u64;
    for e in &h.entries {
        assert!(
            e.offset as u64 >= next,
            "entries overlap or precede the lead"
        );
        next = e.offset as u64 + e.length as u64;
        assert!(next <= blobs_end, "entry runs into the header");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = PackHeader::from_pack(data, "fuzz") {
        let tail = h.encode_tail();
        assert!(tail.len() <= data.len() - LEAD_LEN);
        check_bounds(&h, (data.len() - tail.len()) as u64);
    }
    if data.len() >= TRAILER_LEN {
        let _ = PackHeader::header_len(&data[data.len() - TRAILER_LEN..], "fuzz");
    }
    // The first 8 bytes are the claimed pack length; the rest is the header.
    if data.len() >= 8 {
        let (len, header) = data.split_at(8);
        let pack_len = u64::from_le_bytes(len.try_into().unwrap_or_default());
        if let Ok(h) = PackHeader::decode(header, pack_len, "fuzz") {
            check_bounds(&h, pack_len - (TRAILER_LEN + header.len()) as u64);
        }
    }
});
