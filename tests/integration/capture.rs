//! Coordinated capture with real hook processes (`--prepare`, `--release`, `--capture-path`,
//! `--timeout`, `--restore-after`). Order and outcomes are read from the files the hooks write,
//! never from timings.

use crate::harness::{cairn, write, Env};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The lines of the log the hooks append to (`echo WORD >> LOG`: one short write, atomic).
fn log(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn pos(lines: &[String], what: &str) -> usize {
    lines
        .iter()
        .position(|l| l == what)
        .unwrap_or_else(|| panic!("{what} not in the log: {lines:?}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn add(e: &Env, args: &[&str]) {
    let mut a = vec!["service", "add"];
    a.extend_from_slice(args);
    e.run(&a).ok("service add");
}

fn alerts(e: &Env, all: bool) -> Vec<serde_json::Value> {
    let mut a = vec!["alerts", "--json"];
    if all {
        a.push("--all");
    }
    e.run(&a).ok("alerts").json().as_array().unwrap().clone()
}

/// A command that starts `sleep 300` in the background, records its pid in `pidfile` and waits.
/// The pid is written whole (to a temporary file, then renamed): a reader that sees the file
/// never reads it empty.
fn sleeper(pidfile: &Path) -> String {
    format!(
        "sleep 300 & echo $! > {p}.tmp && mv {p}.tmp {p}; wait",
        p = s(pidfile)
    )
}

/// The background `sleep 300` that [`sleeper`] started: killed when dropped, so a test that
/// fails (or that left it to run on purpose) never leaves it behind on the machine.
struct Sleeper(rustix::process::Pid);

impl Sleeper {
    /// Read once `pidfile` exists.
    fn read(pidfile: &Path) -> Sleeper {
        let text = fs::read_to_string(pidfile).unwrap();
        let pid: i32 = text.trim().parse().unwrap_or_else(|_| panic!("{text:?}"));
        Sleeper(rustix::process::Pid::from_raw(pid).unwrap())
    }

    /// Gone, or a zombie left to init: dead either way, never still sleeping.
    fn is_dead(&self) -> bool {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.0.as_raw_nonzero()))
            .unwrap_or_default();
        stat.is_empty() || stat.contains(") Z ")
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        if !self.is_dead() {
            let _ = rustix::process::kill_process(self.0, rustix::process::Signal::KILL);
        }
    }
}

fn pending(e: &Env) -> PathBuf {
    e.repo.join("local").join(cairn::capture::pending::FILE)
}

#[test]
fn a_slow_prepare_holds_every_capture_back_and_release_follows_each_capture() {
    let e = Env::new();
    let l = e.path("log");
    let (l, src) = (s(&l).to_string(), e.path("a"));
    write(&src.join("f"), b"a's data");
    let slow = format!("sleep 1; echo prepared-a >> {l}");
    add(
        &e,
        &[
            "a",
            "--path",
            s(&src),
            "--prepare",
            &slow,
            "--release",
            &format!("echo released-a >> {l}"),
        ],
    );
    let capture_b = format!("echo captured-b >> {l}; echo b-data");
    let prep_b = format!("echo prepared-b >> {l}");
    let rel_b = format!("echo released-b >> {l}");
    add(
        &e,
        &[
            "b",
            "--command",
            &capture_b,
            "--prepare",
            &prep_b,
            "--release",
            &rel_b,
        ],
    );
    add(
        &e,
        &[
            "c",
            "--command",
            &format!("echo captured-c >> {l}; echo c-data"),
        ],
    );
    let id = e.backup();
    let lines = log(Path::new(&l));
    let slow_done = pos(&lines, "prepared-a").max(pos(&lines, "prepared-b"));
    for c in ["captured-b", "captured-c"] {
        assert!(
            pos(&lines, c) > slow_done,
            "{c} before every prepare ended: {lines:?}"
        );
    }
    assert!(
        pos(&lines, "released-b") > pos(&lines, "captured-b"),
        "{lines:?}"
    );
    assert!(pos(&lines, "released-a") > slow_done, "{lines:?}");
    assert_eq!(lines.len(), 6, "each hook ran once: {lines:?}");
    // the manifest records the phases, and its time is the moment the barrier opened
    let show = e.run(["show", &id, "--json"]).ok("show").json();
    let ms = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let svc = |n: usize| show["services"][n]["phases"].clone();
    let barrier = ms(&svc(0)["prepare"]["end"]).max(ms(&svc(1)["prepare"]["end"]));
    assert!(ms(&show["time"]) >= barrier, "{show}");
    for n in 0..3 {
        assert!(ms(&svc(n)["capture"]["start"]) >= barrier, "{show}");
    }
    assert!(
        svc(2)["prepare"].is_null() && svc(2)["release"].is_null(),
        "{show}"
    );
    let text = e.run(["show", &id]).ok("show").stdout.clone();
    assert!(
        text.contains("prepare ") && text.contains("release "),
        "{text}"
    );
    assert!(!pending(&e).exists());
}

#[test]
fn a_failing_prepare_captures_nothing_releases_the_others_and_alerts_naming_the_service() {
    let e = Env::new();
    let l = e.path("log");
    let l = s(&l);
    let src = e.path("a");
    write(&src.join("f"), b"x");
    add(
        &e,
        &[
            "a",
            "--path",
            s(&src),
            "--prepare",
            &format!("echo prepared-a >> {l}"),
            "--release",
            &format!("echo released-a >> {l}"),
        ],
    );
    add(
        &e,
        &[
            "vault",
            "--command",
            &format!("echo captured-vault >> {l}"),
            "--prepare",
            "echo nope >&2; TOKEN=hunter2; exit 3",
        ],
    );
    add(
        &e,
        &[
            "c",
            "--command",
            &format!("echo captured-c >> {l}"),
            "--release",
            &format!("echo released-c >> {l}"),
        ],
    );
    let o = e.run(["--quiet", "backup"]);
    o.expect(1, "backup with a failing prepare");
    assert!(
        o.stderr.contains("service vault: its prepare hook failed"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains("hunter2"),
        "the hook's command line leaked: {}",
        o.stderr
    );
    let lines = log(Path::new(l));
    assert!(
        !lines.iter().any(|x| x.starts_with("captured")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"released-a".into()) && lines.contains(&"released-c".into()),
        "{lines:?}"
    );
    assert!(e.ids().is_empty(), "a backup was committed");
    let a = alerts(&e, false);
    let hit = a
        .iter()
        .find(|x| x["subject"] == "vault")
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(hit["cause"], "service_prepare_failed");
    assert!(
        hit["remedy"]
            .as_str()
            .unwrap()
            .contains("service set vault"),
        "{hit}"
    );
    assert!(!hit.to_string().contains("hunter2"));
    assert!(!pending(&e).exists());
}

#[test]
fn a_hanging_prepare_is_killed_with_its_process_group_at_its_timeout() {
    let e = Env::new();
    let l = e.path("log");
    let pid = e.path("pid");
    add(
        &e,
        &[
            "a",
            "--command",
            "echo a",
            "--prepare",
            "true",
            "--release",
            &format!("echo released-a >> {}", s(&l)),
        ],
    );
    let hang = sleeper(&pid);
    add(
        &e,
        &[
            "stuck",
            "--command",
            "echo x",
            "--prepare",
            &hang,
            "--timeout",
            "1s",
        ],
    );
    let o = e.run(["--quiet", "backup"]);
    o.expect(1, "backup with a hanging prepare");
    assert!(
        o.stderr.contains("service stuck") && o.stderr.contains("did not finish within 1s"),
        "{}",
        o.stderr
    );
    assert_eq!(log(&l), ["released-a"]);
    assert!(Sleeper::read(&pid).is_dead(), "the hook's child survived");
    let a = alerts(&e, false);
    assert!(
        a.iter()
            .any(|x| x["subject"] == "stuck" && x["cause"] == "service_prepare_timed_out"),
        "{a:?}"
    );
}

#[test]
fn release_runs_after_a_sigkilled_capture_worker() {
    let e = Env::new();
    let l = e.path("log");
    let l = s(&l);
    add(
        &e,
        &[
            "db",
            "--command",
            "echo partial; kill -9 $$",
            "--prepare",
            &format!("echo prepared >> {l}"),
            "--release",
            &format!("echo released >> {l}"),
        ],
    );
    let o = e.run(["--quiet", "backup"]);
    o.expect(1, "backup whose capture was killed");
    assert!(
        o.stderr.contains("service db") && o.stderr.contains("signal 9"),
        "{}",
        o.stderr
    );
    assert_eq!(log(Path::new(l)), ["prepared", "released"]);
    assert!(!pending(&e).exists());
}

#[test]
fn a_crash_between_prepare_and_release_is_released_with_an_alert_at_the_next_start() {
    let e = Env::new();
    let l = e.path("log");
    let l = s(&l);
    let pid = e.path("pid");
    let prep = format!("echo prepared $CAIRN_BACKUP_ID >> {l}");
    let rel = format!("echo released $CAIRN_BACKUP_ID >> {l}");
    let hang = format!("echo capturing >> {l}; {}", sleeper(&pid));
    add(
        &e,
        &[
            "a",
            "--command",
            &hang,
            "--prepare",
            &prep,
            "--release",
            &rel,
        ],
    );
    let mut child = crate::harness::spawn(&e.repo, ["--quiet", "backup"]);
    let t0 = std::time::Instant::now();
    while !log(Path::new(l)).contains(&"capturing".into()) || !pid.exists() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "capture never began: {:?}",
            log(Path::new(l))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: the whole cairn process dies between prepare and release
    child.wait().unwrap();
    // the capture command outlives cairn: end it (its shell's `wait` returns)
    drop(Sleeper::read(&pid));
    let lines = log(Path::new(l));
    assert!(
        !lines.iter().any(|x| x.starts_with("released")),
        "{lines:?}"
    );
    assert!(pending(&e).exists(), "no prepared-but-not-released record");
    let crashed = lines[0].strip_prefix("prepared ").unwrap().to_string();
    // the record keeps the release command: a is released even though it is gone from the list
    e.run(["service", "remove", "a"]).ok("service remove");
    add(
        &e,
        &[
            "b",
            "--command",
            "echo b",
            "--prepare",
            &format!("echo prepared-b >> {l}"),
            "--release",
            &format!("echo released-b >> {l}"),
        ],
    );
    assert!(
        pending(&e).exists(),
        "service add and remove take no lease: nothing released yet"
    );
    let o = e.run(["--quiet", "backup"]);
    o.ok("backup after the crash");
    assert!(
        o.stderr.contains("service a") && o.stderr.contains("release hook ran"),
        "{}",
        o.stderr
    );
    // the crashed backup's release ran first, then the new backup's prepare and release
    let want = [
        format!("prepared {crashed}"),
        "capturing".into(),
        format!("released {crashed}"),
        "prepared-b".into(),
        "released-b".into(),
    ];
    assert_eq!(log(Path::new(l)), want);
    assert!(!pending(&e).exists());
    let a = alerts(&e, true);
    assert!(
        a.iter()
            .any(|x| x["subject"] == "a" && x["cause"] == "service_released_after_crash"),
        "{a:?}"
    );
}

#[test]
fn a_backup_stopped_by_sigterm_during_prepare_releases_what_it_prepared() {
    let e = Env::new();
    let l = e.path("log");
    let l = s(&l);
    let pid = e.path("pid");
    add(
        &e,
        &[
            "a",
            "--command",
            "echo a",
            "--prepare",
            &format!("echo prepared-a >> {l}"),
            "--release",
            &format!("echo released-a >> {l}"),
        ],
    );
    let hang = sleeper(&pid);
    add(
        &e,
        &[
            "b",
            "--command",
            &format!("echo captured-b >> {l}"),
            "--prepare",
            &hang,
        ],
    );
    let child = crate::harness::command(&e.repo, ["--quiet", "backup"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !log(Path::new(l)).contains(&"prepared-a".into()) || !pid.exists() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "prepare never ran: {:?}",
            log(Path::new(l))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::harness::terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(log(Path::new(l)), ["prepared-a", "released-a"]);
    assert!(
        !pending(&e).exists(),
        "the release was left to the next start"
    );
    assert!(
        Sleeper::read(&pid).is_dead(),
        "the stopped prepare's child survived"
    );
}

#[test]
fn a_failing_release_fails_the_backup_with_an_alert_naming_the_service() {
    let e = Env::new();
    add(
        &e,
        &[
            "idp",
            "--command",
            "echo idp",
            "--prepare",
            "true",
            "--release",
            "echo stuck >&2; exit 4",
        ],
    );
    let o = e.run(["--quiet", "backup"]);
    o.expect(1, "backup with a failing release");
    assert!(
        o.stderr.contains("service idp: its release hook failed"),
        "{}",
        o.stderr
    );
    assert!(e.ids().is_empty(), "a backup was committed");
    let a = alerts(&e, false);
    let hit = a
        .iter()
        .find(|x| x["subject"] == "idp")
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(hit["cause"], "service_release_failed");
    assert!(
        hit["remedy"]
            .as_str()
            .unwrap()
            .contains("run the release by hand"),
        "{hit}"
    );
    assert!(
        !pending(&e).exists(),
        "a failed release is the alert's, not retried at each start"
    );
}

#[test]
fn capture_path_from_the_flag_and_from_prepare_stdout_is_what_is_captured() {
    let e = Env::new();
    let (live_a, snap_a) = (e.path("live-a"), e.path("snap-a"));
    write(&live_a.join("f"), b"live, changing");
    write(&snap_a.join("f"), b"snapshot of a");
    add(
        &e,
        &["a", "--path", s(&live_a), "--capture-path", s(&snap_a)],
    );
    let (live_b, snap_b) = (e.path("live-b"), e.path("snap-b"));
    write(&live_b.join("f"), b"b at the snapshot");
    let prep = format!(
        "cp -a {}/. {}/ && echo frozen > {}/marker && echo CAIRN_CAPTURE_PATH={}",
        s(&live_b),
        s(&snap_b),
        s(&snap_b),
        s(&snap_b)
    );
    fs::create_dir_all(&snap_b).unwrap();
    let rel = format!(
        "echo \"$CAIRN_CAPTURE_PATH\" > {}; rm -rf \"$CAIRN_CAPTURE_PATH\"",
        s(&e.path("released-path"))
    );
    add(
        &e,
        &[
            "b",
            "--path",
            s(&live_b),
            "--prepare",
            &prep,
            "--release",
            &rel,
        ],
    );
    let id = e.backup();
    let t = e.path("r");
    e.restore(&id, &t, &[]).ok("restore");
    assert_eq!(fs::read(t.join("a/f")).unwrap(), b"snapshot of a");
    assert_eq!(fs::read(t.join("b/f")).unwrap(), b"b at the snapshot");
    assert_eq!(fs::read(t.join("b/marker")).unwrap(), b"frozen\n");
    assert!(!t.join("a/marker").exists() && !live_b.join("marker").exists());
    let released = fs::read_to_string(e.path("released-path")).unwrap();
    assert_eq!(released.trim(), s(&snap_b));
    assert!(!snap_b.exists(), "release did not get the capture path");
}

#[test]
fn restore_order_cycles_are_refused_and_bad_settings_change_nothing() {
    let e = Env::new();
    add(&e, &["ca", "--command", "echo ca"]);
    add(
        &e,
        &["ident", "--command", "echo id", "--restore-after", "ca"],
    );
    let before = e
        .run(["service", "list", "--json"])
        .ok("list")
        .stdout
        .clone();
    for args in [
        &[
            "service",
            "add",
            "loop",
            "--command",
            "echo x",
            "--restore-after",
            "loop",
        ][..],
        &["service", "set", "ca", "--restore-after", "ident"],
        &[
            "service",
            "add",
            "x",
            "--command",
            "echo x",
            "--restore-after",
            "nosuch",
        ],
        &["service", "set", "nosuch", "--prepare", "true"],
        &["service", "set", "ca", "--timeout", "soon"],
    ] {
        let o = e.run(args);
        o.expect(2, &args.join(" "));
        assert!(o.stderr.contains("what to do"), "{}", o.stderr);
    }
    let o = e.run(["service", "set", "ca", "--restore-after", "ident"]);
    assert!(o.stderr.contains("cycle"), "{}", o.stderr);
    assert_eq!(e.run(["service", "list", "--json"]).stdout, before);
    // set changes hooks; '' removes one
    e.run([
        "service",
        "set",
        "ca",
        "--prepare",
        "true",
        "--release",
        "true",
    ])
    .ok("set");
    e.run(["service", "set", "ca", "--prepare", ""])
        .ok("set ''");
    let l = e.run(["service", "list", "--json"]).ok("list").json();
    assert!(
        l[0].get("prepare").is_none() && l[0]["release"] == "true",
        "{l}"
    );
}

#[test]
fn recover_runs_restore_commands_in_the_declared_order() {
    let e = Env::new();
    let order = e.path("order");
    let o = s(&order);
    // ident is added first; the order comes from --restore-after alone
    add(
        &e,
        &[
            "ident",
            "--command",
            "echo id",
            "--restore-command",
            &format!("cat >/dev/null; echo ident >> {o}"),
        ],
    );
    add(
        &e,
        &[
            "ca",
            "--command",
            "echo ca",
            "--restore-command",
            &format!("cat >/dev/null; echo ca >> {o}"),
        ],
    );
    e.run(["service", "set", "ident", "--restore-after", "ca"])
        .ok("set --restore-after");
    let share = e.path("share");
    fs::create_dir_all(&share).unwrap();
    e.run(["target", "set", s(&share)]).ok("target set");
    e.backup();
    let fp = e.run(["key", "list", "--json"]).ok("key list").json()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = e.path("fresh");
    let id = e.identity.to_str().unwrap();
    let rec = e.path("rec");
    let args = [
        "recover",
        "--from",
        s(&share),
        "--identity",
        id,
        "--fingerprint",
        &fp,
        "--target",
        s(&rec),
    ];
    cairn(&fresh, args).ok("recover");
    assert_eq!(fs::read_to_string(&order).unwrap(), "ca\nident\n");
    // the recovered definitions keep the order
    let l = cairn(&fresh, ["service", "list", "--json"])
        .ok("list")
        .json();
    assert_eq!(l[0]["restore_after"], serde_json::json!(["ca"]), "{l}");
}

/// A writer appends the same sequence number to a file in each of two services, in lockstep,
/// and pauses while a `pause-*` file exists. Each service's prepare pauses it and its release
/// lets go: the restored files end at the same number only if both were captured while every
/// prepare held the writer.
#[test]
fn two_services_written_continuously_are_restored_at_the_same_sequence_number() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let e = Env::new();
    let w = e.path("w");
    for d in ["a", "b"] {
        fs::create_dir_all(w.join(d)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (w, stop) = (w.clone(), stop.clone());
        std::thread::spawn(move || writer(&w, &stop))
    };
    for (name, wait) in [("a", "sleep 1"), ("b", "true")] {
        let prep = format!(
            "{wait}; touch {w}/pause-{name}; while [ ! -e {w}/paused ]; do sleep 0.01; done",
            w = s(&w)
        );
        let rel = format!("rm -f {}/pause-{name}", s(&w));
        add(
            &e,
            &[
                name,
                "--path",
                s(&w.join(name)),
                "--prepare",
                &prep,
                "--release",
                &rel,
            ],
        );
    }
    let id = e.backup();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let t = e.path("r");
    e.restore(&id, &t, &[]).ok("restore");
    let last = |f: PathBuf| {
        fs::read_to_string(f)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    let (a, b) = (last(t.join("a/log")), last(t.join("b/log")));
    assert_eq!(a, b, "captured at different moments");
    assert!(a.parse::<u64>().unwrap() > 0);
}

fn writer(w: &Path, stop: &std::sync::atomic::AtomicBool) {
    use std::io::Write;
    let held = || {
        fs::read_dir(w)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("pause-"))
    };
    let mut i = 0u64;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        if held() {
            fs::write(w.join("paused"), b"").unwrap();
            while held() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            fs::remove_file(w.join("paused")).unwrap();
        }
        i += 1;
        for d in ["a", "b"] {
            let mut f = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(w.join(d).join("log"))
                .unwrap();
            writeln!(f, "{i}").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
