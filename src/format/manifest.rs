//! `backups/<id>`: a backup manifest, the record that commits a backup.
//!
//! `"CAIRNBAK" ‖ version u16 LE ‖ postcard Manifest ‖ blake3(all preceding bytes) (32)`.
//! Written last, after every pack it needs. Its plaintext says what `cairn list` shows and which
//! chunks the backup references (so that verify and prune work without the identity); file names
//! and service definitions live only in sealed blobs.

use super::check_header;
use crate::error::{Error, Result};
use crate::id::{ChunkId, KeyId};
use serde::{Deserialize, Serialize};

/// Magic of a manifest.
pub const MAGIC: &[u8; 8] = b"CAIRNBAK";
/// Manifest layout version.
pub const VERSION: u16 = 1;

/// Per-service record of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Service name.
    pub name: String,
    /// `path` or `command`.
    pub kind: String,
    /// Root tree of the service's data.
    pub root: ChunkId,
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Logical bytes (sum of file sizes).
    pub bytes: u64,
    /// New bytes stored for this service (sealed, after dedup and compression).
    pub bytes_new: u64,
    /// Time taken, milliseconds.
    pub duration_ms: u64,
    /// The service root directory's permission bits.
    pub root_mode: u32,
    /// The root directory's owner.
    pub root_uid: u32,
    /// The root directory's group.
    pub root_gid: u32,
    /// The root directory's mtime, seconds.
    pub root_mtime_s: i64,
}

/// A backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup id (also the object name).
    pub id: String,
    /// Time of the backup, unix milliseconds.
    pub time_ms: i64,
    /// Controller host name.
    pub host: String,
    /// Key epoch envelope (names the recipients).
    pub epoch: KeyId,
    /// Session key envelope of this backup.
    pub session: KeyId,
    /// Services in the backup.
    pub services: Vec<ServiceRecord>,
    /// Sealed blob (kind Meta) holding the service definitions, for recovery.
    pub definitions: ChunkId,
    /// Every chunk the backup needs (data, trees, meta), each once.
    pub refs: Vec<ChunkId>,
    /// Warnings recorded during the backup (files that vanished, ...).
    pub warnings: Vec<String>,
}

impl Manifest {
    /// Encode to bytes (with the trailing checksum).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = super::frame(MAGIC, VERSION, self);
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    /// Decode, checking the checksum.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        check_header(bytes, MAGIC, VERSION, what)?;
        if bytes.len() < 42 {
            return Err(Error::corrupt(what, "manifest too short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(Error::corrupt(
                what,
                "checksum mismatch (the manifest was altered or truncated)",
            ));
        }
        super::unframe(body, MAGIC, VERSION, what)
    }

    /// Logical bytes over all services.
    pub fn bytes(&self) -> u64 {
        self.services.iter().map(|s| s.bytes).sum()
    }

    /// New bytes over all services.
    pub fn bytes_new(&self) -> u64 {
        self.services.iter().map(|s| s.bytes_new).sum()
    }
}

/// Service definitions sealed inside a backup (for `recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DefinitionsWire", into = "DefinitionsWire")]
pub struct Definitions {
    /// The services as configured when the backup ran.
    pub services: Vec<crate::service::ServiceDef>,
}

/// The stored form of [`Definitions`]: every field of every service is written. `ServiceDef`
/// skips its `None` fields when serialized (right for TOML and JSON), which postcard cannot
/// represent: it has no field names, so a skipped field shifts the ones after it and the blob no
/// longer decodes.
#[derive(Serialize, Deserialize)]
struct DefinitionsWire {
    services: Vec<ServiceDefWire>,
}

#[derive(Serialize, Deserialize)]
struct ServiceDefWire {
    name: String,
    path: Option<String>,
    command: Option<String>,
    restore_command: Option<String>,
}

impl From<DefinitionsWire> for Definitions {
    fn from(w: DefinitionsWire) -> Self {
        Definitions {
            services: w
                .services
                .into_iter()
                .map(|s| crate::service::ServiceDef {
                    name: s.name,
                    path: s.path,
                    command: s.command,
                    restore_command: s.restore_command,
                })
                .collect(),
        }
    }
}

impl From<Definitions> for DefinitionsWire {
    fn from(d: Definitions) -> Self {
        DefinitionsWire {
            services: d
                .services
                .into_iter()
                .map(|s| ServiceDefWire {
                    name: s.name,
                    path: s.path,
                    command: s.command,
                    restore_command: s.restore_command,
                })
                .collect(),
        }
    }
}

/// Magic of the definitions blob.
pub const DEFS_MAGIC: &[u8; 8] = b"CAIRNDEF";

impl Definitions {
    /// Encode (the plaintext of the Meta blob).
    pub fn encode(&self) -> Vec<u8> {
        super::frame(DEFS_MAGIC, VERSION, self)
    }

    /// Decode.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        super::unframe(bytes, DEFS_MAGIC, VERSION, "service definitions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_catches_flips() {
        let m = Manifest {
            id: "20261122T053600.123Z".into(),
            time_ms: 1,
            host: "h".into(),
            epoch: KeyId([1; 32]),
            session: KeyId([2; 32]),
            services: vec![],
            definitions: ChunkId([3; 32]),
            refs: vec![ChunkId([4; 32])],
            warnings: vec![],
        };
        let b = m.encode();
        assert_eq!(Manifest::decode(&b, "m").unwrap(), m);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(Manifest::decode(&c, "m").is_err(), "flip at {i} not caught");
        }
    }

    /// Regression: `ServiceDef` skips `None` fields when serialized, so a path service (no
    /// command) was written without its `command` and `restore_command` fields and the
    /// definitions blob of every backup with a path service failed to decode (`recover` could
    /// not read back the services).
    #[test]
    fn definitions_with_absent_options_round_trip() {
        use crate::service::ServiceDef;
        let d = Definitions {
            services: vec![
                ServiceDef {
                    name: "a".into(),
                    path: Some("/p".into()),
                    command: None,
                    restore_command: None,
                },
                ServiceDef {
                    name: "db".into(),
                    path: None,
                    command: Some("pg_dump".into()),
                    restore_command: None,
                },
                ServiceDef {
                    name: "kv".into(),
                    path: None,
                    command: Some("dump".into()),
                    restore_command: Some("load".into()),
                },
            ],
        };
        assert_eq!(Definitions::decode(&d.encode()).unwrap(), d);
        // the layout docs/FORMAT.md gives: every Option written, 0x00 for none
        let one = Definitions {
            services: d.services[..1].to_vec(),
        };
        assert_eq!(
            one.encode(),
            b"CAIRNDEF\x01\x00\x01\x01a\x01\x02/p\x00\x00".to_vec()
        );
    }
}
