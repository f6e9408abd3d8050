//! What identifies one version of a file the server reads again and again, so that a document
//! made from it can be served from memory while the file is unchanged: its inode, size,
//! modification and change times. A file replaced atomically (cairn's way) gets a new inode; one
//! written in place gets new times. File system clocks are coarse (a few milliseconds), so a
//! write in the same tick as a reading can leave the times equal: a stamp taken within
//! [`RACY`] of its file's last change is "unsettled", and what was read with it is not reused
//! (git's "racy clean" rule).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How recent a change must be for a stamp to be unsettled.
pub const RACY: Duration = Duration::from_secs(1);

/// One version of a file, or its absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp(Option<(u64, u64, i64, i64, i64, i64)>);

impl Stamp {
    /// The stamp of `path` now (an unreadable or absent file stamps as absent).
    pub fn of(path: &Path) -> Stamp {
        Stamp(std::fs::metadata(path).ok().map(|m| {
            (
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            )
        }))
    }

    /// Whether the file's last change is older than [`RACY`] (an absent file is settled).
    pub fn settled(&self) -> bool {
        let Some((.., ctime, ctime_ns)) = self.0 else {
            return true;
        };
        let changed = Duration::new(ctime.max(0) as u64, ctime_ns.clamp(0, 999_999_999) as u32);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.saturating_sub(changed) > RACY
    }
}

/// The stamps of `paths`, in order.
pub fn all(paths: &[&Path]) -> Vec<Stamp> {
    paths.iter().map(|p| Stamp::of(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_or_a_replacement_changes_the_stamp() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        assert_eq!(Stamp::of(&f), Stamp::default());
        assert!(Stamp::of(&f).settled());
        std::fs::write(&f, b"one").unwrap();
        let first = Stamp::of(&f);
        assert_ne!(first, Stamp::default());
        assert!(!first.settled(), "a file changed just now is settled");
        std::fs::write(d.path().join("g"), b"two").unwrap();
        std::fs::rename(d.path().join("g"), &f).unwrap();
        assert_ne!(Stamp::of(&f), first, "a replaced file keeps its stamp");
    }
}
