//! SMB transfers in worker processes (`cairn __smb-worker`, src/backend/smb_pool.rs), against a
//! real Samba smbd: the bytes on the share, the connections, the credentials, a worker killed.

use crate::fixtures::{assert_same, bytes, make_repo};
use crate::harness::CAIRN;
use crate::samba::{Samba, PASSWORD};
use cairn::backend::{
    Backend, FetchInto, LocalBackend, ObjectInfo, SmbBackend, SmbWorkers, Transport,
};
use cairn::error::{Error, StorageError, StorageErrorKind};
use cairn::replicate::{export, fetch_packs_checked_later};
use cairn::target::TargetUrl;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The tests below find (and kill) the worker processes of this test process: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A backend on the share's folder `path` whose transfers run in `cairn __smb-worker` processes.
fn with_workers(s: &Samba, path: &str) -> SmbBackend {
    with_binary(s, path, PathBuf::from(CAIRN), Duration::from_secs(30))
}

/// A backend whose transfers run in `binary __smb-worker` processes, with a request timeout.
fn with_binary(s: &Samba, path: &str, binary: PathBuf, timeout: Duration) -> SmbBackend {
    let loc = match TargetUrl::parse(&s.url(path)).unwrap() {
        TargetUrl::Smb(l) => l,
        other => panic!("{other:?}"),
    };
    let workers = SmbWorkers::Processes { binary, count: 4 };
    SmbBackend::connect_using(
        &loc,
        "cairn",
        PASSWORD,
        timeout,
        Transport::Encrypted,
        &workers,
    )
    .unwrap()
}

/// The worker processes this test process started (`cairn __smb-worker` children of ours).
fn workers() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the fields after the last ')'
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1));
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(me.as_str()) && String::from_utf8_lossy(&cmdline).contains("__smb-worker") {
            out.push(pid);
        }
    }
    out
}

/// How many sessions of user `cairn` smbd has now.
fn sessions(s: &Samba) -> usize {
    s.status()
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("cairn"))
        .count()
}

#[test]
fn export_through_workers_uses_one_connection_each_and_stores_the_same_bytes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    let src = make_repo(
        src_dir.path(),
        &[6 << 20, 3 << 20, 2 << 20, 5 << 20, 1 << 20],
    );
    let dst = with_workers(&s, "ctl1");
    export(&src, &dst, &|_| {}).unwrap();
    // The workers are alive while the backend is: each with its own session on the server.
    let pids = workers();
    assert!(
        pids.len() >= 2,
        "the export ran in {} worker processes",
        pids.len()
    );
    let n = sessions(&s);
    assert!(n > pids.len(), "{n} sessions for {pids:?}: {}", s.status());
    // The password reached them over their standard input, never argv or the environment.
    for pid in &pids {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
        let argv = String::from_utf8_lossy(&cmdline).into_owned();
        assert_eq!(argv, format!("{CAIRN}\0__smb-worker\0"));
        let env = String::from_utf8_lossy(&environ);
        assert!(
            !env.contains(PASSWORD),
            "the password is in the environment of {pid}"
        );
    }
    // The share holds the repository, byte for byte, under the same names.
    assert_same(&src, &LocalBackend::new(s.share_dir().join("ctl1")));
    assert_same(&src, &dst);
    // Gone with the backend.
    drop(dst);
    assert!(workers().is_empty(), "workers outlived their backend");
}

/// A source that kills every worker process once it has been read `at` times.
struct Killer {
    inner: LocalBackend,
    reads: AtomicUsize,
    at: usize,
}

impl Backend for Killer {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, p: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list(p)
    }
    fn read(&self, n: &str) -> Result<Vec<u8>, StorageError> {
        self.inner.read(n)
    }
    fn read_range(&self, n: &str, o: u64, l: usize) -> Result<Vec<u8>, StorageError> {
        if self.reads.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            for pid in workers() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        self.inner.read_range(n, o, l)
    }
    fn write(&self, n: &str, d: &[u8]) -> Result<(), StorageError> {
        self.inner.write(n, d)
    }
    fn delete(&self, n: &str) -> Result<(), StorageError> {
        self.inner.delete(n)
    }
    fn stat(&self, n: &str) -> Result<Option<u64>, StorageError> {
        self.inner.stat(n)
    }
    fn clean_temp(&self) -> Result<usize, StorageError> {
        self.inner.clean_temp()
    }
}

