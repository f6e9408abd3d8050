//! Errors, with the operator's remedy attached.
//!
//! Rules:
//! - Every error an operator can meet says what went wrong (`Display`) and what to do (`remedy`).
//! - Corruption (bytes that do not match their name or fail authentication) is its own kind,
//!   never folded into I/O: verify and restore report it per object and per file.
//! - Storage (backend) errors keep their cause (unreachable, logon failure, no space, ...) so
//!   that alerts can give a remedy specific to it.
//! - Exit codes: 2 usage / bad input, 3 busy, 1 everything else.

use std::fmt;

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of storage failure happened; drives the remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageErrorKind {
    /// The object does not exist.
    NotFound,
    /// Host unreachable, connection refused, name does not resolve, port closed.
    Unreachable,
    /// The server refused the username/password.
    LogonFailure,
    /// The share (or the path on it) does not exist.
    ShareNotFound,
    /// Permission denied on the share or the directory.
    AccessDenied,
    /// The storage is full.
    NoSpace,
    /// The connection dropped in the middle of a transfer.
    Disconnected,
    /// Any other I/O failure.
    Io,
    /// The SMB server does not offer the transport protection cairn requires (encryption).
    Insecure,
    /// The object is larger than any honest object of its kind: damage (or an attack).
    TooLarge,
}

/// A failure of a storage backend (local directory, SMB share, ...).
#[derive(Debug, Clone)]
pub struct StorageError {
    /// The cause, for the remedy.
    pub kind: StorageErrorKind,
    /// Where (a description of the backend and object; never a password).
    pub location: String,
    /// Low-level detail (OS or protocol message).
    pub detail: String,
}

impl StorageError {
    /// Build a storage error.
    pub fn new(
        kind: StorageErrorKind,
        location: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        StorageError {
            kind,
            location: location.into(),
            detail: detail.into(),
        }
    }

    /// Classify an OS error on a local path.
    pub fn from_io(location: impl Into<String>, e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::NotFound => StorageErrorKind::NotFound,
            K::PermissionDenied => StorageErrorKind::AccessDenied,
            K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::TimedOut => {
                StorageErrorKind::Unreachable
            }
            _ if e.raw_os_error() == Some(libc::ENOSPC)
                || e.raw_os_error() == Some(libc::EDQUOT) =>
            {
                StorageErrorKind::NoSpace
            }
            _ => StorageErrorKind::Io,
        };
        StorageError::new(kind, location, e.to_string())
    }

    /// What the operator should do about it.
    pub fn remedy(&self) -> String {
        match self.kind {
            StorageErrorKind::NotFound => {
                "the object is missing: run `cairn verify` to see which backups it hurts, then `cairn export` (or `cairn recover`) to heal it from the other copy".into()
            }
            StorageErrorKind::Unreachable => {
                "check the address and port (445 unless given), that the server is running, and the firewall between this controller and the share".into()
            }
            StorageErrorKind::LogonFailure => {
                "the share refused the username or password: run `cairn target set URL --username U --password-file F` with the right credentials".into()
            }
            StorageErrorKind::ShareNotFound => {
                "check the share name and path in the URL (smb://HOST/SHARE/PATH), then run `cairn target set` again".into()
            }
            StorageErrorKind::AccessDenied => {
                "give the share's user read and write access to the share and the path, or choose another path with `cairn target set`".into()
            }
            StorageErrorKind::NoSpace => {
                "the storage is full: free space on it, or run `cairn prune` to drop backups outside the retention policy".into()
            }
            StorageErrorKind::Disconnected => {
                "the connection dropped mid-transfer: check the network, then run `cairn export` to resume (only missing objects are sent)".into()
            }
            StorageErrorKind::Io => "check the storage's health and the system log, then retry".into(),
            StorageErrorKind::Insecure => {
                "enable SMB 3 encryption on the server (Samba: `server smb encrypt = required` or `desired` in smb.conf; Windows: `Set-SmbShare -EncryptData $true`), or, on a network you trust, accept plaintext SMB with `--allow-unencrypted` (on `cairn target set URL ...` or `cairn recover ...`)".into()
            }
            StorageErrorKind::TooLarge => {
                "the object is damaged or was planted: run `cairn verify` (or `cairn verify --from-target`) to see which backups it hurts; `cairn export` or `cairn recover` heal from the intact copy".into()
            }
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            StorageErrorKind::NotFound => "not found",
            StorageErrorKind::Unreachable => "cannot be reached",
            StorageErrorKind::LogonFailure => "refused the logon (wrong username or password)",
            StorageErrorKind::ShareNotFound => "share or path not found",
            StorageErrorKind::AccessDenied => "access denied",
            StorageErrorKind::NoSpace => "is full (no space left)",
            StorageErrorKind::Disconnected => "dropped the connection",
            StorageErrorKind::Io => "I/O error",
            StorageErrorKind::Insecure => "refused: insecure transport",
            StorageErrorKind::TooLarge => "is damaged (too large)",
        };
        write!(f, "{} {}: {}", self.location, what, self.detail)
    }
}

