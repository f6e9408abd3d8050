//! Attacks on backup (see ../hostile.rs): a user who can write a service directory plants
//! FIFOs, devices, links and file names that drive the terminal; a service's command line holds
//! a password; `REPO/local` must stay private.
//!
//! The race itself (an entry swapped between its listing and its opening) is simulated
//! deterministically in the walker's unit tests (`backup::walk::tests`,
//! `backup::open::tests`): a binary cannot be paused between two system calls.

use crate::harness::*;
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use wait_timeout::ChildExt;

/// Run cairn with a time limit (killed after it); output through files, so nothing blocks.
fn run_within(e: &Env, args: &[&str], limit: Duration) -> Out {
    let (o, r) = (e.path("timed.out"), e.path("timed.err"));
    let mut c = command(&e.repo, args);
    c.stdout(Stdio::from(fs::File::create(&o).unwrap()))
        .stderr(Stdio::from(fs::File::create(&r).unwrap()));
    let mut child = c.spawn().expect("start cairn");
    let Some(status) = child.wait_timeout(limit).unwrap() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("cairn {args:?} did not finish within {limit:?}: it hangs");
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&fs::read(&o).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&r).unwrap()).into_owned(),
    }
}

const EVIL: &str = "fifo\x1b[31m\nFAKE LINE: backup OK 5e2f";

/// No raw control character (ESC above all) and no line of its own for the injected text.
#[track_caller]
fn assert_escaped(what: &str, text: &str) {
    assert!(
        !text.contains('\x1b'),
        "{what} prints a raw ESC: {:?}",
        text
    );
    assert!(
        !text.lines().any(|l| l.starts_with("FAKE LINE")),
        "{what} lets a newline in a file name start a line of its own:\n{text}"
    );
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} prints a raw control character: {text:?}"
    );
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// A character device like /dev/zero (reading it never ends); false if we may not make one.
fn mkzero(p: &Path) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mknod only creates a directory entry.
    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 5)) == 0 }
}

/// Every regular file's bytes under `dir` (links are not followed).
fn contents_under(dir: &Path) -> Vec<Vec<u8>> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            fs::symlink_metadata(p)
                .map(|m| m.is_file())
                .unwrap_or(false)
        })
        .map(|p| fs::read(p).unwrap())
        .collect()
}

#[test]
fn fifos_devices_and_links_in_a_service_are_never_read_and_names_are_printed_escaped() {
    let e = Env::new();
    let src = e.path("src");
    let outside = e.path("outside");
    write(&src.join("plain.txt"), b"an ordinary file\n");
    let secret = b"SECRET outside the service: root's private key".to_vec();
    write(&outside.join("secret.key"), &secret);
    mkfifo(&src.join(EVIL));
    // a FIFO deeper down, where a reader would block on it forever
    fs::create_dir_all(src.join("run")).unwrap();
    mkfifo(&src.join("run/control.pipe"));
    let device = mkzero(&src.join("zero"));
    std::os::unix::fs::symlink(outside.join("secret.key"), src.join("key")).unwrap();
    std::os::unix::fs::symlink("/etc", src.join("etc")).unwrap();
    e.add_path_service("odd", &src);

    let o = run_within(&e, &["--quiet", "backup"], Duration::from_secs(60));
    o.ok("backup with FIFOs, a device and links");
    assert_escaped("cairn backup", &o.all());
    let id = o.last_line();

    // the warnings are counted in the job record, one per entry left out, escaped on output
    let expected = 2 + device as usize;
    let jobs = e.run(["jobs", "--json"]);
    jobs.ok("jobs --json");
    let job = &jobs.json()[0];
    let warnings: Vec<&str> = job["warnings"]
        .as_array()
        .expect("warnings is an array")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), expected, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w.contains(EVIL) && w.contains("FIFO")));
    assert!(warnings.iter().any(|w| w.contains("control.pipe")));
    if device {
        assert!(warnings
            .iter()
            .any(|w| w.contains("zero") && w.contains("character device")));
    }
    for cmd in [
        vec!["show", id.as_str()],
        vec!["list"],
        vec!["jobs"],
        vec!["alerts", "--all"],
        vec!["service", "list"],
    ] {
        let out = e.run(&cmd);
        out.ok(&format!("{cmd:?}"));
        assert_escaped(&format!("cairn {cmd:?}"), &out.all());
    }
    let jobs_text = e.run(["jobs"]).stdout;
    assert!(
        jobs_text.contains("fifo\\x1b[31m\\nFAKE LINE"),
        "jobs does not show the escaped warning:\n{jobs_text}"
    );

    // restored: the file, the links as links, nothing of what they point at, no FIFO or device
    let t = e.path("restored");
    e.restore(&id, &t, &[]).ok("restore");
    let r = t.join("odd");
    assert_eq!(
        fs::read(r.join("plain.txt")).unwrap(),
        b"an ordinary file\n"
    );
    for (link, to) in [
        ("key", outside.join("secret.key")),
        ("etc", Path::new("/etc").to_path_buf()),
    ] {
        assert_eq!(fs::read_link(r.join(link)).unwrap(), to, "{link}");
    }
    for gone in [
        OsStr::new(EVIL),
        OsStr::new("zero"),
        OsStr::new("run/control.pipe"),
    ] {
        assert!(
            fs::symlink_metadata(r.join(gone)).is_err(),
            "{gone:?} was restored"
        );
    }
    for bytes in contents_under(&r) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "the secret behind a link was backed up"
        );
    }
    assert!(
        files_under(&r)
            .iter()
            .all(|p| !p.starts_with(r.join("etc/"))),
        "/etc was descended"
    );
}

