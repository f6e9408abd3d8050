//! The SMB backend, the target probe and export against a real Samba smbd on 127.0.0.1.

use crate::fixtures::{assert_same, bytes, flip, largest, make_repo};
use crate::samba::{Samba, PASSWORD};
use cairn::backend::{Backend, LocalBackend, SmbBackend};
use cairn::error::{Error, StorageError, StorageErrorKind};
use cairn::replicate::{export, fetch};
use cairn::target::{open_backend, probe, TargetConfig, TargetUrl};
use std::fs;
use std::sync::Mutex;
use std::time::Instant;

fn connect(s: &Samba, path: &str, password: &str) -> Result<Box<dyn Backend>, Error> {
    let cfg = TargetConfig::new(&s.url(path), Some("cairn".into()), Some(password.into()))?;
    open_backend(&cfg)
}

fn storage(e: Error) -> StorageError {
    match e {
        Error::Storage(s) => s,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[test]
fn smb_backend_behaves_like_every_backend() {
    let s = Samba::start();
    let b = connect(&s, "ctl1/nested", PASSWORD).unwrap();
    assert!(
        s.share_dir().join("ctl1/nested").is_dir(),
        "the repository folder was not created"
    );
    assert!(!b.describe().contains(PASSWORD));
    assert!(b.list("").unwrap().is_empty());
    b.write("data/ab/ab01", b"hello pack").unwrap();
    b.write("keys/k1", b"key").unwrap();
    b.write("config", b"cfg").unwrap();
    assert_eq!(b.read("data/ab/ab01").unwrap(), b"hello pack");
    assert_eq!(b.read_range("data/ab/ab01", 6, 4).unwrap(), b"pack");
    assert_eq!(b.read_range("data/ab/ab01", 6, 100).unwrap(), b"pack");
    assert_eq!(b.stat("keys/k1").unwrap(), Some(3));
    assert_eq!(b.stat("keys/none").unwrap(), None);
    let mut names: Vec<_> = b.list("").unwrap().into_iter().map(|o| o.name).collect();
    names.sort();
    assert_eq!(names, ["config", "data/ab/ab01", "keys/k1"]);
    let data = b.list("data/").unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!((data[0].name.as_str(), data[0].size), ("data/ab/ab01", 10));
    assert_eq!(
        b.read("keys/none").unwrap_err().kind,
        StorageErrorKind::NotFound
    );
    b.write("config", b"cfg2").unwrap();
    assert_eq!(b.read("config").unwrap(), b"cfg2");
    b.delete("keys/k1").unwrap();
    b.delete("keys/k1").unwrap();
    assert_eq!(b.stat("keys/k1").unwrap(), None);
    // The bytes really are on the share's disk, under PATH.
    assert_eq!(
        fs::read(s.share_dir().join("ctl1/nested/data/ab/ab01")).unwrap(),
        b"hello pack"
    );

    // A large object crosses several transfer blocks, and a range read in its middle.
    let big = bytes(7, 9 * 1024 * 1024 + 123);
    b.write("data/cd/big", &big).unwrap();
    assert!(b.read("data/cd/big").unwrap() == big);
    let off = 4 * 1024 * 1024 - 10;
    assert!(b.read_range("data/cd/big", off as u64, 300_000).unwrap() == big[off..off + 300_000]);
    assert_eq!(b.stat("data/cd/big").unwrap(), Some(big.len() as u64));
    // Hashed as the share holds it, across blocks.
    assert_eq!(
        b.hash_object("data/cd/big").unwrap(),
        (blake3::hash(&big), big.len() as u64)
    );
    assert_eq!(
        b.hash_object("keys/none").unwrap_err().kind,
        StorageErrorKind::NotFound
    );

    // Temporary files of an interrupted write are hidden and cleaned; local/ is never listed.
    fs::write(
        s.share_dir().join("ctl1/nested/data/ab/.tmp-0123"),
        b"partial",
    )
    .unwrap();
    fs::create_dir_all(s.share_dir().join("ctl1/nested/local")).unwrap();
    fs::write(s.share_dir().join("ctl1/nested/local/x"), b"x").unwrap();
    let n = b.list("").unwrap().len();
    assert_eq!(n, 3);
    assert_eq!(b.clean_temp().unwrap(), 1);
    assert!(!s.share_dir().join("ctl1/nested/data/ab/.tmp-0123").exists());
    assert_eq!(b.clean_temp().unwrap(), 0);
    // Object names with a path are refused.
    assert!(b.write("../escape", b"x").is_err());
}

#[test]
fn probe_names_each_failure_with_its_remedy() {
    let s = Samba::start();
    // Right credentials: the probe leaves nothing behind.
    let ok =
        TargetConfig::new(&s.url("ctl1"), Some("cairn".into()), Some(PASSWORD.into())).unwrap();
    probe(&ok).unwrap();
    assert_eq!(fs::read_dir(s.share_dir().join("ctl1")).unwrap().count(), 0);

    // Wrong password.
    let bad = TargetConfig::new(
        &s.url("ctl1"),
        Some("cairn".into()),
        Some("wrong-password".into()),
    )
    .unwrap();
    let e = storage(probe(&bad).unwrap_err());
    eprintln!("wrong password: {e}");
    assert_eq!(e.kind, StorageErrorKind::LogonFailure, "{e}");
    assert!(e.remedy().contains("cairn target set"), "{}", e.remedy());
    assert!(!e.to_string().contains("wrong-password"), "{e}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{}", s.port)),
        "{e}"
    );

    // Share that does not exist.
    let url = format!("smb://127.0.0.1:{}/no-such-share/x", s.port);
    let cfg = TargetConfig::new(&url, Some("cairn".into()), Some(PASSWORD.into())).unwrap();
    let e = storage(probe(&cfg).unwrap_err());
    eprintln!("missing share: {e}");
    assert_eq!(e.kind, StorageErrorKind::ShareNotFound, "{e}");
    assert!(e.remedy().contains("share name"), "{}", e.remedy());

    // Nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smb://127.0.0.1:{port}/backups");
    let cfg = TargetConfig::new(&url, Some("cairn".into()), Some(PASSWORD.into())).unwrap();
    let t = Instant::now();
    let e = storage(probe(&cfg).unwrap_err());
    eprintln!("closed port: {e}");
    assert_eq!(e.kind, StorageErrorKind::Unreachable, "{e}");
    assert!(e.remedy().contains("port"), "{}", e.remedy());
    assert!(
        t.elapsed().as_secs() < 30,
        "a closed port took {:?} to fail",
        t.elapsed()
    );

    // A folder the user may not write.
    fs::create_dir_all(s.share_dir().join("locked")).unwrap();
    fs::set_permissions(
        s.share_dir().join("locked"),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    let cfg = TargetConfig::new(
        &s.url("locked"),
        Some("cairn".into()),
        Some(PASSWORD.into()),
    )
    .unwrap();
    let e = storage(probe(&cfg).unwrap_err());
    eprintln!("read-only folder: {e}");
    assert_eq!(e.kind, StorageErrorKind::AccessDenied, "{e}");

    // After all that, the right credentials still work in the same process.
    probe(&ok).unwrap();
}

#[test]
fn export_to_the_share_and_read_every_object_back() {
    let s = Samba::start();
    let src_dir = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = (0..24)
        .map(|i| [16 << 20, 4 << 20, 700_000, 12_345][i % 4])
        .collect();
    let src = make_repo(src_dir.path(), &sizes);
    let dst = connect(&s, "ctl1", PASSWORD).unwrap();
    let total: u64 = src.list("").unwrap().iter().map(|o| o.size).sum();
    let t = Instant::now();
    let r = export(&src, dst.as_ref(), &|_| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "export: {} objects, {:.1} MiB in {:.2}s = {:.1} MiB/s (write + read-back) to {}",
        r.objects_sent,
        total as f64 / 1048576.0,
        secs,
        total as f64 / 1048576.0 / secs,
        dst.describe()
    );
    assert_eq!(r.objects_sent, sizes.len() as u64 + 4);
    assert_eq!(r.bytes_sent, total);
    // Read back over SMB, with a new connection.
    let again = connect(&s, "ctl1", PASSWORD).unwrap();
    assert_same(&src, again.as_ref());
    // And the files on the server's disk are the same repository.
    assert_same(&src, &LocalBackend::new(s.share_dir().join("ctl1")));
    // Nothing is left to send; finding that out reads (and hashes) every object on the share.
    let t = Instant::now();
    let r2 = export(&src, again.as_ref(), &|_| {}).unwrap();
    eprintln!(
        "export with nothing to send: compared {:.1} MiB on the share in {:.2}s = {:.1} MiB/s",
        r2.bytes_compared as f64 / 1048576.0,
        t.elapsed().as_secs_f64(),
        r2.bytes_compared as f64 / 1048576.0 / t.elapsed().as_secs_f64()
    );
    assert_eq!(r2.bytes_compared, total);
    assert_eq!(
        (r2.objects_sent, r2.objects_skipped),
        (0, sizes.len() as u64 + 4)
    );
    // And recovery's direction: share -> a new local repository.
    let back_dir = tempfile::tempdir().unwrap();
    let back = LocalBackend::new(back_dir.path());
    let t = Instant::now();
    let r3 = fetch(again.as_ref(), &back, &|_| {}).unwrap();
    eprintln!(
        "fetch: {:.1} MiB in {:.2}s = {:.1} MiB/s",
        r3.bytes_sent as f64 / 1048576.0,
        t.elapsed().as_secs_f64(),
        r3.bytes_sent as f64 / 1048576.0 / t.elapsed().as_secs_f64()
    );
    assert_same(&src, &back);
    let status = s.status();
    eprintln!("smbstatus:\n{status}");
    assert!(status.contains("SMB3"), "not SMB3: {status}");
    assert!(
        status.contains("AES-128-GCM")
            || status.contains("AES-256-GCM")
            || status.contains("AES-128-CCM"),
        "not encrypted: {status}"
    );
}

#[test]
fn a_hung_server_fails_the_operation_after_the_timeout() {
    let s = Samba::start();
    let loc = match TargetUrl::parse(&s.url("ctl1")).unwrap() {
        TargetUrl::Smb(l) => l,
        other => panic!("{other:?}"),
    };
    let b = SmbBackend::connect_with_timeout(
        &loc,
        "cairn",
        PASSWORD,
        std::time::Duration::from_secs(3),
    )
    .unwrap();
    b.write("config", b"cfg").unwrap();
    s.pause();
    let t = Instant::now();
    let r = b.read("config");
    let took = t.elapsed();
    s.resume();
    let e = r.expect_err("a read from a frozen server succeeded");
    eprintln!("hung server: {e} after {took:?}");
    assert!(
        took.as_secs() < 20,
        "a hung server held the read for {took:?}"
    );
    assert!(
        matches!(
            e.kind,
            StorageErrorKind::Disconnected | StorageErrorKind::Unreachable
        ),
        "{e}"
    );
}

#[test]
fn smbd_stopped_mid_export_then_restarted_resumes_with_only_what_is_missing() {
    let s = Mutex::new(Samba::start());
    let src_dir = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = (0..20).map(|i| 1_000_000 + i * 1000).collect();
    let src = make_repo(src_dir.path(), &sizes);
    let all = src.list("").unwrap().len() as u64;
    let (url, share_dir) = {
        let g = s.lock().unwrap();
        (g.url("ctl1"), g.share_dir())
    };
    let cfg = TargetConfig::new(&url, Some("cairn".into()), Some(PASSWORD.into())).unwrap();
    let dst = open_backend(&cfg).unwrap();
    let err = export(&src, dst.as_ref(), &|p| {
        if p.objects_done == 6 {
            s.lock().unwrap().stop();
        }
    })
    .unwrap_err();
    let e = storage(err);
    eprintln!("smbd stopped: {e}");
    assert!(
        matches!(
            e.kind,
            StorageErrorKind::Disconnected | StorageErrorKind::Unreachable
        ),
        "the share going away was reported as {:?}: {e}",
        e.kind
    );
    let there = LocalBackend::new(share_dir.join("ctl1")).list("").unwrap();
    assert!(
        there.len() as u64 >= 6 && (there.len() as u64) < all,
        "{} objects on the share",
        there.len()
    );
    assert!(
        there.iter().all(|o| !o.name.starts_with("backups/")),
        "a manifest was committed before its packs"
    );
    // While it is down, a new connection says it is unreachable.
    assert_eq!(
        storage(open_backend(&cfg).err().expect("connecting should fail")).kind,
        StorageErrorKind::Unreachable
    );

    s.lock().unwrap().restart();
    // The connection made before the outage reconnects by itself (a long-running `cairn serve`).
    assert_eq!(dst.stat("config").unwrap(), src.stat("config").unwrap());
    let dst = open_backend(&cfg).unwrap();
    let r = export(&src, dst.as_ref(), &|_| {}).unwrap();
    assert_eq!(
        r.objects_skipped,
        there.len() as u64,
        "objects already there were sent again"
    );
    assert_eq!(r.objects_sent, all - there.len() as u64);
    assert_same(&src, dst.as_ref());
    assert_same(&src, &LocalBackend::new(share_dir.join("ctl1")));
    // No temporary debris is left.
    let mut debris = Vec::new();
    let mut stack = vec![share_dir.join("ctl1")];
    while let Some(d) = stack.pop() {
        for ent in fs::read_dir(&d).unwrap() {
            let ent = ent.unwrap();
            if ent.file_type().unwrap().is_dir() {
                stack.push(ent.path());
            } else if ent.file_name().to_string_lossy().starts_with(".tmp-") {
                debris.push(ent.path());
            }
        }
    }
    assert!(debris.is_empty(), "{debris:?}");
}

#[test]
fn a_server_that_never_answers_fails_the_connection_after_the_timeout() {
    // A TCP listener that accepts and then says nothing: SMB negotiation never completes.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
            if held.len() > 8 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let loc = match TargetUrl::parse(&format!("smb://127.0.0.1:{port}/backups")).unwrap() {
        TargetUrl::Smb(l) => l,
        other => panic!("{other:?}"),
    };
    let t = Instant::now();
    let e = SmbBackend::connect_with_timeout(
        &loc,
        "cairn",
        PASSWORD,
        std::time::Duration::from_secs(3),
    )
    .unwrap_err();
    let took = t.elapsed();
    eprintln!("silent server: {e} after {took:?}");
    assert!(
        took.as_secs() < 20,
        "a silent server held the connection for {took:?}"
    );
    assert_eq!(e.kind, StorageErrorKind::Unreachable, "{e}");
}

#[test]
fn wrong_password_is_a_logon_failure_with_its_remedy() {
    let s = Samba::start();
    let e = storage(
        connect(&s, "ctl1", "not-the-password")
            .err()
            .expect("logon should fail"),
    );
    assert_eq!(e.kind, StorageErrorKind::LogonFailure, "{e}");
    let err = Error::Storage(e.clone());
    assert_eq!(err.kind(), cairn::error::ErrorKind::LogonFailure);
    assert!(err.remedy().contains("--password-file"), "{}", err.remedy());
    assert!(!err.to_string().contains("not-the-password"));
    // A direct connection says the same.
    let loc = match TargetUrl::parse(&s.url("ctl1")).unwrap() {
        TargetUrl::Smb(l) => l,
        other => panic!("{other:?}"),
    };
    let e = SmbBackend::connect(&loc, "cairn", "nope").unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::LogonFailure, "{e}");
    // The right password, in the same process, still works.
    connect(&s, "ctl1", PASSWORD).unwrap();
}

