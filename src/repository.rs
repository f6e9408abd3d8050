//! A repository as stored (locally or on the share): config, key envelopes, packs, manifests.
//! Read-side access only; it works on any backend and never needs the controller's local state.
//!
//! Every signed object read through here is checked against the repository's public signing key
//! (from its self-signed config, or the key the caller expects: the local controller's, the
//! fingerprint given to `recover`). An object whose signature does not hold is never returned:
//! manifests that fail are reported in the damaged list, by name, with the word "signature".

use crate::backend::Backend;
use crate::error::{Error, Result, StorageErrorKind};
use crate::format::config::RepoConfig;
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::format::manifest::Manifest;
use crate::id::{BackupId, ChunkId, KeyId};
use crate::object::{ObjectKind, ObjectName, CONFIG_NAME};
use crate::signing::{PublicKey, SigningKey, SIGNATURE_LEN};
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
    /// The public signing key every signed object must verify under.
    key: PublicKey,
}

/// A manifest with the blake3 of its object bytes (for the chain).
pub type Hashed = (Manifest, [u8; 32]);

/// A manifest read without keeping its references.
#[derive(Debug, Clone)]
pub struct ManifestHead {
    /// The manifest, checked, with [`Manifest::refs`] empty.
    pub manifest: Manifest,
    /// blake3 of its object bytes (for the chain).
    pub hash: [u8; 32],
    /// How many references it lists.
    pub refs: u64,
}

impl std::ops::Deref for ManifestHead {
    type Target = Manifest;
    fn deref(&self) -> &Manifest {
        &self.manifest
    }
}

/// The first bytes of a manifest [`Repository::read_head`] reads whole: its fields before the
/// references are in them.
const HEAD_BLOCK: usize = 1 << 20;

/// Cuts a manifest body, read in blocks, into its references (handed on in whole ids, however
/// the blocks fall) and its tail.
struct RefSplitter {
    refs: std::ops::Range<u64>,
    /// The bytes of an id cut by the end of a block.
    partial: Vec<u8>,
    batch: Vec<ChunkId>,
    tail: Vec<u8>,
}

impl RefSplitter {
    fn new(refs: std::ops::Range<u64>) -> Self {
        RefSplitter {
            refs,
            partial: Vec::with_capacity(32),
            batch: Vec::new(),
            tail: Vec::new(),
        }
    }

    fn count(&self) -> u64 {
        (self.refs.end - self.refs.start) / 32
    }

    /// The body bytes `b`, found at offset `at`.
    fn feed(
        &mut self,
        at: u64,
        b: &[u8],
        each: &mut dyn FnMut(&[ChunkId]) -> Result<()>,
    ) -> Result<()> {
        let end = at + b.len() as u64;
        if end > self.refs.end {
            let from = self.refs.end.saturating_sub(at) as usize;
            self.tail.extend_from_slice(&b[from..]);
        }
        let (lo, hi) = (self.refs.start.max(at), self.refs.end.min(end));
        if lo >= hi {
            return Ok(());
        }
        let mut ids = &b[(lo - at) as usize..(hi - at) as usize];
        self.batch.clear();
        if !self.partial.is_empty() {
            let take = (32 - self.partial.len()).min(ids.len());
            self.partial.extend_from_slice(&ids[..take]);
            ids = &ids[take..];
            if let Ok(id) = <[u8; 32]>::try_from(&self.partial[..]) {
                self.batch.push(ChunkId(id));
                self.partial.clear();
            }
        }
        let mut whole = ids.chunks_exact(32);
        self.batch.extend(
            whole
                .by_ref()
                .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(ChunkId)),
        );
        self.partial.extend_from_slice(whole.remainder());
        each(&self.batch)
    }
}

impl Repository {
    /// A repository from a checked config (at init).
    pub fn new(store: Arc<dyn Backend>, config: RepoConfig) -> Result<Self> {
        let key = config.public_key()?;
        Ok(Repository { store, config, key })
    }

