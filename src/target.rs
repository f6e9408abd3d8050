//! The external storage location ("target"): its URL, credentials, saved settings and probe.
//!
//! Settings live at `REPO/local/target.toml`, created with mode 0600 (they hold the share's
//! password), and are never exported. Nothing shown to the operator contains the password.

use crate::backend::{Backend, LocalBackend, SmbBackend, SmbLocation};
use crate::error::{Error, Result, StorageError, StorageErrorKind};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Environment variable naming the password file.
pub const PASSWORD_FILE_ENV: &str = "CAIRN_PASSWORD_FILE";

/// File name of the saved settings under `REPO/local/`.
pub const TARGET_FILE: &str = "target.toml";

const URL_FORMS: &str = "use smb://HOST[:PORT]/SHARE[/PATH] (for example smb://nas.example.com/backups/controller-1 or smb://10.0.0.5:445/backups) or an absolute local directory (for example /mnt/backups/controller-1)";

/// Where the external copy lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// An SMB share.
    Smb(SmbLocation),
    /// A local directory (for example a share mounted by the OS).
    Local(PathBuf),
}

fn bad_url(url: &str, fault: impl fmt::Display) -> Error {
    Error::usage(format!("malformed target {url:?}: {fault}"), URL_FORMS)
}

impl TargetUrl {
    /// Parse `smb://HOST[:PORT]/SHARE[/PATH]` or an absolute local path.
    pub fn parse(url: &str) -> Result<TargetUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(bad_url(url, "it is empty"));
        }
        if url.contains('\0') {
            return Err(bad_url(url, "it contains a NUL byte"));
        }
        let lower = url.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("smb://").map(|_| &url[6..]) {
            return Self::parse_smb(url, rest).map(TargetUrl::Smb);
        }
        if lower.starts_with("smb:") {
            return Err(bad_url(
                url,
                "an SMB URL starts with \"smb://\" (two slashes)",
            ));
        }
        if let Some(i) = url.find("://") {
            return Err(bad_url(
                url,
                format!(
                    "unsupported scheme {:?}: only smb:// is supported",
                    &url[..i]
                ),
            ));
        }
        if url.starts_with("\\\\") {
            return Err(bad_url(
                url,
                "UNC paths are not accepted: write \\\\HOST\\SHARE\\PATH as smb://HOST/SHARE/PATH",
            ));
        }
        if !url.starts_with('/') {
            return Err(bad_url(url, "a local directory must be an absolute path"));
        }
        let p = Path::new(url);
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(bad_url(url, "the path must not contain \"..\""));
        }
        Ok(TargetUrl::Local(p.to_path_buf()))
    }

    fn parse_smb(url: &str, rest: &str) -> Result<SmbLocation> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad_url(
                url,
                "credentials do not belong in the URL: pass --username and --password-file",
            ));
        }
        if authority.is_empty() {
            return Err(bad_url(url, "the host is missing"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some(end) = v6.find(']') else {
                return Err(bad_url(url, "an IPv6 address must be closed with ']'"));
            };
            let host = &authority[..end + 2];
            (host, authority[end + 2..].strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad_url(url, "the host is missing"));
        }
        if !host.starts_with('[')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(bad_url(
                url,
                format!("{host:?} is not a valid host name or address"),
            ));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(bad_url(
                        url,
                        format!("the port {p:?} is not a number from 1 to 65535"),
                    ))
                }
            },
        };
        let mut parts = path.split('/');
        let share = parts.next().unwrap_or("");
        if share.is_empty() {
            return Err(bad_url(url, "the share name is missing"));
        }
        let comps: Vec<&str> = parts.collect();
        let trailing_empty = comps
            .iter()
            .rposition(|c| !c.is_empty())
            .map_or(0, |i| i + 1);
        let comps = &comps[..trailing_empty];
        for c in comps {
            if c.is_empty() {
                return Err(bad_url(
                    url,
                    "the path contains an empty folder name (\"//\")",
                ));
            }
            if *c == "." || *c == ".." {
                return Err(bad_url(url, format!("the path must not contain {c:?}")));
            }
            if c.contains('\\') {
                return Err(bad_url(url, "use '/' between folders, not '\\'"));
            }
        }
        Ok(SmbLocation {
            host: host.to_string(),
            port,
            share: share.to_string(),
            path: comps.join("/"),
        })
    }

    /// The URL as the operator writes it (no credentials).
    pub fn as_string(&self) -> String {
        match self {
            TargetUrl::Smb(l) => l.url(),
            TargetUrl::Local(p) => p.display().to_string(),
        }
    }

    /// "smb" or "local".
    pub fn kind(&self) -> &'static str {
        match self {
            TargetUrl::Smb(_) => "smb",
            TargetUrl::Local(_) => "local",
        }
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// The external location and how to log on to it.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// Where.
    pub url: TargetUrl,
    /// SMB username (optionally `DOMAIN\user`); `None` for a local directory.
    pub username: Option<String>,
    /// SMB password; `None` for a local directory.
    pub password: Option<String>,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

