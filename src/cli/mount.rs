//! `cairn mount`: every backup as a read-only filesystem, through the kernel's FUSE.
//!
//! A read-only command: it never takes the repository lease, and backups may run while mounted
//! (they appear in the root within a second or so). Without `--foreground` the command starts
//! itself again with `--foreground`, detached, waits until the mount is up and returns;
//! `umount MOUNTPOINT` ends it.

use super::{Global, IdentityArg};
use cairn::vfs::RepoTree;
use cairn::{Error, Result};
use cairn_fuse::{MountError, MountOptions};
use clap::Args;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the detached mount may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Mount options.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// An empty directory to mount on.
    pub mountpoint: PathBuf,
    /// The identity.
    #[command(flatten)]
    pub identity: IdentityArg,
    /// Stay in the foreground until unmounted (`umount MOUNTPOINT`, Ctrl-C or SIGTERM).
    #[arg(long)]
    pub foreground: bool,
}

/// Run a mount.
pub fn run(g: &Global, a: MountArgs) -> Result<()> {
    cairn_fuse::check_mountpoint(&a.mountpoint).map_err(mount_error)?;
    if a.foreground {
        foreground(g, &a)
    } else {
        background(g, &a)
    }
}

fn mount_error(e: MountError) -> Error {
    let remedy = e.remedy();
    let text = e.to_string();
    // the display ends with the remedy; it is printed on its own line
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

fn foreground(g: &Global, a: &MountArgs) -> Result<()> {
    let ctl = g.controller()?;
    let keys = a.identity.require("mount")?;
    let tree = RepoTree::open(ctl.repo, keys)?;
    if !g.quiet {
        eprintln!(
            "mounted the backups of {} at {}; `umount {}` or Ctrl-C ends it",
            g.repo.display(),
            a.mountpoint.display(),
            a.mountpoint.display()
        );
    }
    cairn_fuse::mount_foreground(tree, &a.mountpoint, &MountOptions::default())
        .map_err(mount_error)?;
    if std::env::var_os(DETACHED_ENV).is_some() {
        // a clean end: the log of this detached mount holds nothing worth keeping
        let _ = fs::remove_file(log_path(g, std::process::id()));
    }
    Ok(())
}

/// Set in the environment of the detached mount process.
const DETACHED_ENV: &str = "CAIRN_MOUNT_DETACHED";

/// Where the detached mount process `pid` writes its log.
fn log_path(g: &Global, pid: u32) -> PathBuf {
    g.repo.join("local").join(format!("mount-{pid}.log"))
}

/// Start `cairn … mount … --foreground` detached, and wait until it has mounted.
fn background(g: &Global, a: &MountArgs) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| {
        Error::failed(
            format!("cannot find the cairn executable to start the mount: {e}"),
            "run `cairn mount MOUNTPOINT --foreground` instead (e.g. from a service unit)",
        )
    })?;
    let local = g.repo.join("local");
    let tmp_log = local.join(format!("mount-starting-{}.log", std::process::id()));
    let log = File::create(&tmp_log).map_err(|e| Error::io(tmp_log.display().to_string(), e))?;
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .arg("--foreground")
        .env("CAIRN_REPO", &g.repo)
        .env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the child from our terminal and session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::failed(
            format!("cannot start the mount process: {e}"),
            "run `cairn mount MOUNTPOINT --foreground` instead",
        )
    })?;
    let log_path = log_path(g, child.id());
    let log_path = match fs::rename(&tmp_log, &log_path) {
        Ok(()) => log_path,
        Err(_) => tmp_log,
    };
    let target = fs::canonicalize(&a.mountpoint)
        .map_err(|e| Error::io(a.mountpoint.display().to_string(), e))?;
    let t0 = Instant::now();
    loop {
        if is_mounted(&target) {
            if !g.quiet {
                println!(
                    "mounted at {} (process {}, log {}); `umount {}` ends it",
                    target.display(),
                    child.id(),
                    log_path.display(),
                    target.display()
                );
            }
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(child_error(&log_path, status.code()));
        }
        if t0.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::failed(
                format!(
                    "the mount did not come up within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    last_lines(&log_path)
                ),
                format!(
                    "see {}; try `cairn mount {} --foreground` to watch it",
                    log_path.display(),
                    a.mountpoint.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The error of a mount process that exited before mounting, from its log.
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

fn last_lines(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// Whether `path` (canonical) is a mount point, from `/proc/self/mountinfo`.
fn is_mounted(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.as_os_str().as_bytes();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(super::unescape(r"/mnt/a\040b"), b"/mnt/a b");
        assert_eq!(super::unescape(r"/x\\y"), br"/x\\y");
        assert_eq!(super::unescape(r"/end\04"), br"/end\04");
    }
}
