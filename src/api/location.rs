//! `GET|PUT /api/v1/location`: the external location, its credentials (the password is
//! write-only), the recipients, and the schedule. A PUT probes a new location exactly like
//! `cairn target set` and changes nothing when the probe fails.

use super::error::ApiError;
use super::state::{AppState, Settings};
use super::JsonBody;
use crate::schedule::ScheduleConfig;
use crate::target::TargetConfig;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn document(state: &AppState) -> crate::Result<Value> {
    let ctl = crate::controller::Controller::open(&state.repo)?;
    let local = state.local();
    let target = TargetConfig::load(&ctl.root)?;
    let keys = crate::ops::key_list(&crate::ops::Context::new(&state.repo))?;
    let cfg = ScheduleConfig::load(&local)?;
    let settings = Settings::load(&local);
    Ok(json!({
        "url": target.as_ref().map(|t| t.url.as_string()),
        "kind": target.as_ref().map(|t| t.url.kind()),
        "username": target.as_ref().and_then(|t| t.username.clone()),
        "password_set": target.as_ref().is_some_and(|t| t.password.is_some()),
        "allow_unencrypted": target.as_ref().is_some_and(|t| t.allow_unencrypted),
        "endpoint": target.as_ref().and_then(|t| t.endpoint.clone()),
        "region": target.as_ref().and_then(|t| t.region.clone()),
        "warning": target.as_ref().and_then(|t| t.warning()),
        "recipients": keys.current.recipients,
        "scheduler_enabled": settings.scheduler_enabled,
        "backup_every_hours": cfg.backup_every.as_secs_f64() / 3600.0,
        "keep_days": cfg.keep_within.as_secs_f64() / 86_400.0,
    }))
}

pub(super) async fn get_location(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    super::blocking(move || document(&st).map(Json)).await
}

/// A PUT: every field optional; what is left out keeps its value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocationBody {
    url: Option<String>,
    username: Option<String>,
    /// Kept when left out and the URL and username are unchanged.
    password: Option<String>,
    allow_unencrypted: Option<bool>,
    /// s3:// and az:// only: the store's endpoint and the S3 region.
    endpoint: Option<String>,
    region: Option<String>,
    recipients: Option<Vec<String>>,
    scheduler_enabled: Option<bool>,
    backup_every_hours: Option<f64>,
    keep_days: Option<f64>,
}

/// A positive, finite number of `unit` seconds (at most ten years) as a duration.
fn duration(field: &str, v: f64, unit: f64) -> Result<Duration, ApiError> {
    let secs = v * unit;
    if !(secs.is_finite() && (60.0..=10.0 * 365.0 * 86_400.0).contains(&secs)) {
        return Err(ApiError::bad_request(
            format!("{field} is {v}: not a usable period"),
            format!("give {field} as a positive number of at least one minute and at most ten years, for example 12"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub(super) async fn put_location(
    State(state): State<Arc<AppState>>,
    JsonBody(mut body): JsonBody<LocationBody>,
) -> Result<Json<Value>, ApiError> {
    // everything is checked before anything changes
    let every = body
        .backup_every_hours
        .map(|h| duration("backup_every_hours", h, 3600.0))
        .transpose()?;
    let keep = body
        .keep_days
        .map(|d| duration("keep_days", d, 86_400.0))
        .transpose()?;
    let recipients = body
        .recipients
        .as_deref()
        .map(super::backups::parse_recipients)
        .transpose()?;
    let target = probe(&state, &mut body).await?;
    if let Some(r) = recipients {
        rotate_if_changed(&state, r).await?;
    }
    let st = state.clone();
    let enable = body.scheduler_enabled;
    let doc = super::blocking(move || {
        save(&st, target.as_ref(), every, keep, enable)?;
        document(&st)
    })
    .await?;
    Ok(Json(doc))
}

/// The probe of a new location, like `cairn target set`: the settings to save, or `None` when
/// the body names no URL. A failed probe is the request's fault (400) and saves nothing.
async fn probe(
    state: &Arc<AppState>,
    body: &mut LocationBody,
) -> Result<Option<TargetConfig>, ApiError> {
    let st = state.clone();
    let url = body.url.take();
    let username = body.username.take();
    let password = body.password.take();
    let allow_unencrypted = body.allow_unencrypted;
    let (endpoint, region) = (body.endpoint.take(), body.region.take());
    super::blocking(move || {
        let ctl = crate::controller::Controller::open(&st.repo)?;
        let Some(url) = url else {
            return Ok(Ok(None));
        };
        let old = TargetConfig::load(&ctl.root)?;
        let mut cfg = match TargetConfig::new(&url, username.clone(), password.clone()) {
            Ok(c) => c,
            // the password is write-only: an unchanged URL and username keep the saved one
            Err(e) if password.is_none() => match old.as_ref().filter(|o| {
                o.url.as_string() == url && o.username == username && o.password.is_some()
            }) {
                Some(o) => TargetConfig::new(&url, username, o.password.clone())?,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        cfg.allow_unencrypted = allow_unencrypted.unwrap_or(false);
        let cfg = cfg.with_store_options(endpoint, region)?;
        Ok(match crate::remote::accept(&ctl, &cfg) {
            Ok(()) => Ok(Some(cfg)),
            Err(e) if matches!(e, crate::Error::Busy { .. }) => Err(ApiError::from(e)),
            Err(e) => Err(ApiError::from(e).with_status(StatusCode::BAD_REQUEST)),
        })
    })
    .await?
}

/// A key rotation when the recipients differ from the current epoch's (a job under the lease:
/// 409 if busy).
async fn rotate_if_changed(
    state: &Arc<AppState>,
    recipients: Vec<crate::crypto::Recipient>,
) -> Result<(), ApiError> {
    let st = state.clone();
    let mut have = super::blocking(move || {
        Ok(crate::ops::key_list(&crate::ops::Context::new(&st.repo))?
            .current
            .recipients)
    })
    .await?;
    let mut want: Vec<String> = recipients.iter().map(|x| x.to_string()).collect();
    want.sort();
    have.sort();
    if want != have {
        super::backups::rotate(state, recipients).await?;
    }
    Ok(())
}

/// Save what the request changes (the probed target, the schedule, the scheduler switch) and
/// restart the scheduler when its plan changed.
fn save(
    st: &AppState,
    target: Option<&TargetConfig>,
    every: Option<Duration>,
    keep: Option<Duration>,
    enable: Option<bool>,
) -> crate::Result<()> {
    let local = st.local();
    if let Some(cfg) = target {
        cfg.save(&st.repo)?;
        eprintln!(
            "{} target set to {cfg} through the API",
            crate::jobs::time::rfc3339(&chrono::Utc::now())
        );
    }
    let mut changed = false;
    if every.is_some() || keep.is_some() {
        let mut cfg = ScheduleConfig::load(&local)?;
        if let Some(d) = every {
            cfg.backup_every = d;
        }
        if let Some(d) = keep {
            cfg.keep_within = d;
        }
        cfg.save(&local)?;
        changed = true;
    }
    if let Some(on) = enable {
        let mut s = Settings::load(&local);
        if s.scheduler_enabled != on {
            s.scheduler_enabled = on;
            s.save(&local)?;
            changed = true;
        }
    }
    if changed || target.is_some() {
        st.schedule_changed();
    }
    Ok(())
}
