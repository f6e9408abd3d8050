//! Cryptography: keyed chunk ids, chunk sealing, and age key wrapping. Pure transforms, no storage.
//!
//! - Chunk ids are `blake3::keyed_hash(id_key, plaintext)`: the id key is a repository secret, so
//!   the share does not reveal which known files it holds.
//! - Chunks are sealed with XChaCha20-Poly1305 under a per-backup session key, with a random
//!   192-bit nonce and the chunk id as associated data (a blob cannot be swapped for another).
//! - Session keys and id keys are wrapped to the repository's age X25519 recipients. Only the
//!   private identity unwraps them.

use crate::error::{Error, Result};
use crate::id::ChunkId;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::io::{Read, Write};
use std::str::FromStr;
use zeroize::Zeroizing;

/// Bytes a sealed blob adds to its payload: nonce (24) + tag (16).
pub const SEAL_OVERHEAD: usize = 24 + 16;

/// A 32-byte secret key type: its bytes are wiped on drop and it is not `Clone` (whoever shares
/// one shares it behind an `Arc`), so no stray copy outlives its use. `$unwrapped` says where
/// [`from_bytes`](IdKey::from_bytes) gets its bytes, `$exposed` what the bytes may be used for.
macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident, $unwrapped:literal, $exposed:literal) => {
        $(#[$doc])*
        pub struct $name(Zeroizing<[u8; 32]>);

        impl $name {
            /// A fresh random key.
            pub fn generate() -> Self {
                $name(random_key())
            }

            #[doc = concat!("The key with these bytes (", $unwrapped, ").")]
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                $name(Zeroizing::new(bytes))
            }

            #[doc = concat!("The secret bytes, for ", $exposed, " only.")]
            pub(crate) fn expose(&self) -> &[u8; 32] {
                &self.0
            }
        }

        // Its only field is `Zeroizing`: the bytes are wiped when it is dropped.
        impl zeroize::ZeroizeOnDrop for $name {}
    };
}

secret_key!(
    /// The key of the keyed chunk-id hash. Its bytes are wiped on drop; it is not `Clone` (share
    /// one behind an `Arc`), so no stray copy outlives its use.
    IdKey,
    "unwrapped from an envelope, read from `local/keys.toml`",
    "wrapping or saving"
);

secret_key!(
    /// A symmetric key that seals the chunks of one backup. Wiped on drop, not `Clone` (the
    /// sealing threads share one behind an `Arc`).
    SessionKey,
    "unwrapped from a session envelope",
    "wrapping"
);

impl IdKey {
    /// The id of a chunk's plaintext.
    pub fn chunk_id(&self, data: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.0, data).as_bytes())
    }
}

impl SessionKey {
    /// Seal `payload` for chunk `id`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, id: &ChunkId, payload: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: payload,
                    aad: &id.0,
                },
            )
            .unwrap_or_default(); // encryption of an in-memory buffer cannot fail
        let mut out = Vec::with_capacity(24 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Open a sealed blob; fails if it was altered or sealed for another id or key.
    pub fn open(&self, id: &ChunkId, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let (nonce, ct) = sealed.split_at(24);
        let nonce = XNonce::try_from(nonce).ok()?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: &id.0,
                },
            )
            .ok()
    }
}

/// A build-time guard: this fails to compile if `IdKey` or `SessionKey` ever becomes `Clone`
/// (the call is ambiguous between the two impls then), so no code can copy a secret key.
const _: fn() = || {
    trait AmbiguousIfClone<A> {
        fn check() {}
    }
    impl<T> AmbiguousIfClone<()> for T {}
    struct IsClone;
    impl<T: Clone> AmbiguousIfClone<IsClone> for T {}
    let _ = <IdKey as AmbiguousIfClone<_>>::check;
    let _ = <SessionKey as AmbiguousIfClone<_>>::check;
    fn wiped<T: zeroize::ZeroizeOnDrop>() {}
    wiped::<IdKey>();
    wiped::<SessionKey>();
};

fn random_key() -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut k[..]);
    k
}

/// An age X25519 public key.
pub type Recipient = age::x25519::Recipient;

/// Parse one recipient string (`age1…`).
pub fn parse_recipient(s: &str) -> Result<Recipient> {
    Recipient::from_str(s.trim()).map_err(|e| {
        Error::usage(
            format!("bad recipient {:?}: {e}", s.trim()),
            "a recipient is an age X25519 public key, e.g. --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p (printed by `cairn key generate` or `age-keygen`)",
        )
    })
}

/// Parse a recipients file: one `age1…` per line, `#` comments and blank lines ignored.
pub fn parse_recipients_file(text: &str, file: &str) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_recipient(line)?);
    }
    if out.is_empty() {
        return Err(Error::usage(
            format!("recipients file {file} names no recipient"),
            "put one age1… public key per line",
        ));
    }
    Ok(out)
}

/// A private age identity (as written by `age-keygen` or `cairn key generate`).
pub struct Identity {
    keys: Vec<age::x25519::Identity>,
}

