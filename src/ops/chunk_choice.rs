//! The chunk size `service add --path` chooses when it is given none: small chunks for a
//! directory whose bytes are mostly in large files (database dumps, images), the repository's
//! otherwise.
//!
//! A dump is rewritten in place with scattered edits, and every chunk an edit touches is stored
//! again: on the bench's 570 MB `pg_dump` with 1,000 updates, the next generation adds 23.6 MB at
//! the repository's 256 KiB chunks against 10.9 MB at 16 KiB (FORMAT.md section 16). A tree of
//! many small files gains nothing from it (a file up to the minimum chunk is one chunk either
//! way) and would pay the per-chunk metadata on its large files. The size is chosen once, from
//! what the path holds when the service is added, and recorded in the definition like an
//! explicit `--chunk-size`, so every backup of the service cuts the same way.

use std::path::Path;

/// A file of at least this many bytes counts as large.
pub const LARGE_FILE: u64 = 64 << 20;

/// The smallest average chosen: at 8 KiB the bench's next dump generation adds 9 % fewer bytes,
/// for twice the chunks to hash, index and list in every manifest (FORMAT.md section 16).
pub const SMALLEST: u32 = 16 << 10;

/// The chosen average keeps a service's large files at about this many chunks at most, so that
/// a manifest lists at most about 8 MiB of chunk ids for them (32 bytes each).
pub const MOST_CHUNKS: u64 = 256 << 10;

/// The survey stops after this many directory entries (it decides on what it saw).
const MOST_ENTRIES: u64 = 200_000;

/// What the survey of a service's path found, and the chunk size chosen from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkChoice {
    /// The average chunk size chosen, in bytes.
    pub avg: u32,
    /// Bytes in files of at least [`LARGE_FILE`] bytes.
    pub large_bytes: u64,
    /// Bytes in all regular files seen.
    pub bytes: u64,
}

/// The chunk size for a `path` service at `path` given none, if it is not the repository's
/// `repo_avg`: when at least half of the bytes under `path` are in large files, the power of
/// two that cuts them into at most [`MOST_CHUNKS`] chunks, and at least [`SMALLEST`].
/// A path that is missing, empty or unreadable gets the repository's size.
pub fn choose(path: &Path, repo_avg: u32) -> Option<ChunkChoice> {
    let (large_bytes, bytes) = survey(path);
    if large_bytes == 0 || large_bytes < bytes - large_bytes {
        return None;
    }
    let per_chunk = large_bytes.div_ceil(MOST_CHUNKS).next_power_of_two();
    let avg = u32::try_from(per_chunk).unwrap_or(u32::MAX).max(SMALLEST);
    (avg < repo_avg).then_some(ChunkChoice {
        avg,
        large_bytes,
        bytes,
    })
}

/// The bytes in large files and in all regular files under `dir` (symbolic links not followed,
/// other file systems not entered), counted over at most [`MOST_ENTRIES`] entries.
fn survey(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut large, mut bytes, mut entries) = (0u64, 0u64, 0u64);
    let Ok(root) = std::fs::symlink_metadata(dir) else {
        return (0, 0);
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(list) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in list.flatten() {
            entries += 1;
            if entries > MOST_ENTRIES {
                return (large, bytes);
            }
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() && m.dev() == root.dev() {
                stack.push(e.path());
            } else if m.is_file() {
                bytes += m.len();
                if m.len() >= LARGE_FILE {
                    large += m.len();
                }
            }
        }
    }
    (large, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: u32 = 256 << 10;

    /// A file of `len` bytes that takes no disk space (the survey reads sizes only).
    fn sparse(path: &Path, len: u64) {
        std::fs::File::create(path).unwrap().set_len(len).unwrap();
    }

    #[test]
    fn a_directory_holding_a_dump_gets_small_chunks() {
        let d = tempfile::tempdir().unwrap();
        sparse(&d.path().join("db.sql"), 570 << 20);
        std::fs::create_dir(d.path().join("conf")).unwrap();
        std::fs::write(d.path().join("conf/a.toml"), vec![b'x'; 4000]).unwrap();
        let c = choose(d.path(), REPO).expect("small chunks for a dump");
        assert_eq!(c.avg, SMALLEST);
        assert_eq!(c.large_bytes, 570 << 20);
        assert_eq!(c.bytes, (570 << 20) + 4000);
    }

    #[test]
    fn larger_files_get_larger_chunks_up_to_the_repositorys() {
        let d = tempfile::tempdir().unwrap();
        sparse(&d.path().join("image"), 10 << 30);
        // 10 GiB in at most 256Ki chunks: 40 KiB, rounded up to a power of two
        assert_eq!(choose(d.path(), REPO).map(|c| c.avg), Some(64 << 10));
        sparse(&d.path().join("image"), 100 << 30);
        assert_eq!(choose(d.path(), REPO), None, "the repository's 256 KiB");
    }

    #[test]
    fn small_files_empty_or_missing_paths_keep_the_repositorys_size() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(choose(d.path(), REPO), None, "empty");
        assert_eq!(choose(&d.path().join("missing"), REPO), None, "missing");
        for i in 0..50 {
            std::fs::write(d.path().join(format!("f{i}")), vec![b'y'; 10_000]).unwrap();
        }
        assert_eq!(choose(d.path(), REPO), None, "small files");
    }

    #[test]
    fn large_files_decide_only_when_they_hold_half_of_the_bytes() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("big");
        std::fs::create_dir(&sub).unwrap();
        sparse(&sub.join("a"), 64 << 20);
        sparse(&sub.join("b"), (64 << 20) + 1);
        assert!(
            choose(d.path(), REPO).is_some(),
            "two large files: most bytes"
        );
        sparse(&d.path().join("plain"), (64 << 20) - 1);
        sparse(&d.path().join("plain2"), (64 << 20) + 1 - 10);
        sparse(&d.path().join("plain3"), 64 << 20);
        assert_eq!(
            choose(d.path(), REPO).map(|c| c.large_bytes),
            Some((192 << 20) + 1)
        );
        sparse(&d.path().join("plain3"), (64 << 20) - 1);
        assert_eq!(
            choose(d.path(), REPO),
            None,
            "less than half in large files"
        );
    }

    #[test]
    fn a_symbolic_link_to_a_large_file_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        sparse(&elsewhere.path().join("db.sql"), 1 << 30);
        std::os::unix::fs::symlink(elsewhere.path(), d.path().join("link")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("db.sql"), d.path().join("file-link"))
            .unwrap();
        assert_eq!(choose(d.path(), REPO), None);
    }
}
