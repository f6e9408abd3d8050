//! The backup documents of `cairn list --json` / `cairn show --json`, which the management API
//! serves as they are (`GET /api/v1/backups[/{id}]`): one type, so the two cannot drift.

use crate::controller::Controller;
use crate::format::manifest::Manifest;
use crate::Result;
use serde::Serialize;

/// One backup as `list --json` prints it (and `show --json`, with its recipients).
#[derive(Debug, Clone, Serialize)]
pub struct BackupDoc {
    /// The backup's id.
    pub id: String,
    /// When it was taken (RFC 3339, milliseconds, UTC).
    pub time: String,
    /// The controller that took it.
    pub host: String,
    /// Per service: what it held.
    pub services: Vec<ServiceDoc>,
    /// Logical bytes of all services.
    pub bytes: u64,
    /// Bytes newly stored by this backup.
    pub bytes_new: u64,
    /// Chunks it references.
    pub chunks: usize,
    /// How many warnings it had (their texts are in its job record).
    pub warnings: u64,
    /// Held by the internal repository (always, for a listed backup).
    pub internal: bool,
    /// Whether the target held it at the last export; `null` when no target is set.
    pub target: Option<bool>,
    /// The recipients it was encrypted to (`show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
}

/// One service of a backup.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDoc {
    /// The service's name.
    pub name: String,
    /// `path` or `command`.
    pub kind: String,
    /// Files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Logical bytes.
    pub bytes: u64,
    /// Bytes newly stored.
    pub bytes_new: u64,
    /// Time spent on it, in milliseconds.
    pub duration_ms: u64,
}

impl BackupDoc {
    /// The document of `m` (`target`: whether the target holds it; `None` without a target).
    pub fn new(m: &Manifest, target: Option<bool>) -> Self {
        BackupDoc {
            id: m.id.clone(),
            time: rfc3339_ms(m.time_ms),
            host: m.host.clone(),
            services: m
                .services
                .iter()
                .map(|s| ServiceDoc {
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                    files: s.files,
                    dirs: s.dirs,
                    bytes: s.bytes,
                    bytes_new: s.bytes_new,
                    duration_ms: s.duration_ms,
                })
                .collect(),
            bytes: m.bytes(),
            bytes_new: m.bytes_new(),
            chunks: m.refs.len(),
            warnings: m.warnings,
            internal: true,
            target,
            recipients: None,
        }
    }
}

/// Every readable backup, oldest first, and the names of the damaged manifests left out (with
/// why).
pub fn list(ctl: &Controller) -> Result<(Vec<BackupDoc>, Vec<crate::repository::Damaged>)> {
    let (manifests, bad) = ctl.repo.manifests()?;
    let on_target = crate::ops::on_target(ctl);
    let docs = manifests
        .iter()
        .map(|m| BackupDoc::new(m, on_target(&m.id)))
        .collect();
    Ok((docs, bad))
}

/// One backup (`id` or `latest`) with its recipients, as `show --json` prints it.
pub fn show(ctl: &Controller, id: &str) -> Result<BackupDoc> {
    let m = ctl.repo.resolve(id)?;
    let mut d = BackupDoc::new(&m, crate::ops::on_target(ctl)(&m.id));
    d.recipients = Some(ctl.repo.epoch_recipients(&m.epoch)?);
    Ok(d)
}

/// A time in milliseconds since the epoch as RFC 3339 (milliseconds, `Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| crate::jobs::time::rfc3339(&t))
        .unwrap_or_default()
}
