//! `GET /metrics`: Prometheus text format (version 0.0.4).

use super::error::ApiError;
use super::state::AppState;
use crate::jobs::{Alerts, History, JobKind, JobRecord, JobState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// How many jobs of the history the counters cover.
const HISTORY: usize = 10_000;

/// One metric family: `# HELP`, `# TYPE`, then its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

fn one(v: f64) -> Vec<(String, f64)> {
    vec![(String::new(), v)]
}

/// Bytes of the repository's files, `local/` (the controller's private state) left out.
fn repository_size(root: &std::path::Path) -> u64 {
    fn walk(dir: &std::path::Path, skip: &std::path::Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return 0;
        };
        rd.flatten()
            .map(|e| {
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() && p != skip => walk(&p, skip),
                    Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
                    _ => 0,
                }
            })
            .sum()
    }
    walk(root, &root.join("local"))
}

/// A metric family: name, type, help and samples (labels, value).
type Family = (&'static str, &'static str, &'static str, Vec<(String, f64)>);

/// The text of the metrics.
pub fn render(state: &AppState) -> crate::Result<String> {
    let local = state.local();
    let ctl = crate::controller::Controller::open(&state.repo)?;
    let (manifests, _) = state.manifests.manifests(&ctl)?;
    let jobs = History::new(&local).list(HISTORY)?;
    let alerts = Alerts::new(&local).active()?;
    let mut out = String::new();
    let families = [
        (
            "cairn_up",
            "gauge",
            "1 while cairn serve answers.",
            one(1.0),
        ),
        (
            "cairn_last_backup_timestamp_seconds",
            "gauge",
            "When the newest backup was taken (Unix time).",
            manifests
                .last()
                .map(|m| one(m.time_ms as f64 / 1000.0))
                .unwrap_or_default(),
        ),
        (
            "cairn_backups",
            "gauge",
            "Backups in the internal repository.",
            one(manifests.len() as f64),
        ),
        (
            "cairn_repository_size_bytes",
            "gauge",
            "Bytes of the internal repository's files.",
            one(repository_size(&state.repo) as f64),
        ),
    ];
    for (name, kind, help, samples) in families.into_iter().chain(job_families(&jobs)) {
        family(&mut out, name, kind, help, &samples);
    }
    family(
        &mut out,
        "cairn_alerts_active",
        "gauge",
        "Active alerts by severity.",
        &alerts_by_severity(&alerts),
    );
    Ok(out)
}

/// The families taken from the job history: the last backup's duration, bytes moved, jobs by
/// kind and state.
fn job_families(jobs: &[JobRecord]) -> Vec<Family> {
    let last_backup = jobs
        .iter()
        .find(|j| j.kind == JobKind::Backup && j.state == JobState::Succeeded);
    let sum = |f: fn(&JobRecord) -> u64| one(jobs.iter().map(f).sum::<u64>() as f64);
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for j in jobs {
        *by.entry((j.kind.to_string(), crate::text::serde_name(&j.state)))
            .or_default() += 1;
    }
    vec![
        (
            "cairn_last_backup_duration_seconds",
            "gauge",
            "How long the newest successful backup job took.",
            last_backup
                .and_then(|j| j.duration_ms)
                .map(|d| one(d as f64 / 1000.0))
                .unwrap_or_default(),
        ),
        (
            "cairn_read_bytes_total",
            "counter",
            "Bytes read from services and storage by the jobs in the history.",
            sum(|j| j.bytes_read),
        ),
        (
            "cairn_stored_bytes_total",
            "counter",
            "Bytes newly stored in the internal repository by the jobs in the history.",
            sum(|j| j.bytes_stored),
        ),
        (
            "cairn_exported_bytes_total",
            "counter",
            "Bytes sent to the target by the jobs in the history.",
            sum(|j| j.bytes_exported),
        ),
        (
            "cairn_jobs",
            "gauge",
            "Jobs in the history by kind and state.",
            by.into_iter()
                .map(|((k, s), n)| (format!("{{kind=\"{k}\",state=\"{s}\"}}"), n as f64))
                .collect(),
        ),
    ]
}

/// Active alerts counted by severity (every severity present, zero when none).
fn alerts_by_severity(alerts: &[crate::jobs::Alert]) -> Vec<(String, f64)> {
    let mut sev: BTreeMap<String, u64> = ["critical", "error", "warning"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for a in alerts {
        *sev.entry(crate::text::serde_name(&a.severity)).or_default() += 1;
    }
    sev.into_iter()
        .map(|(s, n)| (format!("{{severity=\"{s}\"}}"), n as f64))
        .collect()
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let st = state.clone();
    let text = super::blocking(move || render(&st)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