impl TargetConfig {
    /// Check and assemble the settings of `cairn target set` / `cairn recover --from`.
    /// An SMB URL needs a username and a password; a local directory takes neither.
    pub fn new(
        url: &str,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<TargetConfig> {
        let url = TargetUrl::parse(url)?;
        match &url {
            TargetUrl::Smb(_) => {
                let Some(u) = username.filter(|u| !u.is_empty()) else {
                    return Err(Error::usage(
                        format!("the SMB target {url} needs a username"),
                        "pass --username USER --password-file FILE, for example: cairn target set smb://nas/backups/ctl1 --username backup --password-file /etc/cairn/share.pass",
                    ));
                };
                let Some(p) = password else {
                    return Err(Error::usage(
                        format!("the SMB target {url} needs a password"),
                        format!("pass --password-file FILE or set {PASSWORD_FILE_ENV}=FILE (a file holding the password on one line, mode 0600)"),
                    ));
                };
                Ok(TargetConfig {
                    url,
                    username: Some(u),
                    password: Some(p),
                })
            }
            TargetUrl::Local(_) => {
                if username.is_some() {
                    return Err(Error::usage(
                        format!("the local target {url} takes no username"),
                        "drop --username and --password-file, or give an smb://HOST/SHARE/PATH URL",
                    ));
                }
                Ok(TargetConfig {
                    url,
                    username: None,
                    password: None,
                })
            }
        }
    }

    /// Path of the settings file in the repository.
    pub fn file(repo: &Path) -> PathBuf {
        repo.join("local").join(TARGET_FILE)
    }

    /// Save to `REPO/local/target.toml` (mode 0600 from the start; replaced atomically).
    pub fn save(&self, repo: &Path) -> Result<()> {
        let dir = repo.join("local");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(dir.display().to_string(), e))?;
        let stored = Stored {
            url: self.url.as_string(),
            username: self.username.clone(),
            password: self.password.clone(),
        };
        let text = toml::to_string(&stored).map_err(|e| {
            Error::failed(
                format!("cannot encode the target settings: {e}"),
                "report this as a bug",
            )
        })?;
        let path = Self::file(repo);
        let tmp = dir.join(format!(".{TARGET_FILE}.{:016x}", rand::random::<u64>()));
        let res = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&dir)?.sync_all()
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(path.display().to_string(), e));
        }
        Ok(())
    }

    /// Load the saved settings; `None` when no target is set.
    pub fn load(repo: &Path) -> Result<Option<TargetConfig>> {
        let path = Self::file(repo);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path.display().to_string(), e)),
        };
        let broken =
            |what: String| {
                Error::failed(
                format!("the target settings in {} are unreadable: {what}", path.display()),
                "set the target again with `cairn target set URL --username U --password-file F`",
            )
            };
        let stored: Stored = toml::from_str(&text).map_err(|e| broken(e.to_string()))?;
        let url = TargetUrl::parse(&stored.url).map_err(|e| broken(e.to_string()))?;
        Ok(Some(TargetConfig {
            url,
            username: stored.username,
            password: stored.password,
        }))
    }

    /// Forget the target (`cairn target clear`); true if one was set.
    pub fn clear(repo: &Path) -> Result<bool> {
        let path = Self::file(repo);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(path.display().to_string(), e)),
        }
    }

    /// The settings for `target show --json`; never the password.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url.as_string(),
            "kind": self.url.kind(),
            "username": self.username,
            "password_set": self.password.is_some(),
        })
    }
}

/// `target show`: URL, kind, username; never the password.
impl fmt::Display for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "url: {}", self.url)?;
        writeln!(f, "kind: {}", self.url.kind())?;
        if let Some(u) = &self.username {
            writeln!(f, "username: {u}")?;
        }
        if self.password.is_some() {
            writeln!(f, "password: (set)")?;
        }
        Ok(())
    }
}

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

/// Connect to the target and return its backend (the repository folder is created if needed).
pub fn open_backend(cfg: &TargetConfig) -> Result<Box<dyn Backend>> {
    match &cfg.url {
        TargetUrl::Local(dir) => match fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(Box::new(LocalBackend::new(dir))),
            Ok(_) => Err(StorageError::new(
                StorageErrorKind::ShareNotFound,
                dir.display().to_string(),
                "not a directory",
            )
            .into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::new(
                StorageErrorKind::ShareNotFound,
                dir.display().to_string(),
                "the directory does not exist (mount the share there, or create it)",
            )
            .into()),
            Err(e) => Err(Error::io(dir.display().to_string(), e)),
        },
        TargetUrl::Smb(loc) => {
            let user = cfg.username.as_deref().unwrap_or("");
            let pass = cfg.password.as_deref().unwrap_or("");
            Ok(Box::new(SmbBackend::connect(loc, user, pass)?))
        }
    }
}

