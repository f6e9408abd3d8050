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
