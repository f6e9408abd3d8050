//! `GET /api/v1/jobs[/{id}]` (as `cairn jobs --json`, plus live progress) and
//! `GET /api/v1/alerts[?all=true]` (as `cairn alerts --json`).

use super::error::ApiError;
use super::state::{AppState, ProgressDoc};
use crate::jobs::{Alerts, History, JobId, JobRecord, JobState};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A job as `cairn jobs --json` shows it, with the live progress of a running job of this
/// process.
#[derive(Debug, Clone, Serialize)]
pub struct JobDoc {
    /// The record.
    #[serde(flatten)]
    pub record: JobRecord,
    /// The current phase and its counters (running jobs of this server only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressDoc>,
}

impl JobDoc {
    /// `record` with its live progress, if it runs here.
    pub fn new(record: JobRecord, state: &AppState) -> Self {
        let progress = (record.state == JobState::Running)
            .then(|| state.progress(record.id.as_str()))
            .flatten();
        JobDoc { record, progress }
    }
}

#[derive(Deserialize)]
pub(super) struct JobsQuery {
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Vec<JobDoc>>, ApiError> {
    let limit = q.limit.unwrap_or(50).min(10_000);
    let st = state.clone();
    super::blocking(move || {
        let list = History::new(&st.local()).list(limit)?;
        Ok(Json(
            list.into_iter().map(|r| JobDoc::new(r, &st)).collect(),
        ))
    })
    .await
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<JobDoc>, ApiError> {
    let missing = || {
        ApiError::not_found(
            format!("no job {}", crate::text::escape(&id)),
            "GET /api/v1/jobs lists the jobs and their ids",
        )
    };
    let Some(jid) = JobId::parse(&id) else {
        return Err(missing());
    };
    if let Some(r) = state.running_record(jid.as_str()) {
        return Ok(Json(JobDoc::new(r, &state)));
    }
    let st = state.clone();
    let rec = super::blocking(move || History::new(&st.local()).get(&jid)).await?;
    match rec {
        Some(r) => Ok(Json(JobDoc::new(r, &state))),
        None => Err(missing()),
    }
}

#[derive(Deserialize)]
pub(super) struct AlertsQuery {
    #[serde(default)]
    all: bool,
}

pub(super) async fn alerts(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AlertsQuery>,
) -> Result<Json<Vec<crate::jobs::Alert>>, ApiError> {
    let local = state.local();
    super::blocking(move || {
        let a = Alerts::new(&local);
        Ok(Json(if q.all { a.all()? } else { a.active()? }))
    })
    .await
}
