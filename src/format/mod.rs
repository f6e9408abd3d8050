//! On-disk structures: encode and decode bytes only, no I/O. This is the fuzz surface: every
//! decoder is total (bad bytes give `Error::Corrupt`, never a panic or an unbounded allocation).
//! Byte layouts are documented in docs/FORMAT.md.

pub mod config;
pub mod envelope;
pub mod legacy;
pub mod manifest;
pub mod pack;
pub mod sealed_key;
pub mod segment;
pub mod tree;

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Frame a postcard body: `magic (8) ‖ version (u16 LE) ‖ body`.
pub(crate) fn frame<T: Serialize>(magic: &[u8; 8], version: u16, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    // Serialising plain data structures into a Vec cannot fail.
    postcard::to_extend(body, out).unwrap_or_default()
}

/// Check magic and version, then decode the whole rest as `T`.
pub(crate) fn unframe<T: DeserializeOwned>(
    bytes: &[u8],
    magic: &[u8; 8],
    version: u16,
    what: &str,
) -> Result<T> {
    let body = check_header(bytes, magic, version, what)?;
    decode_whole(body, what, "cannot decode", "trailing bytes")
}

/// Decode all of `body` as one postcard `T`: damage to `what` if it does not decode (`bad: …`)
/// or bytes are left after it (`N {left}`).
pub(crate) fn decode_whole<T: DeserializeOwned>(
    body: &[u8],
    what: &str,
    bad: &str,
    left: &str,
) -> Result<T> {
    let (v, rest) = postcard::take_from_bytes::<T>(body)
        .map_err(|e| Error::corrupt(what, format!("{bad}: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::corrupt(what, format!("{} {left}", rest.len())));
    }
    Ok(v)
}

/// Refuse an object in a retired, unsigned format version with a message that says what to do.
pub(crate) fn retired(bytes: &[u8], magic: &[u8; 8], old: u16, what: &str) -> Result<()> {
    if bytes.len() >= 10 && &bytes[..8] == magic && bytes[8..10] == old.to_le_bytes() {
        return Err(Error::corrupt(
            what,
            format!(
                "format version {old} is retired: it is unsigned, so it cannot be told from a forgery. \
                 Back up again with this cairn into a new repository (`cairn init`), or read it with the cairn that wrote it"
            ),
        ));
    }
    Ok(())
}

/// Check `magic ‖ version` and return the bytes after it.
pub(crate) fn check_header<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u16,
    what: &str,
) -> Result<&'a [u8]> {
    if bytes.len() < 10 || &bytes[..8] != magic {
        return Err(Error::corrupt(
            what,
            format!("not a {} (bad magic)", String::from_utf8_lossy(magic)),
        ));
    }
    let v = u16::from_le_bytes([bytes[8], bytes[9]]);
    if v != version {
        return Err(Error::corrupt(
            what,
            format!("format version {v}, this cairn reads version {version}: upgrade cairn or check the object"),
        ));
    }
    Ok(&bytes[10..])
}