impl Identity {
    /// Parse the text of an identity file (`AGE-SECRET-KEY-1…` lines; `#` comments).
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let mut keys = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let k = age::x25519::Identity::from_str(line).map_err(|_| {
                Error::usage(
                    format!("identity file {file} holds a line that is not an age X25519 identity"),
                    "pass the file written by `cairn key generate --output FILE` or `age-keygen -o FILE` (lines `AGE-SECRET-KEY-1…`)",
                )
            })?;
            keys.push(k);
        }
        if keys.is_empty() {
            return Err(Error::usage(
                format!("identity file {file} holds no identity"),
                "pass the file written by `cairn key generate --output FILE`",
            ));
        }
        Ok(Identity { keys })
    }

    /// Read and parse an identity file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(
                format!("cannot read identity file {}: {e}", path.display()),
                "pass --identity FILE (or set CAIRN_IDENTITY_FILE) naming the age identity file",
            )
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The public keys of this identity.
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }

    /// Unwrap an age ciphertext; `None` if no key of this identity can.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Option<Vec<u8>> {
        let dec = age::Decryptor::new(wrapped).ok()?;
        let mut reader = dec
            .decrypt(self.keys.iter().map(|k| k as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).ok()?;
        Some(out)
    }
}

/// Wrap `secret` to every recipient (age binary format).
pub fn wrap_key(secret: &[u8], recipients: &[Recipient]) -> Result<Vec<u8>> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| {
            Error::failed(
                format!("cannot encrypt to the recipients: {e}"),
                "check the recipients with `cairn key list`",
            )
        })?;
    let mut out = Vec::new();
    let werr = |e: std::io::Error| {
        Error::failed(
            format!("age encryption failed: {e}"),
            "retry; report a bug if it persists",
        )
    };
    let mut w = enc.wrap_output(&mut out).map_err(werr)?;
    w.write_all(secret).map_err(werr)?;
    w.finish().map_err(werr)?;
    Ok(out)
}

/// A new identity: (identity file text, public recipient).
pub fn generate_identity() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let text = format!(
        "# created: {created}\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    (text, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = SessionKey::generate();
        let id = ChunkId([1; 32]);
        let sealed = k.seal(&id, b"secret bytes");
        assert_eq!(k.open(&id, &sealed).as_deref(), Some(&b"secret bytes"[..]));
        assert!(
            k.open(&ChunkId([2; 32]), &sealed).is_none(),
            "bound to its id"
        );
        assert!(
            SessionKey::generate().open(&id, &sealed).is_none(),
            "bound to its key"
        );
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert!(k.open(&id, &bad).is_none(), "tamper detected");
        assert!(k.open(&id, &sealed[..10]).is_none());
    }

    /// A blob sealed by an earlier build (chacha20poly1305 0.10) opens with this one: the sealed
    /// format (nonce ‖ XChaCha20-Poly1305 ciphertext ‖ tag, the chunk id as associated data) is
    /// a promise to every repository already written, whatever crate version seals it now.
    #[test]
    fn a_blob_sealed_by_an_earlier_build_opens() {
        let key = SessionKey::from_bytes(std::array::from_fn(|i| 0x80 + i as u8));
        let id = ChunkId(std::array::from_fn(|i| i as u8 * 7));
        let sealed = hex::decode(concat!(
            "404142434445464748494a4b4c4d4e4f5051525354555657",
            "926d1a8635d0873f9a7e04f393d8f8274b671106702af7ccbfd49169307564bc",
            "731c721c4806ea0d16a0c13a0be02d33ae7f8a7fc942",
            "f4b5f20bb4ee4e21420df3a09fcb4281"
        ))
        .unwrap();
        let plain = b"cairn seals every chunk under its backup's session key";
        assert_eq!(key.open(&id, &sealed).as_deref(), Some(&plain[..]));
        // and this build's seal opens with the same key and id
        let again = key.seal(&id, plain);
        assert_eq!(again.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(key.open(&id, &again).as_deref(), Some(&plain[..]));
    }

    #[test]
    fn ids_are_keyed() {
        let a = IdKey::from_bytes([1; 32]);
        let b = IdKey::from_bytes([2; 32]);
        assert_eq!(a.chunk_id(b"x"), a.chunk_id(b"x"));
        assert_ne!(a.chunk_id(b"x"), b.chunk_id(b"x"));
    }

    #[test]
    fn wrap_to_recipients_and_unwrap_with_identity() {
        let (text, public) = generate_identity();
        let id = Identity::parse(&text, "t").unwrap();
        assert_eq!(id.recipients(), vec![public.clone()]);
        let wrapped = wrap_key(b"0123456789abcdef", &[parse_recipient(&public).unwrap()]).unwrap();
        assert_eq!(id.unwrap_key(&wrapped).unwrap(), b"0123456789abcdef");
        let (other, _) = generate_identity();
        assert!(Identity::parse(&other, "o")
            .unwrap()
            .unwrap_key(&wrapped)
            .is_none());
        assert!(id.unwrap_key(b"garbage").is_none());
    }

    #[test]
    fn bad_recipients_are_usage_errors() {
        assert_eq!(
            parse_recipient("not-a-recipient").unwrap_err().exit_code(),
            2
        );
        assert!(parse_recipients_file("# only a comment\n", "f").is_err());
    }
}
