//! The controller: the internal repository at `--repo` plus its private state under `local/`
//! (services, the current key epoch and id key, the repository signing key, the index). Nothing
//! under `local/` can decrypt stored data: the id key only names chunks, and the signing key only
//! signs (docs/FORMAT.md, "Signatures").

use crate::backend::{Backend, LocalBackend};
use crate::chunker::ChunkerParams;
use crate::crypto::{self, IdKey, Recipient};
use crate::error::{Error, Result};
use crate::format::config::RepoConfig;
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::format::manifest::Manifest;
use crate::format::sealed_key::SealedKey;
use crate::id::KeyId;
use crate::index::Index;
use crate::repository::Repository;
use crate::service::ServiceList;
use crate::signing::SigningKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The current key epoch as the controller keeps it (`local/keys.toml`, mode 0600).
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalKeys {
    /// Epoch envelope id (hex).
    pub epoch: String,
    /// The epoch's id key (hex). Names chunks; cannot decrypt anything.
    pub id_key: String,
}

impl LocalKeys {
    /// Parsed epoch id and id key.
    pub fn parse(&self) -> Result<(KeyId, IdKey)> {
        let bad = || {
            Error::failed(
                "REPO/local/keys.toml is malformed",
                "restore it from a backup of the controller, or run `cairn recover` from the share",
            )
        };
        let epoch = KeyId::from_hex(&self.epoch).ok_or_else(bad)?;
        let mut k = [0u8; 32];
        hex::decode_to_slice(&self.id_key, &mut k).map_err(|_| bad())?;
        Ok((epoch, IdKey(k)))
    }
}

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
        if root.join("config").exists() {
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
        for d in ["data", "keys", "backups", "local"] {
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
            .write("config", &ctl.repo.config.encode(&key))?;
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
        ctl.save_keys(epoch, id_key)?;
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

    /// The current epoch and its id key.
    pub fn keys(&self) -> Result<(KeyId, IdKey)> {
        let p = self.local().join("keys.toml");
        let text = std::fs::read_to_string(&p).map_err(|e| {
            Error::failed(
                format!("cannot read {}: {e}", p.display()),
                "this controller's key state is missing: run `cairn recover` from the share with the identity to rebuild it",
            )
        })?;
        let k: LocalKeys = toml::from_str(&text).map_err(|_| {
            Error::failed(
                "REPO/local/keys.toml is malformed",
                "run `cairn recover` to rebuild it",
            )
        })?;
        k.parse()
    }

    fn save_keys(&self, epoch: KeyId, id_key: &IdKey) -> Result<()> {
        let k = LocalKeys {
            epoch: epoch.to_hex(),
            id_key: hex::encode(id_key.0),
        };
        let text = toml::to_string(&k).map_err(|e| Error::failed(e.to_string(), "report a bug"))?;
        crate::fsutil::write_atomic(&self.local().join("keys.toml"), text.as_bytes(), 0o600)
    }

    /// Start a new key epoch for `recipients` (init and `key rotate`): a fresh id key wrapped to
    /// them. New backups use it; older backups stay readable with the identities of their epoch.
    /// The signing key is sealed to them too (`signing/<epoch>`), so the share carries it.
    pub fn new_epoch(&self, recipients: &[Recipient]) -> Result<KeyId> {
        let key = self.signer()?;
        let id_key = IdKey::generate();
        let now = chrono::Utc::now().timestamp_millis();
        let env = Envelope {
            kind: EnvelopeKind::Epoch {
                recipients: recipients.iter().map(|r| r.to_string()).collect(),
            },
            created_ms: now,
            wrapped: crypto::wrap_key(&id_key.0, recipients)?,
        };
        let epoch = self.repo.put_envelope(&env, &key)?;
        let sealed = SealedKey {
            public: key.public().to_bytes(),
            epoch,
            created_ms: now,
            wrapped: crypto::wrap_key(&key.seed()[..], recipients)?,
        };
        self.repo.store.write(
            &SealedKey::name(&epoch),
            &sealed.encode(&self.repo.config.repo_id, &key),
        )?;
        self.save_keys(epoch, &id_key)?;
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
