//! The share's password, read from a file (never from the command line).

use crate::error::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// Environment variable naming the password file.
pub const PASSWORD_FILE_ENV: &str = "CAIRN_PASSWORD_FILE";

/// The password from `--password-file FILE`, or else from the file named by `CAIRN_PASSWORD_FILE`;
/// `None` if neither is given. One trailing newline is stripped.
pub fn read_password(password_file: Option<&Path>) -> Result<Option<String>> {
    let path = match password_file {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(PASSWORD_FILE_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Ok(None),
        },
    };
    read_password_file(&path).map(Some)
}

/// Read a password file (one trailing newline stripped).
pub fn read_password_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| {
        Error::usage(
            format!("cannot read the password file {}: {e}", path.display()),
            "give a file holding the share's password on one line, for example: --password-file /etc/cairn/share.pass",
        )
    })?;
    let mut s = String::from_utf8(bytes).map_err(|_| {
        Error::usage(
            format!("the password file {} is not UTF-8 text", path.display()),
            "write the password as plain text on one line",
        )
    })?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    if s.is_empty() {
        return Err(Error::usage(
            format!("the password file {} is empty", path.display()),
            "write the share's password on the first line",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_files_are_read_and_missing_ones_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pass");
        fs::write(&p, "s3cret\n").unwrap();
        assert_eq!(read_password(Some(&p)).unwrap().as_deref(), Some("s3cret"));
        let missing = d.path().join("no-such-file");
        match read_password(Some(&missing)) {
            Err(e @ Error::Usage { .. }) => assert!(e.to_string().contains("no-such-file")),
            other => panic!("{other:?}"),
        }
    }
}
