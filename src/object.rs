//! The kinds of stored objects and their names: the one place that knows a repository's layout
//! (docs/FORMAT.md, "Layout").
//!
//! | name                        | kind       | holds |
//! |-----------------------------|------------|-------|
//! | `config`                    | Config     | the repository's fixed parameters, self-signed |
//! | `keys/<64 hex>`             | Key        | a key envelope, named by the blake3 of its bytes |
//! | `signing/<64 hex>`          | SealedKey  | the signing key sealed to one key epoch (its id) |
//! | `backups/<backup id>`       | Manifest   | one backup's manifest |
//! | `data/<2 hex>/<64 hex>`     | Pack       | a pack, named by the blake3 of its bytes |
//!
//! [`ObjectKind::of`] classifies any name by its prefix (for size caps and copy order: a damaged
//! or foreign `keys/junk` is still capped as a key). [`ObjectName::parse`] is strict: it accepts
//! exactly the names cairn writes and gives back the id inside, so a hostile name such as
//! `keys/../x` never becomes an id.

use crate::id::{BackupId, KeyId, PackId};
use std::fmt;

/// The name of the repository's config object.
pub const CONFIG_NAME: &str = "config";

/// The kinds of stored objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `config`.
    Config,
    /// `keys/…`: key envelopes.
    Key,
    /// `signing/…`: the signing key sealed to an epoch's recipients.
    SealedKey,
    /// `backups/…`: manifests.
    Manifest,
    /// `data/…`: packs.
    Pack,
    /// Anything else (write probes, objects of later versions).
    Other,
}

impl ObjectKind {
    /// Every kind with a name of its own (not [`ObjectKind::Other`]).
    pub const NAMED: [ObjectKind; 5] = [
        ObjectKind::Config,
        ObjectKind::Key,
        ObjectKind::SealedKey,
        ObjectKind::Manifest,
        ObjectKind::Pack,
    ];

    /// What names of this kind start with, as a backend listing prefix (`config` is the whole
    /// name; `Other` has none, so its prefix lists everything).
    pub const fn prefix(self) -> &'static str {
        match self {
            ObjectKind::Config => CONFIG_NAME,
            ObjectKind::Key => "keys/",
            ObjectKind::SealedKey => "signing/",
            ObjectKind::Manifest => "backups/",
            ObjectKind::Pack => "data/",
            ObjectKind::Other => "",
        }
    }

    /// The directory of this kind under a local repository's root (none for `config`).
    pub fn dir(self) -> Option<&'static str> {
        self.prefix().strip_suffix('/')
    }

    /// What follows this kind's prefix in `name`, if `name` has it. Lenient, like
    /// [`ObjectKind::of`]: the rest is not checked (use [`ObjectName::parse`] for that).
    pub fn strip(self, name: &str) -> Option<&str> {
        name.strip_prefix(self.prefix())
    }

    /// The kind of the object named `name`, by its prefix alone (the name may still be one
    /// cairn never writes; [`ObjectName::parse`] checks that).
    pub fn of(name: &str) -> ObjectKind {
        if name == ObjectKind::Config.prefix() {
            return ObjectKind::Config;
        }
        let named = [
            ObjectKind::Key,
            ObjectKind::SealedKey,
            ObjectKind::Manifest,
            ObjectKind::Pack,
        ];
        named
            .into_iter()
            .find(|k| name.starts_with(k.prefix()))
            .unwrap_or(ObjectKind::Other)
    }

    /// Whether objects of this kind are named by the blake3 hash of their bytes.
    pub fn content_addressed(self) -> bool {
        matches!(self, ObjectKind::Pack | ObjectKind::Key)
    }

    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Config => "config",
            ObjectKind::Key => "key envelope",
            ObjectKind::SealedKey => "sealed signing key",
            ObjectKind::Manifest => "manifest",
            ObjectKind::Pack => "pack",
            ObjectKind::Other => "object",
        }
    }
}

/// The name of one object cairn writes, with the id it carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectName {
    /// `config`.
    Config,
    /// `keys/<id>`.
    Key(KeyId),
    /// `signing/<epoch id>`.
    SealedKey(KeyId),
    /// `backups/<backup id>`.
    Manifest(BackupId),
    /// `data/<first 2 hex>/<id>`.
    Pack(PackId),
}

impl ObjectName {
    /// The kind of object it names.
    pub fn kind(&self) -> ObjectKind {
        match self {
            ObjectName::Config => ObjectKind::Config,
            ObjectName::Key(_) => ObjectKind::Key,
            ObjectName::SealedKey(_) => ObjectKind::SealedKey,
            ObjectName::Manifest(_) => ObjectKind::Manifest,
            ObjectName::Pack(_) => ObjectKind::Pack,
        }
    }

