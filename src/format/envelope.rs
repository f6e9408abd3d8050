//! `keys/<id>`: key envelopes. A key wrapped (age) to the recipients, plus public metadata.
//!
//! Two kinds: an *epoch* envelope holds the id key of a key epoch and names its recipients
//! (a new epoch starts at `init` and at each `key rotate`); a *session* envelope holds the key
//! that seals the chunks of one backup and names its epoch.

use super::{frame, unframe};
use crate::error::{Error, Result};
use crate::id::KeyId;
use serde::{Deserialize, Serialize};

/// Magic of a key envelope.
pub const MAGIC: &[u8; 8] = b"CAIRNKEY";
/// Version of the envelope layout.
pub const VERSION: u16 = 1;

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
    /// Encode to bytes.
    pub fn encode(&self) -> Vec<u8> {
        frame(MAGIC, VERSION, self)
    }

    /// Decode and validate.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let e: Envelope = unframe(bytes, MAGIC, VERSION, "key envelope")?;
        if e.wrapped.len() > 64 * 1024 {
            return Err(Error::corrupt("key envelope", "wrapped key too large"));
        }
        if let EnvelopeKind::Epoch { recipients } = &e.kind {
            if recipients.is_empty()
                || recipients.len() > 1024
                || recipients.iter().any(|r| r.len() > 256)
            {
                return Err(Error::corrupt("key envelope", "bad recipient list"));
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
        let e = Envelope {
            kind: EnvelopeKind::Epoch {
                recipients: vec!["age1x".into()],
            },
            created_ms: 1,
            wrapped: vec![1, 2],
        };
        assert_eq!(Envelope::decode(&e.encode()).unwrap(), e);
        let s = Envelope {
            kind: EnvelopeKind::Session {
                epoch: KeyId([1; 32]),
            },
            created_ms: 1,
            wrapped: vec![],
        };
        assert_eq!(Envelope::decode(&s.encode()).unwrap(), s);
        assert!(Envelope::decode(b"CAIRNKEY\x01\x00\xff\xff\xff\xff\x0f").is_err());
    }
}
