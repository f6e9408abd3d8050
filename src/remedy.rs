//! The operator's remedy for each kind of failure, defined once.
//!
//! [`Error::remedy`] and the alert catalogue ([`crate::jobs::catalogue`]) both take their text
//! from here; the catalogue only appends the step that runs the failed job again. A remedy is
//! chosen by the error's kind ([`ErrorKind`], [`StorageErrorKind`], [`ServiceCause`]) and, for
//! the causes that differ between the two copies, by the copy ([`CopySide`]) the failure is on.
//! Usage errors and other failures carry their own remedy (it depends on what was asked).

#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::{CopySide, Error, ServiceCause, StorageErrorKind, StoreKind};

/// Stored data is damaged (corruption, or an object too large to be honest).
pub const DAMAGE: &str = "stored backup data is damaged (or was planted): run `cairn verify` (and `cairn verify --from-target`) to list the damaged backups and files; `cairn export` heals the target from an intact internal copy and `cairn recover` rebuilds the internal copy from an intact target; check the disk's health (SMART, dmesg)";

/// Another job holds the repository.
pub const BUSY: &str = "wait for that job to finish (`cairn jobs` shows it); a job whose process died is taken over automatically";

/// The identity cannot decrypt.
pub const WRONG_IDENTITY: &str = "pass the identity file (--identity or CAIRN_IDENTITY_FILE) whose public key is one of those recipients; `cairn key list` shows which recipients each backup was written for";

const SHARE_ACCESS_DENIED: &str = "the share's user may not write there: give it read and write access to the share and the path, or choose another path with `cairn target set`";
const REPOSITORY_ACCESS_DENIED: &str = "cairn may not read or write the repository: run it as the user that owns --repo (usually root) or fix the ownership of the repository directory";
const SHARE_FULL: &str = "the share is full: free space on it or enlarge its quota, or drop old backups with `cairn prune` (they go from both copies)";
const LOCAL_DISK_FULL: &str = "the controller's disk holding the repository is full, so no new backup can be kept: free space on that file system (`df -h` on --repo), or drop backups outside the retention policy with `cairn prune`";

/// The remedy for `err`, on copy `side` when the caller knows it.
pub fn of(err: &Error, side: CopySide) -> String {
    match err {
        Error::Usage { remedy, .. } | Error::Failed { remedy, .. } => remedy.clone(),
        Error::Busy { .. } => BUSY.into(),
        Error::WrongIdentity { .. } => WRONG_IDENTITY.into(),
        Error::Service { service, cause, .. } => self::service(cause, service),
        Error::Storage(e) => storage_at(e.kind, side, e.store),
        Error::Corrupt { .. } => DAMAGE.into(),
    }
}

/// The remedy for a storage failure of kind `kind` on copy `side`, on a store of kind `store`:
/// an object store's causes (endpoint, key, bucket or container) are worded for it.
pub fn storage_at(kind: StorageErrorKind, side: CopySide, store: StoreKind) -> String {
    let (name, url, key, place) = match store {
        StoreKind::Share => return storage(kind, side),
        StoreKind::S3 => (
            "S3 store",
            "s3://BUCKET[/PREFIX]",
            "the access key id (--username) and secret key (--password-file), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            "bucket",
        ),
        StoreKind::Azure => (
            "Azure Blob store",
            "az://ACCOUNT/CONTAINER[/PREFIX]",
            "the storage account's key (--password-file, base64 as the portal shows it), or AZURE_STORAGE_ACCOUNT_KEY",
            "container",
        ),
    };
    match kind {
        StorageErrorKind::Unreachable => format!("the {name}'s endpoint cannot be reached: check --endpoint and --region in `cairn target show`, that the service runs, and that DNS, proxy and firewall let this controller reach it; the backups are safe in the internal copy"),
        StorageErrorKind::LogonFailure => format!("the {name} refused the key: set {key} with `cairn target set {url} ...` (check the key is active and not expired)"),
        StorageErrorKind::ShareNotFound => format!("the {place} does not exist: create it, or fix its name in the URL with `cairn target set {url}`"),
        StorageErrorKind::AccessDenied if side != CopySide::Internal => format!("the key may not do this: grant it read, write, list and delete on the {place} and its prefix (docs/STORAGE.md lists the minimal permissions), or use another key with `cairn target set {url}`"),
        StorageErrorKind::NoSpace if side != CopySide::Internal => format!("the {place}'s quota is reached: raise it or drop old backups with `cairn prune` (they go from both copies)"),
        StorageErrorKind::Disconnected => format!("the connection to the {name} dropped: check the network and the store's status; the next `cairn export` resumes (only missing objects are sent)"),
        _ => storage(kind, side),
    }
}

