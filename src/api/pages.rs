//! `GET /api/v1/backups` in pages, newest first: `?limit=N` (1 to [`MAX_LIMIT`], default
//! [`DEFAULT_LIMIT`]) and `?before=ID` (the backups older than ID). Each page is a document of
//! `cairn list --json` (an array of its entries); the paging is in headers: `X-Total-Count` (how
//! many backups there are) and `Link: <...>; rel="next"` while older ones remain.
//!
//! Each backup's entry is encoded once per listing and kept as JSON text, keyed by the manifest
//! cache's generation and the stamps of what says where each backup is (the target's settings
//! and the export record): a page is a lookup and a copy.

use super::error::ApiError;
use super::stamp::Stamp;
use super::state::AppState;
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

/// Backups per page unless `?limit=` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `?limit=`.
pub const MAX_LIMIT: usize = 1000;
/// The header with the number of backups.
pub const TOTAL: &str = "x-total-count";

/// The query of a page, as given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

impl PageQuery {
    /// The limit and the cursor, or 400 naming what is wrong.
    pub(super) fn parse(&self) -> Result<(usize, Option<String>), ApiError> {
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(
                        format!(
                            "limit {:?} is not a number of backups from 1 to {MAX_LIMIT}",
                            crate::text::escape(l)
                        ),
                        format!("give ?limit= from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}) and follow the Link header's rel=\"next\" URL for the next page"),
                    ))
                }
            },
        };
        let before = match &self.before {
            None => None,
            Some(b) => match crate::id::BackupId::parse(b) {
                Some(id) => Some(id.as_str().to_string()),
                None => {
                    return Err(ApiError::bad_request(
                        format!(
                            "the cursor before={:?} is not a backup id",
                            crate::text::escape(b)
                        ),
                        "give ?before= a backup id (YYYYMMDDTHHMMSS.mmmZ) from a listed backup, or follow the Link header's rel=\"next\" URL",
                    ))
                }
            },
        };
        Ok((limit, before))
    }
}

/// Every listed backup's entry, newest first.
pub struct Entries {
    /// The backups' ids, newest first.
    ids: Vec<String>,
    /// Each one's entry of `cairn list --json`, as JSON text.
    docs: Vec<Bytes>,
    /// The first page of [`DEFAULT_LIMIT`], ready.
    first: Bytes,
}

type Key = (u64, Vec<Stamp>);

/// The entries of the last listing and their key.
#[derive(Default)]
pub struct EntriesCache {
    last: Mutex<Option<(Key, Arc<Entries>)>>,
}

impl EntriesCache {
    /// The entries for the repository of `st` as it is now.
    pub(super) fn get(&self, st: &AppState) -> crate::Result<Arc<Entries>> {
        let local = st.local();
        let files = [
            local.join(crate::target::TARGET_FILE),
            local.join(crate::remote::EXPORTED_FILE),
        ];
        let stamps = super::stamp::all(&[&files[0], &files[1]]);
        let mut opened = None;
        let (listing, damaged) = st.manifests.listing_at(&st.repo, || {
            Ok(&*opened.insert(crate::controller::Controller::open(&st.repo)?))
        })?;
        let key = (listing.generation, stamps);
        let settled = damaged.is_empty() && key.1.iter().all(Stamp::settled);
        if settled {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, e)) = last.as_ref().filter(|(k, _)| *k == key) {
                return Ok(e.clone());
            }
        }
        for (name, e) in &damaged {
            tracing::warn!(
                "{} is damaged and not listed: {}",
                crate::text::escape(name),
                crate::text::escape(&e.to_string())
            );
        }
        let ctl = match opened {
            Some(c) => c,
            None => crate::controller::Controller::open(&st.repo)?,
        };
        let on_target = crate::ops::on_target(&ctl);
        let mut ids = Vec::with_capacity(listing.manifests.len());
        let mut docs = Vec::with_capacity(listing.manifests.len());
        for m in listing.manifests.iter().rev() {
            let v = crate::ops::backup_json(m, m.refs, on_target(&m.id));
            let text = serde_json::to_vec(&v).map_err(|e| {
                crate::Error::failed(
                    format!("cannot encode the list of backups: {e}"),
                    "report this as a bug",
                )
            })?;
            ids.push(m.id.clone());
            docs.push(Bytes::from(text));
        }
        let first = join(&docs[..docs.len().min(DEFAULT_LIMIT)]);
        let entries = Arc::new(Entries { ids, docs, first });
        if settled {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, entries.clone()));
        }
        Ok(entries)
    }
}

/// `[a,b,...]` of the entries' JSON texts.
fn join(docs: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(docs.iter().map(|d| d.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(d);
    }
    out.push(b']');
    Bytes::from(out)
}

/// The page of `limit` backups older than `before` (from the newest without it), with its
/// headers.
pub(super) fn page(e: &Entries, limit: usize, before: Option<&str>) -> Response {
    let start = before.map_or(0, |b| e.ids.partition_point(|id| id.as_str() >= b));
    let end = start.saturating_add(limit).min(e.ids.len());
    let body = if start == 0 && limit == DEFAULT_LIMIT {
        e.first.clone()
    } else {
        join(&e.docs[start..end])
    };
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let h = resp.headers_mut();
    h.insert(TOTAL, HeaderValue::from(e.ids.len()));
    if end < e.ids.len() && end > start {
        let next = format!(
            "</api/v1/backups?limit={limit}&before={}>; rel=\"next\"",
            e.ids[end - 1]
        );
        if let Ok(v) = HeaderValue::from_str(&next) {
            h.insert(header::LINK, v);
        }
    }
    resp
}