#[test]
fn a_full_share_is_reported_as_no_space() {
    let s = Samba::start_small(4 * 1024 * 1024);
    let src_dir = tempfile::tempdir().unwrap();
    let src = make_repo(
        src_dir.path(),
        &[1_500_000, 1_500_000, 1_500_000, 1_500_000],
    );
    let dst = connect(&s, "ctl1", PASSWORD).unwrap();
    let e = storage(export(&src, dst.as_ref(), &|_| {}).unwrap_err());
    eprintln!("full share: {e}");
    assert_eq!(e.kind, StorageErrorKind::NoSpace, "{e}");
    assert!(e.remedy().contains("prune"), "{}", e.remedy());
    // No manifest was committed and no partial file is left under an object's name.
    let there = LocalBackend::new(s.share_dir().join("ctl1"));
    assert!(there.list("backups/").unwrap().is_empty());
    for o in there.list("").unwrap() {
        assert_eq!(
            Some(o.size),
            src.stat(&o.name).unwrap(),
            "{} is partial on the share",
            o.name
        );
    }
}

#[test]
fn a_server_without_encryption_is_refused_unless_allowed() {
    // The default server (as accept/lib.sh starts it) offers encryption: required by default.
    let good = Samba::start();
    let cfg = TargetConfig::new(
        &good.url("ctl1"),
        Some("cairn".into()),
        Some(PASSWORD.into()),
    )
    .unwrap();
    let b = open_backend(&cfg).unwrap();
    b.write("config", b"cfg").unwrap();
    // The server's view: the session is SMB3, encrypted and signed, and so is the share's tree
    // connect.
    let shares = good.shares_status();
    eprintln!("smbstatus -S (default server):\n{shares}");
    let line = shares
        .lines()
        .find(|l| l.starts_with("backups"))
        .unwrap_or_else(|| panic!("no tree connect to the share: {shares}"));
    assert!(
        line.contains("AES-128-GCM") || line.contains("AES-256-GCM") || line.contains("CCM"),
        "the share's tree connect is not encrypted: {line}"
    );
    let status = good.status();
    eprintln!("smbstatus (default server):\n{status}");
    assert!(
        ["AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM"]
            .iter()
            .any(|c| status.contains(c)),
        "the session is not encrypted: {status}"
    );
    assert!(
        ["AES-128-GMAC", "AES-128-CMAC", "HMAC-SHA256"]
            .iter()
            .any(|c| status.contains(c)),
        "the session is not signed: {status}"
    );
    drop(b);

    // Servers that desire or require encryption are accepted, and the session is encrypted.
    for setting in [
        "server smb encrypt = desired",
        "server smb encrypt = required",
    ] {
        let srv = Samba::start_with_globals(&[setting]);
        let cfg = TargetConfig::new(
            &srv.url("ctl1"),
            Some("cairn".into()),
            Some(PASSWORD.into()),
        )
        .unwrap();
        let b = open_backend(&cfg).unwrap_or_else(|e| panic!("{setting}: {e}"));
        b.write("config", b"cfg").unwrap();
        let status = srv.status();
        assert!(
            ["AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM"]
                .iter()
                .any(|c| status.contains(c)),
            "{setting}: the session is not encrypted: {status}"
        );
    }

    // A server with encryption off: refused, with the remedy, and nothing written.
    let plain = Samba::start_with_globals(&["server smb encrypt = off"]);
    let cfg = TargetConfig::new(
        &plain.url("ctl1"),
        Some("cairn".into()),
        Some(PASSWORD.into()),
    )
    .unwrap();
    let r = probe(&cfg);
    let e = storage(r.unwrap_err());
    eprintln!("server without encryption: {e}\n  remedy: {}", e.remedy());
    assert_eq!(e.kind, StorageErrorKind::Insecure, "{e}");
    assert!(e.remedy().contains("--allow-unencrypted"), "{}", e.remedy());
    assert!(e.remedy().contains("smb encrypt"), "{}", e.remedy());
    assert!(
        !plain.share_dir().join("ctl1").exists(),
        "the refused connection created the folder"
    );
    // Opting out works, and the session really is unencrypted (the flag is what decides).
    let mut open = cfg.clone();
    open.allow_unencrypted = true;
    probe(&open).unwrap();
    let b = open_backend(&open).unwrap();
    b.write("config", b"cfg").unwrap();
    let status = plain.status();
    eprintln!("smbstatus (encryption off):\n{status}");
    assert!(
        !["AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM"]
            .iter()
            .any(|c| status.contains(c)),
        "{status}"
    );
    // The transport is checked before any logon: no password is sent to such a server.
    let bad = TargetConfig::new(
        &plain.url("ctl1"),
        Some("cairn".into()),
        Some("wrong-password".into()),
    )
    .unwrap();
    assert_eq!(
        storage(probe(&bad).unwrap_err()).kind,
        StorageErrorKind::Insecure
    );
}

