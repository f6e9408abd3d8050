//! Reading `/proc/self/mountinfo`: is a path a mount point, and which device backs it.

use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo`, the fields cairn needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// `major:minor` of the mounted filesystem's device.
    pub(crate) dev: String,
    /// Where it is mounted.
    pub(crate) mount_point: PathBuf,
    /// Filesystem type (`fuse`, `fuse.cairn`, `ext4`, ...).
    pub(crate) fs_type: String,
    /// Mount source (`cairn` for ours).
    pub(crate) source: String,
}

/// Undoes the octal escapes (`\040` for a space, ...) of mountinfo fields.
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Parses mountinfo text; malformed lines are skipped.
pub(crate) fn parse(text: &str) -> Vec<MountEntry> {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 2 {
            continue;
        }
        out.push(MountEntry {
            dev: l[2].to_string(),
            mount_point: PathBuf::from(std::ffi::OsString::from_vec(unescape(l[4]))),
            fs_type: r[0].to_string(),
            source: String::from_utf8_lossy(&unescape(r[1])).into_owned(),
        });
    }
    out
}

/// The current mount table of this process's namespace.
pub(crate) fn current() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// The topmost mount at exactly `path` (already canonical), if any.
pub(crate) fn mount_at(path: &Path) -> Option<MountEntry> {
    current()
        .ok()?
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
}

/// Whether `path` (already canonical) is a mount point in this process's namespace; `false`
/// when the mount table cannot be read.
pub fn is_mount_point(path: &Path) -> bool {
    mount_at(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_escapes() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    99 22 0:57 / /tmp/a\\040b rw,nosuid,nodev,relatime shared:2 - fuse.cairn cairn ro,user_id=0\n\
                    garbage line\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].dev, "0:57");
        assert_eq!(m[1].mount_point, PathBuf::from("/tmp/a b"));
        assert_eq!(m[1].fs_type, "fuse.cairn");
        assert_eq!(m[1].source, "cairn");
        assert_eq!(m[0].mount_point, PathBuf::from("/"));
    }

    #[test]
    fn root_is_a_mount_point() {
        assert!(mount_at(Path::new("/")).is_some());
        assert!(is_mount_point(Path::new("/")));
        assert!(!is_mount_point(Path::new("/no/such/mount/point")));
    }

    #[test]
    fn only_complete_octal_escapes_are_undone() {
        assert_eq!(unescape(r"/mnt/a\040b"), b"/mnt/a b");
        assert_eq!(unescape(r"/x\\y"), br"/x\\y");
        assert_eq!(unescape(r"/end\04"), br"/end\04");
    }
}
