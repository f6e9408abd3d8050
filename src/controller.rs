//! The controller: the internal repository at `--repo` plus its private state under `local/`
//! (services, the current key epoch and id key, the index). Nothing under `local/` can decrypt
//! stored data: the id key only names chunks.

use crate::backend::{Backend, LocalBackend};
use crate::chunker::ChunkerParams;
use crate::crypto::{self, IdKey, Recipient};
use crate::error::{Error, Result};
use crate::format::config::RepoConfig;
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::id::KeyId;
use crate::index::Index;
use crate::repository::Repository;
use crate::service::ServiceList;
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
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(root));
        let config = RepoConfig {
            repo_id: rand::random(),
            created_ms: chrono::Utc::now().timestamp_millis(),
            chunker: ChunkerParams::default(),
            pack_target: PACK_TARGET,
            zstd_level: 3,
        };
        let repo = Repository { store, config };
        let ctl = Controller {
            root: root.to_path_buf(),
            repo,
        };
        ctl.new_epoch(recipients)?;
        // config last: a repository exists once it has its config
        ctl.repo.store.write("config", &ctl.repo.config.encode())?;
        Ok(ctl)
    }

    /// Open the repository at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        Self::open_with_store(root, Arc::new(LocalBackend::new(root)))
    }

    /// Open the repository at `root`, reaching its objects through `store` (a wrapper of the
    /// local directory's backend: the crash tests inject power cuts this way).
    pub fn open_with_store(root: &Path, store: Arc<dyn Backend>) -> Result<Self> {
        let repo = Repository::open(store)?;
        std::fs::create_dir_all(root.join("local"))
            .map_err(|e| Error::io(root.join("local").display().to_string(), e))?;
        Ok(Controller {
            root: root.to_path_buf(),
            repo,
        })
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
    pub fn new_epoch(&self, recipients: &[Recipient]) -> Result<KeyId> {
        let id_key = IdKey::generate();
        let env = Envelope {
            kind: EnvelopeKind::Epoch {
                recipients: recipients.iter().map(|r| r.to_string()).collect(),
            },
            created_ms: chrono::Utc::now().timestamp_millis(),
            wrapped: crypto::wrap_key(&id_key.0, recipients)?,
        };
        let epoch = self.repo.put_envelope(&env)?;
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
        let e = Controller::open(&d.path().join("nope")).err().unwrap();
        assert!(e.to_string().contains("no cairn repository"));
    }
}
