//! A real Samba `smbd` on 127.0.0.1 for the integration tests.
//!
//! Each [`Samba`] runs its own smbd (own config, state directories, passdb and free port) in a
//! temporary directory, with share `backups` for user `cairn` and SMB3 as the minimum protocol
//! (the smb.conf of `accept/lib.sh`). smbd is started without `--no-process-group`, so it leads
//! its own process group and its SIGTERM handler stops its children, not ours.

#![allow(dead_code)]

use crate::harness::free_port;
use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of user `cairn` on every test server.
pub const PASSWORD: &str = "s3cret-pass";
/// The share's name.
pub const SHARE: &str = "backups";

/// A running (or stopped) smbd.
pub struct Samba {
    dir: tempfile::TempDir,
    /// TCP port smbd listens on (127.0.0.1).
    pub port: u16,
    child: Option<Child>,
    tmpfs: bool,
}

fn run(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    cmd.stdin(Stdio::null()).output()
}

/// Fails clearly when smbd is missing: tests install nothing themselves.
fn ensure_samba_installed() {
    if Path::new("/usr/sbin/smbd").exists() || which("smbd") {
        return;
    }
    panic!(
        "{}",
        crate::harness::missing_tool("smbd (Debian package samba)")
    );
}

fn which(prog: &str) -> bool {
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}")))
    .map(|o| o.status.success())
    .unwrap_or(false)
}

fn smbd_path() -> String {
    if Path::new("/usr/sbin/smbd").exists() {
        "/usr/sbin/smbd".into()
    } else {
        "smbd".into()
    }
}

