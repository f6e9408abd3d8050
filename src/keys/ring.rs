//! The keys unwrapped with the operator's identity, for restore, mount, deep verify and recover.
//! Unwrapped keys are cached behind `Arc`s: the secret types are not `Clone`.

use crate::crypto::{IdKey, Identity, SessionKey};
use crate::error::{Error, Result};
use crate::format::envelope::EnvelopeKind;
use crate::id::KeyId;
use crate::repository::Repository;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// A session key with the id key of its epoch (to check chunk ids after decryption).
pub struct Unlocked {
    /// Opens the blobs sealed under this session.
    pub session: Arc<SessionKey>,
    /// Computes chunk ids of this epoch.
    pub id_key: Arc<IdKey>,
}

/// The value cached under `id`, or the one `unwrap` makes (then cached). The lock is not held
/// while unwrapping: two callers may both unwrap a key, and the first one cached is kept.
fn cached<V>(
    cache: &Mutex<HashMap<KeyId, Arc<V>>>,
    id: &KeyId,
    unwrap: impl FnOnce() -> Result<V>,
) -> Result<Arc<V>> {
    let lock = || cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = lock().get(id) {
        return Ok(v.clone());
    }
    let v = Arc::new(unwrap()?);
    Ok(lock().entry(*id).or_insert(v).clone())
}

/// Unwrapped keys, cached.
pub struct KeyRing {
    identity: Identity,
    sessions: Mutex<HashMap<KeyId, Arc<Unlocked>>>,
    epochs: Mutex<HashMap<KeyId, Arc<IdKey>>>,
}

impl KeyRing {
    /// A key ring for this identity.
    pub fn new(identity: Identity) -> Self {
        KeyRing {
            identity,
            sessions: Mutex::default(),
            epochs: Mutex::default(),
        }
    }

    /// The identity's public keys.
    pub fn recipients(&self) -> Vec<String> {
        self.identity.recipients()
    }

    /// The id key of an epoch.
    pub fn epoch_key(&self, repo: &Repository, epoch: &KeyId, backup: &str) -> Result<Arc<IdKey>> {
        cached(&self.epochs, epoch, || {
            self.unwrap_epoch(repo, epoch, backup)
        })
    }

    /// Unwrap the id key of an epoch (uncached).
    fn unwrap_epoch(&self, repo: &Repository, epoch: &KeyId, backup: &str) -> Result<IdKey> {
        let env = repo.envelope(epoch)?;
        let EnvelopeKind::Epoch { recipients } = &env.kind else {
            return Err(Error::corrupt(
                epoch.object_name(),
                "expected an epoch envelope",
            ));
        };
        let key = self
            .unwrap32(&env.wrapped)
            .ok_or_else(|| Error::WrongIdentity {
                backup: backup.to_string(),
                recipients: recipients.clone(),
            })?;
        Ok(IdKey::from_bytes(*key))
    }

    /// The keys of a session (the backup id is for the error message).
    pub fn session(
        &self,
        repo: &Repository,
        session: &KeyId,
        backup: &str,
    ) -> Result<Arc<Unlocked>> {
        cached(&self.sessions, session, || {
            self.unwrap_session(repo, session, backup)
        })
    }

    /// Unwrap the keys of a session (uncached; the epoch's id key comes from the cache).
    fn unwrap_session(&self, repo: &Repository, session: &KeyId, backup: &str) -> Result<Unlocked> {
        let env = repo.envelope(session)?;
        let EnvelopeKind::Session { epoch } = env.kind else {
            return Err(Error::corrupt(
                session.object_name(),
                "expected a session envelope",
            ));
        };
        let id_key = self.epoch_key(repo, &epoch, backup)?;
        let key = match self.unwrap32(&env.wrapped) {
            Some(k) => k,
            None => {
                let recipients = repo.epoch_recipients(&epoch)?;
                return Err(Error::WrongIdentity {
                    backup: backup.to_string(),
                    recipients,
                });
            }
        };
        Ok(Unlocked {
            session: Arc::new(SessionKey::from_bytes(*key)),
            id_key,
        })
    }

    /// Unwrap a sealed repository signing key (`signing/<epoch>`) with this identity; `None` if
    /// the identity cannot open it or it does not hold a 32-byte seed. The caller checks that the
    /// key's public half is the expected fingerprint before using it.
    pub fn unwrap_signing_key(&self, wrapped: &[u8]) -> Option<crate::signing::SigningKey> {
        let seed = self.unwrap32(wrapped)?;
        Some(crate::signing::SigningKey::from_seed(&seed))
    }

    /// Unwrap a 32-byte secret; the unwrapped bytes are wiped when dropped.
    fn unwrap32(&self, wrapped: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let secret = Zeroizing::new(self.identity.unwrap_key(wrapped)?);
        Some(Zeroizing::new(secret.as_slice().try_into().ok()?))
    }
}
