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
pub(super) fn not_found(location: String) -> StorageError {
    StorageError::new(StorageErrorKind::NotFound, location, "no such object")
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
    } else if unreachable(&msg) {
        (
            StorageErrorKind::Unreachable,
            format!("the store's endpoint cannot be reached: check --endpoint (`cairn target show`), that the service runs and that no firewall blocks it; the backups are safe in the internal copy ({msg})"),
        )
    } else if msg.contains("QuotaExceeded") || msg.contains("InsufficientStorage") {
        (StorageErrorKind::NoSpace, msg)
    } else if msg.contains("error sending request")
        || msg.contains("error decoding response")
        || msg.contains("timed out")
    {
        (
            StorageErrorKind::Disconnected,
            format!("the connection to the store dropped (after retries); the next `cairn export` resumes with what is missing ({msg})"),
        )
    } else {
        (StorageErrorKind::Io, msg)
    };
    StorageError::new(kind, location, detail)
}

fn unreachable(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    [
        "connection refused",
        "dns error",
        "failed to lookup",
        "no route to host",
        "network is unreachable",
        "tcp connect error",
        "client error (connect)",
    ]
    .iter()
    .any(|s| m.contains(s))
}
