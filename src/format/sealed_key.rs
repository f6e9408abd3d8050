//! `signing/<epoch id>`: the repository signing key, sealed (age) to the recipients of one key
//! epoch, so that a controller recovered from the share with an identity goes on signing.
//!
//! `"CAIRNSGK" ‖ version u16 LE ‖ postcard SealedKey ‖ Ed25519 signature (64)`, signed by the
//! sealed key itself over the object name `signing/<epoch hex>`. Anyone can seal a key of their
//! own to the public recipients, so the self-signature proves nothing about *whose* key it is:
//! `recover` adopts a sealed key only if its public half is the fingerprint the operator gave, and
//! only if the unwrapped secret derives that same public half.

use super::{frame, unframe};
use crate::error::{Error, Result};
use crate::id::KeyId;
use crate::signing::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};

/// Magic of a sealed signing key.
pub const MAGIC: &[u8; 8] = b"CAIRNSGK";
/// Layout version.
pub const VERSION: u16 = 1;
/// Object name prefix.
pub const PREFIX: &str = crate::object::ObjectKind::SealedKey.prefix();

/// The signing key, wrapped to an epoch's recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// The public half (the fingerprint).
    pub public: [u8; 32],
    /// The key epoch whose recipients it is wrapped to.
    pub epoch: KeyId,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// The age ciphertext of the 32-byte secret seed.
    pub wrapped: Vec<u8>,
}

impl SealedKey {
    /// The object name for an epoch.
    pub fn name(epoch: &KeyId) -> String {
        crate::object::ObjectName::SealedKey(*epoch).to_string()
    }

    /// Encode and sign with the key it holds (`key.public()` must be `public`).
    pub fn encode(&self, repo_id: &[u8; 16], key: &SigningKey) -> Vec<u8> {
        key.sign_object(
            repo_id,
            &Self::name(&self.epoch),
            frame(MAGIC, VERSION, self),
        )
    }

    /// Decode the object `name` of repository `repo_id` and check its self-signature.
    pub fn decode(bytes: &[u8], repo_id: &[u8; 16], name: &str) -> Result<Self> {
        let (body, _) = crate::signing::split(bytes, name)?;
        let s: SealedKey = unframe(body, MAGIC, VERSION, name)?;
        if Self::name(&s.epoch) != name {
            return Err(Error::corrupt(name, "its epoch does not match its name"));
        }
        if s.wrapped.len() > 64 * 1024 {
            return Err(Error::corrupt(name, "wrapped key too large"));
        }
        s.public_key(name)?.open_object(repo_id, name, bytes)?;
        Ok(s)
    }

    /// The public half.
    pub fn public_key(&self, name: &str) -> Result<PublicKey> {
        PublicKey::from_bytes(&self.public)
            .ok_or_else(|| Error::corrupt(name, "not a valid public key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flip_rejected() {
        let k = SigningKey::generate();
        let s = SealedKey {
            public: k.public().to_bytes(),
            epoch: KeyId([5; 32]),
            created_ms: 9,
            wrapped: vec![1, 2, 3],
        };
        let name = SealedKey::name(&s.epoch);
        let b = s.encode(&[1; 16], &k);
        assert_eq!(SealedKey::decode(&b, &[1; 16], &name).unwrap(), s);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x80;
            assert!(SealedKey::decode(&c, &[1; 16], &name).is_err(), "{i}");
        }
        assert!(SealedKey::decode(&b, &[2; 16], &name).is_err());
        assert!(SealedKey::decode(&b, &[1; 16], "signing/00").is_err());
        // a key that claims another public half than the one that signed
        let other = SigningKey::generate();
        let e = SealedKey::decode(&s.encode(&[1; 16], &other), &[1; 16], &name)
            .unwrap_err()
            .to_string();
        assert!(e.contains("signature"), "{e}");
    }
}