/// The remedy for a storage failure of kind `kind` on copy `side`, on a share or local directory.
pub fn storage(kind: StorageErrorKind, side: CopySide) -> String {
    let either = |target: &str, internal: &str| match side {
        CopySide::Target => target.to_string(),
        CopySide::Internal => internal.to_string(),
        CopySide::Unknown => {
            format!("if it is the target: {target}; if it is the repository: {internal}")
        }
    };
    match kind {
        StorageErrorKind::NotFound => {
            "the object is missing: run `cairn verify` to see which backups it hurts, then `cairn export` (or `cairn recover`) to heal it from the other copy".into()
        }
        StorageErrorKind::Unreachable => {
            "the share cannot be reached: check the address in `cairn target show`, that the SMB server is running and listens on the port (445 unless the URL gives one), and that no firewall between this controller and the server blocks it; the backups are safe in the internal copy".into()
        }
        StorageErrorKind::LogonFailure => {
            "the share refused the username or password: set the right ones with `cairn target set smb://HOST/SHARE/PATH --username USER --password-file FILE` (check the account is not locked or expired on the server)".into()
        }
        StorageErrorKind::ShareNotFound => {
            "the share or the path on it does not exist: check the share name and path (`cairn target show`), create the folder or fix the URL with `cairn target set`".into()
        }
        StorageErrorKind::AccessDenied => either(SHARE_ACCESS_DENIED, REPOSITORY_ACCESS_DENIED),
        StorageErrorKind::NoSpace => either(SHARE_FULL, LOCAL_DISK_FULL),
        StorageErrorKind::Disconnected => {
            "the connection to the share dropped mid-transfer: check the network and the server's log; the next `cairn export` resumes (only missing objects are sent)".into()
        }
        StorageErrorKind::Io => "check the storage's health and the system log, then retry".into(),
        StorageErrorKind::Insecure => {
            "enable SMB 3 encryption on the server (Samba: `server smb encrypt = required` or `desired` in smb.conf; Windows: `Set-SmbShare -EncryptData $true`), or, on a network you trust, accept plaintext SMB with `--allow-unencrypted` (on `cairn target set URL ...` or `cairn recover ...`)".into()
        }
        StorageErrorKind::TooLarge => DAMAGE.into(),
    }
}

/// The remedy for service `service` failing for `cause`.
pub fn service(cause: &ServiceCause, service: &str) -> String {
    match cause {
        ServiceCause::PathMissing => format!(
            "the data of service {service} is not where it is configured: restore or remount it, or point the service at its real location (`cairn service remove {service}` then `cairn service add {service} --path DIR`; `cairn service list` shows the current one)"
        ),
        ServiceCause::PathUnreadable => format!(
            "cairn cannot read all of service {service}'s data: run cairn as a user that can read every file under its path (usually root; it runs as uid {}), or fix the files' ownership and modes",
            rustix::process::geteuid().as_raw()
        ),
        ServiceCause::CommandFailed => format!(
            "service {service}'s command failed: run it by hand (`cairn service list` shows it; `cairn jobs` shows the end of its error output) and fix what its error output says: it must exit 0 and write the data to standard output; or remove the service with `cairn service remove {service}`"
        ),
        ServiceCause::RestoreCommandFailed { restored_at } => format!(
            "the data is restored at {}; fix what the command's error output says, then run service {service}'s restore command by hand with that file as its standard input (`cairn service list` shows the command)",
            restored_at.display()
        ),
        ServiceCause::PrepareFailed => format!(
            "service {service}'s prepare hook failed, so nothing was captured and every prepared service was released: run the hook by hand (`cairn service list --json` shows it; `cairn jobs` shows the end of its error output) and fix what it says (it must exit 0), or drop it with `cairn service set {service} --prepare ''`"
        ),
        ServiceCause::PrepareTimedOut => format!(
            "service {service}'s prepare hook did not finish within its time limit and was killed with its process group: run it by hand to see what it waits for, or give it longer with `cairn service set {service} --timeout 30m`"
        ),
        ServiceCause::ReleaseFailed => format!(
            "service {service}'s release hook failed, so the service may still be paused or its snapshot mounted: run the release by hand now (`cairn service list --json` shows it; `cairn jobs` shows the end of its error output), then fix the hook (`cairn service set {service} --release CMD`)"
        ),
        ServiceCause::ReleasedAfterCrash => format!(
            "cairn stopped between service {service}'s prepare and its release (a crash, a kill or a power cut); its release hook ran at cairn's next start: check that the service runs normally again, and see why cairn stopped (`cairn jobs`, the system log)"
        ),
        ServiceCause::Other => format!(
            "reading service {service}'s data failed: check the disk under its path and the system log (dmesg), or correct the service (`cairn service remove {service}` then `cairn service add {service} ...`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_store_remedies_speak_of_their_store_not_of_a_share() {
        use StorageErrorKind as K;
        let kinds = [
            K::Unreachable,
            K::LogonFailure,
            K::ShareNotFound,
            K::AccessDenied,
            K::Disconnected,
        ];
        for k in kinds {
            let smb = storage_at(k, CopySide::Target, StoreKind::Share);
            let s3 = storage_at(k, CopySide::Target, StoreKind::S3);
            let az = storage_at(k, CopySide::Target, StoreKind::Azure);
            assert!(smb.contains("share"), "{k:?}: {smb}");
            for (r, words) in [
                (&s3, ["S3", "s3://", "bucket"]),
                (&az, ["Azure", "az://", "container"]),
            ] {
                assert!(!r.contains("share") && !r.contains("SMB"), "{k:?}: {r}");
                assert!(words.iter().any(|w| r.contains(w)), "{k:?}: {r}");
            }
        }
        assert!(storage_at(K::LogonFailure, CopySide::Target, StoreKind::S3).contains("--username"));
        assert!(
            storage_at(K::LogonFailure, CopySide::Target, StoreKind::Azure)
                .contains("account's key")
        );
        assert!(storage_at(K::Unreachable, CopySide::Target, StoreKind::S3).contains("--endpoint"));
        assert!(
            storage_at(K::ShareNotFound, CopySide::Target, StoreKind::Azure)
                .contains("container does not exist")
        );
    }
}
