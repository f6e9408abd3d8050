//! Supervising an operator-configured command (a hook, a notifier): it runs as the leader of
//! its own process group, so a time limit kills it with everything it started; its output pipes
//! are read on threads into bounded buffers, so a command that writes a lot, or leaves a
//! background process holding the pipe, never blocks cairn.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How long [`Output::take`] waits for the end of a pipe once the command has exited.
const PIPE_GRACE: Duration = Duration::from_millis(200);

/// Start `cmd` as the leader of a new process group.
pub fn spawn_in_group(cmd: &mut Command) -> std::io::Result<Child> {
    cmd.process_group(0).spawn()
}

/// Why [`wait`] gave up on a command (its process group has been killed and reaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It ran past its time limit.
    TimedOut,
    /// The caller's `stop` said so.
    Stopped,
}

/// Wait for `child` until `limit`, or until `stop` returns true (asked every 100 ms); past
/// either, kill its whole process group.
pub fn wait(
    child: &mut Child,
    limit: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<ExitStatus, Ended> {
    let t0 = Instant::now();
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        if let Ok(Some(st)) = child.wait_timeout(left.min(Duration::from_millis(100))) {
            return Ok(st);
        }
        let stopped = stop();
        if left.is_zero() || stopped {
            kill_group(child);
            return Err(if stopped {
                Ended::Stopped
            } else {
                Ended::TimedOut
            });
        }
    }
}

/// How long [`kill_group`] waits for the killed group's last member to be gone.
const GROUP_GONE: Duration = Duration::from_secs(5);

/// Kill the process group `child` leads (it and everything it started), reap it, and wait
/// (bounded) until no member of the group is left running: SIGKILL is delivered
/// asynchronously, so a grandchild may still be dying when its leader has been reaped.
fn kill_group(child: &mut Child) {
    let group = rustix::process::Pid::from_raw(child.id() as i32);
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.wait();
    let Some(group) = group else { return };
    let end = Instant::now() + GROUP_GONE;
    while group_running(group) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a member of process group `group` is still running. A dead member that its new
/// parent has not reaped yet (a zombie) is not: a killed grandchild is an orphan, and init
/// reaps orphans when it gets to them (seconds later on some machines).
fn group_running(group: rustix::process::Pid) -> bool {
    if rustix::process::test_kill_process_group(group).is_err() {
        return false;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true;
    };
    let want = group.as_raw_nonzero().to_string();
    procs.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": the fields after the last ')'
        let mut fields = stat.rsplit(')').next().unwrap_or("").split_whitespace();
        let (state, _ppid, pgrp) = (fields.next(), fields.next(), fields.next());
        pgrp == Some(want.as_str()) && state != Some("Z")
    })
}

/// A pipe read on its own thread into a buffer of at most `keep` bytes (the rest is read and
/// dropped, so the writer never blocks).
pub struct Output(Arc<Mutex<Vec<u8>>>, Receiver<()>);

/// Start reading `pipe` (nothing to read when `None`).
pub fn drain(pipe: Option<impl Read + Send + 'static>, keep: usize) -> Output {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        let b = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut kept = b.lock().unwrap_or_else(|p| p.into_inner());
                let room = keep.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            let _ = tx.send(());
        });
    }
    Output(buf, rx)
}

impl Output {
    /// What was read, after waiting briefly for the end of the pipe: output printed before the
    /// command exited is in the pipe, and a background process it left holding the pipe must
    /// not hold us.
    pub fn take(self) -> Vec<u8> {
        let _ = self.1.recv_timeout(PIPE_GRACE);
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sh(script: &str) -> Command {
        let mut c = crate::sys::shell(script);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }

    #[test]
    fn output_is_kept_up_to_its_bound_and_the_writer_is_not_blocked() {
        let mut child =
            spawn_in_group(&mut sh("head -c 1000000 /dev/zero; echo done >&2")).unwrap();
        let out = drain(child.stdout.take(), 1000);
        let st = wait(&mut child, Duration::from_secs(30), &|| false).unwrap();
        assert!(st.success());
        assert_eq!(out.take().len(), 1000);
    }

    #[test]
    fn the_limit_kills_the_whole_group_including_a_background_child() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("late");
        let script = format!("(sleep 2; touch {}) & sleep 60", marker.display());
        let mut child = spawn_in_group(&mut sh(&script)).unwrap();
        let out = drain(child.stdout.take(), 10);
        let r = wait(&mut child, Duration::from_millis(300), &|| false);
        assert_eq!(r.unwrap_err(), Ended::TimedOut);
        let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        assert!(
            !group_running(group),
            "a member of the killed group is still running when wait returns"
        );
        // The background sleeper held the pipe: take() must not wait for it.
        assert!(out.take().is_empty());
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "the background child outlived the kill");
    }

    #[test]
    fn stop_ends_the_wait_early() {
        let mut child = spawn_in_group(&mut sh("sleep 60")).unwrap();
        let r = wait(&mut child, Duration::from_secs(60), &|| true);
        assert_eq!(r.unwrap_err(), Ended::Stopped);
    }
}
