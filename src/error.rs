//! Errors, with the operator's remedy attached.
//!
//! Rules:
//! - Every error an operator can meet says what went wrong (`Display`) and what to do (`remedy`).
//! - Corruption (bytes that do not match their name or fail authentication) is its own kind,
//!   never folded into I/O: verify and restore report it per object and per file.
//! - Storage (backend) errors keep their cause (unreachable, logon failure, no space, ...) so
//!   that alerts can give a remedy specific to it.
//! - Whatever decides by cause matches on a type ([`Error::kind`], [`ServiceCause`],
//!   [`CopySide`]) set where the error is built, never on its text. The text is for people (and
//!   never holds a service's command line: it may carry secrets).
//! - The OS or storage error behind an error is kept as its `source`.
//! - The remedy for each kind is written once, in [`crate::remedy`].
//! - Exit codes: 2 usage / bad input, 3 busy, 1 everything else.

use std::fmt;
use std::sync::Arc;

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

/// The kind of store a storage error happened on, for a remedy worded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// A local directory or an SMB share (the remedies speak of the share).
    #[default]
    Share,
    /// An S3 bucket (AWS or S3-compatible).
    S3,
    /// An Azure Blob Storage container.
    Azure,
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
    /// The OS error behind it, if there is one (shared: storage errors are cloned).
    source: Option<Arc<std::io::Error>>,
    /// Which copy the backend holds, when whoever opened it said ([`crate::backend::OnCopy`]).
    side: CopySide,
    /// The kind of store it happened on.
    pub store: StoreKind,
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
            source: None,
            side: CopySide::Unknown,
            store: StoreKind::Share,
        }
    }

    /// This error, met on a store of kind `store`.
    pub fn at_store(mut self, store: StoreKind) -> Self {
        self.store = store;
        self
    }

    /// This error, placed on the copy `side` unless it already is on one.
    pub fn on_copy(mut self, side: CopySide) -> Self {
        if self.side == CopySide::Unknown {
            self.side = side;
        }
        self
    }

    /// Which copy it is on, if its backend's opener said.
    pub fn side(&self) -> CopySide {
        self.side
    }

    /// Classify an OS error on a local path (keeping a copy of it as the source).
    pub fn from_io(location: impl Into<String>, e: &std::io::Error) -> Self {
        let copy = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.to_string()),
        };
        Self::from_io_error(location, copy)
    }

    /// Classify an OS error on a local path, keeping it as the source.
    pub fn from_io_error(location: impl Into<String>, e: std::io::Error) -> Self {
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
        StorageError {
            detail: e.to_string(),
            source: Some(Arc::new(e)),
            ..StorageError::new(kind, location, "")
        }
    }

    /// What the operator should do about it (on its copy, if known).
    pub fn remedy(&self) -> String {
        crate::remedy::storage_at(self.kind, self.side, self.store)
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

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What kind of failure an [`Error`] is: what the alert catalogue and every other decision by
/// cause match on (never the message text). The serialized names are the alert causes'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad usage or input.
    Usage,
    /// Another job holds the repository.
    Busy,
    /// The identity cannot decrypt.
    Key,
    /// A service could not be backed up or restored ([`ServiceCause`] says why).
    Service,
    /// A stored object does not exist.
    StorageNotFound,
    /// The share cannot be reached.
    Unreachable,
    /// The share refused the username or password.
    LogonFailure,
    /// The share or the path on it does not exist.
    ShareNotFound,
    /// Permission denied on the storage.
    AccessDenied,
    /// The storage is full.
    NoSpace,
    /// The connection dropped mid-transfer.
    Disconnected,
    /// Another I/O failure.
    Io,
    /// The server does not offer the transport protection required.
    InsecureTransport,
    /// Stored bytes are damaged (or too large to be honest).
    Damage,
    /// Anything else.
    Failed,
}

impl ErrorKind {
    /// The machine-readable name (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Busy => "busy",
            ErrorKind::Key => "key",
            ErrorKind::Service => "service",
            ErrorKind::StorageNotFound => "storage_not_found",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::LogonFailure => "logon_failure",
            ErrorKind::ShareNotFound => "share_not_found",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::Io => "io",
            ErrorKind::InsecureTransport => "insecure_transport",
            ErrorKind::Damage => "damage",
            ErrorKind::Failed => "failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a service could not be backed up (or restored), set where the engine meets the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceCause {
    /// Its path (or something under it) does not exist or is not a directory.
    PathMissing,
    /// cairn may not read its path or something under it.
    PathUnreadable,
    /// Its backup command could not run, or failed.
    CommandFailed,
    /// Its restore command could not run, or failed; the data it was fed is at `restored_at`.
    RestoreCommandFailed {
        /// Where the restored data was left.
        restored_at: std::path::PathBuf,
    },
    /// Another failure reading its data (an I/O error).
    Other,
    /// Its prepare hook could not run or failed: nothing was captured, the others were released.
    PrepareFailed,
    /// Its prepare hook did not finish within its time limit and was killed.
    PrepareTimedOut,
    /// Its release hook could not run, failed or timed out: the service may still be paused.
    ReleaseFailed,
    /// cairn stopped between its prepare and its release; the release ran at the next start.
    ReleasedAfterCrash,
}

