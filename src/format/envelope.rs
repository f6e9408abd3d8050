//! `keys/<id>`: key envelopes. A key wrapped (age) to the recipients, plus public metadata.
//!
//! Two kinds: an *epoch* envelope holds the id key of a key epoch and names its recipients
//! (a new epoch starts at `init` and at each `key rotate`); a *session* envelope holds the key
//! that seals the chunks of one backup and names its epoch.
//!
//! `"CAIRNKEY" ‖ version u16 LE ‖ postcard Envelope ‖ Ed25519 signature (64)`, signed by the
//! repository key. An envelope is named by the blake3 of all its bytes (signature included), so
//! the signed message cannot hold its own name: it binds the object class [`SIGNED_NAME`]
//! instead, and the reader checks the hash-name separately ([`Envelope::id_of`]).

use super::{frame, unframe};
use crate::error::{Error, Result};
use crate::id::KeyId;
use crate::signing::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};

/// Magic of a key envelope.
pub const MAGIC: &[u8; 8] = b"CAIRNKEY";
/// Version of the envelope layout (1: unsigned, retired).
pub const VERSION: u16 = 2;
/// The name bound by an envelope's signature (its real name is the hash of its bytes).
pub const SIGNED_NAME: &str = "keys/<blake3 of the envelope>";

/// What an envelope holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvelopeKind {
    /// The id key of a key epoch, for these recipients (`age1…`).
    Epoch {
        /// The recipients the epoch's keys are wrapped to.
        recipients: Vec<String>,
    },
    /// A backup's session key, of this epoch.
    Session {
        /// The epoch envelope's id.
        epoch: KeyId,
    },
}

/// A wrapped key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// What it holds.
    pub kind: EnvelopeKind,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// The age ciphertext (binary format) of the 32-byte key.
    pub wrapped: Vec<u8>,
}

impl Envelope {
    /// Encode and sign for repository `repo_id`.
    pub fn encode(&self, repo_id: &[u8; 16], key: &SigningKey) -> Vec<u8> {
        key.sign_object(repo_id, SIGNED_NAME, frame(MAGIC, VERSION, self))
    }

    /// Decode, check the signature by `key` for repository `repo_id`, and validate. `what` names
    /// the object in errors.
    pub fn decode(bytes: &[u8], repo_id: &[u8; 16], key: &PublicKey, what: &str) -> Result<Self> {
        super::retired(bytes, MAGIC, 1, what)?;
        super::check_header(bytes, MAGIC, VERSION, what)?;
        let body = key
            .open_object(repo_id, SIGNED_NAME, bytes)
            .map_err(|_| crate::signing::bad_signature(what))?;
        let e: Envelope = unframe(body, MAGIC, VERSION, what)?;
        if e.wrapped.len() > 64 * 1024 {
            return Err(Error::corrupt(what, "wrapped key too large"));
        }
        if let EnvelopeKind::Epoch { recipients } = &e.kind {
            if recipients.is_empty()
                || recipients.len() > 1024
                || recipients.iter().any(|r| r.len() > 256)
            {
                return Err(Error::corrupt(what, "bad recipient list"));
            }
        }
        Ok(e)
    }

    /// The envelope's id (and name) for its encoded bytes.
    pub fn id_of(bytes: &[u8]) -> KeyId {
        KeyId(*blake3::hash(bytes).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = SigningKey::generate();
        let p = k.public();
        let e = Envelope {
            kind: EnvelopeKind::Epoch {
                recipients: vec!["age1x".into()],
            },
            created_ms: 1,
            wrapped: vec![1, 2],
        };
        let b = e.encode(&[7; 16], &k);
        assert_eq!(Envelope::decode(&b, &[7; 16], &p, "e").unwrap(), e);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x20;
            assert!(Envelope::decode(&c, &[7; 16], &p, "e").is_err(), "{i}");
        }
        let err = Envelope::decode(&b, &[8; 16], &p, "keys/ab").unwrap_err();
        assert!(err.to_string().contains("signature") && err.to_string().contains("keys/ab"));
        let other = SigningKey::generate();
        assert!(Envelope::decode(&e.encode(&[7; 16], &other), &[7; 16], &p, "e").is_err());
        let s = Envelope {
            kind: EnvelopeKind::Session {
                epoch: KeyId([1; 32]),
            },
            created_ms: 1,
            wrapped: vec![],
        };
        assert_eq!(
            Envelope::decode(&s.encode(&[7; 16], &k), &[7; 16], &p, "e").unwrap(),
            s
        );
        let junk = k.sign_object(
            &[7; 16],
            SIGNED_NAME,
            b"CAIRNKEY\x02\x00\xff\xff\xff\xff\x0f".to_vec(),
        );
        assert!(Envelope::decode(&junk, &[7; 16], &p, "e").is_err());
        let v1 = b"CAIRNKEY\x01\x00\x00".to_vec();
        assert!(Envelope::decode(&v1, &[7; 16], &p, "e")
            .unwrap_err()
            .to_string()
            .contains("retired"));
    }
}