#[test]
fn a_worker_killed_mid_export_fails_it_by_name_and_leaves_no_partial_object() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    make_repo(src_dir.path(), &[9 << 20, 9 << 20, 9 << 20, 9 << 20]);
    // Killed while the first packs stream out: each pack is read in 4 MiB ranges.
    let src = Killer {
        inner: LocalBackend::new(src_dir.path()),
        reads: AtomicUsize::new(0),
        at: 6,
    };
    let dst = with_workers(&s, "ctl1");
    let err = export(&src, &dst, &|_| {}).unwrap_err();
    let e = match err {
        Error::Storage(e) => e,
        other => panic!("expected a storage error, got {other:?}"),
    };
    assert_eq!(e.kind, StorageErrorKind::Disconnected, "{e}");
    assert!(e.detail.contains("SMB worker process"), "{e}");
    // Whatever is under an object's name on the share is whole (a temporary name may remain).
    let share = LocalBackend::new(s.share_dir().join("ctl1"));
    for o in share.list("").unwrap() {
        assert!(
            share.read(&o.name).unwrap() == src.inner.read(&o.name).unwrap(),
            "a partial {} is under its name",
            o.name
        );
    }
    assert!(share.list("backups/").unwrap().is_empty());
    // New workers take over: the next export completes the copy and removes the leftovers.
    export(&src, &dst, &|_| {}).unwrap();
    assert_same(&src.inner, &LocalBackend::new(s.share_dir().join("ctl1")));
    assert_eq!(share.clean_temp().unwrap(), 0);
}

/// How many connections to the share smbd has served so far (its log at level 2).
fn connections(s: &Samba) -> usize {
    let log = fs::read_to_string(s.dir().join("log/smbd.out")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("connect to service backups initially as user cairn"))
        .count()
}

#[test]
fn backup_and_export_from_the_binary_leave_the_repository_on_the_share_byte_for_byte() {
    // At log level 2 smbd logs each tree connect, with the pid of the smbd serving it.
    let s = Samba::start_with_globals(&["log level = 2"]);
    let env = crate::harness::Env::new();
    let src = env.path("src/app");
    for i in 0..6u64 {
        crate::harness::write(&src.join(format!("f{i}.bin")), &bytes(40 + i, 3 << 20));
    }
    env.add_path_service("app", &src);
    let pw = env.path("smb-password");
    fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    env.set_share_target(&s.url("ctl1"), &pw);
    let before = connections(&s);
    env.backup();
    let during = connections(&s) - before;
    assert!(
        during >= 3,
        "backup and export opened {during} connection(s) to the share: not one per worker"
    );
    env.run(["verify", "--from-target"])
        .ok("verify --from-target after an export through workers");
    // Every exported object is on the share's disk with the internal copy's bytes.
    let internal = LocalBackend::new(&env.repo);
    let share = LocalBackend::new(s.share_dir().join("ctl1"));
    let mut n = 0;
    for o in share.list("").unwrap() {
        assert!(
            share.read(&o.name).unwrap() == internal.read(&o.name).unwrap(),
            "{} differs",
            o.name
        );
        n += 1;
    }
    assert!(
        share
            .list("data/")
            .unwrap()
            .iter()
            .any(|o| o.size >= 1 << 20),
        "no pack large enough to go through a worker"
    );
    assert_eq!(n, internal.list("").unwrap().len());
}

#[test]
fn without_a_usable_worker_binary_transfers_run_in_process() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    let src = make_repo(src_dir.path(), &[3 << 20, 2 << 20]);
    // One that cannot be started, one that ends without a word.
    for (i, binary) in ["/nonexistent/cairn", "/bin/true"].iter().enumerate() {
        let dst = with_binary(
            &s,
            &format!("ctl{i}"),
            binary.into(),
            Duration::from_secs(30),
        );
        export(&src, &dst, &|_| {}).unwrap();
        assert_same(
            &src,
            &LocalBackend::new(s.share_dir().join(format!("ctl{i}"))),
        );
        assert_same(&src, &dst);
    }
}

