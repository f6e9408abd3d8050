//! The external storage location ("target"): its URL, credentials, saved settings and probe.
//!
//! Settings live at `REPO/local/target.toml`, created with mode 0600 (they hold the share's
//! password, or the object store's secret), and are never exported. Nothing shown to the
//! operator contains the password or secret.

use crate::backend::{
    Backend, LocalBackend, ObjectBackend, ObjectCredentials, OnCopy, SmbBackend, Transport,
    TEMP_PREFIX,
};
use crate::error::{CopySide, Error, Result, StorageError, StorageErrorKind};
use std::fmt;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

mod password;
mod url;

pub use password::{read_password, read_password_file, PASSWORD_FILE_ENV};
pub use url::TargetUrl;

/// File name of the saved settings under `REPO/local/`.
pub const TARGET_FILE: &str = "target.toml";

/// The external location and how to log on to it.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// Where.
    pub url: TargetUrl,
    /// SMB username (optionally `DOMAIN\user`), or the S3 access key id; `None` for a local
    /// directory (and an object store whose key comes from the environment).
    pub username: Option<String>,
    /// SMB password, the S3 secret key or the Azure account key; `None` for a local directory
    /// (and an object store whose key comes from the environment).
    pub password: Option<String>,
    /// The object store's endpoint URL (`--endpoint`: an S3-compatible store, Azurite); `None`
    /// for the provider's default.
    pub endpoint: Option<String>,
    /// The S3 region (`--region`).
    pub region: Option<String>,
    /// Accept an SMB server that offers no encryption (`--allow-unencrypted`); shown as a
    /// warning by `target show`.
    pub allow_unencrypted: bool,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("allow_unencrypted", &self.allow_unencrypted)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    allow_unencrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
}

/// What `target show` says about a target that accepts plaintext SMB.
pub const UNENCRYPTED_WARNING: &str = "WARNING: SMB encryption is not required for this target (--allow-unencrypted): backup data, names of objects and the share's password exchange may cross the network without encryption; run `cairn target set` again without --allow-unencrypted once the server offers SMB 3 encryption";

impl TargetConfig {
    /// The settings of `cairn target set` / `cairn recover --from` as the operator gave them:
    /// the password is read from `password_file` (or the file [`PASSWORD_FILE_ENV`] names), then
    /// checked and assembled as in [`TargetConfig::new`].
    pub fn from_args(
        url: &str,
        username: Option<String>,
        password_file: Option<&Path>,
        allow_unencrypted: bool,
    ) -> Result<TargetConfig> {
        let password = read_password(password_file)?;
        Ok(TargetConfig {
            allow_unencrypted,
            ..TargetConfig::new(url, username, password)?
        })
    }

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
                    allow_unencrypted: false,
                    endpoint: None,
                    region: None,
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
                    allow_unencrypted: false,
                    endpoint: None,
                    region: None,
                })
            }
            TargetUrl::Object(loc) => {
                if loc.provider == crate::backend::Provider::Azure && username.is_some() {
                    return Err(Error::usage(
                        format!("the Azure target {url} takes no username (the account is in the URL)"),
                        "drop --username; pass the account key with --password-file FILE (or AZURE_STORAGE_KEY)",
                    ));
                }
                Ok(TargetConfig {
                    url,
                    username: username.filter(|u| !u.is_empty()),
                    password,
                    allow_unencrypted: false,
                    endpoint: None,
                    region: None,
                })
            }
        }
    }

    /// These settings with the object store's `--endpoint` and `--region`; refused for an SMB
    /// share or a local directory, which take neither.
    pub fn with_store_options(
        mut self,
        endpoint: Option<String>,
        region: Option<String>,
    ) -> Result<TargetConfig> {
        if endpoint.is_none() && region.is_none() {
            return Ok(self);
        }
        if !matches!(self.url, TargetUrl::Object(_)) {
            return Err(Error::usage(
                format!("the target {} takes no --endpoint or --region", self.url),
                "drop them: they are for s3:// and az:// targets",
            ));
        }
        if let Some(e) = &endpoint {
            let lower = e.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) || e.contains('@') {
                return Err(Error::usage(
                    format!("the endpoint {e:?} is not an http:// or https:// URL without credentials"),
                    "give the service's URL, for example --endpoint https://s3.eu-central-1.example.com or --endpoint http://127.0.0.1:10000/devstoreaccount1 (Azurite)",
                ));
            }
        }
        self.endpoint = endpoint;
        self.region = region;
        Ok(self)
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
            allow_unencrypted: self.allow_unencrypted,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
        };
        let text = toml::to_string(&stored).map_err(|e| {
            Error::failed(
                format!("cannot encode the target settings: {e}"),
                "report this as a bug",
            )
        })?;
        crate::fsutil::write_atomic(&Self::file(repo), text.as_bytes(), 0o600)
    }

    /// Load the saved settings; `None` when no target is set.
    pub fn load(repo: &Path) -> Result<Option<TargetConfig>> {
        let path = Self::file(repo);
        let Some(text) = crate::fsutil::read_if_present(&path)? else {
            return Ok(None);
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
            allow_unencrypted: stored.allow_unencrypted,
            endpoint: stored.endpoint,
            region: stored.region,
        }))
    }

    /// Forget the target (`cairn target clear`); true if one was set.
    pub fn clear(repo: &Path) -> Result<bool> {
        crate::fsutil::remove_if_present(&Self::file(repo))
    }

    /// The settings for `target show --json`; never the password.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url.as_string(),
            "kind": self.url.kind(),
            "username": self.username,
            "password_set": self.password.is_some(),
            "allow_unencrypted": self.allow_unencrypted,
            "endpoint": self.endpoint,
            "region": self.region,
            "warning": self.warning(),
        })
    }

    /// The warning `target show` gives, if any (plaintext SMB accepted).
    pub fn warning(&self) -> Option<&'static str> {
        (self.allow_unencrypted && matches!(self.url, TargetUrl::Smb(_)))
            .then_some(UNENCRYPTED_WARNING)
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
        if let Some(e) = &self.endpoint {
            writeln!(f, "endpoint: {e}")?;
        }
        if let Some(r) = &self.region {
            writeln!(f, "region: {r}")?;
        }
        if self.password.is_some() {
            writeln!(f, "password: (set)")?;
        }
        if let Some(w) = self.warning() {
            writeln!(f, "{w}")?;
        }
        Ok(())
    }
}

