//! Key epochs: a fresh id key wrapped to a set of recipients (`keys/<epoch>`), the signing key
//! sealed to the same recipients (`signing/<epoch>`), and the controller's copy of the current
//! epoch in `REPO/local/keys.toml` (0600).

use crate::crypto::{self, IdKey, Recipient};
use crate::error::{Error, Result};
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::id::KeyId;
use crate::repository::Repository;
use crate::signing::SigningKey;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// The file under `REPO/local/` that holds the current epoch.
pub const KEYS_FILE: &str = "keys.toml";

/// The current key epoch as the controller keeps it (`local/keys.toml`, mode 0600).
#[derive(Serialize, Deserialize)]
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
        let mut k = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(&self.id_key, &mut k[..]).map_err(|_| bad())?;
        Ok((epoch, IdKey::from_bytes(*k)))
    }

    /// Read `local/keys.toml` in the directory `local`.
    pub fn load(local: &Path) -> Result<(KeyId, IdKey)> {
        let p = local.join(KEYS_FILE);
        let text = Zeroizing::new(std::fs::read_to_string(&p).map_err(|e| {
            Error::failed(
                format!("cannot read {}: {e}", p.display()),
                "this controller's key state is missing: run `cairn recover` from the share with the identity to rebuild it",
            )
        })?);
        let k: LocalKeys = toml::from_str(&text).map_err(|_| {
            Error::failed(
                "REPO/local/keys.toml is malformed",
                "run `cairn recover` to rebuild it",
            )
        })?;
        k.parse()
    }

    /// Save `epoch` and its id key as the current epoch (atomic, 0600).
    pub fn save(local: &Path, epoch: KeyId, id_key: &IdKey) -> Result<()> {
        let k = LocalKeys {
            epoch: epoch.to_hex(),
            id_key: hex::encode(id_key.expose()),
        };
        let text = Zeroizing::new(
            toml::to_string(&k).map_err(|e| Error::failed(e.to_string(), "report a bug"))?,
        );
        crate::fsutil::write_atomic(&local.join(KEYS_FILE), text.as_bytes(), 0o600)
    }
}

/// Start a new key epoch on `repo` for `recipients`: a fresh id key wrapped to them
/// (`keys/<epoch>`), and the signing key sealed to them (`signing/<epoch>`), so the share
/// carries it. Returns the epoch and its id key; the caller makes it current.
pub fn start(
    repo: &Repository,
    signer: &SigningKey,
    recipients: &[Recipient],
) -> Result<(KeyId, IdKey)> {
    let id_key = IdKey::generate();
    let now = chrono::Utc::now().timestamp_millis();
    let env = Envelope {
        kind: EnvelopeKind::Epoch {
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
        },
        created_ms: now,
        wrapped: crypto::wrap_key(id_key.expose(), recipients)?,
    };
    let epoch = repo.put_envelope(&env, signer)?;
    super::sealed::seal(repo, signer, epoch, now, recipients)?;
    Ok((epoch, id_key))
}