/// Check that cairn can work at the target: connect, write, read back, rename and delete a probe
/// object. The error names the cause (unreachable, logon failure, share not found, access denied,
/// no space).
pub fn probe(cfg: &TargetConfig) -> Result<()> {
    let backend = open_backend(cfg)?;
    probe_backend(backend.as_ref())
}

/// The write/read/delete check of [`probe`] on an open backend.
pub fn probe_backend(backend: &dyn Backend) -> Result<()> {
    let name = format!("cairn-probe-{:016x}", rand::random::<u64>());
    let payload = format!("cairn write probe {name}\n").into_bytes();
    backend.write(&name, &payload)?;
    let back = backend.read(&name);
    let deleted = backend.delete(&name);
    let back = back?;
    deleted?;
    if back != payload {
        return Err(Error::failed(
            format!("{}: a probe object read back differently from what was written ({} bytes instead of {})", backend.describe(), back.len(), payload.len()),
            "check the share's health (disk, quotas, antivirus or filters that alter files), then run `cairn target set` again",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn usage_msg(r: Result<TargetUrl>) -> String {
        match r {
            Err(Error::Usage { message, remedy }) => {
                assert!(
                    remedy.contains("smb://HOST[:PORT]/SHARE[/PATH]"),
                    "{remedy}"
                );
                message
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn smb_urls_parse() {
        let u = TargetUrl::parse("smb://127.0.0.1:4455/backups/ctl1/").unwrap();
        assert_eq!(
            u,
            TargetUrl::Smb(SmbLocation {
                host: "127.0.0.1".into(),
                port: Some(4455),
                share: "backups".into(),
                path: "ctl1".into()
            })
        );
        assert_eq!(u.as_string(), "smb://127.0.0.1:4455/backups/ctl1");
        let u = TargetUrl::parse("smb://nas.example.com/backups").unwrap();
        assert_eq!(u.as_string(), "smb://nas.example.com/backups");
        let u = TargetUrl::parse("smb://[::1]:445/b/x/y").unwrap();
        assert_eq!(u.as_string(), "smb://[::1]:445/b/x/y");
        assert_eq!(
            TargetUrl::parse("/mnt/share").unwrap(),
            TargetUrl::Local("/mnt/share".into())
        );
    }

    #[test]
    fn malformed_urls_name_the_fault() {
        assert!(usage_msg(TargetUrl::parse("smb:/127.0.0.1/x")).contains("two slashes"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1")).contains("share name is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1/")).contains("share name is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1:99999/b")).contains("port"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1:x/b")).contains("port"));
        assert!(usage_msg(TargetUrl::parse("smb:///b")).contains("host is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://u:p@h/b")).contains("--username"));
        assert!(usage_msg(TargetUrl::parse("smb://h/b/../x")).contains(".."));
        assert!(usage_msg(TargetUrl::parse("nfs://h/b")).contains("scheme"));
        assert!(usage_msg(TargetUrl::parse("relative/dir")).contains("absolute"));
        assert!(usage_msg(TargetUrl::parse("")).contains("empty"));
    }

    #[test]
    fn settings_are_saved_private_and_shown_without_password() {
        let d = tempfile::tempdir().unwrap();
        let cfg = TargetConfig::new(
            "smb://h:4455/s/p",
            Some("cairn".into()),
            Some("pa55-word".into()),
        )
        .unwrap();
        cfg.save(d.path()).unwrap();
        let meta = fs::metadata(TargetConfig::file(d.path())).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(TargetConfig::load(d.path()).unwrap(), Some(cfg.clone()));
        assert!(!cfg.to_string().contains("pa55-word"));
        assert!(!cfg.to_json().to_string().contains("pa55-word"));
        assert!(!format!("{cfg:?}").contains("pa55-word"));
        assert!(cfg.to_json().to_string().contains("smb://h:4455/s/p"));
        assert!(TargetConfig::clear(d.path()).unwrap());
        assert_eq!(TargetConfig::load(d.path()).unwrap(), None);
        assert!(!TargetConfig::clear(d.path()).unwrap());
    }

    #[test]
    fn smb_targets_need_credentials() {
        assert!(matches!(
            TargetConfig::new("smb://h/s", None, Some("p".into())),
            Err(Error::Usage { .. })
        ));
        assert!(matches!(
            TargetConfig::new("smb://h/s", Some("u".into()), None),
            Err(Error::Usage { .. })
        ));
        assert!(TargetConfig::new("/mnt/x", None, None).is_ok());
    }

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

    #[test]
    fn local_targets_are_probed() {
        let d = tempfile::tempdir().unwrap();
        let cfg = TargetConfig::new(d.path().to_str().unwrap(), None, None).unwrap();
        probe(&cfg).unwrap();
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
        let gone =
            TargetConfig::new(d.path().join("absent").to_str().unwrap(), None, None).unwrap();
        match probe(&gone) {
            Err(Error::Storage(e)) => assert_eq!(e.kind, StorageErrorKind::ShareNotFound),
            other => panic!("{other:?}"),
        }
    }
}
