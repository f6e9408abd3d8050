//! The controller: the internal repository at `--repo` plus its private state under `local/`
//! (services, the current key epoch and id key, the repository signing key, the index). Nothing
//! under `local/` can decrypt stored data: the id key only names chunks, and the signing key only
//! signs (docs/FORMAT.md, "Signatures").

use crate::backend::{Backend, LocalBackend};
use crate::chunker::ChunkerParams;
use crate::crypto::{IdKey, Recipient};
use crate::error::{Error, Result};
use crate::format::config::RepoConfig;
use crate::format::manifest::Manifest;
use crate::id::KeyId;
use crate::index::Index;
use crate::keys::{self, LocalKeys};
use crate::object::{ObjectKind, CONFIG_NAME};
use crate::repository::Repository;
use crate::service::ServiceList;
use crate::signing::SigningKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The internal repository and its local state.
pub struct Controller {
    /// The repository directory.
    pub root: PathBuf,
    /// The repository's objects.
    pub repo: Repository,
}

/// The signing key's file under `REPO/local/`.
pub const SIGNING_KEY_FILE: &str = "signing.key";

/// Make a directory private to its owner (0700), as `REPO/local` is.
pub(crate) fn make_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(dir.display().to_string(), e))
}

/// Default target pack size.
pub const PACK_TARGET: u32 = 16 << 20;

