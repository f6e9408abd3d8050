//! Shared fixtures beside `harness` (which drives the binary): reproducible data, repositories
//! set up through the library, and damage done to stored objects.

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
