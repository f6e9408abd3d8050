//! A repository as stored (locally or on the share): config, key envelopes, packs, manifests.
//! Read-side access only; it works on any backend and never needs the controller's local state.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::config::RepoConfig;
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::format::manifest::Manifest;
use crate::id::{BackupId, KeyId};
use std::sync::Arc;

/// A manifest that failed to decode: its object name and the error.
pub type Damaged = (String, Error);

/// A repository on some backend.
#[derive(Clone)]
pub struct Repository {
    /// Where its objects are.
    pub store: Arc<dyn Backend>,
    /// Its fixed parameters.
    pub config: RepoConfig,
}

impl Repository {
    /// Open the repository stored in `store`.
    pub fn open(store: Arc<dyn Backend>) -> Result<Self> {
        let bytes = store.read("config").map_err(|e| match e.kind {
            crate::error::StorageErrorKind::NotFound => Error::usage(
                format!("no cairn repository at {}", store.describe()),
                "create one with `cairn init --recipient age1…`, or pass the right --repo DIR (or CAIRN_REPO)",
            ),
            _ => Error::Storage(e),
        })?;
        let config = RepoConfig::decode(&bytes)?;
        Ok(Repository { store, config })
    }

    /// Every backup manifest, oldest first, with the names of manifests that failed to decode.
    pub fn manifests(&self) -> Result<(Vec<Manifest>, Vec<Damaged>)> {
        let mut names: Vec<String> = self
            .store
            .list("backups/")?
            .into_iter()
            .map(|o| o.name)
            .collect();
        names.sort();
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for name in names {
            match self.read_manifest(&name) {
                Ok(m) => good.push(m),
                Err(e) => bad.push((name, e)),
            }
        }
        Ok((good, bad))
    }

    fn read_manifest(&self, name: &str) -> Result<Manifest> {
        let m = Manifest::decode(&self.store.read(name)?, name)?;
        if format!("backups/{}", m.id) != name {
            return Err(Error::corrupt(name, "manifest id does not match its name"));
        }
        Ok(m)
    }

    /// One manifest by id, or the newest for `latest`.
    pub fn resolve(&self, spec: &str) -> Result<Manifest> {
        if spec == "latest" {
            let (all, _) = self.manifests()?;
            return all.into_iter().next_back().ok_or_else(|| {
                Error::usage(
                    "there is no backup yet",
                    "run `cairn backup` first; `cairn list` shows the backups",
                )
            });
        }
        let id = BackupId::parse(spec).ok_or_else(|| {
            Error::usage(
                format!("{spec:?} is not a backup id"),
                "give an id as shown by `cairn list` (e.g. 20261122T053600.123Z) or `latest`",
            )
        })?;
        match self.store.stat(&id.object_name())? {
            None => Err(Error::usage(
                format!("no backup {spec} in {}", self.store.describe()),
                "`cairn list` shows the backups",
            )),
            Some(_) => self.read_manifest(&id.object_name()),
        }
    }

    /// A key envelope.
    pub fn envelope(&self, id: &KeyId) -> Result<Envelope> {
        let name = id.object_name();
        let bytes = self.store.read(&name)?;
        if Envelope::id_of(&bytes) != *id {
            return Err(Error::corrupt(
                &name,
                "bytes do not match the envelope's name",
            ));
        }
        Envelope::decode(&bytes)
    }

    /// The recipients of a key epoch.
    pub fn epoch_recipients(&self, epoch: &KeyId) -> Result<Vec<String>> {
        match self.envelope(epoch)?.kind {
            EnvelopeKind::Epoch { recipients } => Ok(recipients),
            EnvelopeKind::Session { .. } => Err(Error::corrupt(
                epoch.object_name(),
                "expected an epoch envelope",
            )),
        }
    }

    /// Store an envelope; returns its id.
    pub fn put_envelope(&self, env: &Envelope) -> Result<KeyId> {
        let bytes = env.encode();
        let id = Envelope::id_of(&bytes);
        self.store.write(&id.object_name(), &bytes)?;
        Ok(id)
    }
}
