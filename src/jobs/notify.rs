//! Notifications: every alert raised or cleared goes to a configured command.
//!
//! The command (`REPO/local/notify.toml`, set with `cairn notify set --command CMD`) runs through
//! `sh -c` with ONE JSON document on its standard input:
//! `{"event":"raised"|"cleared","alert":{...}}` (the alert as `cairn alerts --json` shows it).
//! A notifier never blocks or fails a job: it runs in its own process group, is killed with the
//! whole group after a hard time limit, and any failure comes back as a warning only.

use super::alerts::Alert;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// File name of the notifier's settings under `REPO/local`.
pub const NOTIFY_FILE: &str = "notify.toml";

/// The time limit when `notify.toml` gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Raised (or raised again while active: see `alert.count`).
    Raised,
    /// Cleared by a successful job.
    Cleared,
}

/// The document a notifier receives on standard input.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent<'a> {
    /// Raised or cleared.
    pub event: EventKind,
    /// The alert.
    pub alert: &'a Alert,
}

/// The notifier's settings, as stored in `notify.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyConfig {
    /// The shell command that receives each event; none configured if absent.
    pub command: Option<String>,
    /// Hard time limit per event, in seconds (default 10).
    pub timeout_secs: Option<u64>,
}

/// The configured notifier of one repository.
#[derive(Debug, Clone)]
pub struct Notifier {
    config: NotifyConfig,
}

impl Notifier {
    /// Load `REPO/local/notify.toml` (no file: no notifier).
    pub fn load(local_dir: &Path) -> Result<Notifier> {
        let path = local_dir.join(NOTIFY_FILE);
        let Some(text) = crate::fsutil::read_if_present(&path)? else {
            return Ok(Notifier {
                config: NotifyConfig::default(),
            });
        };
        let config = toml::from_str(&text).map_err(|e| {
            Error::failed(
                format!("{} does not parse: {e}", path.display()),
                "set the notifier again with `cairn notify set --command CMD` (or `cairn notify clear`)",
            )
        })?;
        Ok(Notifier { config })
    }

    /// A notifier for `config` (for tests and callers that hold settings already).
    pub fn from_config(config: NotifyConfig) -> Notifier {
        Notifier { config }
    }

    /// Store `command` as the notifier (`cairn notify set --command CMD`).
    pub fn set(local_dir: &Path, command: &str) -> Result<()> {
        if command.trim().is_empty() {
            return Err(Error::usage(
                "the notify command is empty",
                "give a shell command that reads one JSON document on stdin, e.g. `cairn notify set --command 'mail -s cairn ops@example.com'`",
            ));
        }
        let mut config = Notifier::load(local_dir)
            .map(|n| n.config)
            .unwrap_or_default();
        config.command = Some(command.to_string());
        save(local_dir, &config)
    }

    /// Remove the notifier (`cairn notify clear`).
    pub fn clear(local_dir: &Path) -> Result<()> {
        save(local_dir, &NotifyConfig::default())
    }

    /// The settings (`cairn notify show`).
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// Send one event to the notifier. Waits at most the time limit (then kills the notifier's
    /// process group). Returns a warning if the notifier failed, hung or could not start;
    /// `None` if it succeeded or none is configured.
    pub fn send(&self, event: EventKind, alert: &Alert) -> Option<String> {
        let cmd = self.config.command.as_deref()?;
        let limit = self
            .config
            .timeout_secs
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let doc = match serde_json::to_vec(&AlertEvent { event, alert }) {
            Ok(d) => d,
            Err(e) => return Some(format!("notifier not run: cannot encode the alert: {e}")),
        };
        let warning = run(cmd, doc, limit).err();
        if let Some(w) = &warning {
            tracing::warn!("{}", crate::text::escape(w));
        }
        warning
    }

    /// Send several events at once, each to its own run of the notifier, concurrently: the
    /// whole takes at most about one time limit. Returns the warnings.
    pub fn send_all(&self, events: &[(EventKind, &Alert)]) -> Vec<String> {
        std::thread::scope(|s| {
            let runs: Vec<_> = events
                .iter()
                .map(|(ev, a)| s.spawn(move || self.send(*ev, a)))
                .collect();
            runs.into_iter()
                .filter_map(|r| r.join().ok().flatten())
                .collect()
        })
    }
}

fn save(local_dir: &Path, config: &NotifyConfig) -> Result<()> {
    std::fs::create_dir_all(local_dir)
        .map_err(|e| Error::io(local_dir.display().to_string(), e))?;
    let path: PathBuf = local_dir.join(NOTIFY_FILE);
    let text = toml::to_string(config).map_err(|e| {
        Error::failed(
            format!("cannot encode {NOTIFY_FILE}: {e}"),
            "report this as a bug",
        )
    })?;
    crate::fsutil::write_atomic(&path, text.as_bytes(), 0o600)
}