#[test]
fn a_worker_that_stops_answering_is_killed_and_the_request_fails_as_disconnected() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let dst = with_binary(&s, "ctl1", PathBuf::from(CAIRN), Duration::from_secs(2));
    let data = bytes(3, 2 << 20);
    let h = blake3::hash(&data).to_hex().to_string();
    let name = format!("data/{}/{h}", &h[..2]);
    dst.write(&name, &data).unwrap();
    let stopped = workers();
    assert!(!stopped.is_empty());
    for pid in &stopped {
        let _ = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
    }
    let t = std::time::Instant::now();
    let e = dst.read(&name).unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::Disconnected, "{e}");
    assert!(e.detail.contains("stopped answering"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // the stalled worker was killed; the others answer again once thawed, or are replaced
    for pid in &stopped {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status();
    }
    assert!(dst.read(&name).unwrap() == data);
}

/// The destination of an export whose share stores other bytes than it was sent: each pack,
/// once written through a worker, is damaged on the share's disk (same size). The read-back
/// check goes to the SMB backend's own `hash_object` (its worker reads and hashes).
struct DamagingShare {
    inner: SmbBackend,
    disk: PathBuf,
    damaged: Mutex<Vec<String>>,
}

impl Backend for DamagingShare {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, p: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list(p)
    }
    fn read(&self, n: &str) -> Result<Vec<u8>, StorageError> {
        self.inner.read(n)
    }
    fn read_range(&self, n: &str, o: u64, l: usize) -> Result<Vec<u8>, StorageError> {
        self.inner.read_range(n, o, l)
    }
    fn write(&self, n: &str, d: &[u8]) -> Result<(), StorageError> {
        self.inner.write(n, d)
    }
    fn write_from(
        &self,
        n: &str,
        d: &mut dyn std::io::Read,
        size: u64,
    ) -> Result<(), StorageError> {
        self.inner.write_from(n, d, size)?;
        if n.starts_with("data/") {
            let path = self.disk.join(n);
            let mut stored = fs::read(&path).unwrap();
            let mid = stored.len() / 2;
            stored[mid] ^= 0x55;
            fs::write(&path, &stored).unwrap();
            self.damaged.lock().unwrap().push(n.to_string());
        }
        Ok(())
    }
    fn hash_object(&self, n: &str) -> Result<(blake3::Hash, u64), StorageError> {
        self.inner.hash_object(n)
    }
    fn delete(&self, n: &str) -> Result<(), StorageError> {
        self.inner.delete(n)
    }
    fn stat(&self, n: &str) -> Result<Option<u64>, StorageError> {
        self.inner.stat(n)
    }
    fn clean_temp(&self) -> Result<usize, StorageError> {
        self.inner.clean_temp()
    }
}

#[test]
fn the_workers_read_back_catches_a_share_that_stores_other_bytes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    let src = make_repo(src_dir.path(), &[5 << 20, 3 << 20]);
    let dst = DamagingShare {
        inner: with_workers(&s, "ctl1"),
        disk: s.share_dir().join("ctl1"),
        damaged: Mutex::new(Vec::new()),
    };
    let err = export(&src, &dst, &|_| {}).unwrap_err();
    match &err {
        Error::Corrupt { object, detail, .. } => {
            assert!(object.contains("data/"), "{err}");
            assert!(detail.contains("read back as"), "{err}");
        }
        other => panic!("expected the read-back to find the damage, got {other:?}"),
    }
    // The check ran in the workers (their digest, not the parent's read), and removed what it
    // found damaged: no manifest, no damaged pack under its name.
    assert!(!workers().is_empty());
    let share = LocalBackend::new(s.share_dir().join("ctl1"));
    let damaged = dst.damaged.lock().unwrap().clone();
    assert!(!damaged.is_empty());
    for name in &damaged {
        if let Ok(b) = share.read(name) {
            assert!(b == src.read(name).unwrap(), "a damaged {name} stayed");
        }
    }
    assert!(share.list("backups/").unwrap().is_empty());
}

