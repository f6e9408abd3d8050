//! `cairn mount` as a library: the mount's errors as cairn errors, and the detached mount
//! process (started again with `--foreground`, its log under `REPO/local`, waited for until the
//! kernel shows the mount).
//!
//! A read-only operation: it never takes the repository lease, and backups may run while mounted.

use crate::{Error, Result};
use cairn_fuse::MountError;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the detached mount may take to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Set in the environment of the detached mount process.
pub const DETACHED_ENV: &str = "CAIRN_MOUNT_DETACHED";

/// A mount error as a cairn error: the remedy its display ends with printed on its own line;
/// a failure of the kernel mount, the unmount or the signal handlers is a failure, anything else
/// a usage error.
pub fn mount_error(e: MountError) -> Error {
    let remedy = e.remedy();
    let text = e.to_string();
    let message = text
        .strip_suffix(&remedy)
        .map(|m| m.trim_end_matches([':', ';', ' ', '(']).to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or(text.clone());
    match e {
        MountError::Mount(..) | MountError::Unmount(..) | MountError::Signals(_) => {
            Error::failed(message, remedy)
        }
        _ => Error::usage(message, remedy),
    }
}

/// Where the detached mount process `pid` of the repository `repo` writes its log.
pub fn log_path(repo: &Path, pid: u32) -> PathBuf {
    repo.join("local").join(format!("mount-{pid}.log"))
}

/// After a foreground mount ended cleanly: if this process is a detached mount, its log holds
/// nothing worth keeping and is removed.
pub fn ended(repo: &Path) {
    if std::env::var_os(DETACHED_ENV).is_some() {
        let _ = fs::remove_file(log_path(repo, std::process::id()));
    }
}

/// A detached mount process that has mounted.
#[derive(Debug)]
pub struct Detached {
    /// The mount point, canonical.
    pub mountpoint: PathBuf,
    /// The process serving it.
    pub pid: u32,
    /// Its log.
    pub log: PathBuf,
}

/// Start this executable again with `args` and `--foreground`, detached from the terminal and
/// session, and wait until `mountpoint` is mounted (or the process exits, or [`START_TIMEOUT`]).
pub fn detach(repo: &Path, mountpoint: &Path, args: Vec<OsString>) -> Result<Detached> {
    let (mut child, log) = spawn(repo, args)?;
    let target =
        fs::canonicalize(mountpoint).map_err(|e| Error::io(mountpoint.display().to_string(), e))?;
    wait_mounted(&mut child, &target, &log, mountpoint)?;
    Ok(Detached {
        mountpoint: target,
        pid: child.id(),
        log,
    })
}

/// Start the mount process, its stderr in a log under `REPO/local` named after its pid.
fn spawn(repo: &Path, args: Vec<OsString>) -> Result<(Child, PathBuf)> {
    let exe = std::env::current_exe().map_err(|e| {
        Error::failed(
            format!("cannot find the cairn executable to start the mount: {e}"),
            "run `cairn mount MOUNTPOINT --foreground` instead (e.g. from a service unit)",
        )
    })?;
    let tmp_log = repo
        .join("local")
        .join(format!("mount-starting-{}.log", std::process::id()));
    let log = File::create(&tmp_log).map_err(|e| Error::io(tmp_log.display().to_string(), e))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--foreground")
        .env("CAIRN_REPO", repo)
        .env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    crate::sys::new_session_on_exec(&mut cmd);
    let child = cmd.spawn().map_err(|e| {
        Error::failed(
            format!("cannot start the mount process: {e}"),
            "run `cairn mount MOUNTPOINT --foreground` instead",
        )
    })?;
    let log_path = log_path(repo, child.id());
    let log_path = match fs::rename(&tmp_log, &log_path) {
        Ok(()) => log_path,
        Err(_) => tmp_log,
    };
    Ok((child, log_path))
}

/// Wait until `target` (canonical) is a mount point; the child's error if it exits first; kill
/// it after [`START_TIMEOUT`]. `given` is the mount point as the operator wrote it.
fn wait_mounted(child: &mut Child, target: &Path, log: &Path, given: &Path) -> Result<()> {
    let t0 = Instant::now();
    loop {
        if cairn_fuse::is_mount_point(target) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(child_error(log, status.code()));
        }
        if t0.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::failed(
                format!(
                    "the mount did not come up within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    last_lines(log)
                ),
                format!(
                    "see {}; try `cairn mount {} --foreground` to watch it",
                    log.display(),
                    given.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The error of a mount process that exited before mounting, from its log (which is removed):
/// its last `error:` line and `what to do:` line; exit code 2 is a usage error.
fn child_error(log: &Path, code: Option<i32>) -> Error {
    let text = fs::read_to_string(log).unwrap_or_default();
    let _ = fs::remove_file(log);
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| format!("the mount process exited ({code:?}): {}", text.trim()));
    let remedy = text
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("what to do: "))
        .unwrap_or("run `cairn mount MOUNTPOINT --foreground` to see what happens")
        .to_string();
    if code == Some(2) {
        Error::usage(message, remedy)
    } else {
        Error::failed(message, remedy)
    }
}

/// The last three lines of a log, joined.
fn last_lines(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_mount_process_reports_its_logged_error_and_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mount-1.log");
        fs::write(
            &log,
            "starting\nerror: no such backup\n  what to do: run `cairn list`\n",
        )
        .unwrap();
        let e = child_error(&log, Some(2));
        assert_eq!(e.to_string(), "no such backup");
        assert_eq!(e.remedy(), "run `cairn list`");
        assert_eq!(e.exit_code(), 2);
        assert!(!log.exists(), "the log of a failed start is removed");
        fs::write(&log, "a\nb\nc\nd\n").unwrap();
        assert_eq!(last_lines(&log), "b / c / d");
        let e = child_error(&log, Some(1));
        assert_eq!(e.exit_code(), 1);
        assert!(e
            .to_string()
            .starts_with("the mount process exited (Some(1))"));
    }
}
