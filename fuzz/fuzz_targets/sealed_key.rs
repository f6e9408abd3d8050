//! `SealedKey::decode` on hostile `signing/<epoch>` objects (anyone can write one to the share).
//! Self-signed: bodies naming the fuzzer's fixed key are also tried signed by it.
#![no_main]

use cairn::format::sealed_key::SealedKey;
use cairn::id::KeyId;
use cairn::signing::SigningKey;
use libfuzzer_sys::fuzz_target;

const REPO: [u8; 16] = [6; 16];

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_seed(&[42; 32]);
    let name = SealedKey::name(&KeyId([5; 32]));
    let _ = SealedKey::decode(data, &REPO, &name);
    let signed = key.sign_object(&REPO, &name, data.to_vec());
    if let Ok(s) = SealedKey::decode(&signed, &REPO, &name) {
        assert_eq!(s.public, key.public().to_bytes());
        assert_eq!(
            SealedKey::decode(&s.encode(&REPO, &key), &REPO, &name)
                .ok()
                .as_ref(),
            Some(&s)
        );
    }
});