fn ensure_user() {
    let ok = run(Command::new("id").arg("cairn"))
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let out = run(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", "cairn"]))
            .expect("run useradd");
        // Another test may have created it at the same moment.
        let again = run(Command::new("id").arg("cairn"))
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            again,
            "useradd cairn failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Samba {
    /// Start a server with a share on the local disk.
    pub fn start() -> Samba {
        Self::start_with(None, &[])
    }

    /// Start a server whose share is a tmpfs of `bytes` (to fill it up).
    pub fn start_small(bytes: u64) -> Samba {
        Self::start_with(Some(bytes), &[])
    }

    /// Start a server with extra `[global]` lines, e.g. `server smb encrypt = off`.
    pub fn start_with_globals(globals: &[&str]) -> Samba {
        Self::start_with(None, globals)
    }

    fn start_with(tmpfs_size: Option<u64>, globals: &[&str]) -> Samba {
        ensure_samba_installed();
        ensure_user();
        let dir = tempfile::Builder::new()
            .prefix("cairn-samba-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        for sub in [
            "share", "private", "lock", "state", "cache", "pid", "ncalrpc", "log",
        ] {
            fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        // The share's user must be able to reach its path.
        let mut p = Some(d);
        while let Some(x) = p {
            if x == Path::new("/") {
                break;
            }
            let mode = fs::metadata(x).map(|m| m.permissions().mode()).unwrap_or(0);
            if mode & 0o005 != 0o005 {
                let _ = fs::set_permissions(x, fs::Permissions::from_mode(mode | 0o755));
            }
            p = x.parent();
        }
        let share = d.join("share");
        let mut tmpfs = false;
        if let Some(size) = tmpfs_size {
            let out = run(Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}")])
                .arg("tmpfs")
                .arg(&share))
            .expect("run mount");
            assert!(
                out.status.success(),
                "mount tmpfs failed (the test needs root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            tmpfs = true;
        }
        let out = run(Command::new("chown").arg("cairn").arg(&share)).expect("chown");
        assert!(
            out.status.success(),
            "chown cairn share: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let conf = format!(
            "[global]
  server role = standalone server
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = {port}
  disable netbios = yes
  server min protocol = SMB3
  passdb backend = tdbsam:{d}/private/passdb.tdb
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  log file = {d}/log/log.%m
  log level = 1
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
{extra}
[{SHARE}]
  path = {d}/share
  read only = no
  valid users = cairn
",
            d = d.display(),
            extra = globals
                .iter()
                .map(|g| format!("  {g}\n"))
                .collect::<String>()
        );
        fs::write(d.join("smb.conf"), conf).expect("write smb.conf");
        let mut child = Command::new("smbpasswd")
            .arg("-c")
            .arg(d.join("smb.conf"))
            .args(["-s", "-a", "cairn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run smbpasswd");
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())
                .expect("smbpasswd stdin");
        }
        let out = child.wait_with_output().expect("smbpasswd");
        assert!(
            out.status.success(),
            "smbpasswd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut s = Samba {
            dir,
            port,
            child: None,
            tmpfs,
        };
        s.restart();
        s
    }

    /// The temporary directory holding config, state and share.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The share's directory on the local disk.
    pub fn share_dir(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    /// `smb://127.0.0.1:PORT/backups[/path]`.
    pub fn url(&self, path: &str) -> String {
        if path.is_empty() {
            format!("smb://127.0.0.1:{}/{SHARE}", self.port)
        } else {
            format!("smb://127.0.0.1:{}/{SHARE}/{path}", self.port)
        }
    }

    /// Start smbd (again, on the same port and state) and wait until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "smbd is already running");
        let d = self.dir.path();
        let log = fs::File::create(d.join("log/smbd.out")).expect("smbd log");
        let log2 = log.try_clone().expect("smbd log");
        let child = Command::new(smbd_path())
            .args(["--foreground", "--debug-stdout", "-s"])
            .arg(d.join("smb.conf"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("start smbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    panic!("smbd exited ({st}): {}", self.log_tail());
                }
            }
            assert!(
                Instant::now() < deadline,
                "smbd did not listen on {}: {}",
                self.port,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of smbd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let s = fs::read_to_string(self.dir.path().join("log/smbd.out")).unwrap_or_default();
        s.chars()
            .rev()
            .take(1500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }

    /// Whether smbd is running.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Stop smbd and its children (SIGTERM, then SIGKILL to its process group).
    pub fn stop(&mut self) {
        self.resume();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on the smbd we started (and, below, on its own process group).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let _ = wait_timeout::ChildExt::wait_timeout(&mut child, Duration::from_secs(5));
        // SAFETY: plain kill(2) on the smbd we started and its own process group, never ours.
        unsafe {
            // smbd leads its own process group (we never pass --no-process-group); kill its
            // connection children too. Never signal our own group.
            if libc::getpgid(pid) == pid && pid != libc::getpgrp() {
                libc::kill(-pid, libc::SIGKILL);
            }
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = child.wait();
        // Connection children may outlive the parent for a moment; wait until the port is free.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freeze smbd and its children (SIGSTOP to its process group): a hung server.
    pub fn pause(&self) {
        self.signal_group(libc::SIGSTOP);
    }

    /// Thaw a paused smbd.
    pub fn resume(&self) {
        self.signal_group(libc::SIGCONT);
    }

    fn signal_group(&self, sig: libc::c_int) {
        let Some(child) = self.child.as_ref() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group led by the smbd we started, never our own.
        unsafe {
            if libc::getpgid(pid) == pid && pid != libc::getpgrp() {
                libc::kill(-pid, sig);
            } else {
                libc::kill(pid, sig);
            }
        }
    }

    /// `smbstatus` for this server (sessions with their encryption and signing).
    pub fn status(&self) -> String {
        let out = run(Command::new("smbstatus")
            .arg("-s")
            .arg(self.dir.path().join("smb.conf"))
            .arg("-b"))
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default();
        out
    }
}

impl Samba {
    /// `smbstatus -S` for this server: each tree connect with its encryption and signing.
    pub fn shares_status(&self) -> String {
        run(Command::new("smbstatus")
            .arg("-s")
            .arg(self.dir.path().join("smb.conf"))
            .arg("-S"))
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default()
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.stop();
        if self.tmpfs {
            let _ = run(Command::new("umount").arg(self.share_dir()));
        }
    }
}
