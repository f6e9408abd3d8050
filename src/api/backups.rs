//! Backups (`GET /api/v1/backups[/{id}]`, the documents of `list --json`/`show --json`), starting
//! a backup or a restore (`POST`, 202 with the job), and key rotation.

use super::error::ApiError;
use super::state::{ApiSink, AppState};
use super::JsonBody;
use crate::keyring::KeyRing;
use crate::ops::Context;
use crate::restore::RestoreOptions;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<super::pages::PageQuery>,
) -> Result<Response, ApiError> {
    let (limit, before) = q.parse()?;
    let st = state.clone();
    let entries = super::blocking(move || st.backups_doc.get(&st)).await?;
    Ok(super::pages::page(&entries, limit, before.as_deref()))
}

/// 404 unless `id` names a listed backup (or is `latest` and there is one); from the server's
/// manifest cache.
fn exists(st: &AppState, ctl: &crate::controller::Controller, id: &str) -> Result<(), ApiError> {
    let (manifests, _) = st.manifests.manifests(ctl)?;
    let found = if id == "latest" {
        !manifests.is_empty()
    } else {
        manifests.iter().any(|m| m.id == id)
    };
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(
            format!("no backup {}", crate::text::escape(id)),
            "GET /api/v1/backups lists the backups and their ids",
        ))
    }
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    let out = tokio::task::spawn_blocking(move || {
        let repo = &st.repo;
        let ctl = crate::controller::Controller::open(repo)?;
        exists(&st, &ctl, &id)?;
        let d = crate::ops::show_backup(&Context::new(repo), &id)?;
        let mut v = crate::ops::backup_json(&d.entry.manifest, d.entry.chunks, d.entry.on_target);
        v["recipients"] = serde_json::json!(d.recipients);
        Ok::<_, ApiError>(Json(v))
    })
    .await;
    out.unwrap_or_else(|e| {
        Err(crate::Error::failed(format!("the request's work stopped: {e}"), "retry").into())
    })
}

/// `{}`: nothing to say for a backup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackupBody {}

pub(super) async fn start_backup(
    State(state): State<Arc<AppState>>,
    JsonBody(_): JsonBody<BackupBody>,
) -> Result<Response, ApiError> {
    super::start_job(&state, |cx| crate::ops::backup(cx).map(|_| ())).await
}

/// What a restore takes: the identity is held in memory for this job only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RestoreBody {
    target: PathBuf,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    overwrite: bool,
    identity: String,
}

pub(super) async fn restore(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(mut body): JsonBody<RestoreBody>,
) -> Result<Response, ApiError> {
    use zeroize::Zeroize;
    let parsed = crate::crypto::Identity::parse(&body.identity, "the request's identity");
    body.identity.zeroize();
    let keys = KeyRing::new(parsed?);
    if !body.target.is_absolute() {
        return Err(ApiError::bad_request(
            format!("the restore target {} is not an absolute path", body.target.display()),
            "give the target as an absolute directory on the controller, for example \"/srv/restore\"",
        ));
    }
    let st = state.clone();
    let check = id.clone();
    super::blocking(move || {
        let ctl = crate::controller::Controller::open(&st.repo)?;
        Ok(exists(&st, &ctl, &check))
    })
    .await??;
    let opts = RestoreOptions {
        target: body.target,
        service: body.service,
        path: body.path,
        overwrite: body.overwrite,
    };
    super::start_job(&state, move |cx| {
        crate::ops::restore(cx, &keys, &id, &opts).map(|_| ())
    })
    .await
}

/// `{"recipients": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateBody {
    recipients: Vec<String>,
}

/// Parse recipients, refusing an empty list.
pub(super) fn parse_recipients(list: &[String]) -> Result<Vec<crate::crypto::Recipient>, ApiError> {
    if list.iter().all(|r| r.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "no recipients given",
            "give at least one age recipient (age1…), for example {\"recipients\": [\"age1…\"]}",
        ));
    }
    Ok(list
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| crate::crypto::parse_recipient(r))
        .collect::<crate::Result<_>>()?)
}

/// Rotate on a blocking thread; the report and the job's id.
pub(super) async fn rotate(
    state: &Arc<AppState>,
    recipients: Vec<crate::crypto::Recipient>,
) -> Result<serde_json::Value, ApiError> {
    let st = state.clone();
    super::blocking(move || {
        let sink = ApiSink::new(st.clone(), None);
        let cx = Context::new(&st.repo).with_sink(&sink);
        let r = crate::ops::rotate_keys(&cx, &recipients)?;
        let job = sink.first_job();
        Ok(serde_json::json!({
            "epoch": r.epoch,
            "recipients": r.recipients,
            "fingerprint": r.fingerprint,
            "job_id": job,
            "url": job.map(|j| format!("/api/v1/jobs/{j}")),
        }))
    })
    .await
}

pub(super) async fn rotate_keys(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<RotateBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let recipients = parse_recipients(&body.recipients)?;
    Ok(Json(rotate(&state, recipients).await?))
}
