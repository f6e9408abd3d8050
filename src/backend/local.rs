//! A repository in a local directory (or a share mounted by the OS).

use super::{budget, valid_name, Backend, ObjectInfo, TEMP_PREFIX};
use crate::error::{StorageError, StorageErrorKind};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// Use `root` (which must exist) as the store.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        if !valid_name(name) {
            return Err(StorageError::new(
                StorageErrorKind::Io,
                self.describe(),
                format!("invalid object name {name:?}"),
            ));
        }
        Ok(self.root.join(name))
    }

    fn loc(&self, name: &str) -> String {
        format!("{}/{}", self.root.display(), name)
    }

    /// Open an object and fstat it; refuse it if it is over its kind's cap.
    fn open_capped(&self, name: &str) -> Result<(File, u64), StorageError> {
        let p = self.path(name)?;
        let f = File::open(&p).map_err(|e| self.err(name, &e))?;
        let size = f.metadata().map_err(|e| self.err(name, &e))?.len();
        budget::check_size(name, size, self.loc(name))?;
        Ok((f, size))
    }

    /// The path of `name`, its directory made (for a write).
    fn path_in_made_dir(&self, name: &str) -> Result<PathBuf, StorageError> {
        let p = self.path(name)?;
        let dir = p.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| self.err(name, &e))?;
        Ok(p)
    }

    fn err(&self, name: &str, e: &std::io::Error) -> StorageError {
        StorageError::from_io(format!("{}/{}", self.root.display(), name), e)
    }

    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        out: &mut Vec<ObjectInfo>,
        temps: &mut Vec<PathBuf>,
    ) -> Result<(), StorageError> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.err(rel, &e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| self.err(rel, &e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(child) = super::entry_name(rel, name) else {
                continue;
            };
            let ft = ent.file_type().map_err(|e| self.err(&child, &e))?;
            if name.starts_with(TEMP_PREFIX) {
                temps.push(ent.path());
            } else if ft.is_dir() {
                self.walk(&ent.path(), &child, out, temps)?;
            } else if ft.is_file() {
                let size = ent.metadata().map_err(|e| self.err(&child, &e))?.len();
                out.push(ObjectInfo { name: child, size });
            }
        }
        Ok(())
    }
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut out = Vec::new();
        let mut temps = Vec::new();
        let dir_part = prefix.trim_end_matches('/');
        let (start, rel) = if dir_part.is_empty() {
            (self.root.clone(), String::new())
        } else {
            (self.path(dir_part)?, dir_part.to_string())
        };
        self.walk(&start, &rel, &mut out, &mut temps)?;
        out.retain(|o| o.name.starts_with(prefix));
        Ok(out)
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let (f, size) = self.open_capped(name)?;
        // Read at most cap + 1 bytes: a file that grows after the fstat is still bounded.
        let cap = budget::cap_of(name);
        let mut buf = Vec::with_capacity(size as usize);
        f.take(cap + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(name, &e))?;
        budget::check_size(name, buf.len() as u64, self.loc(name))?;
        Ok(buf)
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        let (f, size) = self.open_capped(name)?;
        let n = (size.saturating_sub(offset)).min(len as u64) as usize;
        let mut buf = vec![0u8; n];
        f.read_exact_at(&mut buf, offset)
            .map_err(|e| self.err(name, &e))?;
        Ok(buf)
    }

    fn read_range_into(
        &self,
        name: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        let (f, size) = self.open_capped(name)?;
        let n = (size.saturating_sub(offset)).min(buf.len() as u64) as usize;
        f.read_exact_at(&mut buf[..n], offset)
            .map_err(|e| self.err(name, &e))?;
        Ok(n)
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        let p = self.path_in_made_dir(name)?;
        crate::fsutil::replace_file(&p, data, 0o666).map_err(|e| self.err(name, &e))
    }

    fn write_from(&self, name: &str, data: &mut dyn Read, size: u64) -> Result<(), StorageError> {
        let p = self.path_in_made_dir(name)?;
        let fill = |f: &mut File| {
            // a failure to write here (a full disk) is this backend's, not the source's
            super::copy_exact(data, size, self.loc(name), |block| {
                f.write_all(block).map_err(|e| self.err(name, &e))
            })
        };
        crate::fsutil::replace_with(&p, 0o666, fill, |e| self.err(name, &e))
    }

    fn write_through_file(
        &self,
        name: &str,
        size: u64,
        fill: &mut dyn FnMut(&Path) -> Result<(), StorageError>,
    ) -> Result<bool, StorageError> {
        let p = self.path_in_made_dir(name)?;
        let fill = |f: &mut File, tmp: &Path| {
            fill(tmp)?;
            let got = f.metadata().map_err(|e| self.err(name, &e))?.len();
            if got != size {
                return Err(super::wrong_length(self.loc(name), got, size));
            }
            Ok(())
        };
        crate::fsutil::replace_through(&p, 0o666, fill, |e| self.err(name, &e))?;
        Ok(true)
    }

    fn adopt(&self, name: &str, file: &File, size: u64) -> Result<bool, StorageError> {
        let p = self.path_in_made_dir(name)?;
        let meta = file.metadata().map_err(|e| self.err(name, &e))?;
        if meta.len() != size {
            return Err(super::wrong_length(self.loc(name), meta.len(), size));
        }
        // another file system: the link fails (EXDEV), the caller copies
        crate::fsutil::link_unnamed(&p, file).map_err(|e| self.err(name, &e))
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        let p = self.path(name)?;
        match fs::remove_file(&p) {
            // durable before the caller goes on: prune forgets manifests before it deletes the
            // packs they need, and that order must survive a power cut on any file system
            Ok(()) => match p.parent().map(fs::File::open) {
                Some(Ok(dir)) => dir.sync_all().map_err(|e| self.err(name, &e)),
                Some(Err(e)) => Err(self.err(name, &e)),
                None => Ok(()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    fn free_space(&self) -> Result<Option<u64>, StorageError> {
        let st =
            rustix::fs::statvfs(&self.root).map_err(|e| self.err("", &std::io::Error::from(e)))?;
        Ok(Some(st.f_bavail.saturating_mul(st.f_frsize.max(1))))
    }

    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError> {
        let p = self.path(name)?;
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    fn clean_temp(&self) -> Result<usize, StorageError> {
        let mut out = Vec::new();
        let mut temps = Vec::new();
        self.walk(&self.root.clone(), "", &mut out, &mut temps)?;
        for t in &temps {
            let _ = fs::remove_file(t);
        }
        Ok(temps.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_backend_meets_the_contract() {
        let d = tempfile::tempdir().unwrap();
        super::super::contract::check(&LocalBackend::new(d.path()));
    }

    #[test]
    fn temp_files_are_hidden_and_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path());
        fs::create_dir_all(d.path().join("data/ab")).unwrap();
        fs::write(d.path().join("data/ab/.tmp-123"), b"partial").unwrap();
        fs::create_dir_all(d.path().join("local")).unwrap();
        fs::write(d.path().join("local/state"), b"x").unwrap();
        assert!(b.list("").unwrap().is_empty());
        assert_eq!(b.clean_temp().unwrap(), 1);
        assert!(!d.path().join("data/ab/.tmp-123").exists());
    }

    #[test]
    fn write_from_stores_exactly_the_announced_bytes_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path());
        let data = vec![7u8; 5 << 20];
        b.write_from("data/ab/whole", &mut &data[..], data.len() as u64)
            .unwrap();
        assert_eq!(b.read("data/ab/whole").unwrap(), data);
        // a source shorter or longer than announced
        for announced in [data.len() as u64 + 1, data.len() as u64 - 1] {
            let e = b
                .write_from("data/ab/short", &mut &data[..], announced)
                .unwrap_err();
            assert!(e.detail.contains("were announced"), "{e}");
        }
        // a source that fails part-way
        let mut failing = (&data[..1000]).chain(FailingRead);
        let e = b
            .write_from("data/ab/failed", &mut failing, 2000)
            .unwrap_err();
        assert!(e.detail.contains("the source failed"), "{e}");
        assert_eq!(b.stat("data/ab/short").unwrap(), None);
        assert_eq!(b.stat("data/ab/failed").unwrap(), None);
        assert_eq!(b.clean_temp().unwrap(), 0, "a temporary file was left");
    }

    /// An unnamed file in `dir` holding `data`.
    fn unnamed_with(dir: &Path, data: &[u8]) -> File {
        let mut f = crate::fsutil::unnamed(dir).unwrap();
        f.write_all(data).unwrap();
        f
    }

    #[test]
    fn an_unnamed_file_on_the_same_file_system_is_linked_into_place_not_copied() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path().join("store"));
        fs::create_dir_all(d.path().join("store/local")).unwrap();
        let data = vec![9u8; 300_000];
        let f = unnamed_with(&d.path().join("store/local"), &data);
        // an object already there is replaced, as write does
        b.write("data/ab/pack", b"old").unwrap();
        assert!(b.adopt("data/ab/pack", &f, data.len() as u64).unwrap());
        assert_eq!(b.read("data/ab/pack").unwrap(), data);
        let linked = fs::metadata(d.path().join("store/data/ab/pack")).unwrap();
        assert_eq!(
            linked.ino(),
            f.metadata().unwrap().ino(),
            "copied, not linked"
        );
        assert_eq!(b.clean_temp().unwrap(), 0, "a temporary name was left");
        assert_eq!(b.list("").unwrap().len(), 1);
        // a size other than the file's is refused and stores nothing
        let e = b
            .adopt("data/ab/other", &f, data.len() as u64 + 1)
            .unwrap_err();
        assert!(e.detail.contains("were announced"), "{e}");
        assert_eq!(b.stat("data/ab/other").unwrap(), None);
        // a rename that fails (a directory holds the name) leaves no temporary name behind
        fs::create_dir_all(d.path().join("store/data/ab/taken/x")).unwrap();
        assert!(b.adopt("data/ab/taken", &f, data.len() as u64).is_err());
        assert_eq!(
            b.clean_temp().unwrap(),
            0,
            "a failed link left its temporary name"
        );
    }

    #[test]
    fn an_unnamed_file_on_another_file_system_is_left_to_be_copied() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let shm = tempfile::tempdir_in("/dev/shm").unwrap();
        let f = unnamed_with(shm.path(), b"bytes");
        let b = LocalBackend::new(d.path());
        if fs::metadata(d.path()).unwrap().dev() == f.metadata().unwrap().dev() {
            return; // /dev/shm on the temporary directory's file system: nothing to cross here
        }
        assert!(!b.adopt("data/ab/pack", &f, 5).unwrap());
        assert_eq!(b.stat("data/ab/pack").unwrap(), None);
        assert_eq!(b.clean_temp().unwrap(), 0);
    }

    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("source gone"))
        }
    }

    #[test]
    fn an_object_over_its_cap_is_refused_before_it_is_read() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path());
        fs::create_dir_all(d.path().join("backups")).unwrap();
        let f = File::create(d.path().join("backups/20261122T053600.123Z")).unwrap();
        f.set_len(300_000_000).unwrap(); // sparse: costs no disk
        for r in [
            b.read("backups/20261122T053600.123Z"),
            b.read_range("backups/20261122T053600.123Z", 0, 10),
        ] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, StorageErrorKind::TooLarge, "{e}");
            assert!(e.to_string().contains("300000000 bytes"), "{e}");
            assert!(
                e.to_string().contains("backups/20261122T053600.123Z"),
                "{e}"
            );
        }
        fs::write(d.path().join("config"), vec![0u8; 70 << 10]).unwrap();
        assert_eq!(
            b.read("config").unwrap_err().kind,
            StorageErrorKind::TooLarge
        );
    }
}
