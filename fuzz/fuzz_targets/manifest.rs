//! `Manifest::decode` (and the sealed `Definitions` blob). The trailing blake3 stops almost every
//! mutation at the checksum, so the input is also decoded with a correct checksum appended: that
//! reaches the postcard body.
#![no_main]

use cairn::format::manifest::{Definitions, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data, "fuzz");
    let mut summed = data.to_vec();
    summed.extend_from_slice(blake3::hash(data).as_bytes());
    if let Ok(m) = Manifest::decode(&summed, "fuzz") {
        assert_eq!(
            Manifest::decode(&m.encode(), "fuzz").ok().as_ref(),
            Some(&m)
        );
        let _ = (m.bytes(), m.bytes_new());
    }
    if let Ok(d) = Definitions::decode(data) {
        assert_eq!(Definitions::decode(&d.encode()).ok().as_ref(), Some(&d));
    }
});