#[test]
fn local_state_is_private_and_an_old_open_one_is_tightened() {
    let e = Env::new();
    let src = e.path("src");
    write(&src.join("f.txt"), b"data");
    e.add_path_service("svc", &src);
    e.run(["notify", "set", "--command", "true"])
        .ok("notify set");
    e.backup();
    e.run(["jobs"]).ok("jobs");
    e.run(["alerts"]).ok("alerts");
    let local = e.repo.join("local");
    let open_entries = |dir: &Path| -> Vec<String> {
        std::iter::once(dir.to_path_buf())
            .chain(all_entries(dir))
            .filter_map(|p| {
                let m = fs::symlink_metadata(&p).ok()?;
                let mode = m.permissions().mode() & 0o7777;
                (!m.file_type().is_symlink() && mode & 0o077 != 0)
                    .then(|| format!("{} {mode:o}", p.display()))
            })
            .collect()
    };
    assert!(
        files_under(&local.join("index")).len() + files_under(&local.join("state")).len() > 2,
        "no sled databases under local/"
    );
    assert_eq!(
        open_entries(&local),
        Vec::<String>::new(),
        "entries under REPO/local readable by group or others"
    );
    assert_eq!(
        fs::metadata(&local).unwrap().permissions().mode() & 0o7777,
        0o700
    );

    // a repository left open by an older cairn is tightened by the next command
    for p in std::iter::once(local.clone()).chain(all_entries(&local)) {
        let m = fs::symlink_metadata(&p).unwrap();
        let mode = if m.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    assert!(!open_entries(&local).is_empty());
    e.run(["jobs"]).ok("jobs");
    assert_eq!(open_entries(&local), Vec::<String>::new(), "not tightened");
}

fn all_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(all_entries(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_failing_command_service_never_reveals_its_command_line() {
    let e = Env::new();
    let events = e.path("events.json");
    e.run([
        "notify",
        "set",
        "--command",
        &format!("cat >> '{}'", events.display()),
    ])
    .ok("notify set");
    e.run([
        "service",
        "add",
        "db",
        "--command",
        "PGPASSWORD=hunter2 false",
    ])
    .ok("service add");
    let o = e.run(["--quiet", "backup"]);
    o.expect(1, "backup with a failing command");
    assert!(
        o.stderr.contains("db") && o.stderr.contains("status 1"),
        "the error names neither the service nor the exit status: {}",
        o.stderr
    );
    // a command that prints to stderr: its end is kept in the job record only
    e.run(["service", "remove", "db"]).ok("service remove");
    e.run([
        "service",
        "add",
        "db",
        "--command",
        "PGPASSWORD=hunter2 sh -c 'echo \"pg_dump: connection refused\" >&2; exit 2'",
    ])
    .ok("service add");
    let o2 = e.run(["--quiet", "backup"]);
    o2.expect(1, "backup with a failing command");
    let jobs = e.run(["jobs", "--json"]);
    jobs.ok("jobs --json");
    assert!(
        jobs.stdout.contains("connection refused"),
        "the end of the command's error output is not in the job record: {}",
        jobs.stdout
    );
    let alerts = e.run(["alerts", "--json", "--all"]);
    alerts.ok("alerts --json");
    assert!(alerts.stdout.contains("db"), "no alert: {}", alerts.stdout);
    let notified = fs::read_to_string(&events).unwrap_or_default();
    assert!(
        notified.contains("\"raised\""),
        "no notification: {notified}"
    );
    for (what, text) in [
        ("backup's stderr", o.all()),
        ("the second backup's stderr", o2.all()),
        ("jobs --json", jobs.stdout.clone()),
        ("jobs", e.run(["jobs"]).all()),
        ("alerts --json", alerts.stdout.clone()),
        ("alerts", e.run(["alerts", "--all"]).all()),
        ("the notifier's input", notified),
    ] {
        assert!(
            !text.contains("hunter2") && !text.contains("PGPASSWORD"),
            "{what} reveals the command line:\n{text}"
        );
    }
}
