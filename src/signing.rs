//! The repository signing key (Ed25519) and its public half, the **fingerprint**.
//!
//! Every object of a repository that is not named by the hash of its bytes (the config, key
//! envelopes, the sealed signing key, manifests) carries an Ed25519 signature over a
//! domain-separated message that binds the repository id and the object's name (see
//! docs/FORMAT.md, "Signatures"). The secret half lives in `REPO/local/signing.key` (0600) and,
//! sealed to the recipients, on the repository (`signing/<epoch>`), so a recovered controller goes
//! on signing. Whoever can write the share but does not hold the key cannot make cairn accept an
//! object: the signature is checked against the fingerprint the operator keeps.

use crate::error::{Error, Result};
use ed25519_dalek::{Signature, Signer};
use zeroize::Zeroizing;

/// Length of a signature at the end of a signed object.
pub const SIGNATURE_LEN: usize = 64;

/// Context string of every signed message: names the scheme and its version.
pub const CONTEXT: &[u8] = b"cairn signed object v1\0";

/// Prefix of the text form of a fingerprint.
pub const FINGERPRINT_PREFIX: &str = "cairn-fp1:";

/// The secret signing key. Not `Clone`; its bytes are never exposed and are wiped on drop
/// (ed25519-dalek's `zeroize` feature).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Self {
        let seed = Zeroizing::new(rand::random::<[u8; 32]>());
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The key from its 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The secret seed, for sealing or saving only (wiped when dropped).
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Sign `body` as the object `name` of repository `repo_id`; returns `body ‖ signature`.
    pub fn sign_object(&self, repo_id: &[u8; 16], name: &str, mut body: Vec<u8>) -> Vec<u8> {
        let sig = self.0.sign(&message(repo_id, name, &body));
        body.extend_from_slice(&sig.to_bytes());
        body
    }

    /// Sign the object `name` of repository `repo_id` whose body `body` hands over in parts, to
    /// the function it is given: the signature [`SigningKey::sign_object`] appends, without the
    /// body in memory. `body` is called twice and must hand over the same bytes both times.
    pub fn sign_object_parts(
        &self,
        repo_id: &[u8; 16],
        name: &str,
        body: impl Fn(&mut dyn FnMut(&[u8])) -> std::io::Result<()>,
    ) -> std::io::Result<[u8; SIGNATURE_LEN]> {
        use ed25519_dalek::hazmat::{raw_sign_byupdate, ExpandedSecretKey};
        use ed25519_dalek::{Digest, Sha512};
        let esk = ExpandedSecretKey::from(self.0.as_bytes());
        let prefix = message_prefix(repo_id, name);
        let failed = std::cell::RefCell::new(None);
        let sig = raw_sign_byupdate::<Sha512, _>(
            &esk,
            |h: &mut Sha512| {
                h.update(&prefix);
                body(&mut |b| h.update(b)).map_err(|e| {
                    *failed.borrow_mut() = Some(e);
                    ed25519_dalek::SignatureError::new()
                })
            },
            &self.0.verifying_key(),
        );
        match (sig, failed.into_inner()) {
            (Ok(sig), None) => Ok(sig.to_bytes()),
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(std::io::Error::other(e.to_string())),
        }
    }

    /// Read a key saved by [`SigningKey::save`].
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Error::failed(
                format!("cannot read the repository signing key {}: {e}", path.display()),
                "this controller cannot sign backups without it: run `cairn recover --fingerprint FP` from the share with the identity to rebuild the controller",
            )
        })?);
        let mut seed = Zeroizing::new([0u8; 32]);
        let hexpart = text
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        hex::decode_to_slice(hexpart, &mut seed[..]).map_err(|_| {
            Error::failed(
                format!("{} is malformed", path.display()),
                "restore it from a backup of the controller, or run `cairn recover --fingerprint FP` from the share",
            )
        })?;
        Ok(Self::from_seed(&seed))
    }

    /// Save the key to `path` (mode 0600), with its fingerprint as a comment.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let text = Zeroizing::new(format!(
            "# cairn repository signing key; fingerprint {}\n{}\n",
            self.public().fingerprint(),
            hex::encode(*self.seed())
        ));
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().fingerprint())
    }
}

/// The public half of a signing key: what the fingerprint names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

