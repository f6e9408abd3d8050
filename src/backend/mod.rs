//! Storage backends: immutable named objects.
//!
//! A backend stores the repository's objects (`config`, `keys/…`, `data/xx/…`, `backups/…`) under
//! '/'-separated names relative to its root. It never sees plaintext or keys, and never the
//! controller's own state (`local/`). Writes are atomic and durable: an object is either absent
//! or complete under its final name. Temporary names start with [`TEMP_PREFIX`] and are never listed.

mod budget;
mod faulty;
mod local;
mod memory;
mod objstore;
mod on_copy;
mod powercut;
mod refused;
mod smb;
mod smb_pool;
mod smb_wire;
mod smb_worker;
// Public only for the fuzz target (fuzz/fuzz_targets/smb_negotiate.rs): the parser of a
// server's (hostile) NEGOTIATE answer.
#[doc(hidden)]
pub mod smb_negotiate;

pub(crate) use budget::MAX_REFS;
pub use budget::{cap_of, check_size, ObjectKind};
pub use faulty::{Fault, FaultyBackend};
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use objstore::{ObjectBackend, ObjectCredentials, ObjectLocation, Provider, PART};
pub use on_copy::OnCopy;
pub use powercut::{Landing, PowerCut, SyncPoint};
pub use smb::{SmbBackend, SmbLocation, Transport};
pub use smb_pool::{
    enable_workers as enable_smb_workers, Workers as SmbWorkers,
    SUBCOMMAND as SMB_WORKER_SUBCOMMAND,
};
pub use smb_worker::main as smb_worker_main;

/// The per-request timeout of SMB connections opened for a target.
pub fn smb_timeout() -> std::time::Duration {
    smb::DEFAULT_TIMEOUT
}

use crate::error::StorageError;

/// In an `impl Backend` of a wrapper whose backend is `self.inner`: the calls that change
/// nothing (list, read, read_range, read_range_into, stat) and `clean_temp`, each passed on after
/// `self.$guard(name)?` (a fault injector's gate, a power cut's check that the power is on;
/// `clean_temp` passes `""`).
macro_rules! guarded_calls {
    ($guard:ident) => {
        fn list(
            &self,
            prefix: &str,
        ) -> ::std::result::Result<Vec<$crate::backend::ObjectInfo>, $crate::error::StorageError> {
            self.$guard(prefix)?;
            self.inner.list(prefix)
        }

        fn read(&self, name: &str) -> ::std::result::Result<Vec<u8>, $crate::error::StorageError> {
            self.$guard(name)?;
            self.inner.read(name)
        }

        fn read_range(
            &self,
            name: &str,
            offset: u64,
            len: usize,
        ) -> ::std::result::Result<Vec<u8>, $crate::error::StorageError> {
            self.$guard(name)?;
            self.inner.read_range(name, offset, len)
        }

        fn read_range_into(
            &self,
            name: &str,
            offset: u64,
            buf: &mut [u8],
        ) -> ::std::result::Result<usize, $crate::error::StorageError> {
            self.$guard(name)?;
            self.inner.read_range_into(name, offset, buf)
        }

        fn stat(
            &self,
            name: &str,
        ) -> ::std::result::Result<Option<u64>, $crate::error::StorageError> {
            self.$guard(name)?;
            self.inner.stat(name)
        }

        fn clean_temp(&self) -> ::std::result::Result<usize, $crate::error::StorageError> {
            self.$guard("")?;
            self.inner.clean_temp()
        }
    };
}
pub(crate) use guarded_calls;

/// The range [`Backend::hash_object`] reads at a time, by default.
pub const HASH_BLOCK: usize = 4 << 20;

/// A fetch from [`Backend::fetch_into`]: it writes the object's first `size` bytes into the
/// existing local file at the path it is given, from its start, in the backend's own process, and
/// answers the blake3 and count of what was written (fewer where the object ends sooner) as that
/// process reports them: the caller checks both before it trusts the file. `Ok(None)`, with
/// nothing written, where that process cannot write into that file (a path it cannot be sent):
/// the caller then reads the object itself.
pub type FetchInto<'a> = Box<
    dyn FnOnce(&std::path::Path) -> Result<Option<(blake3::Hash, u64)>, StorageError> + Send + 'a,
>;

