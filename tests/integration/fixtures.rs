//! Shared fixtures beside `harness` (which drives the binary): reproducible data, repositories
//! set up through the library, and damage done to stored objects.

use cairn::backend::Backend as _;
use cairn::controller::Controller;
use cairn::service::ServiceDef;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `len` reproducible, incompressible bytes for `seed` (xorshift64: fast, good enough for data).
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A new repository at `repo` for a fresh key, without services; the identity (age secret key
/// text) and the controller.
pub fn init_repo(repo: &Path) -> (Controller, String) {
    let (identity, recipient) = cairn::crypto::generate_identity();
    let ctl =
        Controller::init(repo, &[cairn::crypto::parse_recipient(&recipient).unwrap()]).unwrap();
    (ctl, identity)
}

/// A new repository at `repo` backing up the directory `src` as service `service`.
pub fn repo_with_service(repo: &Path, service: &str, src: &Path) -> (Controller, String) {
    let (ctl, identity) = init_repo(repo);
    let mut services = ctl.services().unwrap();
    services
        .add(ServiceDef {
            name: service.into(),
            path: Some(src.display().to_string()),
            command: None,
            restore_command: None,
            ..Default::default()
        })
        .unwrap();
    ctl.save_services(&services).unwrap();
    (ctl, identity)
}

/// Flip one bit in the middle of a file.
pub fn flip(p: &Path) {
    let len = fs::metadata(p).unwrap().len();
    flip_at(p, len / 2, 1);
}

/// XOR the byte at `at` with `mask`, writing through a read-only file's mode (packs are
/// read-only on some backends) and restoring it.
pub fn flip_at(p: &Path, at: u64, mask: u8) {
    let mut d = fs::read(p).unwrap();
    d[at as usize] ^= mask;
    let mode = fs::metadata(p).unwrap().permissions();
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(p, &d).unwrap();
    fs::set_permissions(p, mode).unwrap();
}

/// The largest file under `dir`.
pub fn largest(dir: &Path) -> PathBuf {
    largest_of(&crate::harness::files_under(dir))
}

/// The largest of `files`.
pub fn largest_of(files: &[PathBuf]) -> PathBuf {
    files
        .iter()
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("no file")
        .clone()
}

/// A source repository in a local directory: config, a key, packs of the given sizes, two manifests.
pub fn make_repo(dir: &Path, packs: &[usize]) -> cairn::backend::LocalBackend {
    let b = cairn::backend::LocalBackend::new(dir);
    b.write("config", b"cairn repository v1").unwrap();
    let key = b"age key envelope".to_vec();
    b.write(&format!("keys/{}", blake3::hash(&key).to_hex()), &key)
        .unwrap();
    for (i, len) in packs.iter().enumerate() {
        let data = bytes(i as u64 + 1, *len);
        let h = blake3::hash(&data).to_hex().to_string();
        b.write(&format!("data/{}/{h}", &h[..2]), &data).unwrap();
    }
    b.write("backups/20261122T053600.123Z", b"manifest one")
        .unwrap();
    b.write("backups/20261122T173600.456Z", b"manifest two")
        .unwrap();
    b
}

/// Every object of `a` is in `b` with the same bytes, and nothing else.
pub fn assert_same(a: &dyn cairn::backend::Backend, b: &dyn cairn::backend::Backend) {
    let mut la = a.list("").unwrap();
    let mut lb = b.list("").unwrap();
    la.sort_by(|x, y| x.name.cmp(&y.name));
    lb.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(la, lb);
    for o in la {
        assert!(
            a.read(&o.name).unwrap() == b.read(&o.name).unwrap(),
            "{} differs",
            o.name
        );
    }
}
