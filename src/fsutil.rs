//! Small file-system helpers: atomic writes with a mode, directory sync, private state.

use crate::error::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The text of the small settings file `path`, or `None` when there is none (a missing file
/// means "not set"); any other failure to read it is an error naming the path.
pub fn read_if_present(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display().to_string(), e)),
    }
}

/// Remove the file at `path`; true if there was one (a missing file is not an error).
pub fn remove_if_present(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path.display().to_string(), e)),
    }
}

/// Write `data` to `path` atomically (temp file with `mode`, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    replace_file(path, data, mode).map_err(|e| Error::io(path.display().to_string(), e))
}

/// The one atomic, durable write: `data` goes to a temporary name (`.tmp-…`, created with
/// `mode`) in `path`'s directory, is fsynced, renamed over `path`, and the directory fsynced.
/// A crash leaves either the old file or the new one, plus at most a temporary file.
pub(crate) fn replace_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    replace_with(path, mode, |f| f.write_all(data), |e| e)
}

/// [`replace_file`] with the contents written by `fill` (e.g. streamed from a reader), its
/// errors of type `E`; `io` turns the file system's errors into `E`. Nothing is renamed unless
/// `fill` succeeds; the temporary file is removed on any failure.
pub(crate) fn replace_with<E>(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut fs::File) -> Result<(), E>,
    io: impl Fn(std::io::Error) -> E,
) -> Result<(), E> {
    replace_through(path, mode, |f, _| fill(f), io)
}

/// [`replace_with`], where `fill` is also given the temporary file's path (another process
/// may write it there).
pub(crate) fn replace_through<E>(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut fs::File, &Path) -> Result<(), E>,
    io: impl Fn(std::io::Error) -> E,
) -> Result<(), E> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_beside(dir);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(&io)?;
        fill(&mut f, &tmp)?;
        f.sync_all().map_err(&io)?;
        fs::rename(&tmp, path).map_err(&io)?;
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(&io)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// A temporary name (`.tmp-…`, which listings skip and `clean_temp` removes) in `dir`.
fn temp_beside(dir: &Path) -> std::path::PathBuf {
    dir.join(format!(
        "{}{:016x}",
        crate::backend::TEMP_PREFIX,
        rand::random::<u64>()
    ))
}

/// An unnamed file in `dir` (`O_TMPFILE`), gone once closed unless [`link_unnamed`] names it.
pub(crate) fn unnamed(dir: &Path) -> std::io::Result<fs::File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    Ok(fs::File::from(fd))
}

/// Give the unnamed file `file` (from [`unnamed`]) the name `path`, as atomically and durably
/// as [`replace_with`] writes one: linked under a temporary name, its data fsynced, renamed over
/// `path`, the directory fsynced. Nothing is copied: a pack built in an unnamed file under
/// `REPO/local` becomes `REPO/data/…` without its bytes being read and written again.
///
/// `Ok(false)`, with nothing done, where the file cannot be linked there (another file system,
/// no `/proc` and no privilege to link by descriptor): the caller then copies it.
pub(crate) fn link_unnamed(path: &Path, file: &fs::File) -> std::io::Result<bool> {
    use rustix::fs::{linkat, AtFlags, CWD};
    use std::os::fd::AsRawFd;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_beside(dir);
    // By descriptor (Linux 6.10+ for an unnamed file the caller opened, else CAP_DAC_READ_SEARCH);
    // else through /proc, which needs neither.
    let linked = linkat(file, "", CWD, &tmp, AtFlags::EMPTY_PATH).or_else(|_| {
        let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
        linkat(CWD, proc.as_str(), CWD, &tmp, AtFlags::SYMLINK_FOLLOW)
    });
    if let Err(e) = linked {
        tracing::debug!("cannot link an unnamed file as {}: {e}", path.display());
        return Ok(false);
    }
    // synced before it takes its name: a crash leaves the old object or this one whole (or a
    // temporary name, which clean_temp removes)
    let res = file
        .sync_all()
        .and_then(|()| fs::rename(&tmp, path))
        .and_then(|()| fs::File::open(dir)?.sync_all());
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|()| true)
}

/// Whether a directory is absent or empty.
pub fn dir_is_empty(path: &Path) -> Result<bool> {
    match fs::read_dir(path) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(Error::io(path.display().to_string(), e)),
    }
}