/// Prefix of the file name of an object being written (it is renamed into place when complete).
pub const TEMP_PREFIX: &str = ".tmp-";

/// The object name, relative to a directory backend's root, of the entry `name` in its directory
/// `rel` (`""` for the root); `None` for the root's `local` directory, the controller's own state
/// (a repository's root holds it), which no listing enters.
pub(crate) fn entry_name(rel: &str, name: &str) -> Option<String> {
    if rel.is_empty() {
        (name != "local").then(|| name.to_string())
    } else {
        Some(format!("{rel}/{name}"))
    }
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Name relative to the backend's root, e.g. `data/ab/ab12…`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// A store of immutable named objects.
pub trait Backend: Send + Sync {
    /// A description for messages (never contains a password).
    fn describe(&self) -> String;

    /// Every object whose name starts with `prefix` (a directory such as `data/`, or "" for all),
    /// at any depth, excluding temporary files and `local/`.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;

    /// The whole object. An object over its kind's cap ([`ObjectKind::cap`]) is refused with
    /// [`StorageErrorKind::TooLarge`](crate::error::StorageErrorKind::TooLarge) before it is read.
    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError>;

    /// `len` bytes at `offset`; fewer only if the object ends first. An object over its kind's
    /// cap is refused as in [`Backend::read`].
    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError>;

    /// [`Backend::read_range`] of `buf.len()` bytes into `buf`; how many were read (fewer only
    /// if the object ends first). A streamed copy reads into the buffer it sends from, so an
    /// object in flight holds one buffer, not two, and no byte is copied between them. The
    /// default calls `read_range` and copies; a local directory reads in place.
    fn read_range_into(
        &self,
        name: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        Ok(fill_from(buf, &self.read_range(name, offset, buf.len())?))
    }

    /// Store `data` under `name`, atomically (temporary name, flush, rename) and durably.
    /// Overwrites an existing object of the same name; an object store keeps instead a
    /// content-addressed object already there whose bytes hash to its name, and succeeds
    /// (another writer put the same object; docs/STORAGE.md, "Concurrent writers").
    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError>;

    /// Store the `size` bytes `data` yields under `name`, like [`Backend::write`] (atomic and
    /// durable) but without holding the object in memory where the backend can stream (local
    /// directory, SMB). If `data` fails or yields another length, nothing is stored under `name`.
    /// The default reads it whole (bounded by the cap of `name`'s kind) and calls `write`.
    fn write_from(
        &self,
        name: &str,
        data: &mut dyn std::io::Read,
        size: u64,
    ) -> Result<(), StorageError> {
        let location = format!("{}: {name}", self.describe());
        let cap = cap_of(name);
        let mut buf = Vec::with_capacity(size.min(cap) as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(data, size.min(cap) + 1), &mut buf)
            .map_err(|e| source_err(location.clone(), &e))?;
        if buf.len() as u64 != size {
            return Err(wrong_length(location, buf.len() as u64, size));
        }
        self.write(name, &buf)
    }

    /// Store `file`, an unnamed file (`O_TMPFILE`) of `size` bytes holding the object's bytes,
    /// as `name` without copying it, where the backend can (a local directory on the file's own
    /// file system links it into place); atomic and durable as [`Backend::write`]. `Ok(false)`,
    /// with nothing stored, where it cannot: the caller then streams the file with
    /// [`Backend::write_from`]. The default cannot.
    fn adopt(&self, _name: &str, _file: &std::fs::File, _size: u64) -> Result<bool, StorageError> {
        Ok(false)
    }

    /// Store under `name`, atomic and durable as [`Backend::write`], the `size` bytes that `fill`
    /// writes into a new local file it is given the path of (empty, made by this backend, never
    /// under `name` until `fill` succeeded and the file holds `size` bytes), where the backend
    /// keeps its objects in local files. `Ok(false)`, with nothing stored and `fill` not called,
    /// where it does not: the caller then streams with [`Backend::write_from`]. The default does
    /// not.
    fn write_through_file(
        &self,
        _name: &str,
        _size: u64,
        _fill: &mut dyn FnMut(&std::path::Path) -> Result<(), StorageError>,
    ) -> Result<bool, StorageError> {
        Ok(false)
    }

    /// Where the backend has a process of its own that writes objects into local files (an SMB
    /// worker), the fetch of the first `size` bytes of `name` by that process, so the bytes never
    /// pass through this one; `None` where it has none (the default): the caller reads the
    /// object itself. The question and the means are one answer, so a wrapper that does not
    /// forward this call cannot claim the fast path it does not pass on, and one that does passes
    /// on both. See [`FetchInto`] for what the fetch does and reports.
    fn fetch_into(&self, _name: &str, _size: u64) -> Option<FetchInto<'_>> {
        None
    }

    /// The blake3 hash and length of the object's bytes as they are stored: read back from the
    /// store itself, never remembered from a write (the check that a copy landed intact relies
    /// on it). The default reads [`HASH_BLOCK`] ranges and hashes them here; the SMB backend has
    /// its worker process read and hash, so only the digest reaches this process. Errors are
    /// those of [`Backend::read_range`] (an object over its kind's cap is refused as too large).
    fn hash_object(&self, name: &str) -> Result<(blake3::Hash, u64), StorageError> {
        let mut hasher = blake3::Hasher::new();
        let mut offset = 0u64;
        let mut block = vec![0u8; HASH_BLOCK];
        loop {
            let n = self.read_range_into(name, offset, &mut block)?;
            if n == 0 {
                return Ok((hasher.finalize(), offset));
            }
            hasher.update(&block[..n]);
            offset += n as u64;
        }
    }

    /// Remove an object; removing a missing object is not an error.
    fn delete(&self, name: &str) -> Result<(), StorageError>;

    /// The object's size, or `None` if it does not exist.
    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError>;

    /// Remove temporary files left by interrupted writes; returns how many were removed.
    fn clean_temp(&self) -> Result<usize, StorageError>;

    /// The bytes that can still be written there (what the file system or share reports as
    /// available to this user), or `None` where the store cannot tell (`cairn doctor`).
    fn free_space(&self) -> Result<Option<u64>, StorageError> {
        Ok(None)
    }
}

