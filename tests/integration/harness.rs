//! Driving the real `cairn` binary as an operator does: run it with arguments and environment,
//! capture stdout, stderr and the exit code; build source trees; compare trees byte for byte.

#![allow(dead_code)]

use rand::{Rng, RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// What one run of cairn did.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Both streams, for messages.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panic with the output unless the exit code is `code`; also never a panic of cairn.
    #[track_caller]
    pub fn expect(&self, code: i32, what: &str) -> &Self {
        assert!(
            !self.stderr.contains("panicked"),
            "{what}: cairn panicked:\n{}",
            self.stderr
        );
        assert_eq!(
            self.code, code,
            "{what}: exit code {} (wanted {code})\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        if code != 0 {
            assert!(
                !self.stderr.trim().is_empty(),
                "{what}: exit {code} without a message on stderr"
            );
        }
        self
    }

    /// Success.
    #[track_caller]
    pub fn ok(&self, what: &str) -> &Self {
        self.expect(0, what)
    }

    /// The last non-empty line of stdout.
    pub fn last_line(&self) -> String {
        self.stdout
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// A command line for cairn: no inherited CAIRN_* variables, stdin closed.
pub fn command<I, S>(repo: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(CAIRN);
    c.args(args);
    cairn_env(&mut c, repo);
    c
}

/// The environment every cairn run gets: `repo`, no inherited CAIRN_* variables, stdin closed.
fn cairn_env(c: &mut Command, repo: &Path) {
    c.env("CAIRN_REPO", repo)
        .env_remove("CAIRN_IDENTITY_FILE")
        .env_remove("CAIRN_PASSWORD_FILE")
        .env_remove("CAIRN_LOG")
        .stdin(Stdio::null());
}

/// Run a command line to its end.
pub fn run_cmd(mut c: Command) -> Out {
    let o = c.output().expect("run cairn");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Run cairn against `repo` with `args`.
pub fn cairn<I, S>(repo: &Path, args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(command(repo, args))
}

/// Run cairn against `repo` with `args` and measure its peak resident memory, in KiB.
///
/// The test process cannot measure its own child: `Command` spawns with vfork semantics, and
/// at exec the kernel folds the *parent's* high-water RSS into the child's `ru_maxrss`, so the
/// figure would be this test binary's peak. A small python3 fork()s a fresh child that execs
/// cairn and reports that child's `ru_maxrss` alone (python's own few MiB at fork included).
pub fn cairn_measured<I, S>(repo: &Path, args: I) -> (Out, u64)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    const SCRIPT: &str = r#"
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let peak = dir.path().join("peak");
    let mut c = Command::new("python3");
    c.arg("-c").arg(SCRIPT).arg(&peak).arg(CAIRN).args(args);
    cairn_env(&mut c, repo);
    let out = run_cmd(c);
    let kib = fs::read_to_string(&peak)
        .unwrap_or_else(|e| panic!("no peak memory reported ({e}): {}", out.all()))
        .trim()
        .parse()
        .expect("ru_maxrss in KiB");
    (out, kib)
}

/// Start cairn without waiting (output discarded).
pub fn spawn<I, S>(repo: &Path, args: I) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = command(repo, args);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c.spawn().expect("start cairn")
}

/// A scratch area with an initialised repository and an identity.
pub struct Env {
    /// Everything lives here.
    pub dir: tempfile::TempDir,
    /// `--repo`.
    pub repo: PathBuf,
    /// The identity file.
    pub identity: PathBuf,
    /// Its recipient.
    pub recipient: String,
}

impl Env {
    /// A new repository for a freshly generated key.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        let identity = dir.path().join("id.txt");
        let g = cairn(
            &repo,
            [
                OsStr::new("key"),
                "generate".as_ref(),
                "--output".as_ref(),
                identity.as_os_str(),
            ],
        );
        g.ok("key generate");
        let recipient = g.last_line();
        cairn(&repo, ["init", "--recipient", &recipient]).ok("init");
        Env {
            dir,
            repo,
            identity,
            recipient,
        }
    }

    /// A path inside the scratch area.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Run cairn on this repository.
    pub fn run<I, S>(&self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        cairn(&self.repo, args)
    }

    /// `service add NAME --path DIR`.
    pub fn add_path_service(&self, name: &str, dir: &Path) {
        self.run([
            OsStr::new("service"),
            "add".as_ref(),
            name.as_ref(),
            "--path".as_ref(),
            dir.as_os_str(),
        ])
        .ok("service add");
    }

    /// `target set URL --username cairn --password-file PW` (the test Samba's user).
    #[track_caller]
    pub fn set_share_target(&self, url: &str, pw: &Path) {
        self.run([
            OsStr::new("target"),
            "set".as_ref(),
            url.as_ref(),
            "--username".as_ref(),
            "cairn".as_ref(),
            "--password-file".as_ref(),
            pw.as_os_str(),
        ])
        .ok("target set");
    }

    /// A successful backup; its id.
    #[track_caller]
    pub fn backup(&self) -> String {
        let o = self.run(["--quiet", "backup"]);
        o.ok("backup");
        let id = o.last_line();
        assert!(!id.is_empty(), "backup printed no id");
        id
    }

    /// `list --json` as an array.
    #[track_caller]
    pub fn list(&self) -> Vec<serde_json::Value> {
        let o = self.run(["list", "--json"]);
        o.ok("list --json");
        o.json()
            .as_array()
            .expect("list --json is an array")
            .clone()
    }

    /// The ids `list --json` shows.
    #[track_caller]
    pub fn ids(&self) -> Vec<String> {
        self.list()
            .iter()
            .map(|b| b["id"].as_str().expect("id is a string").to_string())
            .collect()
    }

    /// `restore ID --target DIR --identity ID [extra…]`.
    pub fn restore(&self, id: &str, target: &Path, extra: &[&str]) -> Out {
        let mut args: Vec<OsString> = vec![
            "--quiet".into(),
            "restore".into(),
            id.into(),
            "--target".into(),
            target.into(),
            "--identity".into(),
            self.identity.clone().into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        self.run(args)
    }

    /// Bytes of the repository's objects (everything but `local/`).
    pub fn stored_bytes(&self) -> u64 {
        fn walk(p: &Path, skip: &Path) -> u64 {
            let mut n = 0;
            for e in fs::read_dir(p).into_iter().flatten().flatten() {
                let path = e.path();
                if path == skip {
                    continue;
                }
                let m = fs::symlink_metadata(&path).unwrap();
                if m.is_dir() {
                    n += walk(&path, skip);
                } else {
                    n += m.len();
                }
            }
            n
        }
        walk(&self.repo, &self.repo.join("local"))
    }

    /// Every pack file, sorted by name.
    pub fn packs(&self) -> Vec<PathBuf> {
        let mut v = files_under(&self.repo.join("data"));
        v.sort();
        v
    }
}

/// Every regular file under `dir`, recursively.
/// A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// Send SIGTERM to our child `child` (to stop it as an operator would).
pub fn terminate(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("signal the child");
}

/// The message of a test that needs a program this machine lacks: tests install nothing
/// themselves; `scripts/prereqs.sh` (which `scripts/test.sh` runs first) does.
pub fn missing_tool(what: &str) -> String {
    format!("{what} is not installed: run `bash scripts/prereqs.sh` (as root) to install the test prerequisites")
}

/// Reproducible incompressible bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    r.fill_bytes(&mut v);
    v
}

