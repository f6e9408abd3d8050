//! What a restore of one service may decode and write: no more than its (signed) manifest
//! declares. The honest writer counts, per service, every regular file (`files`), every
//! directory including the service's root (`dirs`) and the sum of the file sizes (`bytes`);
//! symlinks are not counted, so they get an allowance: as many as files and directories
//! together, and at least [`MIN_LINKS`]. Going over stops the restore as
//! damage; a tree's entry count is checked against what is left before it is decoded.

use crate::error::{Error, Result};
use crate::format::manifest::ServiceRecord;
use crate::format::tree::{Node, NodeKind};

/// Symlinks any service may hold (the manifest does not count them; a service may hold as many
/// as it has files and directories, and at least this many).
pub(crate) const MIN_LINKS: u64 = 1 << 16;

/// What is left of one service's budget.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    backup: String,
    service: String,
    files: u64,
    dirs: u64,
    links: u64,
    bytes: u64,
}

impl Budget {
    /// The budget `s` of backup `backup` declares.
    pub(crate) fn new(backup: &str, s: &ServiceRecord) -> Self {
        Budget {
            backup: backup.to_string(),
            service: s.name.clone(),
            files: s.files,
            dirs: s.dirs,
            links: s.files.saturating_add(s.dirs).max(MIN_LINKS),
            bytes: s.bytes,
        }
    }

    /// Entries a tree may still hold.
    pub(crate) fn entries_left(&self) -> u64 {
        self.files
            .saturating_add(self.dirs)
            .saturating_add(self.links)
    }

    fn over(&self, what: &str) -> Error {
        Error::corrupt(
            format!("backup {} service {}", self.backup, self.service),
            format!(
                "it holds more {what} than its manifest declares: the backup is damaged or \
                 was not written by cairn; restore another backup"
            ),
        )
    }

    /// Account for a tree that claims `n` entries, before it is decoded.
    pub(crate) fn tree(&self, n: u64) -> Result<()> {
        if n > self.entries_left() {
            return Err(self.over(&format!("entries ({n} in one directory)")));
        }
        Ok(())
    }

    /// Account for the service's root directory.
    pub(crate) fn root(&mut self) -> Result<()> {
        self.dirs = self
            .dirs
            .checked_sub(1)
            .ok_or_else(|| self.over("directories"))?;
        Ok(())
    }

    /// Account for one entry.
    pub(crate) fn take(&mut self, n: &Node) -> Result<()> {
        match &n.kind {
            NodeKind::Dir { .. } => {
                self.dirs = self
                    .dirs
                    .checked_sub(1)
                    .ok_or_else(|| self.over("directories"))?;
            }
            NodeKind::Symlink { .. } => {
                self.links = self
                    .links
                    .checked_sub(1)
                    .ok_or_else(|| self.over("symlinks"))?;
            }
            NodeKind::File { .. } | NodeKind::FileSegments { .. } => {
                self.files = self
                    .files
                    .checked_sub(1)
                    .ok_or_else(|| self.over("files"))?;
                self.bytes = self
                    .bytes
                    .checked_sub(n.size)
                    .ok_or_else(|| self.over("bytes"))?;
            }
        }
        Ok(())
    }
}