    /// Parse an object name exactly as cairn writes it; `None` for anything else (wrong prefix,
    /// extra path parts, upper-case or short hex, a pack in the wrong fan-out directory).
    pub fn parse(name: &str) -> Option<ObjectName> {
        let parsed = match ObjectKind::of(name) {
            ObjectKind::Config => ObjectName::Config,
            ObjectKind::Key => ObjectName::Key(KeyId::from_hex(rest(name, ObjectKind::Key)?)?),
            ObjectKind::SealedKey => {
                ObjectName::SealedKey(KeyId::from_hex(rest(name, ObjectKind::SealedKey)?)?)
            }
            ObjectKind::Manifest => {
                ObjectName::Manifest(BackupId::parse(rest(name, ObjectKind::Manifest)?)?)
            }
            ObjectKind::Pack => {
                let (_, hex) = rest(name, ObjectKind::Pack)?.split_once('/')?;
                ObjectName::Pack(PackId::from_hex(hex)?)
            }
            ObjectKind::Other => return None,
        };
        // the canonical spelling only: lower-case hex, the right fan-out directory
        (parsed.to_string() == name).then_some(parsed)
    }

    /// The key envelope id in `keys/<id>`, if `name` is one.
    pub fn key(name: &str) -> Option<KeyId> {
        match Self::parse(name)? {
            ObjectName::Key(id) => Some(id),
            _ => None,
        }
    }

    /// The pack id in `data/xx/<id>`, if `name` is one.
    pub fn pack(name: &str) -> Option<PackId> {
        match Self::parse(name)? {
            ObjectName::Pack(id) => Some(id),
            _ => None,
        }
    }

    /// The backup id in `backups/<id>`, if `name` is one.
    pub fn manifest(name: &str) -> Option<BackupId> {
        match Self::parse(name)? {
            ObjectName::Manifest(id) => Some(id),
            _ => None,
        }
    }
}

/// What follows the kind's prefix (which `ObjectKind::of` already matched).
fn rest(name: &str, kind: ObjectKind) -> Option<&str> {
    kind.strip(name)
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.kind().prefix();
        match self {
            ObjectName::Config => f.write_str(prefix),
            ObjectName::Key(id) | ObjectName::SealedKey(id) => write!(f, "{prefix}{id}"),
            ObjectName::Manifest(id) => write!(f, "{prefix}{id}"),
            ObjectName::Pack(id) => {
                let h = id.to_hex();
                write!(f, "{prefix}{}/{h}", &h[..2])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        let names = [
            ObjectName::Config,
            ObjectName::Key(KeyId([0x1a; 32])),
            ObjectName::SealedKey(KeyId([0x2b; 32])),
            ObjectName::Manifest(BackupId::from_millis(1_700_000_000_000)),
            ObjectName::Pack(PackId([0xab; 32])),
        ];
        for n in &names {
            let text = n.to_string();
            assert_eq!(ObjectName::parse(&text).as_ref(), Some(n), "{text}");
            assert_eq!(ObjectKind::of(&text), n.kind(), "{text}");
        }
        let kinds: Vec<_> = names.iter().map(ObjectName::kind).collect();
        assert_eq!(kinds, ObjectKind::NAMED);
        assert_eq!(names[0].to_string(), "config");
        assert_eq!(
            names[3].to_string(),
            "backups/20231114T221320.000Z",
            "FORMAT.md's manifest name"
        );
        assert!(names[4].to_string().starts_with("data/ab/abab"));
        assert_eq!(names[1].to_string(), KeyId([0x1a; 32]).object_name());
        assert_eq!(names[4].to_string(), PackId([0xab; 32]).object_name());
    }

    #[test]
    fn hostile_and_malformed_names_are_refused() {
        let h = "ab".repeat(32);
        for bad in [
            "keys/../x".to_string(),
            format!("keys/../{h}"),
            format!("keys/{h}/x"),
            format!("keys/{}", &h[..62]),
            format!("keys/{h}ab"),
            format!("keys/{}", h.to_uppercase()),
            format!("data/zz/{h}"),
            format!("data/cd/{h}"),
            format!("data/{h}"),
            format!("data/ab/{}", &h[..63]),
            format!("data/ab/../{h}"),
            format!("signing/{}", &h[..10]),
            "backups/../config".to_string(),
            "backups/20231114T221320.000Y".to_string(),
            "configx".to_string(),
            "config/".to_string(),
            ".tmp-probe-1".to_string(),
            String::new(),
        ] {
            assert_eq!(ObjectName::parse(&bad), None, "{bad:?} was accepted");
        }
        assert_eq!(ObjectName::key(&format!("data/ab/{h}")), None);
        assert_eq!(
            ObjectName::pack(&format!("data/ab/{h}")),
            Some(PackId([0xab; 32]))
        );
    }

    #[test]
    fn kinds_come_from_prefixes() {
        assert_eq!(ObjectKind::of("config"), ObjectKind::Config);
        assert_eq!(ObjectKind::of("keys/not-a-hash"), ObjectKind::Key);
        assert_eq!(ObjectKind::of("signing/00"), ObjectKind::SealedKey);
        assert_eq!(ObjectKind::of("backups/x"), ObjectKind::Manifest);
        assert_eq!(ObjectKind::of("data/ab/abcd"), ObjectKind::Pack);
        assert_eq!(ObjectKind::of("configx"), ObjectKind::Other);
        assert_eq!(ObjectKind::of("locks/x"), ObjectKind::Other);
        assert_eq!(ObjectKind::Pack.dir(), Some("data"));
        assert_eq!(ObjectKind::Config.dir(), None);
    }
}