/// An Env whose target is `url` on a real Samba, with the password in a file.
fn env_with_share(s: &Samba, folder: &str) -> (crate::harness::Env, String, std::path::PathBuf) {
    let env = crate::harness::Env::new();
    let src = env.path("src/app");
    crate::harness::write(&src.join("big.bin"), &bytes(21, 3 << 20));
    crate::harness::write(&src.join("note.txt"), b"a note\n");
    env.add_path_service("app", &src);
    let pw = env.path("smb-password");
    fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    (env, s.url(folder), pw)
}

#[test]
fn verify_from_target_reads_the_share_and_export_heals_it() {
    let s = Samba::start();
    let (env, url, pw) = env_with_share(&s, "ctl1");
    env.set_share_target(&url, &pw);
    env.backup();
    let share = s.share_dir().join("ctl1");
    let pack = largest(&share.join("data"));
    let name = pack.file_name().unwrap().to_str().unwrap().to_string();
    flip(&pack);
    env.run(["verify"]).ok("verify of the intact internal copy");
    let v = env.run(["verify", "--from-target"]);
    v.expect(1, "verify --from-target with a flipped pack on the share");
    assert!(v.all().contains(&name[..16]), "{}", v.all());
    env.run(["export"]).ok("export heals the share");
    env.run(["verify", "--from-target"])
        .ok("verify --from-target after the heal");
    let local = env.repo.join("data").join(&name[..2]).join(&name);
    assert!(fs::read(&pack).unwrap() == fs::read(&local).unwrap());
}