#[test]
fn the_workers_hash_is_of_what_the_share_holds_after_the_write() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let dst = with_workers(&s, "ctl1");
    let data = bytes(11, 9 << 20);
    let h = blake3::hash(&data);
    let name = format!("data/{}/{}", &h.to_hex()[..2], h.to_hex());
    dst.write(&name, &data).unwrap();
    assert_eq!(dst.hash_object(&name).unwrap(), (h, data.len() as u64));
    // Damaged on the share's disk after the write, and shortened: the worker that wrote it
    // hashes what the share holds now.
    let path = s.share_dir().join("ctl1").join(&name);
    let mut stored = fs::read(&path).unwrap();
    stored[5 << 20] ^= 1;
    stored.truncate(8 << 20);
    fs::write(&path, &stored).unwrap();
    assert_eq!(
        dst.hash_object(&name).unwrap(),
        (blake3::hash(&stored), stored.len() as u64)
    );
    let e = dst.hash_object("data/00/0000").unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::NotFound, "{e}");
}

#[test]
fn range_reads_into_a_buffer_return_what_the_share_holds_through_a_worker_or_in_process() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let data = bytes(12, 5 << 20);
    for (dir, binary) in [
        ("w", PathBuf::from(CAIRN)),
        ("p", "/nonexistent/cairn".into()),
    ] {
        let b = with_binary(&s, dir, binary, Duration::from_secs(30));
        b.write("data/ab/ab01", &data).unwrap();
        let mut buf = vec![0u8; 4 << 20];
        // a whole block, then the end of the object, then past it
        assert_eq!(
            b.read_range_into("data/ab/ab01", 3, &mut buf).unwrap(),
            4 << 20
        );
        assert!(buf[..] == data[3..(4 << 20) + 3], "{dir}: other bytes");
        let n = b
            .read_range_into("data/ab/ab01", 4 << 20, &mut buf)
            .unwrap();
        assert_eq!(n, 1 << 20, "{dir}");
        assert!(buf[..n] == data[4 << 20..], "{dir}: other bytes at the end");
        assert_eq!(
            b.read_range_into("data/ab/ab01", 5 << 20, &mut buf)
                .unwrap(),
            0
        );
        let e = b.read_range_into("data/ab/none", 0, &mut buf).unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::NotFound, "{dir}: {e}");
    }
}

/// A stand-in for `cairn __smb-worker` that accepts the Hello and answers every request with
/// the digest `digest` of `len` bytes, without touching the share.
fn fake_worker(dir: &Path, digest: &str, len: u64) -> PathBuf {
    fake_worker_answering(
        dir,
        &format!(
            r#"    if "Hash" not in recv():
        sys.exit(3)
    send({{"Digest": {{"blake3": "{digest}", "len": {len}}}}})"#
        ),
    )
}

/// A stand-in for `cairn __smb-worker` that accepts the Hello, then runs `each` (Python, with
/// `recv`, `send` and the socket `s`) for every request.
fn fake_worker_answering(dir: &Path, each: &str) -> PathBuf {
    let path = dir.join("fake-worker");
    let script = format!(
        r#"#!/usr/bin/env python3
import json, socket, struct, sys
s = socket.socket(fileno=0)
def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
def recv():
    return json.loads(exact(struct.unpack("<I", exact(4))[0]))
def send(m):
    b = json.dumps(m).encode()
    s.sendall(struct.pack("<I", len(b)) + b)
recv()
send("Ok")
while True:
{each}
"#
    );
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_worker_answering_a_range_read_with_more_than_the_buffer_holds_is_dropped() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let dir = tempfile::tempdir().unwrap();
    // asked for 16 bytes, it announces 17 and sends them
    let bin = fake_worker_answering(
        dir.path(),
        r#"    if "Read" not in recv():
        sys.exit(3)
    send({"Data": {"len": 17}})
    s.sendall(b"x" * 17)"#,
    );
    let dst = with_binary(&s, "ctl1", bin, Duration::from_secs(30));
    let mut buf = [0u8; 16];
    let e = dst
        .read_range_into("data/00/0000", 0, &mut buf)
        .unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::Disconnected, "{e}");
    assert!(e.detail.contains("SMB worker process"), "{e}");
    assert_eq!(buf, [0u8; 16], "bytes of a refused answer were kept");
}