/// Run `sh -c cmd` with `doc` on stdin; `Err(warning)` unless it exits 0 within `limit`.
fn run(cmd: &str, doc: Vec<u8>, limit: Duration) -> std::result::Result<(), String> {
    let mut running = crate::child::spawn_in_group(
        crate::sys::shell(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| {
        format!("the notifier could not start: {e}; check its command with `cairn notify show`")
    })?;
    // Feed stdin from a thread: a notifier that reads nothing must not block us. It ends when
    // the notifier (and anything it left behind) closes it.
    if let Some(mut stdin) = running.stdin.take() {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&doc);
        });
    }
    let stderr = crate::child::drain(running.stderr.take(), 1024);
    let Ok(status) = crate::child::wait(&mut running, limit, &|| false) else {
        return Err(format!(
            "the notifier did not finish within {}s and was killed; make it return quickly (hand slow work to a background queue)",
            limit.as_secs()
        ));
    };
    if status.success() {
        return Ok(());
    }
    // Its command line is never quoted (it may hold a token); the end of its error output is,
    // bounded and escaped: this warning stays in the job record under REPO/local.
    let excerpt = crate::service::stderr_excerpt(&stderr.take());
    Err(format!(
        "the notifier failed ({status}){}; run its command (`cairn notify show`) by hand with an event on stdin to see why",
        if excerpt.is_empty() {
            String::new()
        } else {
            format!(": {excerpt}")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::alerts::AlertState;
    use crate::jobs::{JobKind, Severity};
    use chrono::Utc;
    use std::time::Instant;

    fn alert() -> Alert {
        Alert {
            id: "a1".into(),
            kind: JobKind::Backup,
            subject: "ad".into(),
            cause: "service_path_missing".into(),
            severity: Severity::Error,
            state: AlertState::Active,
            message: "backup failed: service ad: gone".into(),
            remedy: "put it back".into(),
            raised: Utc::now(),
            last_seen: Utc::now(),
            count: 1,
            cleared: None,
            job: None,
            cleared_by: None,
        }
    }

    #[test]
    fn the_notifier_receives_one_json_document() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got.json");
        Notifier::set(dir.path(), &format!("cat > '{}'", out.display())).unwrap();
        let n = Notifier::load(dir.path()).unwrap();
        assert_eq!(n.send(EventKind::Raised, &alert()), None);
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(doc["event"], "raised");
        assert_eq!(doc["alert"]["subject"], "ad");
        assert_eq!(doc["alert"]["remedy"], "put it back");
        n.send(EventKind::Cleared, &alert());
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(doc["event"], "cleared");

        Notifier::clear(dir.path()).unwrap();
        assert_eq!(Notifier::load(dir.path()).unwrap().config().command, None);
        assert!(Notifier::set(dir.path(), "  ").is_err());
    }

    #[test]
    fn a_hanging_notifier_is_killed_at_the_limit() {
        let n = Notifier::from_config(NotifyConfig {
            command: Some("sleep 100".into()),
            timeout_secs: Some(1),
        });
        let t = Instant::now();
        let w = n.send(EventKind::Raised, &alert()).expect("a warning");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "took {:?}",
            t.elapsed()
        );
        assert!(w.contains("did not finish within 1s"), "{w}");
        // A notifier that leaves a background child holding stderr open does not hang us either.
        let n = Notifier::from_config(NotifyConfig {
            command: Some("sleep 5 & exit 3".into()),
            timeout_secs: Some(1),
        });
        let t = Instant::now();
        let w = n.send(EventKind::Raised, &alert()).expect("a warning");
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(w.contains("failed"), "{w}");
        // Several hanging events together still take about one limit.
        let n = Notifier::from_config(NotifyConfig {
            command: Some("sleep 100".into()),
            timeout_secs: Some(1),
        });
        let (a, b) = (alert(), alert());
        let t = Instant::now();
        let ws = n.send_all(&[
            (EventKind::Raised, &a),
            (EventKind::Cleared, &b),
            (EventKind::Cleared, &a),
        ]);
        assert_eq!(ws.len(), 3);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn a_failing_notifier_is_a_warning_with_its_stderr() {
        let n = Notifier::from_config(NotifyConfig {
            command: Some("TOKEN=hunter2; echo no route to mailhost >&2; exit 7".into()),
            timeout_secs: None,
        });
        let w = n.send(EventKind::Raised, &alert()).expect("a warning");
        assert!(w.contains("no route to mailhost") && w.contains('7'), "{w}");
        assert!(
            !w.contains("hunter2"),
            "the notifier's command line is in {w}"
        );
        assert_eq!(
            Notifier::from_config(NotifyConfig::default()).send(EventKind::Raised, &alert()),
            None
        );
    }
}