#[test]
fn target_set_refuses_a_server_without_encryption_unless_allowed() {
    let plain = Samba::start_with_globals(&["server smb encrypt = off"]);
    let (env, url, pw) = env_with_share(&plain, "ctl1");
    let args = [
        "target",
        "set",
        &url,
        "--username",
        "cairn",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let o = env.run(args);
    assert_eq!(
        o.code,
        1,
        "target set on a server without encryption: {}",
        o.all()
    );
    assert!(o.stderr.contains("encryption"), "{}", o.stderr);
    assert!(
        o.stderr.contains("--allow-unencrypted"),
        "no remedy: {}",
        o.stderr
    );
    let show = env.run(["target", "show", "--json"]);
    assert_eq!(
        show.json(),
        serde_json::Value::Null,
        "a refused target was saved"
    );
    // Opting out: saved, and shown with a warning in text and JSON.
    let mut opt: Vec<&str> = args.to_vec();
    opt.push("--allow-unencrypted");
    env.run(&opt).ok("target set --allow-unencrypted");
    let text = env.run(["target", "show"]);
    assert!(
        text.stdout.contains("WARNING") && text.stdout.contains("encryption"),
        "{}",
        text.stdout
    );
    let json = env.run(["target", "show", "--json"]).json();
    assert_eq!(json["allow_unencrypted"], true);
    assert!(
        json["warning"]
            .as_str()
            .unwrap_or("")
            .contains("encryption"),
        "{json}"
    );
    let b = env.run(["backup", "--json"]);
    b.ok("backup to a target that allows plaintext");
    assert!(
        !b.stdout.contains("Encryption required"),
        "libsmbclient wrote to stdout: {}",
        b.stdout
    );
    b.json();
    // Recovery from that server needs the same opt-out: refused without it (nothing restored),
    // done with it, and the recovered controller keeps the setting (shown as a warning).
    let fp = env.run(["key", "list", "--json"]).json()["fingerprint"]
        .as_str()
        .expect("key list --json has the fingerprint")
        .to_string();
    let recover = |repo: &str, rt: &str, extra: &[&str]| {
        let mut a: Vec<String> = [
            "recover",
            "--from",
            &url,
            "--username",
            "cairn",
            "--password-file",
            pw.to_str().unwrap(),
            "--identity",
            env.identity.to_str().unwrap(),
            "--fingerprint",
            &fp,
            "--target",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(env.path(rt).display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        crate::harness::cairn(&env.path(repo), a)
    };
    let refused = recover("rec1", "rt1", &[]);
    refused.expect(1, "recover from a server without encryption");
    assert!(
        refused.stderr.contains("encryption") && refused.stderr.contains("--allow-unencrypted"),
        "{}",
        refused.stderr
    );
    assert!(
        !env.path("rt1/app/note.txt").exists(),
        "a refused recovery restored files"
    );
    recover("rec2", "rt2", &["--allow-unencrypted"]).ok("recover --allow-unencrypted");
    assert_eq!(
        fs::read(env.path("rt2/app/note.txt")).unwrap(),
        b"a note\n".to_vec()
    );
    let shown = crate::harness::cairn(&env.path("rec2"), ["target", "show", "--json"]).json();
    assert_eq!(shown["allow_unencrypted"], true, "{shown}");
    // Set again without the flag: refused, the opted-out setting is kept.
    env.run(args).expect(1, "target set without the flag");
    // And a server that offers encryption: set without any flag, no warning.
    let good = Samba::start();
    let url2 = good.url("ctl1");
    let mut a2 = args.to_vec();
    a2[2] = &url2;
    env.run(&a2).ok("target set on a server with encryption");
    let json = env.run(["target", "show", "--json"]).json();
    assert_eq!(json["allow_unencrypted"], false);
    assert!(json["warning"].is_null(), "{json}");
}

#[test]
fn an_oversize_object_on_the_share_is_refused_unread() {
    let s = Samba::start();
    let b = connect(&s, "ctl1", PASSWORD).unwrap();
    let dir = s.share_dir().join("ctl1/backups");
    fs::create_dir_all(&dir).unwrap();
    let f = fs::File::create(dir.join("20300101T000000.000Z")).unwrap();
    f.set_len(300_000_000).unwrap(); // sparse
    drop(f);
    let t = Instant::now();
    let e = b.read("backups/20300101T000000.000Z").unwrap_err();
    eprintln!("oversize manifest on the share: {e} in {:?}", t.elapsed());
    assert_eq!(e.kind, StorageErrorKind::TooLarge, "{e}");
    assert!(e.to_string().contains("300000000 bytes"), "{e}");
    assert!(t.elapsed().as_secs() < 5, "it was read: {:?}", t.elapsed());
    // Nor is it hashed (the read-back check of an export).
    let e = b.hash_object("backups/20300101T000000.000Z").unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::TooLarge, "{e}");
    assert!(e.to_string().contains("300000000 bytes"), "{e}");
    // A range read is bounded by the cap too.
    let cap = cairn::backend::cap_of("backups/x") as usize;
    let r = b.read_range("backups/20300101T000000.000Z", 10, usize::MAX);
    assert!(r.map(|v| v.len() <= cap + 1).unwrap_or(true));
}
