//! Coordinated point-in-time capture: the hooks of every service around one backup.
//!
//! 1. [`pending`] records, before anything runs, which services will need a release.
//! 2. [`barrier::Barrier::prepare_all`] runs every service's prepare hook at once and waits for
//!    all of them. Capture begins only when all succeeded; that moment is the backup's point in
//!    time. If one fails or times out, the services already prepared are released and the
//!    backup fails naming that service.
//! 3. The backup engine captures services in parallel and calls [`barrier::Barrier::release`]
//!    as soon as a service's capture ends (successful or not).
//! 4. [`barrier::Barrier::finish`] releases whatever is left (a failed or cancelled backup)
//!    and clears the record. A process that dies before that leaves the record, and the next
//!    writer job runs the releases ([`pending::release_leftovers`]).
//!
//! Hook commands never appear in errors, alerts or notifications (they may hold secrets); the
//! end of a failing hook's error output goes to the job record only.

pub mod barrier;
pub mod hooks;
pub mod pending;

pub use barrier::Barrier;

use crate::service::ServiceDef;
use std::time::Duration;

/// Time limit of each hook when the service sets none: 10 minutes.
pub const DEFAULT_TIMEOUT_S: u64 = 600;

/// The time limit of each of `s`'s hooks.
pub fn limit(s: &ServiceDef) -> Duration {
    Duration::from_secs(s.hook_timeout_s.unwrap_or(DEFAULT_TIMEOUT_S))
}
