//! API tokens (`cairn token create|list|revoke`): bearer secrets for the management API, each
//! with a role. Only a hash of each token is kept, in `REPO/local/api-tokens.json` (mode 0600,
//! replaced atomically); the token itself is shown once, when it is created.
//!
//! A token is `cairn_` and 64 hex digits (32 random bytes); it is stored as its blake3 hash (a
//! plain hash suffices: the token has 256 bits of entropy, nothing to guess). A presented token
//! is hashed and compared with every stored hash in constant time.
//!
//! ```
//! use cairn::api::tokens::{Role, Tokens};
//! let dir = tempfile::tempdir()?;
//! let tokens = Tokens::new(dir.path());
//! let secret = tokens.create("ops", Role::Admin)?;
//! assert_eq!(tokens.check(&secret)?.map(|t| t.role), Some(Role::Admin));
//! tokens.revoke("ops")?;
//! assert!(tokens.check(&secret)?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::stamp::Stamp;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// File name of the token hashes under `REPO/local/`.
pub const TOKENS_FILE: &str = "api-tokens.json";

const PREFIX: &str = "cairn_";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything and change things (start jobs, set the location, rotate keys).
    Admin,
    /// Read everything, change nothing.
    Reader,
}

impl Role {
    /// Whether this role may change things.
    pub fn may_change(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Reader => "reader",
        })
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "reader" => Ok(Role::Reader),
            _ => Err(Error::usage(
                format!("unknown role {:?}", crate::text::escape(s)),
                "use --role admin (may change things) or --role reader (may only read), for example: cairn token create ops --role admin",
            )),
        }
    }
}

/// A token as stored: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    name: String,
    role: Role,
    /// blake3 of the token, hex.
    hash: String,
    created: String,
}

/// A token as `token list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created (RFC 3339).
    pub created: String,
}

/// The tokens of one repository.
#[derive(Debug, Clone)]
pub struct Tokens {
    path: PathBuf,
}

impl Tokens {
    /// The tokens kept in `local_dir` (`REPO/local`).
    pub fn new(local_dir: &Path) -> Self {
        Tokens {
            path: local_dir.join(TOKENS_FILE),
        }
    }

    fn load(&self) -> Result<Vec<Stored>> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                Error::failed(
                    format!("the token file {} is unreadable: {e}", self.path.display()),
                    "move it away and create the tokens again with `cairn token create NAME --role admin|reader`",
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(self.path.display().to_string(), e)),
        }
    }

    fn save(&self, list: &[Stored]) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        let bytes = serde_json::to_vec_pretty(list).map_err(|e| {
            Error::failed(format!("encoding the tokens: {e}"), "report this as a bug")
        })?;
        crate::fsutil::write_atomic(&self.path, &bytes, 0o600)
    }

    /// Create a token named `name` with `role` and return it: the only time it is seen.
    pub fn create(&self, name: &str, role: Role) -> Result<String> {
        check_name(name)?;
        let mut list = self.load()?;
        if list.iter().any(|t| t.name == name) {
            return Err(Error::usage(
                format!("a token named {name} exists already"),
                format!("choose another name, or revoke it first: cairn token revoke {name}"),
            ));
        }
        let token = format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        list.push(Stored {
            name: name.to_string(),
            role,
            hash: hex::encode(hash(&token)),
            created: crate::jobs::time::rfc3339(&chrono::Utc::now()),
        });
        self.save(&list)?;
        Ok(token)
    }

    /// The tokens' names, roles and creation times (never the tokens).
    pub fn list(&self) -> Result<Vec<TokenInfo>> {
        Ok(self
            .load()?
            .into_iter()
            .map(|t| TokenInfo {
                name: t.name,
                role: t.role,
                created: t.created,
            })
            .collect())
    }

    /// Revoke the token named `name`: it stops working at once.
    pub fn revoke(&self, name: &str) -> Result<()> {
        let mut list = self.load()?;
        let before = list.len();
        list.retain(|t| t.name != name);
        if list.len() == before {
            return Err(Error::usage(
                format!("no token named {:?}", crate::text::escape(name)),
                "`cairn token list` shows the tokens' names",
            ));
        }
        self.save(&list)
    }

    /// The token `presented` matches, if any: its name and role. Every stored hash is compared,
    /// in constant time.
    pub fn check(&self, presented: &str) -> Result<Option<TokenInfo>> {
        Ok(matching(&self.load()?, presented))
    }
}

