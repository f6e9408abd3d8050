//! The signing key sealed on the repository (`signing/<epoch>`): sealed to each epoch's
//! recipients when the epoch starts, listed, and unsealed by `recover` with the identity.

use crate::backend::Backend;
use crate::crypto::{self, Recipient};
use crate::error::Result;
use crate::format::sealed_key::SealedKey;
use crate::id::KeyId;
use crate::keys::KeyRing;
use crate::object::ObjectKind;
use crate::repository::Repository;
use crate::signing::{PublicKey, SigningKey};

/// Seal `signer` to the recipients of `epoch` and store it as `signing/<epoch>`.
pub fn seal(
    repo: &Repository,
    signer: &SigningKey,
    epoch: KeyId,
    created_ms: i64,
    recipients: &[Recipient],
) -> Result<()> {
    let sealed = SealedKey {
        public: signer.public().to_bytes(),
        epoch,
        created_ms,
        wrapped: crypto::wrap_key(&signer.seed()[..], recipients)?,
    };
    repo.store.write(
        &SealedKey::name(&epoch),
        &sealed.encode(&repo.config.repo_id, signer),
    )?;
    Ok(())
}

/// Every `signing/…` object in `store` with its sealed key, `None` when it cannot be read or
/// does not decode (its self-signature, name or framing is wrong).
pub fn list(store: &dyn Backend, repo_id: &[u8; 16]) -> Result<Vec<(String, Option<SealedKey>)>> {
    Ok(store
        .list(ObjectKind::SealedKey.prefix())?
        .into_iter()
        .map(|o| {
            let key = store
                .read(&o.name)
                .ok()
                .and_then(|b| SealedKey::decode(&b, repo_id, &o.name).ok());
            (o.name, key)
        })
        .collect())
}

/// Unseal the signing key whose public half is `fp`, from the sealed keys in `store`, with the
/// identity of `keys`; `None` if none both claims that key and opens with this identity into
/// it. A key sealed by someone else to the public recipients is never taken: its public half is
/// not the fingerprint the operator gave.
pub fn unseal(
    store: &dyn Backend,
    repo_id: &[u8; 16],
    keys: &KeyRing,
    fp: &PublicKey,
) -> Result<Option<SigningKey>> {
    for (_, sealed) in list(store, repo_id)? {
        let Some(sealed) = sealed.filter(|s| s.public == fp.to_bytes()) else {
            continue;
        };
        let Some(key) = keys.unwrap_signing_key(&sealed.wrapped) else {
            continue;
        };
        if key.public() == *fp {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::Controller;
    use crate::crypto::{generate_identity, parse_recipient, Identity};

    #[test]
    fn unseal_takes_only_the_fingerprints_key_this_identity_opens() {
        let d = tempfile::tempdir().unwrap();
        let (identity, public) = generate_identity();
        let r = parse_recipient(&public).unwrap();
        let ctl = Controller::init(d.path(), std::slice::from_ref(&r)).unwrap();
        let repo = &ctl.repo;
        let keys = KeyRing::new(Identity::parse(&identity, "id").unwrap());
        let (store, id) = (repo.store.as_ref(), &repo.config.repo_id);
        let fp = *repo.key();
        let key = unseal(store, id, &keys, &fp).unwrap().unwrap();
        assert_eq!(key.public(), fp);
        // another key, sealed to the same public recipients, is listed but never taken for fp
        let forger = SigningKey::generate();
        seal(repo, &forger, KeyId([9; 32]), 0, std::slice::from_ref(&r)).unwrap();
        assert_eq!(list(store, id).unwrap().len(), 2);
        assert!(unseal(store, id, &keys, &forger.public())
            .unwrap()
            .is_some_and(|k| k.public() == forger.public()));
        assert_eq!(unseal(store, id, &keys, &fp).unwrap().unwrap().public(), fp);
        // an identity the key was not sealed to opens nothing
        let (other, _) = generate_identity();
        let stranger = KeyRing::new(Identity::parse(&other, "other").unwrap());
        assert!(unseal(store, id, &stranger, &fp).unwrap().is_none());
    }
}
