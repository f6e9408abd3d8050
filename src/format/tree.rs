//! Trees: one directory listing, stored as a sealed blob of kind `Tree`.
//!
//! Plaintext: `"CAIRNTRE" ‖ version u16 LE ‖ postcard Tree`. Entries are sorted by name bytes.
//! Names are raw bytes (Unix names need not be UTF-8).
//!
//! Decoding is where names are checked: a tree holding an unsafe name (empty, `.`, `..`, with
//! `/` or NUL, see [`safe_name`]), a duplicate or an entry out of order, or a symlink target
//! with a NUL, is corrupt as a whole, so no consumer (restore, mount, verify) ever sees such an
//! entry. The number of entries is read first and checked against a cap (and a caller's
//! budget) before any entry is decoded, so a small compressed tree that claims millions of
//! entries fails at once, with no allocation.

use super::{check_header, frame};
use crate::error::{Error, Result};
use crate::id::ChunkId;
use serde::{Deserialize, Serialize};

/// Magic of a tree.
pub const MAGIC: &[u8; 8] = b"CAIRNTRE";
/// Tree layout version: 2 may hold [`NodeKind::FileSegments`] entries, 1 may not. The writer
/// writes 1 for a tree without segmented files (older cairns read it), 2 otherwise.
pub const VERSION: u16 = 2;
/// The tree layout without segmented files.
pub const VERSION_1: u16 = 1;
/// Most entries one tree may hold: a directory of four million files restores; a tree that
/// claims more is refused before one entry is decoded. (Restore also holds a tree to what the
/// service's manifest declares, see `restore::budget`.)
pub const MAX_ENTRIES: u64 = 1 << 22;
/// Largest plaintext of a tree blob, checked before it is read (the pack format's blob cap: an
/// honest file entry takes some 60 bytes plus its name and 35 per chunk).
pub const MAX_TREE_LEN: u32 = super::pack::MAX_BLOB_LEN;
/// Longest symlink target (Linux's PATH_MAX).
pub const MAX_LINK_LEN: usize = 4096;

/// One chunk of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// The chunk's id.
    pub id: ChunkId,
    /// Its plaintext length.
    pub len: u32,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// A regular file and its content.
    File {
        /// Content chunks in order.
        chunks: Vec<ChunkRef>,
    },
    /// A directory and its listing.
    Dir {
        /// The subtree's id.
        tree: ChunkId,
    },
    /// A symbolic link.
    Symlink {
        /// The link's target bytes.
        target: Vec<u8>,
    },
    /// A regular file whose chunk list is stored in segment blobs (tree version 2, see
    /// [`super::segment`]). Readers expand it to a chunk list with
    /// [`super::segment::expand`].
    FileSegments {
        /// The segments in order.
        segments: Vec<super::segment::SegmentRef>,
    },
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Name bytes.
    pub name: Vec<u8>,
    /// Type and content.
    pub kind: NodeKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime_s: i64,
    /// Modification time, nanoseconds part.
    pub mtime_ns: u32,
    /// Size in bytes (files: content length; others 0).
    pub size: u64,
}

/// A directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tree {
    /// Entries sorted by name.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Encode (the plaintext of the tree blob): version 1 unless it holds a segmented file.
    pub fn encode(&self) -> Vec<u8> {
        let segmented = self
            .nodes
            .iter()
            .any(|n| matches!(n.kind, NodeKind::FileSegments { .. }));
        frame(MAGIC, if segmented { VERSION } else { VERSION_1 }, self)
    }

    /// Decode and check (see the module documentation), with at most [`MAX_ENTRIES`] entries.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::decode_limited(bytes, MAX_ENTRIES)
    }

    /// The number of entries a tree blob claims, read without decoding any of them.
    pub fn entry_count(bytes: &[u8]) -> Result<u64> {
        count_and_entries(bytes).map(|(n, _)| n)
    }

    /// Decode and check, refusing a tree with more than `max_entries` entries (or
    /// [`MAX_ENTRIES`]) before decoding any of them.
    pub fn decode_limited(bytes: &[u8], max_entries: u64) -> Result<Self> {
        const WHAT: &str = "tree";
        let v1 = check_header(bytes, MAGIC, VERSION_1, WHAT).is_ok();
        let (count, mut rest) = count_and_entries(bytes)?;
        let cap = max_entries.min(MAX_ENTRIES);
        if count > cap {
            return Err(Error::corrupt(
                WHAT,
                format!("it claims {count} entries, more than the {cap} allowed"),
            ));
        }
        // Every entry takes at least 10 bytes: never reserve more than the input can hold.
        let mut nodes: Vec<Node> = Vec::with_capacity((count as usize).min(rest.len() / 10));
        for i in 0..count {
            let (n, r) = postcard::take_from_bytes::<Node>(rest)
                .map_err(|e| Error::corrupt(WHAT, format!("cannot decode entry {i}: {e}")))?;
            rest = r;
            check_node(&n, nodes.last())?;
            if v1 && matches!(n.kind, NodeKind::FileSegments { .. }) {
                return Err(Error::corrupt(WHAT, "a segmented file in a version 1 tree"));
            }
            nodes.push(n);
        }
        if !rest.is_empty() {
            return Err(Error::corrupt(
                WHAT,
                format!("{} trailing bytes", rest.len()),
            ));
        }
        Ok(Tree { nodes })
    }
}