impl PublicKey {
    /// From the 32 bytes of an Ed25519 public key; `None` if they are not a valid point.
    pub fn from_bytes(b: &[u8; 32]) -> Option<Self> {
        let k = ed25519_dalek::VerifyingKey::from_bytes(b).ok()?;
        // a weak (small-order) key would let anyone "sign"; never accept one
        (!k.is_weak()).then_some(PublicKey(k))
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The text form: `cairn-fp1:` and the 64 lowercase hex digits of the whole key.
    pub fn fingerprint(&self) -> String {
        format!("{FINGERPRINT_PREFIX}{}", hex::encode(self.to_bytes()))
    }

    /// Parse a fingerprint as an operator may type or paste it: case and whitespace are
    /// ignored, and the `cairn-fp1:` prefix may be left out. Exit 2 with an example otherwise.
    pub fn parse_fingerprint(text: &str) -> Result<Self> {
        let clean: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let hexpart = clean.strip_prefix(FINGERPRINT_PREFIX).unwrap_or(&clean);
        let mut b = [0u8; 32];
        let bad = || {
            Error::usage(
                format!("{text:?} is not a repository fingerprint"),
                "give it as printed by `cairn init` or `cairn key list`: cairn-fp1: and 64 hex digits, e.g. --fingerprint cairn-fp1:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
            )
        };
        if hexpart.len() != 64 {
            return Err(bad());
        }
        hex::decode_to_slice(hexpart, &mut b).map_err(|_| bad())?;
        Self::from_bytes(&b).ok_or_else(bad)
    }

    /// Check `signed` (`body ‖ signature`) as the object `name` of repository `repo_id`;
    /// returns the body.
    pub fn open_object<'a>(
        &self,
        repo_id: &[u8; 16],
        name: &str,
        signed: &'a [u8],
    ) -> Result<&'a [u8]> {
        let (body, sig) = split(signed, name)?;
        self.0
            .verify_strict(&message(repo_id, name, body), &sig)
            .map_err(|_| bad_signature(name))?;
        Ok(body)
    }
}

/// The check of a signed object whose body is read in parts ([`PublicKey::check_parts`]).
pub struct PartsCheck(ed25519_dalek::StreamVerifier);

impl PublicKey {
    /// Begin checking `signature` on the object `name` of repository `repo_id` whose body is
    /// then handed over in parts ([`PartsCheck::update`]): the check of
    /// [`PublicKey::open_object`] (strict: a signature whose R is of small order is refused),
    /// without the body in memory.
    pub fn check_parts(
        &self,
        repo_id: &[u8; 16],
        name: &str,
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<PartsCheck> {
        let sig = Signature::from_bytes(signature);
        let r = curve25519_dalek::edwards::CompressedEdwardsY(*sig.r_bytes());
        if r.decompress().is_none_or(|p| p.is_small_order()) {
            return Err(bad_signature(name));
        }
        let mut v = self
            .0
            .verify_stream(&sig)
            .map_err(|_| bad_signature(name))?;
        v.update(message_prefix(repo_id, name));
        Ok(PartsCheck(v))
    }
}

impl PartsCheck {
    /// The next bytes of the body.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Whether the signature holds over the whole body handed over.
    pub fn finish(self, name: &str) -> Result<()> {
        self.0
            .finalize_and_verify()
            .map_err(|_| bad_signature(name))
    }
}

/// Split `body ‖ signature`.
pub fn split<'a>(signed: &'a [u8], name: &str) -> Result<(&'a [u8], Signature)> {
    if signed.len() < SIGNATURE_LEN {
        return Err(Error::corrupt(name, "too short to hold a signature"));
    }
    let (body, sig) = signed.split_at(signed.len() - SIGNATURE_LEN);
    let sig: [u8; SIGNATURE_LEN] = sig
        .try_into()
        .map_err(|_| Error::corrupt(name, "bad signature length"))?;
    Ok((body, Signature::from_bytes(&sig)))
}

/// The error for an object whose signature does not hold.
pub fn bad_signature(name: &str) -> Error {
    Error::corrupt(
        name,
        "bad signature: not signed by this repository's key (forged, altered, or from another repository); it is ignored",
    )
}

/// The signed message: `CONTEXT ‖ repo_id (16) ‖ len(name) u16 LE ‖ name ‖ body`.
pub fn message(repo_id: &[u8; 16], name: &str, body: &[u8]) -> Vec<u8> {
    let mut m = message_prefix(repo_id, name);
    m.extend_from_slice(body);
    m
}