/// Connect to the target and return its backend (the repository folder is created if needed).
/// Its errors, and a failure to connect, are placed on the target's copy ([`CopySide::Target`]).
pub fn open_backend(cfg: &TargetConfig) -> Result<Box<dyn Backend>> {
    let inner = connect(cfg).map_err(|e| e.on_copy(CopySide::Target))?;
    Ok(Box::new(OnCopy::new(CopySide::Target, inner)))
}

fn connect(cfg: &TargetConfig) -> Result<Box<dyn Backend>> {
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
            let transport = if cfg.allow_unencrypted {
                Transport::AllowUnencrypted
            } else {
                Transport::Encrypted
            };
            Ok(Box::new(SmbBackend::connect_with(
                loc,
                user,
                pass,
                crate::backend::smb_timeout(),
                transport,
            )?))
        }
        TargetUrl::Object(loc) => {
            let creds = ObjectCredentials {
                endpoint: cfg.endpoint.clone(),
                region: cfg.region.clone(),
                key_id: cfg.username.clone(),
                secret: cfg.password.clone(),
            };
            Ok(Box::new(ObjectBackend::connect(loc, &creds)?))
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
    // A temporary name: never listed, never copied, and removed by `clean_temp` if a crash
    // leaves it behind.
    let name = format!("{TEMP_PREFIX}probe-{:016x}", rand::random::<u64>());
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
    fn settings_from_arguments_read_the_password_file_and_keep_the_encryption_choice() {
        let d = tempfile::tempdir().unwrap();
        let pw = d.path().join("pass");
        fs::write(&pw, "s3cret\n").unwrap();
        let cfg = TargetConfig::from_args("smb://h/s", Some("u".into()), Some(&pw), true).unwrap();
        assert_eq!(cfg.password.as_deref(), Some("s3cret"));
        assert!(cfg.allow_unencrypted);
        let cfg = TargetConfig::from_args("smb://h/s", Some("u".into()), Some(&pw), false).unwrap();
        assert!(!cfg.allow_unencrypted);
        let absent = d.path().join("absent-pass");
        let e = TargetConfig::from_args("smb://h/s", Some("u".into()), Some(&absent), false)
            .unwrap_err();
        assert!(e.to_string().contains("absent-pass"), "{e}");
    }

    #[test]
    fn object_store_settings_keep_endpoint_and_region_and_never_show_the_secret() {
        let d = tempfile::tempdir().unwrap();
        let cfg = TargetConfig::new(
            "s3://backups/ctl1",
            Some("AKIAX".into()),
            Some("s3cr3t-k3y".into()),
        )
        .unwrap()
        .with_store_options(
            Some("http://127.0.0.1:9000".into()),
            Some("eu-west-3".into()),
        )
        .unwrap();
        cfg.save(d.path()).unwrap();
        let back = TargetConfig::load(d.path()).unwrap().unwrap();
        assert_eq!(back, cfg);
        assert_eq!(back.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(back.region.as_deref(), Some("eu-west-3"));
        for shown in [
            cfg.to_string(),
            cfg.to_json().to_string(),
            format!("{cfg:?}"),
        ] {
            assert!(!shown.contains("s3cr3t-k3y"), "{shown}");
            assert!(shown.contains("eu-west-3"), "{shown}");
        }
        // the options belong to object stores; an endpoint is a plain http(s) URL
        let smb = TargetConfig::new("smb://h/s", Some("u".into()), Some("p".into())).unwrap();
        assert!(smb
            .with_store_options(Some("http://x".into()), None)
            .is_err());
        let s3 = TargetConfig::new("s3://backups", None, None).unwrap();
        assert!(s3
            .clone()
            .with_store_options(Some("ftp://x".into()), None)
            .is_err());
        assert!(s3
            .with_store_options(Some("http://k:s@x".into()), None)
            .is_err());
        // Azure's account is in the URL
        assert!(TargetConfig::new("az://acct/c", Some("u".into()), None).is_err());
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
