//! `config`: the repository's fixed parameters, written once at init, signed by the repository
//! key it names: `"CAIRNCFG" ‖ version u16 LE ‖ postcard RepoConfig ‖ Ed25519 signature (64)`.
//! The self-signature proves the config was written by the holder of the key it names; whether
//! that key is the right one is decided by the caller (the fingerprint, the local controller's key).

use super::{frame, unframe};
use crate::chunker::ChunkerParams;
use crate::error::{Error, Result};
use crate::signing::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};

/// Magic of the config object.
pub const MAGIC: &[u8; 8] = b"CAIRNCFG";
/// Version of the config layout (1: unsigned, retired).
pub const VERSION: u16 = 2;
/// The object name of the config.
pub const NAME: &str = crate::object::CONFIG_NAME;

/// Repository parameters; public (holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Random repository id.
    pub repo_id: [u8; 16],
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// Chunking parameters (dedup depends on them never changing).
    pub chunker: ChunkerParams,
    /// Target pack size in bytes.
    pub pack_target: u32,
    /// zstd level for chunk payloads.
    pub zstd_level: i32,
    /// The repository's public signing key (its fingerprint).
    pub signing_key: [u8; 32],
}

impl RepoConfig {
    /// Encode and sign with `key` (whose public half must be `signing_key`).
    pub fn encode(&self, key: &SigningKey) -> Vec<u8> {
        key.sign_object(&self.repo_id, NAME, frame(MAGIC, VERSION, self))
    }

    /// The public signing key the config names.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_bytes(&self.signing_key)
            .ok_or_else(|| Error::corrupt(NAME, "the signing key it names is not a valid key"))
    }

    /// Decode, validate, and check the self-signature by the key the config names.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        super::retired(bytes, MAGIC, 1, NAME)?;
        let (body, _) = crate::signing::split(bytes, NAME)?;
        let c: RepoConfig = unframe(body, MAGIC, VERSION, NAME)?;
        c.public_key()?.open_object(&c.repo_id, NAME, bytes)?;
        if !c.chunker.valid()
            || !(1 << 16..=1 << 30).contains(&c.pack_target)
            || !(-7..=22).contains(&c.zstd_level)
        {
            return Err(Error::corrupt(NAME, "parameters out of range"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let k = SigningKey::generate();
        let c = RepoConfig {
            repo_id: [3; 16],
            created_ms: 5,
            chunker: ChunkerParams::default(),
            pack_target: 16 << 20,
            zstd_level: 3,
            signing_key: k.public().to_bytes(),
        };
        let b = c.encode(&k);
        assert_eq!(RepoConfig::decode(&b).unwrap(), c);
        assert!(RepoConfig::decode(&b[..b.len() - 1]).is_err());
        for i in 0..b.len() {
            let mut f = b.clone();
            f[i] ^= 0x04;
            assert!(RepoConfig::decode(&f).is_err(), "flip at {i} not caught");
        }
        let mut v = b.clone();
        v[8] = 9;
        assert!(RepoConfig::decode(&v)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        let mut v1 = b.clone();
        v1[8] = 1;
        let e = RepoConfig::decode(&v1).unwrap_err().to_string();
        assert!(e.contains("version 1") && e.contains("unsigned"), "{e}");
        // signed by another key than the one it names
        let other = SigningKey::generate();
        let e = RepoConfig::decode(&c.encode(&other))
            .unwrap_err()
            .to_string();
        assert!(e.contains("signature"), "{e}");
        let bad = RepoConfig {
            pack_target: 5,
            ..c
        };
        assert!(RepoConfig::decode(&bad.encode(&k)).is_err());
    }
}