/// Write a file, creating parents.
pub fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    fs::write(path, data).unwrap();
}

/// A marker that must never appear in the repository's bytes.
pub const MARKER: &str = "PLAINTEXT-MARKER-7c1e9a-do-not-leak";

/// A service tree with the awkward parts of real data: text, incompressible bytes, a large
/// file, a sparse file, symlinks (one dangling), empty dirs, odd and non-UTF-8 names, modes,
/// a zero-length file, a secret with a plaintext marker.
pub fn make_tree(root: &Path, seed: u64, big_mib: usize) {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let words = [
        "tenant",
        "subscription",
        "quota",
        "offer",
        "plan",
        "vault",
        "secret",
        "role",
        "certificate",
        "region",
    ];
    for i in 0..120 {
        let mut s = String::new();
        for j in 0..r.gen_range(5..200) {
            let w = words[r.gen_range(0..words.len())];
            s.push_str(&format!(
                "{{\"{w}\": \"{}\", \"n\": {j}}}\n",
                r.gen::<u32>()
            ));
        }
        write(
            &root.join(format!("conf/d{}/item-{i}.json", i % 7)),
            s.as_bytes(),
        );
    }
    for i in 0..4 {
        let n = r.gen_range(1..300_000);
        write(
            &root.join(format!("blobs/b{i}.bin")),
            &random_bytes(seed * 100 + i, n),
        );
    }
    write(
        &root.join("blobs/large.img"),
        &random_bytes(seed * 1000 + 7, big_mib << 20),
    );
    // a sparse 64 MiB file with a little data in the middle
    let f = fs::File::create(root.join("blobs/sparse.img")).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"middle of a sparse file", 30 << 20)
        .unwrap();
    drop(f);
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    write(&root.join("zero-length"), b"");
    write(&root.join("naïve résumé ✓ spaces.txt"), b"unicode name\n");
    write(
        &root.join(OsStr::from_bytes(b"latin1-\xe9t\xe9-\xff.txt")),
        b"not UTF-8\n",
    );
    std::os::unix::fs::symlink("conf/d1/item-1.json", root.join("link-to-item")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling-link")).unwrap();
    fs::set_permissions(root.join("conf/d2"), fs::Permissions::from_mode(0o750)).unwrap();
    let mut f = fs::File::create(root.join("secret.key")).unwrap();
    for _ in 0..50 {
        writeln!(f, "{MARKER}").unwrap();
    }
    drop(f);
    fs::set_permissions(root.join("secret.key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(
        root.join("conf/d3/item-3.json"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    // a distinctive mtime
    set_mtime(
        &root.join("conf/d4/item-4.json"),
        1_000_000_000,
        123_456_789,
    );
}

/// Set a path's mtime (and atime).
pub fn set_mtime(p: &Path, s: i64, ns: i64) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec {
        tv_sec: s as libc::time_t,
        tv_nsec: ns as libc::c_long,
    };
    let times = [t, t];
    // SAFETY: c is a valid NUL-terminated path.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

/// One entry of a tree as an operator compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory and its mode.
    Dir { mode: u32 },
    /// A regular file: mode, size, content hash, mtime (s, ns).
    File {
        mode: u32,
        size: u64,
        hash: [u8; 32],
        mtime: (i64, i64),
    },
    /// A symlink and its target.
    Symlink { target: Vec<u8> },
}

/// Path (relative, raw bytes) → entry, for every entry below `root`.
pub type Snapshot = BTreeMap<Vec<u8>, Entry>;

/// Record a tree.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            if ft.is_dir() {
                out.insert(
                    rel,
                    Entry::Dir {
                        mode: m.mode() & 0o7777,
                    },
                );
                walk(root, &p, out);
            } else if ft.is_symlink() {
                let t = fs::read_link(&p).unwrap();
                out.insert(
                    rel,
                    Entry::Symlink {
                        target: t.as_os_str().as_bytes().to_vec(),
                    },
                );
            } else if ft.is_file() {
                let mut h = blake3::Hasher::new();
                std::io::copy(&mut fs::File::open(&p).unwrap(), &mut h).unwrap();
                out.insert(
                    rel,
                    Entry::File {
                        mode: m.mode() & 0o7777,
                        size: m.len(),
                        hash: *h.finalize().as_bytes(),
                        mtime: (m.mtime(), m.mtime_nsec()),
                    },
                );
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Only the entries below `prefix` (relative path), re-rooted there.
pub fn subtree(s: &Snapshot, prefix: &str) -> Snapshot {
    let p = format!("{prefix}/");
    s.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(p.as_bytes())
                .map(|rest| (rest.to_vec(), v.clone()))
        })
        .collect()
}

/// Assert two snapshots are the same tree: names, types, modes, bytes, symlink targets, and
/// file mtimes.
#[track_caller]
pub fn assert_same(want: &Snapshot, got: &Snapshot, what: &str) {
    let show = |k: &Vec<u8>| String::from_utf8_lossy(k).into_owned();
    for (k, v) in want {
        match got.get(k) {
            None => panic!("{what}: {} missing from the restored tree", show(k)),
            Some(g) => assert_eq!(v, g, "{what}: {} differs", show(k)),
        }
    }
    for k in got.keys() {
        assert!(
            want.contains_key(k),
            "{what}: {} restored but not in the source",
            show(k)
        );
    }
}