impl Controller {
    /// Create a new repository at `root` for these recipients.
    pub fn init(root: &Path, recipients: &[Recipient]) -> Result<Self> {
        if root.join(CONFIG_NAME).exists() {
            return Err(Error::usage(
                format!("a cairn repository already exists at {}", root.display()),
                "use it as it is, or choose another --repo DIR",
            ));
        }
        if recipients.is_empty() {
            return Err(Error::usage(
                "init needs at least one recipient",
                "e.g. `cairn init --recipient age1…` (from `cairn key generate`)",
            ));
        }
        let dirs = [ObjectKind::Pack, ObjectKind::Key, ObjectKind::Manifest]
            .map(|k| k.dir().unwrap_or_default());
        for d in dirs.into_iter().chain(["local"]) {
            std::fs::create_dir_all(root.join(d))
                .map_err(|e| Error::io(root.join(d).display().to_string(), e))?;
        }
        make_private(&root.join("local"))?;
        let key = SigningKey::generate();
        key.save(&root.join("local").join(SIGNING_KEY_FILE))?;
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(root));
        let config = RepoConfig {
            repo_id: rand::random(),
            created_ms: chrono::Utc::now().timestamp_millis(),
            chunker: ChunkerParams::default(),
            pack_target: PACK_TARGET,
            zstd_level: 3,
            signing_key: key.public().to_bytes(),
        };
        let repo = Repository::new(store, config)?;
        let ctl = Controller {
            root: root.to_path_buf(),
            repo,
        };
        ctl.new_epoch(recipients)?;
        // config last: a repository exists once it has its config
        ctl.repo
            .store
            .write(CONFIG_NAME, &ctl.repo.config.encode(&key))?;
        Ok(ctl)
    }

    /// Open the repository at `root`. When this controller holds the signing key
    /// (`local/signing.key`), the repository's config must name that key.
    pub fn open(root: &Path) -> Result<Self> {
        Self::open_with_store(root, Arc::new(LocalBackend::new(root)))
    }

    /// Open the repository at `root`, reaching its objects through `store` (a wrapper of the
    /// local directory's backend: the crash tests inject power cuts this way).
    pub fn open_with_store(root: &Path, store: Arc<dyn Backend>) -> Result<Self> {
        let key_file = root.join("local").join(SIGNING_KEY_FILE);
        let repo = if key_file.exists() {
            Repository::open_expecting(store, &SigningKey::load(&key_file)?.public())?
        } else {
            Repository::open(store)?
        };
        std::fs::create_dir_all(root.join("local"))
            .map_err(|e| Error::io(root.join("local").display().to_string(), e))?;
        Ok(Controller {
            root: root.to_path_buf(),
            repo,
        })
    }

    /// The repository signing key (`local/signing.key`), checked against the config.
    pub fn signer(&self) -> Result<SigningKey> {
        let key = SigningKey::load(&self.local().join(SIGNING_KEY_FILE))?;
        if key.public() != *self.repo.key() {
            return Err(Error::failed(
                format!(
                    "REPO/local/{SIGNING_KEY_FILE} holds key {}, but the repository is signed by {}",
                    key.public().fingerprint(),
                    self.repo.fingerprint()
                ),
                "restore the controller's own signing key, or rebuild the controller with `cairn recover --fingerprint FP`",
            ));
        }
        Ok(key)
    }

    /// Sign and write a manifest: the record that commits a backup (`backups/<id>`). This is the
    /// only way library code commits one; tests that forge manifests with the controller's own
    /// key use it too.
    pub fn commit_manifest(&self, m: &Manifest) -> Result<()> {
        if m.repo_id != self.repo.config.repo_id {
            return Err(Error::failed(
                format!("manifest {} is for another repository", m.id),
                "report a bug",
            ));
        }
        let key = self.signer()?;
        self.repo.store.write(&m.name(), &m.encode(&key))?;
        Ok(())
    }

    /// Adopt an existing repository directory (after recovery) with a known epoch and id key.
    pub fn adopt(root: &Path, epoch: KeyId, id_key: &IdKey) -> Result<Self> {
        let ctl = Self::open(root)?;
        LocalKeys::save(&ctl.local(), epoch, id_key)?;
        Ok(ctl)
    }

    /// `REPO/local`.
    pub fn local(&self) -> PathBuf {
        self.root.join("local")
    }

    /// The configured services.
    pub fn services(&self) -> Result<ServiceList> {
        ServiceList::load(&self.local().join("services.toml"))
    }

    /// Save the services.
    pub fn save_services(&self, l: &ServiceList) -> Result<()> {
        l.save(&self.local().join("services.toml"))
    }

    /// The current epoch and its id key (`local/keys.toml`).
    pub fn keys(&self) -> Result<(KeyId, IdKey)> {
        LocalKeys::load(&self.local())
    }

    /// Start a new key epoch for `recipients` (init and `key rotate`) and make it current: a
    /// fresh id key wrapped to them, the signing key sealed to them ([`keys::epoch::start`]).
    /// New backups use it; older backups stay readable with the identities of their epoch.
    pub fn new_epoch(&self, recipients: &[Recipient]) -> Result<KeyId> {
        let (epoch, id_key) = keys::epoch::start(&self.repo, &self.signer()?, recipients)?;
        LocalKeys::save(&self.local(), epoch, &id_key)?;
        Ok(epoch)
    }

    /// Open the writer's index (exclusive to the job holding the lease) and sync it with the packs.
    pub fn index(&self) -> Result<Index> {
        let idx = Index::open(&self.local().join("index"))?;
        idx.sync(self.repo.store.as_ref())?;
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto;
    use crate::format::sealed_key::SealedKey;

    #[test]
    fn init_open_and_refuse_twice() {
        let d = tempfile::tempdir().unwrap();
        let (_, public) = crypto::generate_identity();
        let r = crypto::parse_recipient(&public).unwrap();
        let c = Controller::init(d.path(), std::slice::from_ref(&r)).unwrap();
        let (epoch, _) = c.keys().unwrap();
        assert_eq!(c.repo.epoch_recipients(&epoch).unwrap(), vec![public]);
        assert_eq!(
            Controller::init(d.path(), &[r]).err().unwrap().exit_code(),
            2
        );
        let o = Controller::open(d.path()).unwrap();
        assert_eq!(o.repo.config, c.repo.config);
        assert_eq!(o.signer().unwrap().public(), *c.repo.key());
        // the key is sealed on the repository for the epoch's recipients
        assert!(o
            .repo
            .store
            .stat(&SealedKey::name(&epoch))
            .unwrap()
            .is_some());
        // a config replaced by one signed with another key is refused by the controller
        let other = SigningKey::generate();
        let forged = RepoConfig {
            signing_key: other.public().to_bytes(),
            ..c.repo.config.clone()
        };
        o.repo
            .store
            .write("config", &forged.encode(&other))
            .unwrap();
        let e = Controller::open(d.path()).err().unwrap();
        assert_eq!(e.exit_code(), 1, "{e}");
        let e = Controller::open(&d.path().join("nope")).err().unwrap();
        assert!(e.to_string().contains("no cairn repository"));
    }
}
