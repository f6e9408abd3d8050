//! The operator's age identity file: made by `cairn key generate`, never stored in a repository.

use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Write a new age identity to `output` (mode 0600, synced; never overwrites a file) and return
/// its public recipient.
pub fn generate_file(output: &Path) -> Result<String> {
    let (text, public) = crate::crypto::generate_identity();
    let text = zeroize::Zeroizing::new(text);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::usage(
                    format!(
                        "{} already exists; a key is never overwritten",
                        output.display()
                    ),
                    "choose a new file name, or move the old key away first",
                )
            } else {
                Error::usage(
                    format!("cannot create {}: {e}", output.display()),
                    "choose a writable path",
                )
            }
        })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(output.display().to_string(), e))?;
    Ok(public)
}