impl ServiceCause {
    /// The cause of an OS error met reading a service's path.
    pub fn of_path(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                ServiceCause::PathMissing
            }
            std::io::ErrorKind::PermissionDenied => ServiceCause::PathUnreadable,
            _ => ServiceCause::Other,
        }
    }

    /// The alert cause's name.
    pub fn name(&self) -> &'static str {
        match self {
            ServiceCause::PathMissing => "service_path_missing",
            ServiceCause::PathUnreadable => "service_path_unreadable",
            ServiceCause::CommandFailed => "service_command_failed",
            ServiceCause::RestoreCommandFailed { .. } => "service_restore_command_failed",
            ServiceCause::Other => "service_failed",
            ServiceCause::PrepareFailed => "service_prepare_failed",
            ServiceCause::PrepareTimedOut => "service_prepare_timed_out",
            ServiceCause::ReleaseFailed => "service_release_failed",
            ServiceCause::ReleasedAfterCrash => "service_released_after_crash",
        }
    }
}

/// Which copy a damaged object was read from, set by whoever read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopySide {
    /// The reader did not say: the failing job decides (export and recover: the target's copy;
    /// the others: the internal repository).
    Unknown,
    /// The internal repository on the controller.
    Internal,
    /// The target's copy (the external location).
    Target,
}

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
    #[error("service {service}: {detail}")]
    Service {
        /// The service's name.
        service: String,
        /// Why, for the remedy.
        cause: ServiceCause,
        /// What went wrong, in words (never a command line: it may hold secrets).
        detail: String,
        /// The error behind it (an OS or storage error), if there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Stored bytes do not match their name, fail authentication or do not decode.
    #[error("corrupt object {object}: {detail}")]
    Corrupt {
        /// The object's name (pack, key, manifest, chunk).
        object: String,
        /// What is wrong with it.
        detail: String,
        /// Which copy it was read from.
        side: CopySide,
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

    /// Corruption of a named object (the job decides which copy it is on).
    pub fn corrupt(object: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::corrupt_in(CopySide::Unknown, object, detail)
    }

    /// Corruption of a named object read from the copy `side`.
    pub fn corrupt_in(
        side: CopySide,
        object: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            object: object.into(),
            detail: detail.into(),
            side,
        }
    }

    /// This error, with damage or a storage failure whose copy its reader did not say placed on
    /// `side` (for callers that know which copy they read: a verify of the target's copy, ...).
    pub fn on_copy(self, side: CopySide) -> Self {
        match self {
            Error::Corrupt {
                object,
                detail,
                side: CopySide::Unknown,
            } => Error::Corrupt {
                object,
                detail,
                side,
            },
            Error::Storage(e) => Error::Storage(e.on_copy(side)),
            other => other,
        }
    }

    /// Which copy the failure is on, when its reader said (damage, storage failures).
    pub fn side(&self) -> CopySide {
        match self {
            Error::Corrupt { side, .. } => *side,
            Error::Storage(e) => e.side(),
            _ => CopySide::Unknown,
        }
    }

    /// Service `service` failed for `cause`.
    pub fn service(
        service: impl Into<String>,
        cause: ServiceCause,
        detail: impl Into<String>,
    ) -> Self {
        Error::Service {
            service: service.into(),
            cause,
            detail: detail.into(),
            source: None,
        }
    }

    /// Service `service` failed for `cause` on the (OS or storage) error `e`, kept as the source.
    pub fn service_io(
        service: impl Into<String>,
        cause: ServiceCause,
        detail: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Service {
            service: service.into(),
            cause,
            detail: detail.into(),
            source: Some(Box::new(e)),
        }
    }

    /// A local I/O failure, classified (the OS error kept as the source).
    pub fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        Error::Storage(StorageError::from_io_error(context, e))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } | Error::WrongIdentity { .. } => 2,
            Error::Busy { .. } => 3,
            _ => 1,
        }
    }

    /// What the operator should do (see [`crate::remedy`]).
    pub fn remedy(&self) -> String {
        crate::remedy::of(self, self.side())
    }

    /// What kind of failure it is, for the alert catalogue.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage { .. } => ErrorKind::Usage,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::WrongIdentity { .. } => ErrorKind::Key,
            Error::Service { .. } => ErrorKind::Service,
            Error::Storage(e) => match e.kind {
                StorageErrorKind::NotFound => ErrorKind::StorageNotFound,
                StorageErrorKind::Unreachable => ErrorKind::Unreachable,
                StorageErrorKind::LogonFailure => ErrorKind::LogonFailure,
                StorageErrorKind::ShareNotFound => ErrorKind::ShareNotFound,
                StorageErrorKind::AccessDenied => ErrorKind::AccessDenied,
                StorageErrorKind::NoSpace => ErrorKind::NoSpace,
                StorageErrorKind::Disconnected => ErrorKind::Disconnected,
                StorageErrorKind::Io => ErrorKind::Io,
                StorageErrorKind::Insecure => ErrorKind::InsecureTransport,
                StorageErrorKind::TooLarge => ErrorKind::Damage,
            },
            Error::Corrupt { .. } => ErrorKind::Damage,
            Error::Failed { .. } => ErrorKind::Failed,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, LocalBackend};

    fn io_source<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
        let mut next = e.source();
        while let Some(s) = next {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            next = s.source();
        }
        None
    }

    #[test]
    fn storage_errors_keep_the_os_error_as_their_source() {
        let full = Error::io(
            "/srv/repo/x",
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(full.kind(), ErrorKind::NoSpace);
        let io = io_source(&full).expect("the io::Error is the source");
        assert_eq!(io.raw_os_error(), Some(libc::ENOSPC));
        // a backend's error (classified from a borrowed io::Error) keeps it too, and clones do
        let d = tempfile::tempdir().unwrap();
        let missing = LocalBackend::new(d.path())
            .read("data/ab/abcd")
            .unwrap_err();
        assert_eq!(missing.kind, StorageErrorKind::NotFound);
        let copy = missing.clone();
        let io = io_source(&copy).expect("a clone keeps the source");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            io_source(&Error::from(missing)).map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        // the text is as before: the OS's message is in it once
        assert!(full
            .to_string()
            .starts_with("/srv/repo/x is full (no space left): "));
    }

    #[test]
    fn service_errors_keep_their_cause_and_source() {
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        let err = Error::service_io("ad", ServiceCause::of_path(&e), "cannot list /srv/ad: x", e);
        assert_eq!(err.to_string(), "service ad: cannot list /srv/ad: x");
        assert_eq!(err.kind(), ErrorKind::Service);
        assert!(matches!(
            &err,
            Error::Service {
                cause: ServiceCause::PathUnreadable,
                ..
            }
        ));
        assert_eq!(
            io_source(&err).and_then(std::io::Error::raw_os_error),
            Some(libc::EACCES)
        );
        assert_eq!(
            err.remedy(),
            crate::remedy::service(&ServiceCause::PathUnreadable, "ad")
        );
    }

    #[test]
    fn kinds_serialize_as_the_alert_causes() {
        use ErrorKind as K;
        for k in [
            K::Usage,
            K::Busy,
            K::Key,
            K::Service,
            K::StorageNotFound,
            K::Unreachable,
            K::LogonFailure,
            K::ShareNotFound,
            K::AccessDenied,
            K::NoSpace,
            K::Disconnected,
            K::Io,
            K::InsecureTransport,
            K::Damage,
            K::Failed,
        ] {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
        }
        assert_eq!(K::InsecureTransport.name(), "insecure_transport");
        assert_eq!(K::StorageNotFound.name(), "storage_not_found");
    }

    #[test]
    fn damage_is_placed_only_by_its_reader() {
        let unplaced = Error::corrupt("the target's copy at x", "bad");
        assert!(matches!(
            unplaced,
            Error::Corrupt {
                side: CopySide::Unknown,
                ..
            }
        ));
        let placed = unplaced.on_copy(CopySide::Target);
        assert!(matches!(
            placed,
            Error::Corrupt {
                side: CopySide::Target,
                ..
            }
        ));
        // a side already set is kept
        let kept = placed.on_copy(CopySide::Internal);
        assert!(matches!(
            kept,
            Error::Corrupt {
                side: CopySide::Target,
                ..
            }
        ));
        assert_eq!(
            kept.to_string(),
            "corrupt object the target's copy at x: bad"
        );
    }
}