/// Copy what a range read returned into `buf`; how many bytes.
pub(crate) fn fill_from(buf: &mut [u8], got: &[u8]) -> usize {
    let n = got.len().min(buf.len());
    buf[..n].copy_from_slice(&got[..n]);
    n
}

/// Check that a name is a safe relative object name (no `..`, no absolute path, no empty part).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\0'))
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every backend must show; each implementation's tests call `check`.
    use super::*;
    use crate::error::StorageErrorKind;

    pub fn check(b: &dyn Backend) {
        assert!(b.list("").unwrap().is_empty());
        b.write("data/ab/ab01", b"hello pack").unwrap();
        b.write("keys/k1", b"key").unwrap();
        b.write("config", b"cfg").unwrap();
        assert_eq!(b.read("data/ab/ab01").unwrap(), b"hello pack");
        assert_eq!(b.read_range("data/ab/ab01", 6, 4).unwrap(), b"pack");
        assert_eq!(b.read_range("data/ab/ab01", 6, 100).unwrap(), b"pack");
        // into a buffer: as read_range, fewer bytes only at the end, nothing past them touched
        let mut buf = [b'.'; 6];
        assert_eq!(
            b.read_range_into("data/ab/ab01", 2, &mut buf[..3]).unwrap(),
            3
        );
        assert_eq!(&buf, b"llo...");
        assert_eq!(b.read_range_into("data/ab/ab01", 6, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"pack..");
        assert_eq!(b.read_range_into("data/ab/ab01", 10, &mut buf).unwrap(), 0);
        let err = b.read_range_into("data/ab/none", 0, &mut buf).unwrap_err();
        assert_eq!(err.kind, StorageErrorKind::NotFound);
        assert_eq!(b.stat("keys/k1").unwrap(), Some(3));
        assert_eq!(b.stat("keys/none").unwrap(), None);
        let mut names: Vec<_> = b.list("").unwrap().into_iter().map(|o| o.name).collect();
        names.sort();
        assert_eq!(names, ["config", "data/ab/ab01", "keys/k1"]);
        let data = b.list("data/").unwrap();
        assert_eq!(
            data,
            vec![ObjectInfo {
                name: "data/ab/ab01".into(),
                size: 10
            }]
        );
        let err = b.read("keys/none").unwrap_err();
        assert_eq!(err.kind, StorageErrorKind::NotFound);
        b.write("config", b"cfg2").unwrap();
        assert_eq!(b.read("config").unwrap(), b"cfg2");
        b.delete("keys/k1").unwrap();
        b.delete("keys/k1").unwrap();
        assert_eq!(b.stat("keys/k1").unwrap(), None);
        assert_eq!(b.clean_temp().unwrap(), 0);
        // hashed as stored: what was written last, read back
        assert_eq!(b.hash_object("config").unwrap(), (blake3::hash(b"cfg2"), 4));
        let err = b.hash_object("keys/k1").unwrap_err();
        assert_eq!(err.kind, StorageErrorKind::NotFound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_name_entries_from_the_root_and_never_enter_the_local_state() {
        assert_eq!(entry_name("", "config").as_deref(), Some("config"));
        assert_eq!(
            entry_name("data/ab", "abcd").as_deref(),
            Some("data/ab/abcd")
        );
        assert_eq!(entry_name("", "local"), None);
        assert_eq!(entry_name("data", "local").as_deref(), Some("data/local"));
    }

    #[test]
    fn the_default_hash_reads_the_stored_bytes_in_ranges_across_blocks() {
        let b = MemoryBackend::new();
        // more than two ranges, the last one short; and an empty object
        let data: Vec<u8> = (0..2 * HASH_BLOCK + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        b.write("data/ab/abcd", &data).unwrap();
        b.write("data/ab/empty", b"").unwrap();
        assert_eq!(
            b.hash_object("data/ab/abcd").unwrap(),
            (blake3::hash(&data), data.len() as u64)
        );
        assert_eq!(
            b.hash_object("data/ab/empty").unwrap(),
            (blake3::hash(b""), 0)
        );
        // what the store holds now, not what was written before
        let mut other = data.clone();
        other[HASH_BLOCK + 1] ^= 1;
        b.write("data/ab/abcd", &other).unwrap();
        assert_eq!(
            b.hash_object("data/ab/abcd").unwrap().0,
            blake3::hash(&other)
        );
        let err = b.hash_object("data/ab/none").unwrap_err();
        assert_eq!(err.kind, crate::error::StorageErrorKind::NotFound);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("data/ab/cd"));
        assert!(!valid_name("../x"));
        assert!(!valid_name("/etc"));
        assert!(!valid_name("a//b"));
        assert!(!valid_name(""));
    }
}

/// The block of a streamed write ([`Backend::write_from`]): what each object in flight holds
/// (an export has [`crate::replicate::WORKERS`] in flight).
/// 1 MiB: 4 MiB kept 5 MB more resident through an export and was no faster (benches/RESULTS.md).
pub const COPY_BLOCK: usize = 1 << 20;

/// Hand the `size` bytes `data` yields to `write`, one block of at most [`COPY_BLOCK`] at a
/// time, for [`Backend::write_from`]: a failure of `data` is the source's ([`source_err`]), one
/// of `write` (the destination's) is returned as it is, and a length other than `size` is an
/// error. On any error the caller stores nothing. `location` names the object for messages.
fn copy_exact(
    data: &mut dyn std::io::Read,
    size: u64,
    location: String,
    mut write: impl FnMut(&[u8]) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut data = std::io::Read::take(data, size.saturating_add(1));
    let mut buf = vec![
        0u8;
        COPY_BLOCK
            .min(usize::try_from(size).unwrap_or(usize::MAX))
            .max(1)
    ];
    let mut sent = 0u64;
    loop {
        let n = read_full(&mut data, &mut buf).map_err(|e| source_err(location.clone(), &e))?;
        if n == 0 {
            break;
        }
        write(&buf[..n])?;
        sent += n as u64;
    }
    if sent != size {
        return Err(wrong_length(location, sent, size));
    }
    Ok(())
}

/// Fill `buf` from `r` as far as it goes; fewer bytes only at the end.
fn read_full(r: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A failure of the reader a streamed write copies from (the source, not this backend).
fn source_err(location: String, e: &std::io::Error) -> StorageError {
    StorageError::new(
        crate::error::StorageErrorKind::Io,
        location,
        format!("the source failed while being copied: {e}; nothing was stored"),
    )
}

/// A source that gave `got` bytes where `size` were announced.
fn wrong_length(location: String, got: u64, size: u64) -> StorageError {
    StorageError::new(
        crate::error::StorageErrorKind::Io,
        location,
        format!("the source gave {got} bytes, {size} were announced; nothing was stored"),
    )
}
