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

/// One service definition as sealed in a backup. Every field is always encoded (postcard is not
/// self-describing, so optional fields cannot be skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionRecord {
    /// Name.
    pub name: String,
    /// Directory, for a path service.
    pub path: Option<String>,
    /// Command, for a command service.
    pub command: Option<String>,
    /// Restore command, for a command service.
    pub restore_command: Option<String>,
}

/// Service definitions sealed inside a backup (for `recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definitions {
    /// The services as configured when the backup ran.
    pub services: Vec<DefinitionRecord>,
}

impl Definitions {
    /// From the configured services.
    pub fn of(services: &[crate::service::ServiceDef]) -> Self {
        Definitions {
            services: services
                .iter()
                .map(|s| DefinitionRecord {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    command: s.command.clone(),
                    restore_command: s.restore_command.clone(),
                })
                .collect(),
        }
    }

    /// Back to service definitions.
    pub fn to_services(&self) -> Vec<crate::service::ServiceDef> {
        self.services
            .iter()
            .map(|d| crate::service::ServiceDef {
                name: d.name.clone(),
                path: d.path.clone(),
                command: d.command.clone(),
                restore_command: d.restore_command.clone(),
            })
            .collect()
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

    #[test]
    fn definitions_round_trip_with_optional_fields() {
        let defs = vec![
            crate::service::ServiceDef {
                name: "a".into(),
                path: Some("/a".into()),
                command: None,
                restore_command: None,
            },
            crate::service::ServiceDef {
                name: "b".into(),
                path: None,
                command: Some("echo".into()),
                restore_command: Some("cat".into()),
            },
        ];
        let d = Definitions::of(&defs);
        assert_eq!(
            Definitions::decode(&d.encode()).unwrap().to_services(),
            defs
        );
    }
}