#[test]
fn the_read_back_hash_comes_from_the_worker_as_a_digest_and_a_bad_one_is_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let dir = tempfile::tempdir().unwrap();
    // The parent reads none of the object's bytes: what the worker says is the answer (the
    // object is not even on the share).
    let good = "ab".repeat(32);
    let bin = fake_worker(dir.path(), &good, 5);
    let dst = with_binary(&s, "ctl1", bin, Duration::from_secs(30));
    let (hash, len) = dst.hash_object("data/00/0000").unwrap();
    assert_eq!((hash.to_hex().to_string(), len), (good, 5));
    drop(dst);
    // A digest that is not one, or a length over the object's cap: the worker is dropped.
    for (digest, len) in [("zz".repeat(32), 5), ("ab".repeat(32), 1 << 40)] {
        let bin = fake_worker(dir.path(), &digest, len);
        let dst = with_binary(&s, "ctl1", bin, Duration::from_secs(30));
        let e = dst.hash_object("data/00/0000").unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::Disconnected, "{e}");
        assert!(e.detail.contains("SMB worker process"), "{e}");
    }
}

/// The share through workers, whose packs this process never reads itself: a copy gets them
/// from a worker's [`Backend::fetch_into`] or fails.
struct NoPackReads(SmbBackend);

impl NoPackReads {
    fn refuse_packs(&self, name: &str) -> Result<(), StorageError> {
        if name.starts_with("data/") {
            return Err(StorageError::new(
                StorageErrorKind::Io,
                name,
                "this process read a pack's bytes",
            ));
        }
        Ok(())
    }
}

impl Backend for NoPackReads {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn list(&self, p: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.0.list(p)
    }
    fn read(&self, n: &str) -> Result<Vec<u8>, StorageError> {
        self.refuse_packs(n)?;
        self.0.read(n)
    }
    fn read_range(&self, n: &str, o: u64, l: usize) -> Result<Vec<u8>, StorageError> {
        self.refuse_packs(n)?;
        self.0.read_range(n, o, l)
    }
    fn read_range_into(&self, n: &str, o: u64, b: &mut [u8]) -> Result<usize, StorageError> {
        self.refuse_packs(n)?;
        self.0.read_range_into(n, o, b)
    }
    fn fetch_into(&self, n: &str, size: u64) -> Option<FetchInto<'_>> {
        self.0.fetch_into(n, size)
    }
    fn write(&self, n: &str, d: &[u8]) -> Result<(), StorageError> {
        self.0.write(n, d)
    }
    fn delete(&self, n: &str) -> Result<(), StorageError> {
        self.0.delete(n)
    }
    fn stat(&self, n: &str) -> Result<Option<u64>, StorageError> {
        self.0.stat(n)
    }
    fn clean_temp(&self) -> Result<usize, StorageError> {
        self.0.clean_temp()
    }
}

/// Whether any temporary file (`.tmp-…`) is left under `d`.
fn temp_left(d: &Path) -> bool {
    fs::read_dir(d).unwrap().flatten().any(|e| {
        let p = e.path();
        e.file_name().to_string_lossy().starts_with(".tmp-") || (p.is_dir() && temp_left(&p))
    })
}

#[test]
fn a_recovery_fetch_has_the_workers_write_each_pack_into_the_new_copy() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    let src = make_repo(src_dir.path(), &[6 << 20, 3 << 20, 5 << 20, 1 << 20]);
    export(&src, &with_workers(&s, "ctl1"), &|_| {}).unwrap();
    let share = NoPackReads(with_workers(&s, "ctl1"));
    let d = tempfile::tempdir().unwrap();
    let new = LocalBackend::new(d.path());
    fetch_packs_checked_later(&share, &new, &|_| {}).unwrap();
    assert_same(&src, &new);
    assert!(!temp_left(d.path()));
    // A pack damaged on the share's disk: refused by name, never stored under it.
    let mut packs: Vec<String> = src
        .list("data/")
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    packs.sort();
    let on_disk = s.share_dir().join("ctl1").join(&packs[1]);
    let mut bytes = fs::read(&on_disk).unwrap();
    bytes[1 << 20] ^= 1;
    fs::write(&on_disk, &bytes).unwrap();
    let d = tempfile::tempdir().unwrap();
    let new = LocalBackend::new(d.path());
    match fetch_packs_checked_later(&share, &new, &|_| {}) {
        Err(Error::Corrupt { object, detail, .. }) => {
            assert!(object.contains(&packs[1]), "{object}");
            assert!(detail.contains("not to its name"), "{detail}");
        }
        other => panic!("the damaged pack was not refused: {other:?}"),
    }
    assert_eq!(new.stat(&packs[1]).unwrap(), None);
    assert!(new.list("backups/").unwrap().is_empty());
    assert!(!temp_left(d.path()));
}
