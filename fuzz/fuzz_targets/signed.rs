//! The signed framing (`body ‖ Ed25519 signature` over the domain-separated message) and the
//! fingerprint parser: hostile bytes never verify under a key that did not sign them, and a
//! parsed fingerprint is always a whole, valid key.
#![no_main]

use cairn::signing::{self, PublicKey, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_seed(&[42; 32]);
    let public = key.public();
    let _ = signing::split(data, "fuzz");
    // forging is out of the fuzzer's reach: anything that verifies was signed by `key`
    if let Ok(body) = public.open_object(&[6; 16], "backups/x", data) {
        assert_eq!(key.sign_object(&[6; 16], "backups/x", body.to_vec()), data);
    }
    let signed = key.sign_object(&[6; 16], "backups/x", data.to_vec());
    assert_eq!(
        public.open_object(&[6; 16], "backups/x", &signed).ok(),
        Some(data)
    );
    assert!(public.open_object(&[7; 16], "backups/x", &signed).is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = PublicKey::parse_fingerprint(text) {
            assert_eq!(PublicKey::parse_fingerprint(&p.fingerprint()).ok(), Some(p));
        }
    }
    if let Ok(b) = <[u8; 32]>::try_from(data.get(..32).unwrap_or(&[])) {
        if let Some(p) = PublicKey::from_bytes(&b) {
            assert_eq!(p.to_bytes(), b);
        }
    }
});
