//! `PackHeader::from_pack` on a whole (hostile) pack, and `PackHeader::decode` on a header
//! with an arbitrary claimed pack length and version. Neither may panic; an accepted header must
//! keep every blob inside the blob area, in order, and every group member inside its bound.
#![no_main]

use cairn::format::pack::{PackHeader, LEAD_LEN, MAX_GROUP_LEN, TRAILER_LEN, VERSION, VERSION_1};
use libfuzzer_sys::fuzz_target;

fn check_bounds(h: &PackHeader, blobs_end: u64) {
    let mut next = LEAD_LEN as u64;
    for blob in h.blobs() {
        let e = &blob[0];
        assert!(
            e.offset as u64 >= next,
            "entries overlap or precede the lead"
        );
        next = e.offset as u64 + e.length as u64;
        assert!(next <= blobs_end, "entry runs into the header");
        for m in blob {
            assert!((m.offset, m.length) == (e.offset, e.length), "a group's members disagree");
            if let Some(at) = m.inner {
                assert!(at as u64 + m.raw_len as u64 <= MAX_GROUP_LEN as u64, "member past the group");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = PackHeader::from_pack(data, "fuzz") {
        // the blob area ends where the trailer says the header starts (a version 1 header
        // re-encodes longer, as version 2)
        let (hl, _) = PackHeader::header_len(&data[data.len() - TRAILER_LEN..], "fuzz")
            .expect("an accepted pack has a valid trailer");
        let blobs_end = data.len() as u64 - TRAILER_LEN as u64 - u64::from(hl);
        assert!(blobs_end >= LEAD_LEN as u64);
        check_bounds(&h, blobs_end);
    }
    if data.len() >= TRAILER_LEN {
        let _ = PackHeader::header_len(&data[data.len() - TRAILER_LEN..], "fuzz");
    }
    // The first 8 bytes are the claimed pack length; the rest is the header, read as either version.
    if data.len() >= 8 {
        let (len, header) = data.split_at(8);
        let pack_len = u64::from_le_bytes(len.try_into().unwrap_or_default());
        for version in [VERSION, VERSION_1] {
            if let Ok(h) = PackHeader::decode(header, pack_len, version, "fuzz") {
                check_bounds(&h, pack_len - (TRAILER_LEN + header.len()) as u64);
            }
        }
    }
});
