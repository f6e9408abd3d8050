//! The backups as an operator lists them (`cairn list`, `cairn show`, the API later): each with
//! whether the target holds it, and its JSON form.

use super::{on_target, Context};
use crate::format::manifest::Manifest;
use crate::Result;
use serde_json::{json, Value};

/// A backup and whether the target holds it (`None` when no target is set).
#[derive(Debug)]
pub struct BackupEntry {
    /// Its manifest (without its references when listed: [`list_backups`]).
    pub manifest: Manifest,
    /// How many chunks it references.
    pub chunks: u64,
    /// On the target at the last export; `None` without a target.
    pub on_target: Option<bool>,
}

/// The backups, oldest first, and the manifests that could not be read.
#[derive(Debug)]
pub struct BackupList {
    /// The readable backups.
    pub backups: Vec<BackupEntry>,
    /// Damaged manifests: object name and what is wrong.
    pub damaged: Vec<(String, String)>,
}

/// One backup in detail.
#[derive(Debug)]
pub struct BackupDetail {
    /// The backup.
    pub entry: BackupEntry,
    /// The recipients its key epoch encrypts to.
    pub recipients: Vec<String>,
}

/// Every backup of the internal repository.
pub fn list_backups(cx: &Context) -> Result<BackupList> {
    let ctl = cx.controller()?;
    let (manifests, bad) = ctl.repo.manifest_heads()?;
    let on_target = on_target(ctl);
    Ok(BackupList {
        backups: manifests
            .into_iter()
            .map(|h| BackupEntry {
                on_target: on_target(&h.id),
                chunks: h.refs,
                manifest: h.manifest,
            })
            .collect(),
        damaged: bad.into_iter().map(|(n, e)| (n, e.to_string())).collect(),
    })
}

/// The backup `id` (or `latest`).
pub fn show_backup(cx: &Context, id: &str) -> Result<BackupDetail> {
    let ctl = cx.controller()?;
    let m = ctl.repo.resolve(id)?;
    let recipients = ctl.repo.epoch_recipients(&m.epoch)?;
    Ok(BackupDetail {
        entry: BackupEntry {
            on_target: on_target(ctl)(&m.id),
            chunks: m.refs.len() as u64,
            manifest: m,
        },
        recipients,
    })
}

/// A backup as JSON (`target`: whether the target holds it; null when no target is set).
pub fn backup_json(m: &Manifest, chunks: u64, target: Option<bool>) -> Value {
    json!({
        "id": m.id,
        "time": crate::text::rfc3339_ms(m.time_ms),
        "host": m.host,
        "services": m.services.iter().map(|s| json!({
            "name": s.name, "kind": s.kind, "files": s.files, "dirs": s.dirs,
            "bytes": s.bytes, "bytes_new": s.bytes_new, "duration_ms": s.duration_ms,
            "phases": phases_json(&s.phases),
        })).collect::<Vec<_>>(),
        "bytes": m.bytes(),
        "bytes_new": m.bytes_new(),
        "chunks": chunks,
        "warnings": m.warnings,
        "internal": true,
        "target": target,
    })
}

/// A service's phase times as JSON: `{"prepare": {"start": RFC 3339, "end": …} | null,
/// "capture": …, "release": …}` (all null for a backup written before manifest v3).
pub fn phases_json(p: &crate::format::manifest::Phases) -> Value {
    let span = |s: &Option<crate::format::manifest::Span>| match s {
        Some(s) => json!({
            "start": crate::text::rfc3339_ms(s.start_ms),
            "end": crate::text::rfc3339_ms(s.end_ms),
        }),
        None => Value::Null,
    };
    json!({ "prepare": span(&p.prepare), "capture": span(&p.capture), "release": span(&p.release) })
}
