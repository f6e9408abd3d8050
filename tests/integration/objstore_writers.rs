//! Two writers of one object store, against moto's S3 server and Azurite: a content-addressed
//! object already there intact is never replaced (create-only puts up to a part, a check before a
//! multipart upload), a damaged one is; temporary names are hidden and cleaned at every depth;
//! a ranged read answers the same whatever the range.

use crate::emulators::{Azurite, Moto, AZ_ACCOUNT};
use crate::fixtures::bytes;
use cairn::backend::{Backend, PART};
use cairn::error::StorageErrorKind;
use cairn::target::{open_backend, TargetConfig};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutMode, PutOptions};
use std::sync::Arc;

fn s3(m: &Moto, url: &str) -> Box<dyn Backend> {
    let cfg = TargetConfig::new(url, Some(m.key_id.clone()), Some(m.secret()))
        .unwrap()
        .with_store_options(Some(m.endpoint()), Some("us-east-1".into()))
        .unwrap();
    open_backend(&cfg).unwrap()
}

fn az(a: &Azurite, url: &str) -> Box<dyn Backend> {
    let key = std::fs::read_to_string(&a.key_file).unwrap();
    let cfg = TargetConfig::new(url, None, Some(key.trim().into()))
        .unwrap()
        .with_store_options(Some(a.endpoint()), None)
        .unwrap();
    open_backend(&cfg).unwrap()
}

/// The name of a pack holding `data`: `data/ab/<blake3 hex>`.
fn pack_name(data: &[u8]) -> String {
    let h = blake3::hash(data).to_hex().to_string();
    format!("data/{}/{h}", &h[..2])
}

/// The emulator refuses a second create-only put of one name (it honours `If-None-Match: *`).
fn honours_create_only(store: &Arc<dyn ObjectStore>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let p = StorePath::from("honours/if-none-match");
    let create = || PutOptions::from(PutMode::Create);
    rt.block_on(store.put_opts(&p, b"first".to_vec().into(), create()))
        .unwrap();
    let second = rt.block_on(store.put_opts(&p, b"second".to_vec().into(), create()));
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "the emulator ignored If-None-Match: {second:?}"
    );
    let got = rt.block_on(async { store.get(&p).await.unwrap().bytes().await.unwrap() });
    assert_eq!(&got[..], b"first");
    rt.block_on(store.delete(&p)).unwrap();
}

/// `first` and `second` are two connections to the same prefix.
fn second_writer_keeps_the_first(first: &dyn Backend, second: &dyn Backend) {
    for len in [1000, PART + 4321] {
        let ours = bytes(len as u64, len);
        let theirs = bytes(len as u64 + 1, len);
        let name = pack_name(&ours);
        first.write(&name, &ours).unwrap();
        // another writer's different bytes under that name: the intact object is kept
        second.write(&name, &theirs).unwrap();
        assert!(second.read(&name).unwrap() == ours, "{len} bytes: replaced");
        second
            .write_from(&name, &mut theirs.as_slice(), len as u64)
            .unwrap();
        assert!(first.read(&name).unwrap() == ours, "{len} bytes: replaced");
        // a damaged copy under a pack's name is replaced (export heals it)
        let good = bytes(len as u64 + 2, len);
        let healed = pack_name(&good);
        first.write(&healed, &theirs).unwrap();
        second
            .write_from(&healed, &mut good.as_slice(), len as u64)
            .unwrap();
        assert!(
            first.read(&healed).unwrap() == good,
            "{len} bytes: not healed"
        );
    }
}

#[test]
fn a_second_writer_never_replaces_an_intact_pack_on_s3() {
    let m = Moto::start();
    honours_create_only(&m.client("backups"));
    let (a, b) = (s3(&m, "s3://backups/ctl1"), s3(&m, "s3://backups/ctl1"));
    second_writer_keeps_the_first(a.as_ref(), b.as_ref());
}

#[test]
fn a_second_writer_never_replaces_an_intact_pack_on_azure() {
    let a = Azurite::start();
    honours_create_only(&a.client("backups"));
    let url = format!("az://{AZ_ACCOUNT}/backups/ctl1");
    let (x, y) = (az(&a, &url), az(&a, &url));
    second_writer_keeps_the_first(x.as_ref(), y.as_ref());
}

/// Temporary names at every depth are hidden from the listing and removed by `clean_temp`, and
/// only under the backend's own prefix.
fn temp_names_at_every_depth(b: &dyn Backend, store: &Arc<dyn ObjectStore>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let put = |k: &str| {
        rt.block_on(store.put(&StorePath::from(k), b"x".to_vec().into()))
            .unwrap();
    };
    let temps = [
        "ctl1/.tmp-root",
        "ctl1/data/.tmp-one",
        "ctl1/data/ab/.tmp-two",
        "ctl1/.tmp-dir/inside",
    ];
    for k in temps {
        put(k);
    }
    put("ctl1/data/ab/kept");
    put("ctl10/.tmp-other");
    let names: Vec<String> = b.list("").unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["data/ab/kept"], "a temporary name was listed");
    assert_eq!(b.clean_temp().unwrap(), temps.len());
    for k in temps {
        let gone = rt.block_on(store.head(&StorePath::from(k)));
        assert!(
            matches!(gone, Err(object_store::Error::NotFound { .. })),
            "{k} left"
        );
    }
    assert!(rt
        .block_on(store.head(&StorePath::from("ctl10/.tmp-other")))
        .is_ok());
    assert!(rt
        .block_on(store.head(&StorePath::from("ctl1/data/ab/kept")))
        .is_ok());
    assert_eq!(b.clean_temp().unwrap(), 0);
}

/// A ranged read: within, across and past the end, empty, and of a missing object.
fn ranged_reads(b: &dyn Backend) {
    b.write("keys/r", b"0123456789").unwrap();
    assert_eq!(b.read_range("keys/r", 2, 3).unwrap(), b"234");
    assert_eq!(b.read_range("keys/r", 8, 10).unwrap(), b"89");
    assert!(b.read_range("keys/r", 10, 4).unwrap().is_empty());
    assert!(b.read_range("keys/r", 50, 4).unwrap().is_empty());
    assert!(b.read_range("keys/r", 3, 0).unwrap().is_empty());
    for (off, len) in [(0, 4), (50, 4), (0, 0)] {
        let e = b.read_range("keys/none", off, len).unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::NotFound, "{off}+{len}: {e}");
    }
}

#[test]
fn temporary_names_and_ranged_reads_agree_at_every_depth_on_s3() {
    let m = Moto::start();
    let b = s3(&m, "s3://backups/ctl1");
    temp_names_at_every_depth(b.as_ref(), &m.client("backups"));
    ranged_reads(b.as_ref());
}

#[test]
fn temporary_names_and_ranged_reads_agree_at_every_depth_on_azure() {
    let a = Azurite::start();
    let b = az(&a, &format!("az://{AZ_ACCOUNT}/backups/ctl1"));
    temp_names_at_every_depth(b.as_ref(), &a.client("backups"));
    ranged_reads(b.as_ref());
}
