//! `Envelope::decode` on hostile `keys/<id>` objects: as they come (the signature must stop
//! them), and as bodies signed with the fuzzer's fixed key (to reach the postcard body).
#![no_main]

use cairn::format::envelope::{Envelope, SIGNED_NAME};
use cairn::signing::SigningKey;
use libfuzzer_sys::fuzz_target;

const REPO: [u8; 16] = [6; 16];

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_seed(&[42; 32]);
    let public = key.public();
    let _ = Envelope::decode(data, &REPO, &public, "fuzz");
    let signed = key.sign_object(&REPO, SIGNED_NAME, data.to_vec());
    if let Ok(e) = Envelope::decode(&signed, &REPO, &public, "fuzz") {
        assert_eq!(
            Envelope::decode(&e.encode(&REPO, &key), &REPO, &public, "fuzz")
                .ok()
                .as_ref(),
            Some(&e)
        );
    }
});
