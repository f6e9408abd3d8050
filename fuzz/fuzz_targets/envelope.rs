//! `Envelope::decode` on hostile `keys/<id>` objects.
#![no_main]

use cairn::format::envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::decode(data) {
        assert_eq!(Envelope::decode(&e.encode()).ok().as_ref(), Some(&e));
    }
});
