//! Shared fixtures of the library's unit tests: reproducible data and a repository with one path
//! service (the integration tests have theirs in `tests/integration/fixtures.rs`).

use crate::controller::Controller;
use crate::keyring::KeyRing;
use crate::service::ServiceDef;
use std::path::PathBuf;

/// `len` reproducible, incompressible bytes for `seed` (xorshift64: fast, good enough for data).
pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
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

/// A repository in a temporary directory (`DIR/repo`) for a fresh key, with one service backing
/// up the empty directory `DIR/src`.
pub(crate) struct TestRepo {
    /// Everything lives here; removed on drop.
    pub(crate) dir: tempfile::TempDir,
    /// The repository's controller.
    pub(crate) ctl: Controller,
    /// The identity (age secret key text).
    pub(crate) identity: String,
    /// The service's source directory.
    pub(crate) src: PathBuf,
}

impl TestRepo {
    /// A repository whose one service, `service`, backs up `DIR/src`.
    pub(crate) fn with_service(service: &str) -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let (identity, public) = crate::crypto::generate_identity();
        let r = crate::crypto::parse_recipient(&public).unwrap();
        let ctl = Controller::init(&dir.path().join("repo"), &[r]).unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
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
        TestRepo {
            dir,
            ctl,
            identity,
            src,
        }
    }

    /// The key ring that reads this repository's backups.
    pub(crate) fn keys(&self) -> KeyRing {
        KeyRing::new(crate::crypto::Identity::parse(&self.identity, "test").unwrap())
    }
}
