//! A backend wrapper that marks its errors with the copy it holds ([`CopySide`]), so the alert
//! catalogue and [`Error::remedy`](crate::Error::remedy) know which copy a failure is on
//! without reading its location.

use super::{Backend, FetchInto, ObjectInfo};
use crate::error::{CopySide, StorageError};

/// Wraps the backend of one copy (the target's, ...) and places every error on `side`.
pub struct OnCopy {
    side: CopySide,
    inner: Box<dyn Backend>,
}

impl OnCopy {
    /// `inner` holds the copy `side`.
    pub fn new(side: CopySide, inner: Box<dyn Backend>) -> Self {
        OnCopy { side, inner }
    }

    fn on<T>(&self, r: Result<T, StorageError>) -> Result<T, StorageError> {
        r.map_err(|e| e.on_copy(self.side))
    }
}

impl Backend for OnCopy {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.on(self.inner.list(prefix))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        self.on(self.inner.read(name))
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        self.on(self.inner.read_range(name, offset, len))
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        self.on(self.inner.write(name, data))
    }

    fn adopt(&self, name: &str, file: &std::fs::File, size: u64) -> Result<bool, StorageError> {
        self.on(self.inner.adopt(name, file, size))
    }

    fn write_from(
        &self,
        name: &str,
        data: &mut dyn std::io::Read,
        size: u64,
    ) -> Result<(), StorageError> {
        self.on(self.inner.write_from(name, data, size))
    }

    fn write_through_file(
        &self,
        name: &str,
        size: u64,
        fill: &mut dyn FnMut(&std::path::Path) -> Result<(), StorageError>,
    ) -> Result<bool, StorageError> {
        self.on(self.inner.write_through_file(name, size, fill))
    }

    fn fetch_into(&self, name: &str, size: u64) -> Option<FetchInto<'_>> {
        let fetch = self.inner.fetch_into(name, size)?;
        Some(Box::new(move |into| self.on(fetch(into))))
    }

    fn hash_object(&self, name: &str) -> Result<(blake3::Hash, u64), StorageError> {
        self.on(self.inner.hash_object(name))
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        self.on(self.inner.delete(name))
    }

    fn free_space(&self) -> Result<Option<u64>, StorageError> {
        self.on(self.inner.free_space())
    }

    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError> {
        self.on(self.inner.stat(name))
    }

    fn clean_temp(&self) -> Result<usize, StorageError> {
        self.on(self.inner.clean_temp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    /// A copy whose own process writes objects into local files (as the SMB workers do).
    struct Fetcher {
        inner: MemoryBackend,
    }

    impl Fetcher {
        fn open(&self, _: &str) -> Result<(), StorageError> {
            Ok(())
        }
    }

    impl Backend for Fetcher {
        crate::backend::guarded_calls!(open);
        fn describe(&self) -> String {
            "fetcher".into()
        }
        fn write(&self, n: &str, d: &[u8]) -> Result<(), StorageError> {
            self.inner.write(n, d)
        }
        fn delete(&self, n: &str) -> Result<(), StorageError> {
            self.inner.delete(n)
        }
        fn fetch_into(&self, name: &str, size: u64) -> Option<FetchInto<'_>> {
            let refused = name.starts_with("keys/");
            Some(Box::new(move |_| match refused {
                true => Err(StorageError::new(
                    crate::error::StorageErrorKind::Io,
                    "fetcher",
                    "refused",
                )),
                false => Ok(Some((blake3::hash(b"fetched"), size))),
            }))
        }
    }

    #[test]
    fn a_copy_whose_process_fetches_into_files_still_does_through_the_wrapper() {
        let on = OnCopy::new(
            CopySide::Target,
            Box::new(Fetcher {
                inner: MemoryBackend::new(),
            }),
        );
        // a recovery has the copy's process write the file, through the wrapper
        let fetch = on
            .fetch_into("data/ab/x", 7)
            .expect("the wrapper passes the fetch on");
        let got = fetch(std::path::Path::new("/nowhere"));
        assert_eq!(got.unwrap(), Some((blake3::hash(b"fetched"), 7)));
        // and its failure is placed on the copy, as every other call's
        let fetch = on
            .fetch_into("keys/k", 7)
            .expect("the wrapper passes the fetch on");
        let e = fetch(std::path::Path::new("/nowhere")).unwrap_err();
        assert_eq!(e.side(), CopySide::Target, "{e:?}");
        let plain = OnCopy::new(CopySide::Target, Box::new(MemoryBackend::new()));
        assert!(plain.fetch_into("data/ab/x", 7).is_none());
    }
}