/// The umask every cairn command runs with: whatever it creates (sled's databases under
/// `REPO/local`, which sled creates with the process umask, temporary files, ...) is readable
/// by its owner only. Children (service commands, restore commands, the notifier) inherit it.
pub const PRIVATE_UMASK: u32 = 0o077;

/// Set the process umask to [`PRIVATE_UMASK`]; call it first thing, before any thread starts.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(PRIVATE_UMASK as _));
}

/// Make `dir` (`REPO/local`) private: the directory and every directory below it lose their
/// group and other bits (0700), and so does every file (0600 or less). Symbolic links are
/// neither followed nor changed. Tightens a repository made by an older cairn, whose `local/`
/// was 0755 with 0644 databases. Returns how many entries were changed; entries that cannot be
/// changed (not the owner) are left alone, since reading commands must still work.
pub fn make_private(dir: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        let mode = m.permissions().mode() & 0o7777;
        if mode & PRIVATE_UMASK != 0
            && fs::set_permissions(&p, fs::Permissions::from_mode(mode & !PRIVATE_UMASK)).is_ok()
        {
            changed += 1;
        }
        if m.is_dir() {
            if let Ok(rd) = fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    changed
}

/// Remove the corrupt database at `path` (the index, the job state): first renamed to a name no
/// other rebuild uses (`<name>.corrupt-<ns>-<random>`), so a new one can be created at once, then
/// deleted, with any copy an earlier, interrupted rebuild left behind.
pub(crate) fn move_aside_corrupt(path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db".into());
    let prefix = format!("{name}.corrupt-");
    let aside = path.with_file_name(format!(
        "{prefix}{}-{:016x}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        rand::random::<u64>()
    ));
    std::fs::rename(path, &aside).map_err(|e| Error::io(path.display().to_string(), e))?;
    remove_corrupt_copies(path);
    Ok(())
}

/// Remove every `<name>.corrupt-*` next to the database at `path`, best effort.
pub(crate) fn remove_corrupt_copies(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db".into());
    let prefix = format!("{name}.corrupt-");
    let dir = path.parent().unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let old = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix));
    for e in old {
        // A copy that cannot be removed now is only wasted space: the next rebuild retries.
        let p = e.path();
        let res = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
            _ => std::fs::remove_file(&p),
        };
        if let Err(err) = res {
            tracing::warn!("cannot remove the corrupt copy {}: {err}", p.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_settings_file_is_none_and_an_unreadable_one_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("notify.toml");
        assert_eq!(read_if_present(&path).unwrap(), None);
        fs::write(&path, "x = 1\n").unwrap();
        assert_eq!(read_if_present(&path).unwrap().as_deref(), Some("x = 1\n"));
        let e = read_if_present(d.path()).unwrap_err();
        assert!(
            e.to_string().contains(&d.path().display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_replacement_is_whole_or_absent_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("schedule.toml");
        write_atomic(&path, b"old", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // a fill that fails half way: the old file stays, the temporary file is gone
        let err = replace_with(
            &path,
            0o600,
            |f| {
                f.write_all(b"half")?;
                Err(std::io::Error::other("disk full"))
            },
            |e| e,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["schedule.toml"], "no temporary file left");
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn make_private_tightens_a_tree_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let local = d.path().join("local");
        let outside = d.path().join("outside.txt");
        fs::create_dir_all(local.join("index/blobs")).unwrap();
        fs::write(local.join("index/db"), b"x").unwrap();
        fs::write(local.join("index/blobs/1"), b"x").unwrap();
        fs::write(&outside, b"x").unwrap();
        std::os::unix::fs::symlink(&outside, local.join("link")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        for (p, m) in [
            (local.clone(), 0o755),
            (local.join("index"), 0o775),
            (local.join("index/db"), 0o644),
            (local.join("index/blobs/1"), 0o666),
            (outside.clone(), 0o644),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
        }
        assert!(make_private(&local) >= 4);
        assert_eq!(mode(&local), 0o700);
        assert_eq!(mode(&local.join("index")), 0o700);
        assert_eq!(mode(&local.join("index/db")), 0o600);
        assert_eq!(mode(&local.join("index/blobs/1")), 0o600);
        assert_eq!(mode(&outside), 0o644, "a link was followed");
        assert_eq!(make_private(&local), 0, "nothing left to tighten");
    }
}
