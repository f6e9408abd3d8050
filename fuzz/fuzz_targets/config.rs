//! `RepoConfig::decode` on a hostile `config` object: what it accepts must be usable. The config
//! is self-signed by the key it names; bodies naming the fuzzer's fixed key (as the seeds do) are
//! also tried signed, to reach the range checks.
#![no_main]

use cairn::format::config::RepoConfig;
use cairn::signing::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_seed(&[42; 32]);
    let _ = RepoConfig::decode(data);
    let signed = key.sign_object(&[6; 16], "config", data.to_vec());
    for bytes in [data, &signed[..]] {
        if let Ok(c) = RepoConfig::decode(bytes) {
            assert!(c.chunker.valid());
            assert!(c.public_key().is_ok());
            if c.signing_key == key.public().to_bytes() {
                assert_eq!(RepoConfig::decode(&c.encode(&key)).ok().as_ref(), Some(&c));
            }
        }
    }
});
