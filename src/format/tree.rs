//! Trees: one directory listing, stored as a sealed blob of kind `Tree`.
//!
//! Plaintext: `"CAIRNTRE" ‖ version u16 LE ‖ postcard Tree`. Entries are sorted by name bytes.
//! Names are raw bytes (Unix names need not be UTF-8). Decoding accepts any name; consumers
//! (restore, mount) skip names that are unsafe (see [`safe_name`]).

use super::{frame, unframe};
use crate::error::Result;
use crate::id::ChunkId;
use serde::{Deserialize, Serialize};

/// Magic of a tree.
pub const MAGIC: &[u8; 8] = b"CAIRNTRE";
/// Tree layout version.
pub const VERSION: u16 = 1;

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
    /// Encode (the plaintext of the tree blob).
    pub fn encode(&self) -> Vec<u8> {
        frame(MAGIC, VERSION, self)
    }

    /// Decode.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        unframe(bytes, MAGIC, VERSION, "tree")
    }
}

/// Whether a stored name is safe to create under a directory: not empty, `.` or `..`, and
/// without `/` or NUL.
pub fn safe_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unsafe_names() {
        let t = Tree {
            nodes: vec![Node {
                name: b"a".to_vec(),
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
            }],
        };
        assert_eq!(Tree::decode(&t.encode()).unwrap(), t);
        assert!(Tree::decode(b"CAIRNTRE\x01\x00\xff\xff\xff\xff\xff").is_err());
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            assert!(!safe_name(bad));
        }
        assert!(safe_name("naïve résumé".as_bytes()));
    }
}
