//! The sizing rule of the appliance's backup documentation: the location must hold one full
//! backup plus the growth of every backup the retention keeps. With the defaults (a backup every
//! 12 hours, kept 7 days) that is one full plus 14 backups' worth of growth.

use std::time::Duration;

/// How many backups the schedule keeps: one per interval over the retention window (rounded
/// up), or `keep_last` when that is more.
pub fn backups_kept(
    backup_every: Duration,
    keep_within: Duration,
    keep_last: Option<usize>,
) -> u64 {
    let every = backup_every.as_secs().max(1);
    let by_age = keep_within.as_secs().div_ceil(every);
    by_age.max(keep_last.unwrap_or(0) as u64)
}

/// The observed growth per backup: the mean of the new bytes of the last `window` backups that
/// are not a repository's first (whose new bytes are the whole data). `None` before there is one.
pub fn growth(new_bytes: &[u64], window: u64) -> Option<u64> {
    let window = usize::try_from(window.max(1)).unwrap_or(usize::MAX);
    let recent = &new_bytes[new_bytes.len().saturating_sub(window)..];
    if recent.is_empty() {
        return None;
    }
    let sum: u128 = recent.iter().map(|&b| u128::from(b)).sum();
    u64::try_from(sum / recent.len() as u128).ok()
}

/// The space the location needs in all: one full (`full`) plus `kept` backups of `growth`.
pub fn needed(full: u64, growth: u64, kept: u64) -> u64 {
    full.saturating_add(growth.saturating_mul(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn the_documented_defaults_keep_fourteen_backups() {
        let kept = backups_kept(
            Duration::from_secs(12 * H),
            Duration::from_secs(7 * 24 * H),
            None,
        );
        assert_eq!(kept, 14);
        // one full of 10 GiB plus 14 backups of 100 MiB
        assert_eq!(
            needed(10 << 30, 100 << 20, kept),
            (10u64 << 30) + 14 * (100 << 20)
        );
    }

    #[test]
    fn keep_last_and_odd_intervals_round_up() {
        let day = Duration::from_secs(24 * H);
        assert_eq!(backups_kept(Duration::from_secs(5 * H), day, None), 5);
        assert_eq!(backups_kept(day, day * 7, Some(30)), 30);
        assert_eq!(backups_kept(Duration::ZERO, day, None), 24 * H);
    }

    #[test]
    fn growth_is_the_mean_of_the_recent_backups() {
        assert_eq!(growth(&[], 14), None);
        assert_eq!(growth(&[10, 20, 30], 14), Some(20));
        // only the last `window` count
        assert_eq!(growth(&[1000, 10, 20], 2), Some(15));
        assert_eq!(growth(&[u64::MAX, u64::MAX], 2), Some(u64::MAX));
        assert_eq!(needed(u64::MAX, 1, 1), u64::MAX);
    }
}
