//! Object storage backends: S3 (and the S3-compatible stores) and Azure Blob Storage, through the
//! Apache Arrow project's `object_store` client (signing, bounded retries, multipart uploads,
//! conditional puts). The [`Backend`] trait is synchronous: each backend owns a small tokio
//! runtime and blocks on it.
//!
//! - Objects live under the location's prefix (`s3://BUCKET/PREFIX/data/ab/…`); several
//!   controllers share a bucket under their own prefixes, and no listing leaves the prefix.
//! - Writes are whole objects (a store has no partial objects), so no temporary name is needed. An
//!   object up to [`PART`] bytes is put with `If-None-Match: *` (never clobbering another
//!   writer's). When one is there already: a content-addressed object (`data/`, `keys/`) whose
//!   bytes hash to its name is kept (another writer put the same object), and a damaged one (export
//!   heals) or one of another kind is replaced only as the version seen (`If-Match: ETAG`).
//! - A larger object goes up in [`PART`]-byte parts, a few at once. Multipart uploads take no
//!   condition in `object_store` 0.12: an intact content-addressed object found by a HEAD before
//!   the upload is kept; a writer completing between that HEAD and the upload's completion is
//!   replaced (docs/STORAGE.md, "Concurrent writers").
//! - Every name is checked ([`valid_name`]) before it reaches the store: no `..`, no leading `/`,
//!   no empty part, so no call leaves the prefix.
//! - Temporary names ([`TEMP_PREFIX`], only probes use them) are hidden from listings and
//!   removed by `clean_temp` at any depth, by the same test ([`is_temp`]).
//! - Every read is bounded: the object's size (from the store) is checked against its kind's cap
//!   before a byte is read, and no more bytes than asked are kept, whatever the server sends.

use super::{check_size, valid_name, Backend, ObjectInfo, TEMP_PREFIX};
use crate::error::{StorageError, StorageErrorKind};
use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart};
use std::sync::Arc;

#[path = "objstore_connect.rs"]
mod connect;
#[path = "objstore_error.rs"]
mod error;

pub use connect::{ObjectCredentials, ObjectLocation, Provider};

/// Objects larger than this go up in parts of this size (S3's minimum part is 5 MiB).
pub const PART: usize = 8 << 20;
/// Parts of one object in flight at once.
const PARTS_IN_FLIGHT: usize = 3;

/// A bucket (S3) or container (Azure) under a prefix.
pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
    /// The prefix under which the repository's objects live ("" for the bucket's root).
    root: String,
    /// The URL, for messages (never a secret).
    url: String,
    provider: Provider,
}

impl ObjectBackend {
    /// A backend for `loc` with `creds` (nothing is sent until the first call).
    pub fn connect(
        loc: &ObjectLocation,
        creds: &ObjectCredentials,
    ) -> Result<ObjectBackend, StorageError> {
        let store = connect::build(loc, creds)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-objstore")
            // a store that goes down mid-upload must fail the export, not kill the process
            .on_thread_start(crate::sys::block_sigpipe_in_this_thread)
            .enable_all()
            .build()
            .map_err(|e| StorageError::from_io(loc.url(), &e))?;
        Ok(ObjectBackend {
            store,
            rt,
            root: loc.prefix.clone(),
            url: loc.url(),
            provider: loc.provider,
        })
    }

    /// Where `name` is in the store; a name that is not a safe object name is refused.
    fn path(&self, name: &str) -> Result<StorePath, StorageError> {
        if !valid_name(name) {
            return Err(StorageError::new(
                StorageErrorKind::Io,
                self.at(name),
                format!("refused the object name {name:?}: it is not a plain relative name (a `..`, a leading `/` or an empty part); report a bug"),
            )
            .at_store(self.provider.store_kind()));
        }
        // empty parts (an empty root) are dropped by `StorePath::from`
        Ok(StorePath::from(format!("{}/{name}", self.root)))
    }

    fn at(&self, name: &str) -> String {
        format!("{}: {name}", self.url)
    }

    fn err(&self, name: &str, e: &object_store::Error) -> StorageError {
        error::classify(self.provider, self.at(name), e)
    }

    /// The name relative to the root of a listed object, if it is one of ours.
    fn relative(&self, location: &StorePath) -> Option<String> {
        let name = self.name_under_root(location)?;
        (valid_name(name) && !is_temp(name)).then(|| name.to_string())
    }

