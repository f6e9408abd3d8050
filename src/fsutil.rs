//! Small file-system helpers: atomic writes with a mode, directory sync.

use crate::error::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Write `data` to `path` atomically (temp file with `mode`, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    replace_file(path, data, mode).map_err(|e| Error::io(path.display().to_string(), e))
}

/// The one atomic, durable write: `data` goes to a temporary name (`.tmp-…`, created with
/// `mode`) in `path`'s directory, is fsynced, renamed over `path`, and the directory fsynced.
/// A crash leaves either the old file or the new one, plus at most a temporary file.
pub(crate) fn replace_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        "{}{:016x}",
        crate::backend::TEMP_PREFIX,
        rand::random::<u64>()
    ));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Whether a directory is absent or empty.
pub fn dir_is_empty(path: &Path) -> Result<bool> {
    match fs::read_dir(path) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(Error::io(path.display().to_string(), e)),
    }
}