    /// Open the repository stored in `store`, expecting it to be signed by `key` (the local
    /// controller's key, or the fingerprint given to `recover`): anything else is refused (exit 1).
    pub fn open_expecting(store: Arc<dyn Backend>, key: &PublicKey) -> Result<Self> {
        let repo = Self::open(store)?;
        if repo.key != *key {
            return Err(Error::failed(
                format!(
                    "the repository at {} is signed by key {}, not by the expected {}",
                    repo.store.describe(),
                    repo.key.fingerprint(),
                    key.fingerprint()
                ),
                "nothing was read from it: check the location, and the fingerprint you keep with the identity (`cairn key list` on the controller shows it)",
            ));
        }
        Ok(repo)
    }

    /// The repository's public signing key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The repository fingerprint.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint()
    }

    /// Open the repository stored in `store`; its config must carry a valid self-signature.
    pub fn open(store: Arc<dyn Backend>) -> Result<Self> {
        let bytes = store.read(CONFIG_NAME).map_err(|e| match e.kind {
            StorageErrorKind::NotFound => Error::usage(
                format!("no cairn repository at {}", store.describe()),
                "create one with `cairn init --recipient age1…`, or pass the right --repo DIR (or CAIRN_REPO)",
            ),
            _ => Error::Storage(e),
        })?;
        let config = RepoConfig::decode(&bytes)?;
        Self::new(store, config)
    }

    /// Every backup manifest without its references ([`Manifest::refs`] empty; see
    /// [`Repository::manifest_heads`]), oldest first, with the names of manifests that failed to
    /// decode or whose signature does not hold.
    pub fn manifests(&self) -> Result<(Vec<Manifest>, Vec<Damaged>)> {
        let (good, bad) = self.manifest_heads()?;
        Ok((good.into_iter().map(|h| h.manifest).collect(), bad))
    }

    /// [`Repository::manifests`] with the blake3 of each manifest's bytes.
    pub fn manifests_hashed(&self) -> Result<(Vec<Hashed>, Vec<Damaged>)> {
        let (good, bad) = self.manifest_heads()?;
        Ok((
            good.into_iter().map(|h| (h.manifest, h.hash)).collect(),
            bad,
        ))
    }

    /// Every backup manifest read as [`Repository::read_head`] reads one (checked whole, its
    /// references counted and not kept), oldest first, with the names of manifests that failed
    /// to decode or whose signature does not hold. Memory does not grow with the references.
    pub fn manifest_heads(&self) -> Result<(Vec<ManifestHead>, Vec<Damaged>)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for name in self.manifest_names()? {
            match self.read_head(&name, HEAD_BLOCK) {
                Ok(h) => good.push(h),
                Err(e) => bad.push((name, e)),
            }
        }
        Ok((good, bad))
    }

    /// The newest manifest that decodes and whose signature holds (the last of
    /// [`Repository::manifests_hashed`]), read from the newest name back: only as many
    /// manifests as it takes, not all of them.
    pub fn newest_hashed(&self) -> Result<Option<Hashed>> {
        Ok(self
            .manifest_names()?
            .iter()
            .rev()
            .find_map(|name| self.read_hashed(name).ok()))
    }

    /// The names under `backups/`, oldest first (a listing: nothing is read or checked; read
    /// each with [`Repository::read_manifest`]).
    pub fn manifest_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .store
            .list(ObjectKind::Manifest.prefix())?
            .into_iter()
            .map(|o| o.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Read and check one manifest object (`backups/<id>`).
    pub fn read_manifest(&self, name: &str) -> Result<Manifest> {
        self.read_hashed(name).map(|(m, _)| m)
    }

    fn read_hashed(&self, name: &str) -> Result<Hashed> {
        let bytes = self.store.read(name)?;
        let m = Manifest::decode(&bytes, name, &self.config.repo_id, &self.key)?;
        Ok((m, *blake3::hash(&bytes).as_bytes()))
    }

    /// Manifest `name` without its references ([`Manifest::refs`] empty), checked as
    /// [`Repository::read_manifest`] checks it, and the blake3 of its bytes: read `block` bytes
    /// at a time (the first MiB whole), hashed and its signature checked as they pass, so a
    /// manifest of millions of references is never in memory (a backup's chain link).
    pub fn read_head(&self, name: &str, block: usize) -> Result<ManifestHead> {
        self.read_refs(name, block, &mut |_| Ok(()))
    }

    /// [`Repository::read_head`], handing the references to `each` a block at a time as they
    /// are read. They are **not yet checked** when `each` sees them: the signature over them is
    /// checked at the end, so whatever `each` builds may be used only once this returns `Ok`.
    pub fn read_refs(
        &self,
        name: &str,
        block: usize,
        each: &mut dyn FnMut(&[ChunkId]) -> Result<()>,
    ) -> Result<ManifestHead> {
        let (store, repo_id) = (&self.store, &self.config.repo_id);
        let size = store
            .stat(name)?
            .ok_or_else(|| Error::corrupt(name, "vanished while it was read"))?;
        let body_len = size
            .checked_sub(SIGNATURE_LEN as u64)
            .ok_or_else(|| Error::corrupt(name, "too short to hold a signature"))?;
        let first = store.read_range(name, 0, HEAD_BLOCK.min(body_len as usize))?;
        // anything the head alone cannot take is read whole, so that it is refused with the
        // reason a whole read gives (a bad signature before a bad layout)
        let Ok(Some((m, at_refs))) = Manifest::decode_head(&first, body_len, name) else {
            let bytes = store.read(name)?;
            let mut m = Manifest::decode(&bytes, name, repo_id, &self.key)?;
            each(&m.refs)?;
            let refs = m.refs.len() as u64;
            m.refs = Vec::new();
            let hash = *blake3::hash(&bytes).as_bytes();
            return Ok(ManifestHead {
                manifest: m,
                hash,
                refs,
            });
        };
        let sig: [u8; SIGNATURE_LEN] = store
            .read_range(name, body_len, SIGNATURE_LEN)?
            .try_into()
            .map_err(|_| Error::corrupt(name, "changed while it was read"))?;
        let mut check = self.key.check_parts(repo_id, name, &sig)?;
        let mut hash = blake3::Hasher::new();
        let mut refs = RefSplitter::new(at_refs);
        let mut at = 0u64;
        while at < body_len {
            let fetched;
            let b: &[u8] = if at == 0 && block >= first.len() {
                &first
            } else {
                fetched = store.read_range(name, at, (body_len - at).min(block as u64) as usize)?;
                &fetched
            };
            if b.is_empty() {
                return Err(Error::corrupt(name, "changed while it was read"));
            }
            check.update(b);
            hash.update(b);
            refs.feed(at, b, each)?;
            at += b.len() as u64;
        }
        check.finish(name)?;
        hash.update(&sig);
        let count = refs.count();
        let m = m.decode_tail(&refs.tail, name, repo_id)?;
        Ok(ManifestHead {
            manifest: m,
            hash: *hash.finalize().as_bytes(),
            refs: count,
        })
    }

    /// One manifest by id, or the newest for `latest`.
    pub fn resolve(&self, spec: &str) -> Result<Manifest> {
        if spec == "latest" {
            return self.newest_hashed()?.map(|(m, _)| m).ok_or_else(|| {
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
        match self.read_manifest(&id.object_name()) {
            Err(Error::Storage(e)) if e.kind == StorageErrorKind::NotFound => Err(Error::usage(
                format!("no backup {spec} in {}", self.store.describe()),
                "`cairn list` shows the backups",
            )),
            other => other,
        }
    }

    /// A key envelope, its hash-name and signature checked.
    pub fn envelope(&self, id: &KeyId) -> Result<Envelope> {
        let name = id.object_name();
        let bytes = self.store.read(&name)?;
        if Envelope::id_of(&bytes) != *id {
            return Err(Error::corrupt(
                &name,
                "bytes do not match the envelope's name",
            ));
        }
        Envelope::decode(&bytes, &self.config.repo_id, &self.key, &name)
    }

    /// Every key envelope under `keys/`, each read through [`Repository::envelope`] (name and
    /// signature checked): its id and the envelope, or why it is unusable. Objects whose names
    /// are not envelope names are left out.
    pub fn envelopes(&self) -> Result<Vec<(KeyId, Result<Envelope>)>> {
        Ok(self
            .store
            .list(ObjectKind::Key.prefix())?
            .iter()
            .filter_map(|o| ObjectName::key(&o.name))
            .map(|id| (id, self.envelope(&id)))
            .collect())
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

    /// Sign and store an envelope; returns its id.
    pub fn put_envelope(&self, env: &Envelope, key: &SigningKey) -> Result<KeyId> {
        let bytes = env.encode(&self.config.repo_id, key);
        let id = Envelope::id_of(&bytes);
        self.store.write(&id.object_name(), &bytes)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use crate::controller::Controller;
    use crate::format::envelope::{Envelope, EnvelopeKind};
    use crate::format::manifest::Manifest;
    use crate::signing::SigningKey;

    #[test]
    fn only_manifests_signed_for_this_repository_are_returned() {
        let d = tempfile::tempdir().unwrap();
        let (_, public) = crate::crypto::generate_identity();
        let r = crate::crypto::parse_recipient(&public).unwrap();
        let ctl = Controller::init(d.path(), &[r]).unwrap();
        let repo = &ctl.repo;
        let rid = repo.config.repo_id;
        let good = Manifest::sample(rid, "20261122T053600.100Z");
        ctl.commit_manifest(&good).unwrap();
        let key = ctl.signer().unwrap();
        let other = SigningKey::generate();
        let put = |m: &Manifest, bytes: Vec<u8>| repo.store.write(&m.name(), &bytes).unwrap();
        // signed by another key
        let forged = Manifest::sample(rid, "20261122T053600.200Z");
        put(&forged, forged.encode(&other));
        // unsigned: the signature cut off
        let unsigned = Manifest::sample(rid, "20261122T053600.300Z");
        let mut b = unsigned.encode(&key);
        b.truncate(b.len() - 64);
        put(&unsigned, b);
        // our body, re-signed by another key
        let resigned = Manifest::sample(rid, "20261122T053600.400Z");
        let b = resigned.encode(&key);
        put(
            &resigned,
            other.sign_object(&rid, &resigned.name(), b[..b.len() - 64].to_vec()),
        );
        // another repository's manifest, signed by that repository's key
        let foreign = Manifest::sample([1; 16], "20261122T053600.500Z");
        put(&foreign, foreign.encode(&other));
        // our key, but for another repository id
        let cross = Manifest::sample([1; 16], "20261122T053600.600Z");
        put(&cross, cross.encode(&key));
        let (all, bad) = repo.manifest_heads().unwrap();
        // listed without their references, which are counted
        let heads: Vec<_> = all.iter().map(|h| (h.manifest.clone(), h.refs)).collect();
        let head = Manifest {
            refs: vec![],
            ..good.clone()
        };
        assert_eq!(heads, vec![(head, good.refs.len() as u64)]);
        assert_eq!(bad.len(), 5, "{bad:?}");
        for (name, e) in &bad {
            let text = e.to_string();
            assert!(text.contains(name) && text.contains("signature"), "{text}");
        }
        assert_eq!(repo.resolve("latest").unwrap(), good);
        let e = repo.resolve("20261122T053600.200Z").unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }

    #[test]
    fn envelopes_signed_by_another_key_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let (_, public) = crate::crypto::generate_identity();
        let r = crate::crypto::parse_recipient(&public).unwrap();
        let ctl = Controller::init(d.path(), &[r]).unwrap();
        let env = Envelope {
            kind: EnvelopeKind::Epoch {
                recipients: vec![public],
            },
            created_ms: i64::MAX,
            wrapped: vec![1],
        };
        let bytes = env.encode(&ctl.repo.config.repo_id, &SigningKey::generate());
        let id = Envelope::id_of(&bytes);
        ctl.repo.store.write(&id.object_name(), &bytes).unwrap();
        let e = ctl.repo.epoch_recipients(&id).unwrap_err().to_string();
        assert!(e.contains("signature") && e.contains(&id.to_hex()), "{e}");
        let ours = ctl.repo.put_envelope(&env, &ctl.signer().unwrap()).unwrap();
        assert_eq!(ctl.repo.envelope(&ours).unwrap(), env);
    }
}