/// The stored token `presented` matches, comparing every stored hash in constant time.
fn matching(list: &[Stored], presented: &str) -> Option<TokenInfo> {
    let h = hash(presented);
    let mut found = None;
    for t in list {
        let Ok(stored) = hex::decode(&t.hash) else {
            continue;
        };
        if bool::from(stored.as_slice().ct_eq(&h)) {
            found = Some(TokenInfo {
                name: t.name.clone(),
                role: t.role,
                created: t.created.clone(),
            });
        }
    }
    found
}

/// The tokens as the server checks them on every request: the token file is read again only
/// when its stamp ([`super::stamp`]) changed, so a `cairn token create` or `revoke` (which
/// replaces the file) counts from the next request on, and a request costs one `stat`.
#[derive(Debug)]
pub struct Verifier {
    tokens: Tokens,
    last: Mutex<Option<(Stamp, Arc<Vec<Stored>>)>>,
}

impl Verifier {
    /// The verifier of the tokens kept in `local_dir` (`REPO/local`).
    pub fn new(local_dir: &Path) -> Self {
        Verifier {
            tokens: Tokens::new(local_dir),
            last: Mutex::new(None),
        }
    }

    /// As [`Tokens::check`].
    pub fn check(&self, presented: &str) -> Result<Option<TokenInfo>> {
        let stamp = Stamp::of(&self.tokens.path);
        let cached = {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            last.as_ref()
                .filter(|(s, _)| *s == stamp)
                .map(|(_, l)| l.clone())
        };
        let list = match cached {
            Some(l) => l,
            None => {
                let l = Arc::new(self.tokens.load()?);
                // kept only when the file's last change is older than the racy second
                // (super::stamp): a later change gets a later stamp
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                    stamp.settled().then(|| (stamp, l.clone()));
                l
            }
        };
        Ok(matching(&list, presented))
    }
}

/// The stored form of a token.
fn hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// A token's name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("bad token name {:?}", crate::text::escape(name)),
            "a token name has 1 to 64 letters, digits, dots, dashes or underscores, for example: cairn token create console-ops --role admin",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_is_stored_only_as_its_hash_in_a_private_file() {
        let d = tempfile::tempdir().unwrap();
        let t = Tokens::new(d.path());
        let secret = t.create("ops", Role::Admin).unwrap();
        assert!(secret.starts_with(PREFIX) && secret.len() == PREFIX.len() + 64);
        let text = std::fs::read_to_string(d.path().join(TOKENS_FILE)).unwrap();
        assert!(!text.contains(&secret), "token in plaintext: {text}");
        assert!(!text.contains(&secret[PREFIX.len()..]));
        assert!(text.contains(&hex::encode(hash(&secret))));
        let mode = std::fs::metadata(d.path().join(TOKENS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn check_tells_roles_apart_and_refuses_wrong_and_revoked_tokens() {
        let d = tempfile::tempdir().unwrap();
        let t = Tokens::new(d.path());
        let admin = t.create("ops", Role::Admin).unwrap();
        let reader = t.create("viewer", Role::Reader).unwrap();
        assert_ne!(admin, reader);
        assert_eq!(t.check(&admin).unwrap().unwrap().role, Role::Admin);
        assert_eq!(t.check(&reader).unwrap().unwrap().name, "viewer");
        assert!(t.check("cairn_0000").unwrap().is_none());
        assert!(t.check("").unwrap().is_none());
        let mut flipped = admin.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(t
            .check(std::str::from_utf8(&flipped).unwrap())
            .unwrap()
            .is_none());
        t.revoke("viewer").unwrap();
        assert!(t.check(&reader).unwrap().is_none());
        assert!(t.check(&admin).unwrap().is_some());
        assert_eq!(t.revoke("viewer").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn names_are_unique_and_plain_and_roles_are_two() {
        let d = tempfile::tempdir().unwrap();
        let t = Tokens::new(d.path());
        t.create("ops", Role::Reader).unwrap();
        assert_eq!(t.create("ops", Role::Admin).unwrap_err().exit_code(), 2);
        for bad in ["", "a b", "x/y", "\u{1b}[31m", &"n".repeat(65)] {
            assert!(t.create(bad, Role::Admin).is_err(), "{bad:?} accepted");
        }
        assert!("root".parse::<Role>().is_err());
        assert_eq!("reader".parse::<Role>().unwrap(), Role::Reader);
        let l = t.list().unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].name.as_str(), l[0].role), ("ops", Role::Reader));
    }
}