/// The entry count a tree blob starts with, and the encoded entries after it.
fn count_and_entries(bytes: &[u8]) -> Result<(u64, &[u8])> {
    let body = match check_header(bytes, MAGIC, VERSION_1, "tree") {
        Ok(b) => b,
        Err(_) => check_header(bytes, MAGIC, VERSION, "tree")?,
    };
    varint(body).ok_or_else(|| Error::corrupt("tree", "cannot decode: bad entry count"))
}

/// A node's name is safe and sorts strictly after the previous one; a symlink target is
/// plausible.
fn check_node(n: &Node, prev: Option<&Node>) -> Result<()> {
    let shown = || format!("{:?}", String::from_utf8_lossy(&n.name));
    if !safe_name(&n.name) {
        return Err(Error::corrupt(
            "tree",
            format!(
                "unsafe entry name {} (empty, `.`, `..`, or with `/` or NUL)",
                shown()
            ),
        ));
    }
    if let Some(p) = prev {
        if p.name == n.name {
            return Err(Error::corrupt(
                "tree",
                format!("duplicate entry {}", shown()),
            ));
        }
        if p.name > n.name {
            return Err(Error::corrupt(
                "tree",
                format!("entry {} out of order", shown()),
            ));
        }
    }
    if let NodeKind::FileSegments { segments } = &n.kind {
        let max = super::segment::MAX_SEGMENT_CHUNKS as u32;
        if segments.is_empty() || segments.iter().any(|s| s.chunks == 0 || s.chunks > max) {
            return Err(Error::corrupt(
                "tree",
                format!("file {} has an impossible segment list", shown()),
            ));
        }
    }
    if let NodeKind::Symlink { target } = &n.kind {
        if target.is_empty() || target.len() > MAX_LINK_LEN || target.contains(&0) {
            return Err(Error::corrupt(
                "tree",
                format!("symlink {} has an impossible target", shown()),
            ));
        }
    }
    Ok(())
}

/// A postcard (LEB128) unsigned varint and the bytes after it.
pub(crate) fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        v |= part.checked_shl(7 * i as u32)?;
        if i == 9 && *b > 1 {
            return None;
        }
        if b & 0x80 == 0 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