/// The signed message before the body: `CONTEXT ‖ repo_id (16) ‖ len(name) u16 LE ‖ name`.
fn message_prefix(repo_id: &[u8; 16], name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut m = Vec::with_capacity(CONTEXT.len() + 18 + n.len());
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(repo_id);
    m.extend_from_slice(&(n.len().min(u16::MAX as usize) as u16).to_le_bytes());
    m.extend_from_slice(&n[..n.len().min(u16::MAX as usize)]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_open_bind_key_repo_name_and_bytes() {
        let k = SigningKey::generate();
        let p = k.public();
        let s = k.sign_object(&[1; 16], "backups/x", b"hello".to_vec());
        assert_eq!(p.open_object(&[1; 16], "backups/x", &s).unwrap(), b"hello");
        for i in 0..s.len() {
            let mut c = s.clone();
            c[i] ^= 0x01;
            assert!(p.open_object(&[1; 16], "backups/x", &c).is_err(), "{i}");
        }
        let e = p.open_object(&[2; 16], "backups/x", &s).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        assert!(e.to_string().contains("backups/x"), "{e}");
        assert!(p.open_object(&[1; 16], "backups/y", &s).is_err());
        let other = SigningKey::generate().public();
        assert!(other.open_object(&[1; 16], "backups/x", &s).is_err());
        assert!(p.open_object(&[1; 16], "backups/x", &s[..10]).is_err());
        assert!(p.open_object(&[1; 16], "backups/x", &[]).is_err());
    }

    /// Signing and checking in parts gives and accepts the signature of the whole body, and
    /// refuses a changed byte, another name and a small-order R.
    #[test]
    fn signing_and_checking_in_parts_is_signing_the_whole_body() {
        let k = SigningKey::generate();
        let p = k.public();
        let body: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = k.sign_object(&[1; 16], "backups/x", body.clone());
        let sig = k
            .sign_object_parts(&[1; 16], "backups/x", |feed| {
                body.chunks(333).for_each(&mut *feed);
                Ok(())
            })
            .unwrap();
        assert_eq!(&whole[body.len()..], &sig[..]);
        let check = |name: &str, body: &[u8], sig: &[u8; 64]| {
            let mut c = p.check_parts(&[1; 16], name, sig)?;
            body.chunks(1000).for_each(|b| c.update(b));
            c.finish(name)
        };
        check("backups/x", &body, &sig).unwrap();
        let mut changed = body.clone();
        changed[4321] ^= 1;
        assert!(check("backups/x", &changed, &sig).is_err());
        assert!(check("backups/y", &body, &sig).is_err());
        // R the identity point (of small order), s = 0: refused whatever the message
        let mut small = [0u8; 64];
        small[0] = 1;
        let e = check("backups/x", &body, &small).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let failing = k.sign_object_parts(&[1; 16], "backups/x", |_| {
            Err(std::io::Error::other("disk gone"))
        });
        assert!(failing.unwrap_err().to_string().contains("disk gone"));
    }

    #[test]
    fn fingerprint_is_the_whole_key_and_parses_leniently() {
        let p = SigningKey::generate().public();
        let fp = p.fingerprint();
        assert_eq!(fp.len(), FINGERPRINT_PREFIX.len() + 64);
        assert_eq!(PublicKey::parse_fingerprint(&fp).unwrap(), p);
        let messy = format!("  {}\n", fp.to_uppercase().replace(':', ":  "));
        assert_eq!(PublicKey::parse_fingerprint(&messy).unwrap(), p);
        assert_eq!(
            PublicKey::parse_fingerprint(&fp[FINGERPRINT_PREFIX.len()..]).unwrap(),
            p
        );
        for bad in [
            "",
            "cairn-fp1:",
            &fp[..fp.len() - 1],
            "cairn-fp1:zz",
            &"0".repeat(64),
        ] {
            let e = PublicKey::parse_fingerprint(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("fingerprint"), "{e}");
        }
    }

    #[test]
    fn save_and_load_round_trip_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let k = SigningKey::generate();
        let path = d.path().join("signing.key");
        k.save(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(SigningKey::load(&path).unwrap().public(), k.public());
        std::fs::write(&path, "junk").unwrap();
        assert!(SigningKey::load(&path).is_err());
    }
}
