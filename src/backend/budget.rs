//! Object kinds and the size cap of each: no backend read returns more than an honest object of
//! its kind can hold, so a planted or damaged giant (a 300 MB sparse "manifest") is refused after
//! a stat, before a byte of it is read into memory.
//!
//! The kind comes from the object's name ([`ObjectKind::of`], in [`crate::object`]); the caps
//! are here:
//!
//! | name            | kind        | cap | why |
//! |-----------------|-------------|-----|-----|
//! | `config`        | Config      | 64 KiB | a few fixed fields (and a signature and public key) |
//! | `keys/…`        | Key         | 256 KiB | an age envelope: ~200 bytes per X25519 recipient (~1.6 KB for a post-quantum hybrid one), over a hundred recipients, a signature |
//! | `signing/…`     | SealedKey   | 1 MiB | an age envelope of a 32-byte seed, like a key envelope's |
//! | `backups/…`     | Manifest    | 129 MiB | [`MAX_REFS`] chunk refs of 32 bytes + 1 MiB for the rest (below) |
//! | `data/…`        | Pack        | ~291 MiB | [`pack_cap`] of the pack target (below) |
//! | anything else   | Other       | 1 MiB | probes and objects of later versions; nothing large |
//!
//! **Manifests.** A manifest lists every chunk its backup needs, 32 bytes each, once. 4 Mi refs
//! (128 MiB) are 1 TiB of unique data at the chunker's 256 KiB average chunk, 256 GiB at its 64 KiB
//! minimum, or 4 million distinct small files: more than one backup of the appliance's services
//! holds. The other fields (services, counts, signature, chain) fit in 1 MiB. 129 MiB is far below
//! what hurts a controller and below the 300 MB hostile manifest the tests plant.
//!
//! **Packs.** The packer closes a pack once it reaches the pack target, so its blobs take at most
//! `pack_target - 1` bytes plus one last sealed blob; a sealed blob is at most
//! [`MAX_BLOB_LEN`](crate::format::pack::MAX_BLOB_LEN) + 1 (compression flag) +
//! [`SEAL_OVERHEAD`](crate::crypto::SEAL_OVERHEAD) (a huge directory's tree is the only blob that
//! large; data chunks are at most the chunker's maximum). The header has one entry (≤ 48 bytes)
//! per blob, and a blob is at least `SEAL_OVERHEAD + 1` bytes, so it is at most 48/41 of the
//! blob bytes before the last blob, plus one entry. Lead, trailer and the session key id are
//! added. `cairn init` always writes [`PACK_TARGET`](crate::controller::PACK_TARGET) (16 MiB):
//! the cap is ~291 MiB, nearly all of it the largest tree blob the format allows.

use crate::error::{StorageError, StorageErrorKind};
pub use crate::object::ObjectKind;

/// Most chunk refs an honest manifest holds (see the module documentation).
pub(crate) const MAX_REFS: u64 = 4 << 20;

/// Largest honest pack for `pack_target` (see the module documentation).
const fn pack_cap(pack_target: u64) -> u64 {
    let sealed_max =
        crate::format::pack::MAX_BLOB_LEN as u64 + 1 + crate::crypto::SEAL_OVERHEAD as u64;
    let min_sealed = crate::crypto::SEAL_OVERHEAD as u64 + 1;
    let header = 48 * (pack_target / min_sealed + 1) + 64;
    crate::format::pack::LEAD_LEN as u64
        + pack_target
        + sealed_max
        + header
        + crate::format::pack::TRAILER_LEN as u64
}

impl ObjectKind {
    /// The largest object of this kind a backend returns.
    pub const fn cap(self) -> u64 {
        match self {
            ObjectKind::Config => 64 << 10,
            ObjectKind::Key => 256 << 10,
            ObjectKind::Manifest => MAX_REFS * 32 + (1 << 20),
            ObjectKind::Pack => pack_cap(crate::controller::PACK_TARGET as u64),
            ObjectKind::SealedKey | ObjectKind::Other => 1 << 20,
        }
    }
}

/// The cap of `name`.
pub fn cap_of(name: &str) -> u64 {
    ObjectKind::of(name).cap()
}

/// Refuse an object of `size` bytes if it is over its kind's cap: damage named with its size
/// and the cap. `location` names the object for the message.
pub fn check_size(name: &str, size: u64, location: impl Into<String>) -> Result<(), StorageError> {
    let kind = ObjectKind::of(name);
    if size > kind.cap() {
        return Err(StorageError::new(
            StorageErrorKind::TooLarge,
            location,
            format!(
                "{size} bytes, over the {} bytes no honest {} exceeds; it was not read",
                kind.cap(),
                kind.as_str()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_names_and_caps_fit_honest_objects() {
        assert_eq!(ObjectKind::of("config"), ObjectKind::Config);
        assert_eq!(ObjectKind::of("keys/ab"), ObjectKind::Key);
        assert_eq!(
            ObjectKind::of("backups/20261122T053600.123Z"),
            ObjectKind::Manifest
        );
        assert_eq!(ObjectKind::of("data/ab/abcd"), ObjectKind::Pack);
        assert_eq!(ObjectKind::of(".tmp-probe-1"), ObjectKind::Other);
        assert_eq!(ObjectKind::of("configx"), ObjectKind::Other);
        // A full pack of 16 MiB with the largest tree blob the format allows still fits.
        let target = crate::controller::PACK_TARGET as u64;
        assert!(ObjectKind::Pack.cap() > target + crate::format::pack::MAX_BLOB_LEN as u64);
        assert!(ObjectKind::Pack.cap() < 300 << 20);
        assert!(ObjectKind::Manifest.cap() < 300_000_000);
        assert!(check_size("backups/x", 300_000_000, "x").is_err());
        let e = check_size("config", 65 << 10, "repo/config").unwrap_err();
        assert_eq!(e.kind, StorageErrorKind::TooLarge);
        assert!(
            e.detail.contains("66560 bytes") && e.detail.contains("65536"),
            "{e}"
        );
        assert!(check_size("config", 64 << 10, "c").is_ok());
    }
}
