//! What an object store's refusal means, for the operator: the failure's kind and a detail that
//! names the cause and what to change.

use super::Provider;
use crate::error::{StorageError, StorageErrorKind};

/// The error's message and its sources' (the server's answer is in a source).
fn text(e: &object_store::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// A missing object.
pub(super) fn not_found(provider: Provider, location: String) -> StorageError {
    StorageError::new(StorageErrorKind::NotFound, location, "no such object")
        .at_store(provider.store_kind())
}

/// Codes the stores answer when the key or its signature is wrong (not when the key is right
/// but may not do this).
const BAD_KEY: [&str; 7] = [
    // Azurite answers a wrong shared key with AuthorizationFailure and this message
    "failed to authenticate the request",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthenticationFailed",
    "InvalidSecurity",
    "ExpiredToken",
    "InvalidToken",
];

const NO_BUCKET: [&str; 3] = ["NoSuchBucket", "ContainerNotFound", "ResourceNotFound"];

/// Classify `e`, met at `location` (which names the object).
pub(super) fn classify(
    provider: Provider,
    location: String,
    e: &object_store::Error,
) -> StorageError {
    let msg = text(e);
    let (what, key, place) = match provider {
        Provider::S3 => (
            "bucket",
            "access key id (--username) or secret key (--password-file)",
            "s3://BUCKET[/PREFIX]",
        ),
        Provider::Azure => (
            "container",
            "account key (--password-file)",
            "az://ACCOUNT/CONTAINER[/PREFIX]",
        ),
    };
    let (kind, detail) = if BAD_KEY.iter().any(|c| msg.contains(c))
        || matches!(e, object_store::Error::Unauthenticated { .. })
    {
        (
            StorageErrorKind::LogonFailure,
            format!("the store refused the {key}: the secret, key or its signature is wrong; set the right ones with `cairn target set {place} ... --password-file FILE` ({msg})"),
        )
    } else if NO_BUCKET.iter().any(|c| msg.contains(c)) {
        (
            StorageErrorKind::ShareNotFound,
            format!("no such {what}: create it (or fix the URL with `cairn target set {place}`) ({msg})"),
        )
    } else if let object_store::Error::NotFound { .. } = e {
        (
            StorageErrorKind::NotFound,
            format!("no such object ({msg})"),
        )
    } else if let object_store::Error::PermissionDenied { .. } = e {
        (
            StorageErrorKind::AccessDenied,
            format!("the key is valid but may not do this: grant it read, write, list and delete on the {what} and prefix (docs/STORAGE.md lists the minimal policy) ({msg})"),
        )
    } else if matches!(
        e,
        object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }
    ) {
        (
            StorageErrorKind::Io,
            format!("another writer changed the object while this one was writing it, and its version was kept: run the command again ({msg})"),
        )
    } else if msg.contains("QuotaExceeded") || msg.contains("InsufficientStorage") {
        (StorageErrorKind::NoSpace, msg)
    } else if let Some(kind) = transport(e) {
        let detail = match kind {
            StorageErrorKind::Unreachable => format!("the store's endpoint cannot be reached: check --endpoint (`cairn target show`), that the service runs and that no firewall blocks it; the backups are safe in the internal copy ({msg})"),
            _ => format!("the connection to the store dropped; the next `cairn export` resumes with what is missing ({msg})"),
        };
        (kind, detail)
    } else {
        (StorageErrorKind::Io, msg)
    };
    StorageError::new(kind, location, detail).at_store(provider.store_kind())
}

/// An OS error met on a connection to the store: as on any storage ([`StorageError::from_io_error`]),
/// except that a connection reset or cut once made is a dropped connection, not an unreachable
/// server.
fn io_kind(io: &std::io::Error) -> StorageErrorKind {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            StorageErrorKind::Disconnected
        }
        k => StorageError::from_io_error("", std::io::Error::new(k, String::new())).kind,
    }
}

/// What the transport's failure behind `e` was, from the typed errors in its source chain (the
/// HTTP client's kind of failure, or the OS error): `None` if it is no transport failure.
fn transport(e: &object_store::Error) -> Option<StorageErrorKind> {
    use object_store::client::HttpErrorKind as H;
    let (mut http, mut os) = (None, None);
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(h) = s.downcast_ref::<object_store::client::HttpError>() {
            http = http.or(Some(h.kind()));
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            os = os.or(Some(io_kind(io)));
        }
        src = s.source();
    }
    match http {
        Some(H::Connect) => Some(StorageErrorKind::Unreachable),
        Some(H::Request | H::Timeout | H::Interrupted | H::Decode) => {
            Some(StorageErrorKind::Disconnected)
        }
        _ => os.filter(|k| !matches!(k, StorageErrorKind::Io | StorageErrorKind::NotFound)),
    }
}
