//! Read-only FUSE view of a tree of directories, files and symlinks, for `cairn mount`.
//!
//! The root crate implements [`ReadOnlyTree`] over its repository
//! (`/<backup-id>/<service>/...`); this crate serves it through the kernel's FUSE (`/dev/fuse`,
//! via `fuser`, no libfuse or `fusermount` needed when run as root):
//!
//! - every modifying operation fails with `EROFS` (the mount is also `ro` for the VFS);
//! - entries with unsafe names (`.`, `..`, empty, containing `/` or NUL, longer than 255 bytes)
//!   are never listed nor resolved, whatever the tree returns;
//! - an `EIO` from the tree (an integrity failure) reaches the reader as `EIO` and is logged
//!   naming the file; a panicking tree call becomes `EIO` too, never a dead mount;
//! - reads are large (1 MiB requests, readahead raised); by default one thread per CPU serves
//!   the requests, each pinned to its CPU (see [`MountOptions::pin`]), and a file needs no
//!   OPEN, FLUSH or RELEASE;
//! - a tree may put file contents into the kernel's page cache before they are read
//!   ([`Pusher`], [`MountOptions::push`]), sparing a READ per small file.
//!
//! Lifecycle: [`check_mountpoint`], [`spawn`] (a [`MountHandle`] that unmounts on drop) and
//! [`mount_foreground`] (until `umount` or SIGINT/SIGTERM).
//!
//! ```no_run
//! use std::ffi::OsStr;
//! use cairn_fuse::{Attr, DirEntry, Errno, Kind, ReadOnlyTree, MountOptions, ROOT_INO};
//!
//! /// A root directory holding one file, `hello`, inode 2.
//! struct Hello;
//! const DATA: &[u8] = b"hello, world\n";
//!
//! impl ReadOnlyTree for Hello {
//!     fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, Errno> {
//!         match (parent, name.to_str()) {
//!             (ROOT_INO, Some("hello")) => self.getattr(2),
//!             (ROOT_INO, _) => Err(Errno::ENOENT),
//!             _ => Err(Errno::ENOTDIR),
//!         }
//!     }
//!     fn getattr(&self, ino: u64) -> Result<Attr, Errno> {
//!         match ino {
//!             ROOT_INO => Ok(Attr::new(ROOT_INO, Kind::Dir, 0)),
//!             2 => Ok(Attr::new(2, Kind::File, DATA.len() as u64)),
//!             _ => Err(Errno::ENOENT),
//!         }
//!     }
//!     fn readdir(&self, ino: u64, offset: u64, _limit: usize) -> Result<Vec<DirEntry>, Errno> {
//!         if ino != ROOT_INO {
//!             return Err(Errno::ENOTDIR);
//!         }
//!         let all = [DirEntry { ino: 2, kind: Kind::File, name: "hello".into(), next: 1 }];
//!         Ok(all.into_iter().skip(offset as usize).collect())
//!     }
//!     fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
//!         if ino != 2 {
//!             return Err(Errno::EISDIR);
//!         }
//!         let start = (offset as usize).min(DATA.len());
//!         let end = start.saturating_add(size as usize).min(DATA.len());
//!         Ok(DATA[start..end].to_vec())
//!     }
//!     fn readlink(&self, _ino: u64) -> Result<Vec<u8>, Errno> {
//!         Err(Errno::EINVAL)
//!     }
//! }
//!
//! # fn main() -> Result<(), cairn_fuse::MountError> {
//! cairn_fuse::mount_foreground(Hello, "/mnt/x".as_ref(), &MountOptions::default())
//! # }
//! ```
#![deny(unsafe_code)]

mod affinity;
mod error;
mod glue;
mod lifecycle;
mod mountinfo;
mod options;
mod push;
mod signals;
mod stats;
// the crate's only raw system calls (signal dispositions), each with its SAFETY argument
#[allow(unsafe_code)]
mod sys;
mod tree;

pub use error::MountError;
pub use lifecycle::{check_mountpoint, mount_foreground, spawn, MountHandle, FS_NAME};
pub use mountinfo::is_mount_point;
pub use options::MountOptions;
pub use stats::RequestCounts;
pub use tree::{
    is_safe_name, Attr, DirEntry, Errno, Kind, Pusher, ReadOnlyTree, MAX_DIR_COOKIE, MAX_NAME_LEN,
    ROOT_INO,
};