    /// A listed object's name under the root (unchecked), if it is under the root.
    fn name_under_root<'a>(&self, location: &'a StorePath) -> Option<&'a str> {
        let full = location.as_ref();
        if self.root.is_empty() {
            Some(full)
        } else {
            full.strip_prefix(self.root.as_str())?.strip_prefix('/')
        }
    }

    fn missing(&self, name: &str) -> StorageError {
        error::not_found(self.provider, self.at(name))
    }

    /// The object's size and version, or `None` if it does not exist.
    fn head(&self, name: &str) -> Result<Option<(u64, UpdateVersion)>, StorageError> {
        match self.rt.block_on(self.store.head(&self.path(name)?)) {
            Ok(m) => Ok(Some((
                m.size,
                UpdateVersion {
                    e_tag: m.e_tag,
                    version: m.version,
                },
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    /// Whether `name` is content-addressed and what the store holds under it (`size` bytes)
    /// hashes to its name: read in [`PART`]-byte ranges, never whole.
    fn intact(&self, name: &str, size: u64) -> Result<bool, StorageError> {
        let Some(hash) = crate::replicate::name_hash(name) else {
            return Ok(false);
        };
        if check_size(name, size, self.at(name)).is_err() {
            return Ok(false);
        }
        let mut hasher = blake3::Hasher::new();
        let mut offset = 0u64;
        while offset < size {
            let block = self.read_range(name, offset, PART)?;
            if block.is_empty() {
                return Ok(false);
            }
            hasher.update(&block);
            offset += block.len() as u64;
        }
        Ok(hasher.finalize().to_hex().as_str() == hash)
    }

    /// Put `payload` under `name`, created only if absent. If an object is there: an intact
    /// content-addressed one is kept (Ok: it is the same object); any other is replaced only as
    /// the version seen, so another writer's newer one is not clobbered.
    fn put(&self, name: &str, payload: PutPayload) -> Result<(), StorageError> {
        let path = self.path(name)?;
        let create = PutOptions::from(PutMode::Create);
        let first = self
            .rt
            .block_on(self.store.put_opts(&path, payload.clone(), create));
        let conditional = match first {
            Ok(_) => return Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => true,
            // the store takes no conditions: only the check below guards the object
            Err(object_store::Error::NotImplemented) => false,
            Err(e) => return Err(self.err(name, &e)),
        };
        let mode = match self.head(name)? {
            Some((size, _)) if self.intact(name, size)? => return Ok(()),
            Some((_, seen)) if conditional => PutMode::Update(seen),
            None if conditional => PutMode::Create,
            _ => PutMode::Overwrite,
        };
        self.rt
            .block_on(self.store.put_opts(&path, payload, PutOptions::from(mode)))
            .map(|_| ())
            .map_err(|e| self.err(name, &e))
    }

    /// Upload the `size` bytes of `data` in parts; nothing is stored under `name` on failure.
    fn put_parts(
        &self,
        name: &str,
        data: &mut dyn std::io::Read,
        size: u64,
    ) -> Result<(), StorageError> {
        let path = self.path(name)?;
        // no conditional completion here: keep an intact object found before the upload (its
        // bytes are still read, for the caller's checks)
        if let Some((stored, _)) = self.head(name)? {
            if self.intact(name, stored)? {
                return super::copy_exact(data, size, self.at(name), |_| Ok(()));
            }
        }
        // the writer spawns each part's upload on the runtime
        let _entered = self.rt.enter();
        let upload = self
            .rt
            .block_on(self.store.put_multipart(&path))
            .map_err(|e| self.err(name, &e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let location = self.at(name);
        let result = super::copy_exact(data, size, location, |block| {
            self.rt
                .block_on(writer.wait_for_capacity(PARTS_IN_FLIGHT))
                .map_err(|e| self.err(name, &e))?;
            writer.write(block);
            Ok(())
        });
        if let Err(e) = result {
            // best effort: the store's lifecycle rule removes what an abort cannot
            let _ = self.rt.block_on(writer.abort());
            return Err(e);
        }
        self.rt
            .block_on(writer.finish())
            .map(|_| ())
            .map_err(|e| self.err(name, &e))
    }

    /// Collect at most `limit` bytes of a GET's body.
    fn body(
        &self,
        name: &str,
        got: object_store::GetResult,
        limit: u64,
    ) -> Result<Vec<u8>, StorageError> {
        self.rt.block_on(async {
            let mut out = Vec::with_capacity(usize::try_from(limit.min(1 << 24)).unwrap_or(0));
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.err(name, &e))?;
                let room = usize::try_from(limit - out.len() as u64).unwrap_or(usize::MAX);
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() as u64 >= limit {
                    break;
                }
            }
            Ok(out)
        })
    }
}

impl Backend for ObjectBackend {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        // list the folder the prefix names (or lies in), then keep the names that start with it
        let folder = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let under = match (self.root.is_empty(), folder.is_empty()) {
            (true, true) => None,
            (true, false) => Some(StorePath::from(folder)),
            (false, true) => Some(StorePath::from(self.root.as_str())),
            (false, false) => Some(self.path(folder)?),
        };
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut stream = self.store.list(under.as_ref());
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.err(prefix, &e))?;
                if let Some(name) = self.relative(&meta.location) {
                    if name.starts_with(prefix) {
                        out.push(ObjectInfo {
                            name,
                            size: meta.size,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let got = self
            .rt
            .block_on(self.store.get(&self.path(name)?))
            .map_err(|e| self.err(name, &e))?;
        let size = got.meta.size;
        check_size(name, size, self.at(name))?;
        let bytes = self.body(name, got, size)?;
        if (bytes.len() as u64) < size {
            return Err(StorageError::new(
                StorageErrorKind::Disconnected,
                self.at(name),
                format!("the store sent {} of its {size} bytes", bytes.len()),
            ));
        }
        Ok(bytes)
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        // one request: the answer names the object's whole size, checked before the body is read
        let path = self.path(name)?;
        let end = offset.saturating_add(len as u64);
        if offset >= end {
            // nothing to read: only whether it is there, and not over its cap
            let (size, _) = self.head(name)?.ok_or_else(|| self.missing(name))?;
            check_size(name, size, self.at(name))?;
            return Ok(Vec::new());
        }
        let opts = object_store::GetOptions {
            range: Some((offset..end).into()),
            ..Default::default()
        };
        let got = match self.rt.block_on(self.store.get_opts(&path, opts)) {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(self.missing(name)),
            Err(e) => {
                let err = self.err(name, &e);
                if err.kind != StorageErrorKind::Io {
                    return Err(err);
                }
                // a refusal without a kind may be a range past the end (416): is it?
                let (size, _) = self.head(name)?.ok_or_else(|| self.missing(name))?;
                check_size(name, size, self.at(name))?;
                if offset >= size {
                    return Ok(Vec::new());
                }
                return Err(err);
            }
        };
        check_size(name, got.meta.size, self.at(name))?;
        let want = end.min(got.meta.size).saturating_sub(offset);
        self.body(name, got, want)
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        if data.len() > PART {
            return self.put_parts(name, &mut std::io::Cursor::new(data), data.len() as u64);
        }
        self.put(name, PutPayload::from(data.to_vec()))
    }

    fn write_from(
        &self,
        name: &str,
        data: &mut dyn std::io::Read,
        size: u64,
    ) -> Result<(), StorageError> {
        if size > PART as u64 {
            return self.put_parts(name, data, size);
        }
        let mut buf = Vec::with_capacity(PART.min(size as usize));
        super::copy_exact(data, size, self.at(name), |block| {
            buf.extend_from_slice(block);
            Ok(())
        })?;
        self.put(name, PutPayload::from(buf))
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        match self.rt.block_on(self.store.delete(&self.path(name)?)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.head(name)?.map(|(size, _)| size))
    }

    fn clean_temp(&self) -> Result<usize, StorageError> {
        // only probes use temporary names here (a write is never partial); whatever their depth,
        // the names a listing hides are the ones removed
        let under = (!self.root.is_empty()).then(|| StorePath::from(self.root.as_str()));
        let temps: Vec<String> = self.rt.block_on(async {
            let mut out = Vec::new();
            let mut stream = self.store.list(under.as_ref());
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.err("", &e))?;
                if let Some(name) = self.name_under_root(&meta.location) {
                    if valid_name(name) && is_temp(name) {
                        out.push(name.to_string());
                    }
                }
            }
            Ok::<_, StorageError>(out)
        })?;
        for name in &temps {
            self.delete(name)?;
        }
        Ok(temps.len())
    }
}

/// Whether `name` is, or lies under, a temporary name.
fn is_temp(name: &str) -> bool {
    name.split('/').any(|p| p.starts_with(TEMP_PREFIX))
}
