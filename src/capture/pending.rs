//! The "prepared but not released" record, `REPO/local/capture-pending.json`: written
//! atomically before the first prepare hook runs, updated as each service is released, removed
//! once all are. If cairn dies in between (a crash, SIGKILL, a power cut), the next job that
//! takes the writer lease finds it, runs the release hooks it lists and raises an alert for each
//! service ([`release_leftovers`]).
//!
//! The file holds the release commands as they were when the backup began (the service may
//! have been changed or removed since); it is private like the rest of `REPO/local` (0600).

use super::hooks::{Hook, Phase};
use crate::error::{Error, Result, ServiceCause};
use crate::service::ServiceDef;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File name under `REPO/local`.
pub const FILE: &str = "capture-pending.json";

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingState {
    /// The backup whose hooks ran.
    pub backup: String,
    /// The services not yet released, each with its definition as the backup began.
    pub services: Vec<ServiceDef>,
}

/// The record of one running backup.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    state: Mutex<PendingState>,
}

impl Pending {
    /// Record that `services` (those with a release hook) are about to be prepared.
    pub fn begin(local: &Path, backup: &str, services: &[ServiceDef]) -> Result<Pending> {
        let state = PendingState {
            backup: backup.to_string(),
            services: services
                .iter()
                .filter(|s| s.release.is_some())
                .cloned()
                .collect(),
        };
        let p = Pending {
            path: local.join(FILE),
            state: Mutex::new(state),
        };
        p.save(&p.state.lock().unwrap_or_else(|e| e.into_inner()))?;
        Ok(p)
    }

    /// Service `name` is released: take it off the record.
    pub fn released(&self, name: &str) -> Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let before = st.services.len();
        st.services.retain(|s| s.name != name);
        if st.services.len() == before {
            return Ok(());
        }
        self.save(&st)
    }

    /// Every service is released (or was never prepared): remove the record.
    pub fn clear(&self) -> Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.services.clear();
        remove(&self.path)
    }

    fn save(&self, st: &PendingState) -> Result<()> {
        if st.services.is_empty() {
            return remove(&self.path);
        }
        let text = serde_json::to_vec_pretty(st)
            .map_err(|e| Error::failed(format!("cannot encode {FILE}: {e}"), "report a bug"))?;
        crate::fsutil::write_atomic(&self.path, &text, 0o600)
    }
}

fn remove(path: &Path) -> Result<()> {
    crate::fsutil::remove_if_present(path).map(drop)
}

/// Release what a backup that died left prepared (call with the writer lease held). Returns one
/// error per service for its alert: [`ServiceCause::ReleasedAfterCrash`] when its release hook
/// ran, [`ServiceCause::ReleaseFailed`] when it failed (the record is removed either way: a
/// failed release is the alert's to report, not to retry at every start).
pub fn release_leftovers(local: &Path) -> Result<Vec<Error>> {
    let path = local.join(FILE);
    let Some(text) = crate::fsutil::read_if_present(&path)? else {
        return Ok(Vec::new());
    };
    let st: PendingState = serde_json::from_str(&text).map_err(|e| {
        Error::failed(
            format!("cannot parse {}: {e}", path.display()),
            "run the release hooks of the services by hand (`cairn service list --json` shows them), then remove the file",
        )
    })?;
    let mut out = Vec::new();
    for s in &st.services {
        let Some(cmd) = &s.release else { continue };
        let hook = Hook {
            cmd,
            service: s,
            backup_id: &st.backup,
            phase: Phase::Release,
            // what prepare printed died with the process: the configured place is the best guess
            captured: s.capture_path.as_deref().or(s.path.as_deref()),
            limit: super::limit(s),
        };
        out.push(match hook.run(&|| false) {
            Ok(_) => Error::service(
                &s.name,
                ServiceCause::ReleasedAfterCrash,
                format!("cairn stopped during backup {} before releasing it; its release hook ran at the next start", st.backup),
            ),
            Err(f) => Error::service(
                &s.name,
                ServiceCause::ReleaseFailed,
                format!("cairn stopped during backup {} before releasing it, and at the next start {}", st.backup, f.describe(Phase::Release)),
            ),
        });
    }
    remove(&path)?;
    Ok(out)
}