impl std::error::Error for StorageError {}

/// The library's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage or bad input (exit 2).
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// The right form, with an example.
        remedy: String,
    },
    /// Another job holds the repository (exit 3).
    #[error("repository busy: {holder}")]
    Busy {
        /// Who holds it: job, kind, pid, since when.
        holder: String,
    },
    /// The identity cannot decrypt what it was asked to (exit 2).
    #[error("this identity cannot decrypt backup {backup}: it was written for recipients {}", recipients.join(", "))]
    WrongIdentity {
        /// The backup id.
        backup: String,
        /// The recipients the backup was written for.
        recipients: Vec<String>,
    },
    /// A service could not be backed up (exit 1); nothing of the backup was committed.
    #[error("service {service}: {cause}")]
    Service {
        /// The service's name.
        service: String,
        /// What went wrong.
        cause: String,
        /// What to do.
        remedy: String,
    },
    /// A storage backend failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// Stored bytes do not match their name, fail authentication or do not decode.
    #[error("corrupt object {object}: {detail}")]
    Corrupt {
        /// The object's name (pack, key, manifest, chunk).
        object: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An operation failed for another reason.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        message: String,
        /// What to do.
        remedy: String,
    },
}

impl Error {
    /// Bad usage or input, with the right form.
    pub fn usage(message: impl Into<String>, remedy: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            remedy: remedy.into(),
        }
    }

    /// A failure with its remedy.
    pub fn failed(message: impl Into<String>, remedy: impl Into<String>) -> Self {
        Error::Failed {
            message: message.into(),
            remedy: remedy.into(),
        }
    }

    /// Corruption of a named object.
    pub fn corrupt(object: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            detail: detail.into(),
        }
    }

    /// A local I/O failure, classified.
    pub fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        Error::Storage(StorageError::from_io(context, &e))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } | Error::WrongIdentity { .. } => 2,
            Error::Busy { .. } => 3,
            _ => 1,
        }
    }

    /// What the operator should do.
    pub fn remedy(&self) -> String {
        match self {
            Error::Usage { remedy, .. } | Error::Failed { remedy, .. } | Error::Service { remedy, .. } => {
                remedy.clone()
            }
            Error::Busy { .. } => {
                "wait for that job to finish (`cairn jobs` shows it); a job whose process died is taken over automatically".into()
            }
            Error::WrongIdentity { .. } => {
                "pass the identity file (--identity or CAIRN_IDENTITY_FILE) whose public key is one of those recipients; `cairn key list` shows which recipients each backup was written for".into()
            }
            Error::Storage(e) => e.remedy(),
            Error::Corrupt { .. } => {
                "run `cairn verify` to see which backups and files are hurt; `cairn export` or `cairn recover` heal from the intact copy".into()
            }
        }
    }

    /// A short machine-readable name of the cause, used by the alert catalogue.
    pub fn cause_kind(&self) -> &'static str {
        match self {
            Error::Usage { .. } => "usage",
            Error::Busy { .. } => "busy",
            Error::WrongIdentity { .. } => "key",
            Error::Service { .. } => "service",
            Error::Storage(e) => match e.kind {
                StorageErrorKind::NotFound => "storage_not_found",
                StorageErrorKind::Unreachable => "unreachable",
                StorageErrorKind::LogonFailure => "logon_failure",
                StorageErrorKind::ShareNotFound => "share_not_found",
                StorageErrorKind::AccessDenied => "access_denied",
                StorageErrorKind::NoSpace => "no_space",
                StorageErrorKind::Disconnected => "disconnected",
                StorageErrorKind::Io => "io",
                StorageErrorKind::Insecure => "insecure_transport",
                StorageErrorKind::TooLarge => "damage",
            },
            Error::Corrupt { .. } => "damage",
            Error::Failed { .. } => "failed",
        }
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::failed(
            format!("local state database (REPO/local) failed: {e}"),
            "check free space and permissions under REPO/local; the index is a cache and is rebuilt from the packs if you move REPO/local/index away",
        )
    }
}
