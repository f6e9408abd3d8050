//! `GET /api/v1/status`: the dashboard's figures in one document.

use super::coalesce::Coalesce;
use super::error::ApiError;
use super::jobs::JobDoc;
use super::stamp::Stamp;
use super::state::{AppState, Settings};
use crate::jobs::{Alerts, History, JobKind, JobState};
use crate::schedule::ScheduleConfig;
use crate::target::TargetConfig;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How many jobs of the history the status looks through.
const HISTORY: usize = 500;

pub(super) async fn status(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let st = state.clone();
    let body = super::blocking(move || Ok(st.status_doc.get(&st))).await??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// What the status document was made from: the manifests' generation, the stamps of the
/// settings files, and the state database's key ([`sled_key`]).
type Key = (u64, Vec<Stamp>, (Stamp, Vec<String>));

/// A kept status document: its key, its text, and when it expires (a backup falls due).
type Kept = (Key, Bytes, Option<chrono::DateTime<chrono::Utc>>);

/// The last status document as JSON text, reused while nothing it was made from changed and
/// nothing in it moves by itself (a running job's progress, a backup that is due now); when it
/// cannot be, concurrent requests share one reading ([`Coalesce`]).
#[derive(Default)]
pub struct StatusCache {
    last: Mutex<Option<Kept>>,
    reading: Coalesce<Result<Bytes, ApiError>>,
}

/// The state database (sled) rewrites its log file and writes a new snapshot, named by its log
/// position, each time a process opens it, even only to read: the log's stamp and the snapshots'
/// names change with every opening, the server's own included, so they are taken after the
/// server's reading and stay equal only while no other process opened the database since.
fn sled_key(local: &Path) -> (Stamp, Vec<String>) {
    let dir = local.join(crate::jobs::state::STATE_DB);
    let mut snaps: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("snap."))
                .collect()
        })
        .unwrap_or_default();
    snaps.sort();
    (Stamp::of(&dir.join("db")), snaps)
}

impl StatusCache {
    fn settings(st: &AppState) -> Vec<Stamp> {
        let local = st.local();
        let files = [
            local.join(crate::target::TARGET_FILE),
            local.join(crate::schedule::SCHEDULE_FILE),
            local.join(super::state::SETTINGS_FILE),
            local.join(crate::remote::EXPORTED_FILE),
        ];
        files.iter().map(|f| Stamp::of(f)).collect()
    }

    /// The status document of `st` as it is now.
    fn get(&self, st: &AppState) -> Result<Bytes, ApiError> {
        if !st.has_live() {
            let settings = Self::settings(st);
            let (listing, damaged) = st
                .manifests
                .listing_at(&st.repo, || crate::controller::Controller::open(&st.repo))?;
            let key = (listing.generation, settings, sled_key(&st.local()));
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((k, body, until)) = last.as_ref() {
                let fresh = until.is_none_or(|t| chrono::Utc::now() < t);
                if *k == key && damaged.is_empty() && fresh {
                    return Ok(body.clone());
                }
            }
        }
        self.reading.get(|| self.read(st))
    }

    /// Read the document now, and keep it when it may be reused.
    fn read(&self, st: &AppState) -> Result<Bytes, ApiError> {
        let settings = Self::settings(st);
        let settled = settings.iter().all(Stamp::settled);
        let (listing, damaged) = st
            .manifests
            .listing_at(&st.repo, || crate::controller::Controller::open(&st.repo))?;
        let doc = document(st)?;
        let body = Bytes::from(serde_json::to_vec(&doc).map_err(|e| {
            crate::Error::failed(
                format!("cannot encode the status: {e}"),
                "report this as a bug",
            )
        })?);
        let next = doc["next_backup"].as_str().map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok()
        });
        let until = match next {
            None => Some(None),
            Some(Some(t)) if t > chrono::Utc::now() => Some(Some(t)),
            Some(_) => None, // due now: "now" moves
        };
        let still = doc["running_job"].is_null() && !st.has_live() && damaged.is_empty();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        *last = match until {
            Some(until) if settled && still => Some((
                (listing.generation, settings, sled_key(&st.local())),
                body.clone(),
                until,
            )),
            _ => None,
        };
        Ok(body)
    }
}

/// The status document, read now (concurrent requests share one reading: [`AppState`]).
fn document(st: &AppState) -> crate::Result<Value> {
    {
        let ctl = crate::controller::Controller::open(&st.repo)?;
        let local = st.local();
        let (manifests, _) = st.manifests.manifests(&ctl)?;
        let on_target = crate::ops::on_target(&ctl);
        let jobs = History::new(&local).list(HISTORY)?;
        let last_of = |kind: JobKind| jobs.iter().find(|j| j.kind == kind);
        let last = manifests.last().map(|m| {
            let job = jobs
                .iter()
                .find(|j| j.backup.as_deref() == Some(m.id.as_str()));
            json!({
                "id": m.id,
                "time": crate::text::rfc3339_ms(m.time_ms),
                "state": match on_target(&m.id) {
                    Some(true) => "exported",
                    Some(false) => "internal_only",
                    None => "complete",
                },
                "on_target": on_target(&m.id),
                "job": job.map(|j| j.id.as_str()),
            })
        });
        let target = TargetConfig::load(&ctl.root)?;
        let settings = Settings::load(&local);
        let cfg = ScheduleConfig::load(&local)?;
        let enabled = target.is_some() && settings.scheduler_enabled;
        let next = settings.scheduler_enabled.then(|| {
            let last_ok = jobs
                .iter()
                .find(|j| j.kind == JobKind::Backup && j.state == JobState::Succeeded)
                .map(|j| j.started);
            let at = match last_ok {
                Some(t) => t + chrono::Duration::from_std(cfg.backup_every).unwrap_or_default(),
                None => chrono::Utc::now(),
            };
            crate::jobs::time::rfc3339(&at.max(chrono::Utc::now()))
        });
        let last_export = last_of(JobKind::Export).map(|j| {
            json!({"job": j.id.as_str(), "state": j.state, "ended": j.ended.map(|t| crate::jobs::time::rfc3339(&t))})
        });
        let running = jobs
            .iter()
            .find(|j| j.state == JobState::Running && !j.is_orphaned())
            .map(|j| JobDoc::new(j.clone(), st));
        let active = Alerts::new(&local).active()?;
        Ok(json!({
            "enabled": enabled,
            "scheduler_enabled": settings.scheduler_enabled,
            "last_backup": last,
            "next_backup": next,
            "target": target.as_ref().map(|t| json!({
                "url": t.url.as_string(),
                "last_export": last_export,
                "reached": last_export.as_ref().map(|e| e["state"] == json!("succeeded")),
            })),
            "running_job": running,
            "active_alerts": active.len(),
            "backups": manifests.len(),
            "fingerprint": ctl.repo.fingerprint(),
        }))
    }
}
