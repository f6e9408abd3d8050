//! A bucket that serves oversized objects or a forged listing: the object store backend takes an
//! object's size from the store's answer and refuses one over its kind's cap before reading its
//! body, and lists only names that are safe object names under its own prefix.

use crate::emulators::Moto;
use cairn::error::StorageErrorKind;
use cairn::target::{open_backend, TargetConfig};
use object_store::ObjectStore;

fn put(m: &Moto, key: &str, data: Vec<u8>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = m.client("backups");
    rt.block_on(store.put(&object_store::path::Path::from(key), data.into()))
        .unwrap();
}

#[test]
fn an_oversized_object_in_a_bucket_is_refused_before_it_is_read_and_forged_names_are_not_listed() {
    let m = Moto::start();
    let cfg = TargetConfig::new(
        "s3://backups/ctl1",
        Some(m.key_id.clone()),
        Some(m.secret()),
    )
    .unwrap()
    .with_store_options(Some(m.endpoint()), Some("us-east-1".into()))
    .unwrap();
    let b = open_backend(&cfg).unwrap();
    // a 100 KiB `config` (its cap is 64 KiB), and a 2 MiB "probe" object (cap 1 MiB)
    put(&m, "ctl1/config", vec![7u8; 100 << 10]);
    put(&m, "ctl1/keys/zz", vec![1u8; 300 << 10]);
    for (name, cap) in [("config", 64u64 << 10), ("keys/zz", 256 << 10)] {
        let e = b.read(name).unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::TooLarge, "{e}");
        assert!(e.detail.contains(&cap.to_string()), "{e}");
        let e = b.read_range(name, 0, 16).unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::TooLarge, "{e}");
    }
    // names a listing must not hand on: a temporary name, another controller's prefix
    put(&m, "ctl1/data/ab/.tmp-half", b"x".to_vec());
    put(&m, "ctl10/data/ab/other", b"x".to_vec());
    let mut names: Vec<String> = b.list("").unwrap().into_iter().map(|o| o.name).collect();
    names.sort();
    assert_eq!(
        names,
        ["config", "keys/zz"],
        "the listing handed on a forged name"
    );
}

#[test]
fn a_forged_object_name_is_refused_on_read_write_and_delete_and_never_leaves_the_prefix() {
    let m = Moto::start();
    let cfg = TargetConfig::new(
        "s3://backups/ctl1/inner",
        Some(m.key_id.clone()),
        Some(m.secret()),
    )
    .unwrap()
    .with_store_options(Some(m.endpoint()), Some("us-east-1".into()))
    .unwrap();
    let b = open_backend(&cfg).unwrap();
    put(&m, "ctl1/config", b"the parent's config".to_vec());
    put(&m, "config", b"the bucket root's config".to_vec());
    for name in [
        "../config",
        "/config",
        "data/../../config",
        "data//x",
        "./config",
        "",
    ] {
        let refused = |r: Result<(), cairn::error::StorageError>, call: &str| {
            let e = r.expect_err(&format!("{call}({name:?}) was let through"));
            assert!(
                e.detail.contains("refused the object name"),
                "{call}({name:?}): {e}"
            );
        };
        refused(b.read(name).map(drop), "read");
        refused(b.read_range(name, 0, 4).map(drop), "read_range");
        refused(b.stat(name).map(drop), "stat");
        refused(b.write(name, b"forged"), "write");
        refused(b.write_from(name, &mut &b"forged"[..], 6), "write_from");
        refused(b.delete(name), "delete");
    }
    // nothing outside the prefix was read, replaced or removed
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = m.client("backups");
    for (key, want) in [
        ("ctl1/config", &b"the parent's config"[..]),
        ("config", &b"the bucket root's config"[..]),
    ] {
        let p = object_store::path::Path::from(key);
        let got = rt.block_on(async { store.get(&p).await.unwrap().bytes().await.unwrap() });
        assert_eq!(&got[..], want, "{key} was changed");
    }
}