/// Whether a stored name is safe to create under a directory: not empty, `.` or `..`, and
/// without `/` or NUL.
pub fn safe_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &[u8]) -> Node {
        Node {
            name: name.to_vec(),
            kind: NodeKind::File {
                chunks: vec![ChunkRef {
                    id: ChunkId([1; 32]),
                    len: 3,
                }],
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime_s: 1,
            mtime_ns: 2,
            size: 3,
        }
    }

    fn decode_err(nodes: Vec<Node>) -> String {
        Tree::decode(&Tree { nodes }.encode())
            .expect_err("decoded")
            .to_string()
    }

    #[test]
    fn round_trip_and_unsafe_names() {
        let t = Tree {
            nodes: vec![file(b"a"), file("naïve résumé".as_bytes()), file(b"\xff")],
        };
        assert_eq!(Tree::decode(&t.encode()).unwrap(), t);
        assert_eq!(Tree::entry_count(&t.encode()).unwrap(), 3);
        assert!(Tree::decode(b"CAIRNTRE\x01\x00\xff\xff\xff\xff\xff").is_err());
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            assert!(!safe_name(bad));
        }
        assert!(safe_name("naïve résumé".as_bytes()));
    }

    #[test]
    fn unsafe_duplicate_and_unsorted_names_do_not_decode() {
        for bad in [&b""[..], b".", b"..", b"../x", b"/abs", b"a\0b"] {
            let e = decode_err(vec![file(b"a"), file(bad)]);
            assert!(e.contains("unsafe entry name"), "{bad:?}: {e}");
        }
        assert!(decode_err(vec![file(b"a"), file(b"a")]).contains("duplicate"));
        assert!(decode_err(vec![file(b"b"), file(b"a")]).contains("out of order"));
        let mut link = file(b"l");
        for target in [&b""[..], b"a\0b"] {
            link.kind = NodeKind::Symlink {
                target: target.to_vec(),
            };
            assert!(decode_err(vec![link.clone()]).contains("impossible target"));
        }
        link.kind = NodeKind::Symlink {
            target: vec![b'x'; MAX_LINK_LEN + 1],
        };
        assert!(decode_err(vec![link]).contains("impossible target"));
    }

    #[test]
    fn the_writers_byte_order_decodes() {
        // the backup walk sorts names by their bytes: so must the check
        let mut names: Vec<Vec<u8>> = vec![
            b"Zeta".to_vec(),
            b"alpha".to_vec(),
            "é".as_bytes().to_vec(),
            b"\xff".to_vec(),
            b"a b".to_vec(),
            b"a".to_vec(),
        ];
        names.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        let t = Tree {
            nodes: names.iter().map(|n| file(n)).collect(),
        };
        assert_eq!(Tree::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn an_entry_count_over_the_cap_or_budget_fails_before_decoding() {
        let mut raw = b"CAIRNTRE\x01\x00".to_vec();
        raw.extend_from_slice(&[0x80, 0x84, 0xaf, 0x5f]); // 200 000 000 entries
        assert_eq!(Tree::entry_count(&raw).unwrap(), 200_000_000);
        let e = Tree::decode(&raw).unwrap_err().to_string();
        assert!(e.contains("200000000 entries"), "{e}");
        let t = Tree {
            nodes: vec![file(b"a"), file(b"b"), file(b"c")],
        };
        assert!(Tree::decode_limited(&t.encode(), 2).is_err());
        assert!(Tree::decode_limited(&t.encode(), 3).is_ok());
        // a varint longer than 64 bits, or cut short
        let mut long = b"CAIRNTRE\x01\x00".to_vec();
        long.extend_from_slice(&[0xff; 10]);
        assert!(Tree::entry_count(&long).is_err());
        assert!(Tree::entry_count(b"CAIRNTRE\x01\x00\x80").is_err());
    }

    #[test]
    fn segmented_files_need_version_2_and_a_plausible_segment_list() {
        use crate::format::segment::SegmentRef;
        let seg = |chunks| SegmentRef {
            id: ChunkId([4; 32]),
            chunks,
            bytes: 10,
        };
        let mut n = file(b"big");
        n.kind = NodeKind::FileSegments {
            segments: vec![seg(3)],
        };
        let t = Tree {
            nodes: vec![file(b"a"), n.clone()],
        };
        let bytes = t.encode();
        assert_eq!(&bytes[8..10], &VERSION.to_le_bytes());
        assert_eq!(Tree::decode(&bytes).unwrap(), t);
        // a plain tree is still written as version 1
        let plain = Tree {
            nodes: vec![file(b"a")],
        };
        assert_eq!(&plain.encode()[8..10], &VERSION_1.to_le_bytes());
        // a version 1 tree may not hold one
        let mut v1 = bytes.clone();
        v1[8..10].copy_from_slice(&VERSION_1.to_le_bytes());
        assert!(Tree::decode(&v1)
            .unwrap_err()
            .to_string()
            .contains("version 1"));
        for bad in [vec![], vec![seg(0)], vec![seg(1025)]] {
            n.kind = NodeKind::FileSegments { segments: bad };
            assert!(decode_err(vec![n.clone()]).contains("impossible segment list"));
        }
    }
}
