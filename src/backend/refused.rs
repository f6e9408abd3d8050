//! A server that refuses a connection for a moment is asked again before cairn calls it
//! unreachable. On a busy host an SMB server can refuse a connection now and accept the next one
//! (smbd forks a process per connection and its listening socket's queue is short; a server that
//! restarts is not listening for a moment), and cairn opens two connections per use of a share
//! (its own SMB 3 NEGOTIATE probe, then libsmbclient's): a refusal at connect (ECONNREFUSED,
//! EAGAIN) is tried again, [`ATTEMPTS`] times in all, with a pause that doubles from
//! [`FIRST_PAUSE`] (under a second in all). Every other error, and a refusal that persists,
//! is returned as it is (a share that is down is reported as unreachable, only a little later).

use std::time::Duration;

/// Attempts in all at a connection that is refused.
pub(crate) const ATTEMPTS: u32 = 5;
/// The pause after the first refusal; it doubles after each.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// Whether `errno` is a refusal at connect that may pass.
pub(crate) fn is_refusal(errno: Option<i32>) -> bool {
    matches!(errno, Some(libc::ECONNREFUSED | libc::EAGAIN))
}

/// `f` until it succeeds, fails otherwise than by a refusal ([`is_refusal`] of `errno`), or was
/// refused [`ATTEMPTS`] times.
pub(crate) fn retry<T, E>(
    mut f: impl FnMut() -> Result<T, E>,
    errno: impl Fn(&E) -> Option<i32>,
) -> Result<T, E> {
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match f() {
            Err(e) if attempt < ATTEMPTS && is_refusal(errno(&e)) => {
                std::thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ECONNREFUSED)
    }

    #[test]
    fn a_refusal_is_tried_again_a_bounded_number_of_times_and_nothing_else_is() {
        let mut calls = 0;
        let r = retry(
            || {
                calls += 1;
                if calls < 3 {
                    Err(refused())
                } else {
                    Ok(calls)
                }
            },
            std::io::Error::raw_os_error,
        );
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let r: Result<(), _> = retry(
            || {
                calls += 1;
                Err(refused())
            },
            std::io::Error::raw_os_error,
        );
        assert!(r.is_err());
        assert_eq!(calls, ATTEMPTS);
        let mut calls = 0;
        let r: Result<(), _> = retry(
            || {
                calls += 1;
                Err(std::io::Error::from_raw_os_error(libc::EACCES))
            },
            std::io::Error::raw_os_error,
        );
        assert!(r.is_err());
        assert_eq!(calls, 1, "a logon failure is not a refusal");
    }
}
