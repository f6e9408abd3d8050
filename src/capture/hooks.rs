//! Running one hook: `sh -c CMD` as the leader of its own process group, with the documented
//! environment, standard input closed, within a time limit after which the whole group is killed.
//!
//! Environment (docs/SERVICES.md): `CAIRN_BACKUP_ID`, `CAIRN_SERVICE`, `CAIRN_PHASE` (`prepare`
//! or `release`), `CAIRN_SERVICE_PATH` (a path service's live directory) and, for release,
//! `CAIRN_CAPTURE_PATH` (the directory that was captured). A prepare hook may print
//! `CAIRN_CAPTURE_PATH=DIR` on its standard output: the last such line names the directory to
//! capture instead of the live one.

use crate::child;
use crate::service::ServiceDef;
use std::process::Stdio;
use std::time::Duration;

/// Which hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before capture.
    Prepare,
    /// After capture (or after a failed prepare of another service, or at the next start).
    Release,
}

impl Phase {
    /// `prepare` or `release` (the value of `CAIRN_PHASE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Release => "release",
        }
    }
}

/// What a hook that exited 0 said.
#[derive(Debug, Default)]
pub struct Done {
    /// The last `CAIRN_CAPTURE_PATH=DIR` line of its standard output.
    pub capture_path: Option<String>,
}

/// Why a hook failed (never with its command line: it may hold secrets).
#[derive(Debug)]
pub enum Failure {
    /// `sh` could not be started.
    Start(std::io::Error),
    /// It exited non-zero or was killed by a signal: how (`exited with status 3`), and the end
    /// of its error output.
    Exit(String, String),
    /// It ran past its time limit; its process group was killed.
    TimedOut(Duration),
    /// The backup was cancelled while it ran; its process group was killed.
    Cancelled,
}

impl Failure {
    /// In words, for an error naming the service: `its prepare hook exited with status 3`.
    pub fn describe(&self, phase: Phase) -> String {
        let p = phase.as_str();
        match self {
            Failure::Start(e) => format!("its {p} hook could not be started (sh): {e}"),
            Failure::Exit(why, _) => format!("its {p} hook failed: it {why}"),
            Failure::TimedOut(d) => format!(
                "its {p} hook did not finish within {} and was killed with its process group",
                crate::retention::format_duration(*d)
            ),
            Failure::Cancelled => format!("its {p} hook was stopped: the backup was cancelled"),
        }
    }
}

/// One hook to run: its command, the service it belongs to, the backup and phase.
pub struct Hook<'a> {
    /// The command (`sh -c`).
    pub cmd: &'a str,
    /// The service.
    pub service: &'a ServiceDef,
    /// The backup id.
    pub backup_id: &'a str,
    /// Prepare or release.
    pub phase: Phase,
    /// For release: the directory that was captured.
    pub captured: Option<&'a str>,
    /// Time limit.
    pub limit: Duration,
}

/// Output kept from a hook's stdout or stderr (the rest is read and dropped).
const KEEP: usize = 64 * 1024;

impl Hook<'_> {
    /// Run it; when `stop` says so (a cancelled backup; prepare only) it is killed early.
    pub fn run(&self, stop: &dyn Fn() -> bool) -> Result<Done, Failure> {
        let mut cmd = crate::sys::shell(self.cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("CAIRN_BACKUP_ID", self.backup_id)
            .env("CAIRN_SERVICE", &self.service.name)
            .env("CAIRN_PHASE", self.phase.as_str())
            .env_remove("CAIRN_CAPTURE_PATH");
        if let Some(p) = &self.service.path {
            cmd.env("CAIRN_SERVICE_PATH", p);
        }
        if let Some(c) = self.captured {
            cmd.env("CAIRN_CAPTURE_PATH", c);
        }
        let mut running = child::spawn_in_group(&mut cmd).map_err(Failure::Start)?;
        let out = child::drain(running.stdout.take(), KEEP);
        let err = child::drain(running.stderr.take(), KEEP);
        let status = child::wait(&mut running, self.limit, stop).map_err(|e| match e {
            child::Ended::Stopped => Failure::Cancelled,
            child::Ended::TimedOut => Failure::TimedOut(self.limit),
        })?;
        let (out, err) = (out.take(), err.take());
        if !status.success() {
            let why = crate::service::exit_reason(&status);
            return Err(Failure::Exit(why, crate::service::stderr_excerpt(&err)));
        }
        Ok(Done {
            capture_path: capture_path(&out),
        })
    }
}

/// The last `CAIRN_CAPTURE_PATH=DIR` line of `out` (surrounding blanks trimmed).
fn capture_path(out: &[u8]) -> Option<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CAIRN_CAPTURE_PATH="))
        .map(|p| p.trim().to_string())
        .rfind(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> ServiceDef {
        ServiceDef {
            name: "db".into(),
            path: Some("/srv/db".into()),
            ..Default::default()
        }
    }

    fn hook<'a>(cmd: &'a str, s: &'a ServiceDef, limit: Duration) -> Hook<'a> {
        Hook {
            cmd,
            service: s,
            backup_id: "20261201T000000.000Z",
            phase: Phase::Prepare,
            captured: None,
            limit,
        }
    }

    #[test]
    fn the_environment_and_the_capture_path_line_reach_cairn() {
        let s = svc();
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("env");
        let cmd = format!(
            "echo \"$CAIRN_BACKUP_ID $CAIRN_SERVICE $CAIRN_PHASE $CAIRN_SERVICE_PATH\" > {}; echo CAIRN_CAPTURE_PATH=/x; echo CAIRN_CAPTURE_PATH=/snap/db",
            f.display()
        );
        let done = hook(&cmd, &s, Duration::from_secs(10))
            .run(&|| false)
            .unwrap();
        assert_eq!(done.capture_path.as_deref(), Some("/snap/db"));
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "20261201T000000.000Z db prepare /srv/db\n"
        );
    }

    #[test]
    fn a_failing_hook_is_described_without_its_command_line() {
        let s = svc();
        let e = hook(
            "echo oops >&2; SECRET=x exit 3",
            &s,
            Duration::from_secs(10),
        )
        .run(&|| false)
        .unwrap_err();
        let Failure::Exit(_, excerpt) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(excerpt, "oops");
        let text = e.describe(Phase::Prepare);
        assert_eq!(text, "its prepare hook failed: it exited with status 3");
    }

    #[test]
    fn a_hanging_hook_and_its_children_are_killed_at_the_limit() {
        let s = svc();
        let d = tempfile::tempdir().unwrap();
        let pidf = d.path().join("pid");
        // the pid is written whole (a temporary file renamed), never seen empty
        let cmd = format!(
            "sleep 300 & echo $! > {p}.tmp && mv {p}.tmp {p}; wait",
            p = pidf.display()
        );
        let e = hook(&cmd, &s, Duration::from_secs(1))
            .run(&|| false)
            .unwrap_err();
        assert!(matches!(e, Failure::TimedOut(_)), "{e:?}");
        let pid: i32 = std::fs::read_to_string(&pidf)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // the background sleep was in the hook's process group: it is gone (or a zombie
        // reaped by init), never still sleeping
        std::thread::sleep(Duration::from_millis(100));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
    }
}
