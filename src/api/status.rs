//! `GET /api/v1/status`: the dashboard's figures in one document.

use super::error::ApiError;
use super::jobs::JobDoc;
use super::state::{AppState, Settings};
use crate::jobs::{Alerts, History, JobKind, JobState};
use crate::schedule::ScheduleConfig;
use crate::target::TargetConfig;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// How many jobs of the history the status looks through.
const HISTORY: usize = 500;

pub(super) async fn status(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    let doc =
        super::blocking(move || Ok(st.status_doc.get(|| document(&st).map_err(ApiError::from))))
            .await?;
    doc.map(Json)
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
