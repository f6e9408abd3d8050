//! Older layouts that are still read: manifest v2 (no phase times) and definitions v1 (no
//! hooks). Each decodes into today's structure with the new fields empty; writers only write the
//! current versions.

use super::manifest::{DefinitionRecord, Definitions, Manifest, Phases, Prev, ServiceRecord};
use crate::id::{ChunkId, KeyId};
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

/// Manifest v2: as v3 without [`ServiceRecord::phases`].
pub const MANIFEST_V2: u16 = 2;
/// Definitions v1: as v2 without the hooks and the restore order.
pub const DEFS_V1: u16 = 1;
/// Definitions v2: as v3 without the chunk size.
pub const DEFS_V2: u16 = 2;

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct ManifestV2 {
    id: String,
    repo_id: [u8; 16],
    seq: u64,
    prev: Option<Prev>,
    time_ms: i64,
    host: String,
    epoch: KeyId,
    session: KeyId,
    services: Vec<ServiceRecordV2>,
    definitions: ChunkId,
    refs: Vec<ChunkId>,
    warnings: u64,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct ServiceRecordV2 {
    name: String,
    kind: String,
    root: ChunkId,
    files: u64,
    dirs: u64,
    bytes: u64,
    bytes_new: u64,
    duration_ms: u64,
    root_mode: u32,
    root_uid: u32,
    root_gid: u32,
    root_mtime_s: i64,
}

impl From<ManifestV2> for Manifest {
    fn from(m: ManifestV2) -> Manifest {
        Manifest {
            id: m.id,
            repo_id: m.repo_id,
            seq: m.seq,
            prev: m.prev,
            time_ms: m.time_ms,
            host: m.host,
            epoch: m.epoch,
            session: m.session,
            services: m.services.into_iter().map(Into::into).collect(),
            definitions: m.definitions,
            refs: m.refs,
            warnings: m.warnings,
        }
    }
}

impl From<ServiceRecordV2> for ServiceRecord {
    fn from(s: ServiceRecordV2) -> ServiceRecord {
        ServiceRecord {
            name: s.name,
            kind: s.kind,
            root: s.root,
            files: s.files,
            dirs: s.dirs,
            bytes: s.bytes,
            bytes_new: s.bytes_new,
            duration_ms: s.duration_ms,
            root_mode: s.root_mode,
            root_uid: s.root_uid,
            root_gid: s.root_gid,
            root_mtime_s: s.root_mtime_s,
            phases: Phases::default(),
        }
    }
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DefinitionsV1 {
    services: Vec<DefinitionRecordV1>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct DefinitionRecordV1 {
    name: String,
    path: Option<String>,
    command: Option<String>,
    restore_command: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DefinitionsV2 {
    services: Vec<DefinitionRecordV2>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct DefinitionRecordV2 {
    name: String,
    path: Option<String>,
    command: Option<String>,
    restore_command: Option<String>,
    prepare: Option<String>,
    release: Option<String>,
    capture_path: Option<String>,
    hook_timeout_s: Option<u64>,
    restore_after: Vec<String>,
}

impl From<DefinitionsV2> for Definitions {
    fn from(d: DefinitionsV2) -> Definitions {
        Definitions {
            services: d
                .services
                .into_iter()
                .map(|r| DefinitionRecord {
                    name: r.name,
                    path: r.path,
                    command: r.command,
                    restore_command: r.restore_command,
                    prepare: r.prepare,
                    release: r.release,
                    capture_path: r.capture_path,
                    hook_timeout_s: r.hook_timeout_s,
                    restore_after: r.restore_after,
                    chunk_size: None,
                })
                .collect(),
        }
    }
}

impl From<DefinitionsV1> for Definitions {
    fn from(d: DefinitionsV1) -> Definitions {
        Definitions {
            services: d
                .services
                .into_iter()
                .map(|r| DefinitionRecord {
                    name: r.name,
                    path: r.path,
                    command: r.command,
                    restore_command: r.restore_command,
                    ..DefinitionRecord::default()
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::{DEFS_MAGIC, MAGIC};
    use crate::signing::SigningKey;

    /// A manifest written by the cairn before phase times (v2, signed) still decodes, with
    /// empty phases; re-encoded, it is v3.
    #[test]
    fn a_version_2_manifest_still_decodes() {
        let old = ManifestV2 {
            id: "20261122T053600.123Z".into(),
            repo_id: [9; 16],
            seq: 1,
            prev: None,
            time_ms: 7,
            host: "h".into(),
            epoch: KeyId([1; 32]),
            session: KeyId([2; 32]),
            services: vec![ServiceRecordV2 {
                name: "db".into(),
                kind: "path".into(),
                root: ChunkId([5; 32]),
                files: 3,
                dirs: 1,
                bytes: 10,
                bytes_new: 4,
                duration_ms: 2,
                root_mode: 0o755,
                root_uid: 0,
                root_gid: 0,
                root_mtime_s: 1,
            }],
            definitions: ChunkId([3; 32]),
            refs: vec![ChunkId([4; 32])],
            warnings: 0,
        };
        let k = SigningKey::generate();
        let name = "backups/20261122T053600.123Z";
        let bytes = k.sign_object(
            &[9; 16],
            name,
            crate::format::frame(MAGIC, MANIFEST_V2, &old),
        );
        let m = Manifest::decode(&bytes, name, &[9; 16], &k.public()).unwrap();
        assert_eq!(m.services[0].files, 3);
        assert_eq!(m.services[0].phases, Phases::default());
        assert_eq!(m.time_ms, 7);
        let again = m.encode(&k);
        assert_eq!(
            &again[8..10],
            &crate::format::manifest::VERSION.to_le_bytes()
        );
        assert_eq!(
            Manifest::decode(&again, name, &[9; 16], &k.public()).unwrap(),
            m
        );
        // a version from the future is refused with the version named
        let mut future = bytes.clone();
        future[8] = 9;
        let e = Manifest::decode(&future, name, &[9; 16], &k.public()).unwrap_err();
        assert!(e.to_string().contains("version 9"), "{e}");
    }

    #[test]
    fn version_1_definitions_still_decode_without_hooks() {
        let old = DefinitionsV1 {
            services: vec![DefinitionRecordV1 {
                name: "db".into(),
                path: None,
                command: Some("pg_dump".into()),
                restore_command: Some("psql".into()),
            }],
        };
        let d = Definitions::decode(&crate::format::frame(DEFS_MAGIC, DEFS_V1, &old)).unwrap();
        let s = &d.to_services()[0];
        assert_eq!(s.command.as_deref(), Some("pg_dump"));
        assert!(s.prepare.is_none() && s.restore_after.is_empty());
    }

    #[test]
    fn version_2_definitions_still_decode_without_a_chunk_size() {
        let old = DefinitionsV2 {
            services: vec![DefinitionRecordV2 {
                name: "db".into(),
                path: None,
                command: Some("pg_dump".into()),
                restore_command: None,
                prepare: Some("sync".into()),
                release: None,
                capture_path: None,
                hook_timeout_s: Some(5),
                restore_after: vec![],
            }],
        };
        let d = Definitions::decode(&crate::format::frame(DEFS_MAGIC, DEFS_V2, &old)).unwrap();
        let s = &d.to_services()[0];
        assert_eq!(s.prepare.as_deref(), Some("sync"));
        assert_eq!((s.hook_timeout_s, s.chunk_size), (Some(5), None));
        // today's writes v3 and keeps the chunk size through a round trip
        let mut now = d.clone();
        now.services[0].chunk_size = Some(8192);
        let bytes = now.encode();
        assert_eq!(&bytes[8..10], &3u16.to_le_bytes());
        assert_eq!(Definitions::decode(&bytes).unwrap(), now);
    }
}
