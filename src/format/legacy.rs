//! Older layouts that are still read: manifest v2 (no phase times) and definitions v1 (no
//! hooks). Each decodes into today's structure with the new fields empty; writers only write the
//! current versions.

use super::manifest::{DefinitionRecord, Definitions, Manifest, Phases, Prev, ServiceRecord};
use crate::id::{ChunkId, KeyId};
use serde::Deserialize;

/// Manifest v2: as v3 without [`ServiceRecord::phases`].
pub const MANIFEST_V2: u16 = 2;
/// Definitions v1: as v2 without the hooks and the restore order.
pub const DEFS_V1: u16 = 1;

#[derive(Deserialize)]
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
pub(crate) struct DefinitionsV1 {
    services: Vec<DefinitionRecordV1>,
}

#[derive(Deserialize)]
struct DefinitionRecordV1 {
    name: String,
    path: Option<String>,
    command: Option<String>,
    restore_command: Option<String>,
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
