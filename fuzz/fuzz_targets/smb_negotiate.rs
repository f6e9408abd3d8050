//! `smb_negotiate::parse` of a hostile SMB2 NEGOTIATE answer (any server on the network path can
//! send one): never a panic, and what it reports follows from the bytes.
#![no_main]

use cairn::backend::smb_negotiate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(o) = smb_negotiate::parse(data) {
        assert!(data.starts_with(b"\xfeSMB"));
        assert!(o.cipher == 0 || o.encryption);
    }
});
