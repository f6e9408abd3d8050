//! S3 and Azure Blob targets against real servers on 127.0.0.1: moto's S3 server and Azurite.
//! The backend's contract, the probe's named failures, and the whole cycle through the CLI
//! (backup, export, verify --from-target, damage healed, recover), an interrupted export resumed.

use crate::emulators::{Azurite, Moto};
use crate::fixtures::bytes;
use crate::harness::{assert_same, make_tree, snapshot, Env};
use cairn::backend::{Backend, PART};
use cairn::error::{Error, StorageErrorKind};
use cairn::target::{open_backend, probe, TargetConfig};
use object_store::ObjectStore;
use std::collections::BTreeMap;
use std::sync::Arc;

fn s3_cfg(m: &Moto, url: &str, secret: &str) -> TargetConfig {
    TargetConfig::new(url, Some(m.key_id.clone()), Some(secret.into()))
        .unwrap()
        .with_store_options(Some(m.endpoint()), Some("us-east-1".into()))
        .unwrap()
}

fn az_cfg(a: &Azurite, url: &str, key: &str) -> TargetConfig {
    TargetConfig::new(url, None, Some(key.into()))
        .unwrap()
        .with_store_options(Some(a.endpoint()), None)
        .unwrap()
}

fn kind_of(r: Result<(), Error>) -> (StorageErrorKind, String) {
    match r {
        Err(Error::Storage(e)) => (e.kind, format!("{e} / {}", e.remedy())),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// name → (size, etag, last modified) of every object under `prefix`, seen through the store's
/// own API.
fn listing(store: &Arc<dyn ObjectStore>, prefix: &str) -> BTreeMap<String, (u64, String, String)> {
    use futures::TryStreamExt;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let p = object_store::path::Path::from(prefix);
    let all: Vec<_> = rt.block_on(store.list(Some(&p)).try_collect()).unwrap();
    all.into_iter()
        .map(|m| {
            (
                m.location.to_string(),
                (
                    m.size,
                    m.e_tag.unwrap_or_default(),
                    m.last_modified.to_rfc3339(),
                ),
            )
        })
        .collect()
}

/// Flip one byte in the middle of the largest object under `prefix`, through the store's API.
fn flip_largest(store: &Arc<dyn ObjectStore>, prefix: &str) -> String {
    let l = listing(store, prefix);
    let (name, _) = l.iter().max_by_key(|(_, v)| v.0).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let p = object_store::path::Path::from(name.as_str());
    let mut data = rt
        .block_on(async { store.get(&p).await.unwrap().bytes().await })
        .unwrap()
        .to_vec();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    rt.block_on(store.put(&p, data.into())).unwrap();
    name.clone()
}

fn behaves_like_every_backend(b: &dyn Backend) {
    assert!(b.list("").unwrap().is_empty());
    b.write("data/ab/ab01", b"hello pack").unwrap();
    b.write("keys/k1", b"key").unwrap();
    b.write("config", b"cfg").unwrap();
    assert_eq!(b.read("data/ab/ab01").unwrap(), b"hello pack");
    assert_eq!(b.read_range("data/ab/ab01", 6, 4).unwrap(), b"pack");
    assert_eq!(b.read_range("data/ab/ab01", 6, 100).unwrap(), b"pack");
    assert!(b.read_range("data/ab/ab01", 10, 4).unwrap().is_empty());
    assert_eq!(b.stat("keys/k1").unwrap(), Some(3));
    assert_eq!(b.stat("keys/none").unwrap(), None);
    let mut names: Vec<_> = b.list("").unwrap().into_iter().map(|o| o.name).collect();
    names.sort();
    assert_eq!(names, ["config", "data/ab/ab01", "keys/k1"]);
    assert_eq!(b.list("data/").unwrap().len(), 1);
    assert_eq!(
        b.read("keys/none").unwrap_err().kind,
        StorageErrorKind::NotFound
    );
    // an existing object is replaced (export heals a damaged one this way)
    b.write("config", b"cfg2").unwrap();
    assert_eq!(b.read("config").unwrap(), b"cfg2");
    // a pack larger than a part goes up in parts, streamed, and reads back whole
    let big = bytes(7, PART * 2 + 12345);
    b.write_from("data/cd/big", &mut big.as_slice(), big.len() as u64)
        .unwrap();
    assert_eq!(b.stat("data/cd/big").unwrap(), Some(big.len() as u64));
    assert!(b.read("data/cd/big").unwrap() == big);
    assert!(b.read_range("data/cd/big", PART as u64 - 3, 10).unwrap() == big[PART - 3..PART + 7]);
    // a source that gives fewer bytes than announced stores nothing
    let short = bytes(8, PART + 10);
    assert!(b
        .write_from(
            "data/ef/short",
            &mut short.as_slice(),
            short.len() as u64 + 5
        )
        .is_err());
    assert_eq!(b.stat("data/ef/short").unwrap(), None);
    b.delete("keys/k1").unwrap();
    b.delete("keys/k1").unwrap();
    assert_eq!(b.stat("keys/k1").unwrap(), None);
    assert_eq!(b.clean_temp().unwrap(), 0);
    // a probe left by a crash is never listed and is removed by the next export
    b.write(".tmp-probe-0001", b"probe").unwrap();
    assert!(b
        .list("")
        .unwrap()
        .iter()
        .all(|o| !o.name.contains(".tmp-")));
    assert_eq!(b.clean_temp().unwrap(), 1);
    assert_eq!(b.stat(".tmp-probe-0001").unwrap(), None);
}

#[test]
fn s3_backend_behaves_like_every_backend_and_stays_under_its_prefix() {
    let m = Moto::start();
    let b = open_backend(&s3_cfg(&m, "s3://backups/ctl1", &m.secret())).unwrap();
    assert!(!b.describe().contains(&m.secret()));
    behaves_like_every_backend(b.as_ref());
    let other = open_backend(&s3_cfg(&m, "s3://backups/ctl10", &m.secret())).unwrap();
    assert!(
        other.list("").unwrap().is_empty(),
        "a listing left its prefix"
    );
    assert!(listing(&m.client("backups"), "")
        .keys()
        .all(|k| k.starts_with("ctl1/")));
}

#[test]
fn azure_backend_behaves_like_every_backend_and_stays_under_its_prefix() {
    let a = Azurite::start();
    let key = std::fs::read_to_string(&a.key_file).unwrap();
    let b = open_backend(&az_cfg(
        &a,
        "az://devstoreaccount1/backups/ctl1",
        key.trim(),
    ))
    .unwrap();
    behaves_like_every_backend(b.as_ref());
    let other = open_backend(&az_cfg(
        &a,
        "az://devstoreaccount1/backups/ctl10",
        key.trim(),
    ))
    .unwrap();
    assert!(
        other.list("").unwrap().is_empty(),
        "a listing left its prefix"
    );
}

#[test]
fn the_probe_names_a_wrong_key_a_missing_bucket_and_an_unreachable_endpoint() {
    let m = Moto::start();
    probe(&s3_cfg(&m, "s3://backups/ctl1", &m.secret())).unwrap();
    assert!(
        listing(&m.client("backups"), "").is_empty(),
        "the probe left an object"
    );
    let (k, msg) = kind_of(probe(&s3_cfg(
        &m,
        "s3://backups/ctl1",
        "wrong-secret-0000000000",
    )));
    assert_eq!(k, StorageErrorKind::LogonFailure, "{msg}");
    assert!(msg.contains("--password-file"), "{msg}");
    s3_remedy(&msg, "--username");
    let (k, msg) = kind_of(probe(&s3_cfg(&m, "s3://no-such-bucket/ctl1", &m.secret())));
    assert_eq!(k, StorageErrorKind::ShareNotFound, "{msg}");
    s3_remedy(&msg, "bucket does not exist");
    let closed = TargetConfig::new("s3://backups/x", Some("k".into()), Some("s".into()))
        .unwrap()
        .with_store_options(Some(format!("http://127.0.0.1:{}", closed_port())), None)
        .unwrap();
    let (k, msg) = kind_of(probe(&closed));
    assert_eq!(k, StorageErrorKind::Unreachable, "{msg}");
    s3_remedy(&msg, "--endpoint");

    let a = Azurite::start();
    let key = std::fs::read_to_string(&a.key_file).unwrap();
    probe(&az_cfg(
        &a,
        "az://devstoreaccount1/backups/ctl1",
        key.trim(),
    ))
    .unwrap();
    let bad = "YmFkLWtleS1iYWQta2V5LWJhZC1rZXktYmFkLWtleS1iYWQta2V5LWJhZC1rZXk=";
    let (k, msg) = kind_of(probe(&az_cfg(
        &a,
        "az://devstoreaccount1/backups/ctl1",
        bad,
    )));
    assert_eq!(k, StorageErrorKind::LogonFailure, "{msg}");
    az_remedy(&msg, "account's key");
    let (k, msg) = kind_of(probe(&az_cfg(
        &a,
        "az://devstoreaccount1/nothere/ctl1",
        key.trim(),
    )));
    assert_eq!(k, StorageErrorKind::ShareNotFound, "{msg}");
    az_remedy(&msg, "container does not exist");
    let closed = TargetConfig::new("az://devstoreaccount1/backups", None, Some(bad.into()))
        .unwrap()
        .with_store_options(
            Some(format!(
                "http://127.0.0.1:{}/devstoreaccount1",
                closed_port()
            )),
            None,
        )
        .unwrap();
    let (k, msg) = kind_of(probe(&closed));
    assert_eq!(k, StorageErrorKind::Unreachable, "{msg}");
    az_remedy(&msg, "--endpoint");
}

/// The remedy (after " / " in `msg`) is worded for S3 and says `what`, never SMB's.
fn s3_remedy(msg: &str, what: &str) {
    let remedy = msg.rsplit(" / ").next().unwrap();
    assert!(
        remedy.contains("s3://") || remedy.contains("S3"),
        "{remedy}"
    );
    assert!(remedy.contains(what), "{remedy}");
    assert!(
        !remedy.contains("share") && !remedy.contains("SMB"),
        "{remedy}"
    );
}

/// The remedy (after " / " in `msg`) is worded for Azure and says `what`, never SMB's.
fn az_remedy(msg: &str, what: &str) {
    let remedy = msg.rsplit(" / ").next().unwrap();
    assert!(
        remedy.contains("az://") || remedy.contains("Azure"),
        "{remedy}"
    );
    assert!(remedy.contains(what), "{remedy}");
    assert!(
        !remedy.contains("share") && !remedy.contains("SMB"),
        "{remedy}"
    );
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The operator's whole cycle on one store: `auth` are the target's flags.
fn full_cycle(url: &str, auth: &[String], store: &Arc<dyn ObjectStore>, prefix: &str) {
    let env = Env::new();
    let src = env.path("src");
    make_tree(&src, 5, 20);
    env.add_path_service("app", &src);
    let mut set = vec!["target".to_string(), "set".into(), url.into()];
    set.extend(auth.iter().cloned());
    env.run(&set).ok("target set");
    let b1 = env.backup();
    assert!(
        !listing(store, &format!("{prefix}/data")).is_empty(),
        "nothing exported"
    );
    env.run(["verify", "--from-target"])
        .ok("verify --from-target");
    // a flipped byte in a pack on the store: verify names the backup, export heals it
    let victim = flip_largest(store, &format!("{prefix}/data"));
    let o = env.run(["verify", "--from-target"]);
    o.expect(1, &format!("verify --from-target after damage to {victim}"));
    assert!(
        o.all().contains(&b1),
        "verify did not name {b1}: {}",
        o.all()
    );
    let o = env.run(["export"]);
    o.ok("export");
    assert!(
        o.all().contains("1 damaged on the target and replaced"),
        "{}",
        o.all()
    );
    env.run(["verify", "--from-target"]).ok("verify after heal");
    // the controller is lost: recover from the store alone
    let fp = env.run(["key", "list", "--json"]).json();
    let fp = fp["fingerprint"].as_str().unwrap().to_string();
    let recovered = env.path("recovered");
    let restored = env.path("restored");
    let mut rec = vec![
        "recover".to_string(),
        "--from".into(),
        url.into(),
        "--identity".into(),
        env.identity.display().to_string(),
        "--fingerprint".into(),
        fp,
        "--target".into(),
        restored.display().to_string(),
    ];
    rec.extend(auth.iter().cloned());
    crate::harness::cairn(&recovered, &rec).ok("recover");
    assert_same(
        &snapshot(&src),
        &snapshot(&restored.join("app")),
        "recovered tree",
    );
}

fn flags(pairs: &[(&str, String)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| [k.to_string(), v.clone()])
        .collect()
}

#[test]
fn s3_full_cycle_backup_export_verify_heal_recover() {
    let m = Moto::start();
    let auth = flags(&[
        ("--endpoint", m.endpoint()),
        ("--region", "us-east-1".into()),
        ("--username", m.key_id.clone()),
        ("--password-file", m.secret_file.display().to_string()),
    ]);
    full_cycle("s3://backups/ctl1", &auth, &m.client("backups"), "ctl1");
}

#[test]
fn azure_full_cycle_backup_export_verify_heal_recover() {
    let a = Azurite::start();
    let auth = flags(&[
        ("--endpoint", a.endpoint()),
        ("--password-file", a.key_file.display().to_string()),
    ]);
    full_cycle(
        "az://devstoreaccount1/backups/ctl1",
        &auth,
        &a.client("backups"),
        "ctl1",
    );
}

#[test]
fn azure_export_interrupted_by_the_store_going_down_resumes_with_only_what_is_missing() {
    let mut a = Azurite::start();
    let store = a.client("backups");
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..15u64 {
        std::fs::write(src.join(format!("part{i}.bin")), bytes(100 + i, 8 << 20)).unwrap();
    }
    env.add_path_service("bulk", &src);
    env.backup(); // no target yet: internal only
    let set = [
        "target".to_string(),
        "set".into(),
        "az://devstoreaccount1/backups/ctl1".into(),
        "--endpoint".into(),
        a.endpoint(),
        "--password-file".into(),
        a.key_file.display().to_string(),
    ];
    env.run(set).ok("target set");
    let mut export = crate::harness::spawn(&env.repo, ["export"]);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let at_stop = loop {
        let l = listing(&store, "ctl1/data");
        if !l.is_empty() {
            break l;
        }
        assert!(
            export.try_wait().unwrap().is_none(),
            "the export ended before any pack reached the store"
        );
        assert!(
            std::time::Instant::now() < end,
            "no pack reached the store in 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    a.stop();
    let status = export.wait().unwrap();
    assert!(
        !status.success(),
        "the export finished before the store went down: cannot test an interruption"
    );
    a.restart();
    let o = env.run(["export"]);
    o.ok("the export after the store came back");
    let after = listing(&store, "ctl1/data");
    for (name, meta) in &at_stop {
        assert_eq!(
            after.get(name),
            Some(meta),
            "{name}, complete before the store went down, was sent again"
        );
    }
    assert!(
        after.len() > at_stop.len(),
        "the resumed export sent nothing"
    );
    env.run(["verify", "--from-target"])
        .ok("verify --from-target after the resume");
}
