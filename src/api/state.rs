//! What the server shares between requests and threads: the repository's path, the live
//! progress of the jobs this process runs, and the sink that feeds it.

use crate::jobs::JobRecord;
use crate::ops::{Cancel, Sink};
use crate::progress::Progress;
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The server's shared state.
pub struct AppState {
    /// The repository directory.
    pub repo: PathBuf,
    /// Set on SIGTERM/SIGINT: stops the running jobs and the server.
    pub stop: Cancel,
    /// The running jobs of this process (API and scheduler) by job id: their current phase.
    live: Mutex<HashMap<String, Live>>,
    /// Bumped when the schedule or `scheduler_enabled` changes: the scheduler reloads them.
    pub schedule_generation: AtomicU64,
    /// The decoded manifests, reused while their files are unchanged.
    pub(super) manifests: super::manifests::ManifestCache,
    /// `GET /api/v1/status`, shared by the requests that arrive while it is read.
    pub(super) status_doc: super::status::StatusCache,
    /// The API tokens' hashes, read again when their file changes.
    pub(super) tokens: super::tokens::Verifier,
    /// The entries of `GET /api/v1/backups`, encoded once per listing.
    pub(super) backups_doc: super::pages::EntriesCache,
}

/// A running job's current phase and its counters.
#[derive(Clone)]
struct Live {
    phase: String,
    progress: Arc<Progress>,
    /// Its record as it started (the history holds the same until it ends).
    record: JobRecord,
}

/// A running job's progress as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProgressDoc {
    /// The phase (`backup`, `export`, `restore`, `verify`, ...); `starting` before the first.
    pub phase: String,
    /// Bytes done in this phase.
    pub bytes_done: u64,
    /// Bytes expected in this phase; `null` when not known.
    pub bytes_total: Option<u64>,
    /// Files done in this phase.
    pub files_done: u64,
}

impl AppState {
    /// The state of a server on `repo`, stopping on `stop`.
    pub fn new(repo: &Path, stop: Cancel) -> Self {
        AppState {
            repo: repo.to_path_buf(),
            stop,
            live: Mutex::default(),
            schedule_generation: AtomicU64::new(0),
            manifests: Default::default(),
            status_doc: Default::default(),
            tokens: super::tokens::Verifier::new(&repo.join("local")),
            backups_doc: Default::default(),
        }
    }

    /// `REPO/local`.
    pub fn local(&self) -> PathBuf {
        self.repo.join("local")
    }

    /// The live progress of job `id`, if this process runs it.
    pub fn progress(&self, id: &str) -> Option<ProgressDoc> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(id).map(|l| {
            let (files, bytes, total) = l.progress.snapshot();
            ProgressDoc {
                phase: l.phase.clone(),
                bytes_done: bytes,
                bytes_total: (total > 0).then_some(total),
                files_done: files,
            }
        })
    }

    /// Whether this process runs a job now.
    pub fn has_live(&self) -> bool {
        !self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The record of job `id` while this process runs it: polls of a running job are answered
    /// without opening the state database.
    pub fn running_record(&self, id: &str) -> Option<JobRecord> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(id).map(|l| l.record.clone())
    }

    fn set_phase(&self, id: &str, phase: &str, progress: &Arc<Progress>) {
        let mut map = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = map.get_mut(id) {
            l.phase = phase.to_string();
            l.progress = progress.clone();
        }
    }

    fn set_live(&self, id: &str, live: Option<Live>) {
        let mut map = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live {
            Some(l) => {
                map.insert(id.to_string(), l);
            }
            None => {
                map.remove(id);
            }
        }
    }

    /// Tell the scheduler its settings changed.
    pub fn schedule_changed(&self) {
        self.schedule_generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// The operations' sink for the server: records each job's phases for the live progress, logs
/// each job's start and end on stderr, and hands the first job's record to whoever waits for it
/// (the request that started it answers 202 with its id).
pub struct ApiSink {
    state: Arc<AppState>,
    started: Mutex<Option<oneshot::Sender<JobRecord>>>,
    running: Mutex<Option<String>>,
    /// Every job this sink saw start, in order.
    jobs: Mutex<Vec<String>>,
}

impl ApiSink {
    /// A sink feeding `state`; `started` receives the record of the first job that starts.
    pub fn new(state: Arc<AppState>, started: Option<oneshot::Sender<JobRecord>>) -> Self {
        ApiSink {
            state,
            started: Mutex::new(started),
            running: Mutex::default(),
            jobs: Mutex::default(),
        }
    }

    /// The job running now through this sink, if any.
    pub fn running(&self) -> Option<String> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The first job that started through this sink.
    pub fn first_job(&self) -> Option<String> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
    }
}

fn now() -> String {
    crate::jobs::time::rfc3339(&chrono::Utc::now())
}

impl Sink for ApiSink {
    fn phase(&self, name: &str, progress: &Arc<Progress>) -> Option<crate::ops::PhaseGuard> {
        if let Some(id) = self.running() {
            self.state.set_phase(&id, name, progress);
        }
        None
    }

    fn note(&self, text: &str) {
        eprintln!("{} note: {}", now(), crate::text::escape(text));
    }

    fn warn(&self, text: &str) {
        eprintln!("{} warning: {}", now(), crate::text::escape(text));
    }

    fn started(&self, job: &JobRecord) {
        let id = job.id.as_str().to_string();
        eprintln!(
            "{} {} job {} starting ({:?})",
            now(),
            job.kind,
            id,
            job.trigger
        );
        self.state.set_live(
            &id,
            Some(Live {
                phase: "starting".into(),
                progress: Arc::default(),
                record: job.clone(),
            }),
        );
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).push(id);
        if let Some(tx) = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = tx.send(job.clone());
        }
    }

    fn finished(&self, job: &JobRecord, error: Option<&Error>) {
        let id = job.id.as_str();
        self.state.set_live(id, None);
        {
            let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if r.as_deref() == Some(id) {
                *r = None;
            }
        }
        match error {
            None => eprintln!("{} {} job {id} succeeded", now(), job.kind),
            Some(e) => eprintln!(
                "{} {} job {id} failed: {}\n    what to do: {}",
                now(),
                job.kind,
                crate::text::escape(&e.to_string()),
                crate::text::escape(&e.remedy())
            ),
        }
    }
}

/// File under `REPO/local/` with the API's own settings.
pub const SETTINGS_FILE: &str = "serve.json";

/// Settings only the API sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Whether `cairn serve` runs the schedule (default yes).
    pub scheduler_enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            scheduler_enabled: true,
        }
    }
}

impl Settings {
    /// The settings of the repository whose state is in `local` (defaults if none).
    pub fn load(local: &Path) -> Settings {
        std::fs::read(local.join(SETTINGS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Save them (mode 0600, atomically).
    pub fn save(&self, local: &Path) -> crate::Result<()> {
        let b = serde_json::to_vec_pretty(self).map_err(|e| {
            Error::failed(format!("encoding settings: {e}"), "report this as a bug")
        })?;
        crate::fsutil::write_atomic(&local.join(SETTINGS_FILE), &b, 0o600)
    }
}
