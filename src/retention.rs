//! Retention policy: which backups to keep and which to forget. Pure: no I/O.
//!
//! A backup is kept when any of these holds:
//! - it is the newest complete backup (never forgotten, whatever the policy);
//! - it is one of the `keep_last` newest complete backups;
//! - it is younger than `keep_within` (a backup dated in the future counts as young).
//!
//! Incomplete backups (not restorable on their own) count for `keep_within` only.

use crate::{Error, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The retention policy. With both fields `None`, only the newest complete backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Keep every backup younger than this.
    pub keep_within: Option<Duration>,
    /// Keep this many newest complete backups, whatever their age.
    pub keep_last: Option<usize>,
}

/// A backup as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The backup's id.
    pub id: String,
    /// When it was taken.
    pub time: DateTime<Utc>,
    /// Whether it is complete (restorable on its own).
    pub complete: bool,
}

/// Why a backup is kept, or that it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The newest complete backup.
    KeepNewest,
    /// One of the `keep_last` newest complete backups.
    KeepLast,
    /// Younger than `keep_within`.
    KeepWithin,
    /// Outside the policy: delete it.
    Forget,
}

impl Verdict {
    /// Whether the backup stays.
    pub fn keeps(self) -> bool {
        self != Verdict::Forget
    }
}

/// Decide each backup's fate. The result is in the order of `backups`.
pub fn decide(
    backups: &[Candidate],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<(String, Verdict)> {
    let mut complete: Vec<&Candidate> = backups.iter().filter(|b| b.complete).collect();
    // Newest first; ties broken by id, which sorts by time too.
    complete.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
    let newest = complete.first().map(|b| b.id.as_str());
    let last_n = policy.keep_last.unwrap_or(0);
    let in_last: Vec<&str> = complete
        .iter()
        .take(last_n)
        .map(|b| b.id.as_str())
        .collect();
    backups
        .iter()
        .map(|b| {
            let young = policy.keep_within.is_some_and(|w| {
                let age = now.signed_duration_since(b.time);
                age.to_std().map_or(true, |age| age < w) // negative age: in the future, keep
            });
            let v = if b.complete && Some(b.id.as_str()) == newest {
                Verdict::KeepNewest
            } else if b.complete && in_last.contains(&b.id.as_str()) {
                Verdict::KeepLast
            } else if young {
                Verdict::KeepWithin
            } else {
                Verdict::Forget
            };
            (b.id.clone(), v)
        })
        .collect()
}

/// Parse a duration such as `30m`, `12h`, `7d`, `2w` or `1d12h` (units s, m, h, d, w).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = |why: &str| {
        Error::usage(
            format!("invalid duration {s:?}: {why}"),
            "give a number and a unit (s, m, h, d, w), for example 30m, 12h, 7d, 2w or 1d12h",
        )
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad(&format!("unknown unit {c:?}"))),
        };
        if digits.is_empty() {
            return Err(bad("a unit without a number"));
        }
        let n: u64 = digits.parse().map_err(|_| bad("the number is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= 100 * 365 * 86_400)
            .ok_or_else(|| bad("longer than 100 years"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad("the number has no unit"));
    }
    Ok(Duration::from_secs(total))
}

/// Format a duration the way [`parse_duration`] reads it (`12h`, `7d`, `1d12h`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [
        ("w", 7 * 86_400),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
        ("s", 1),
    ] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn at(h_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::seconds(h_ago * H)
    }

    fn b(id: &str, h_ago: i64, complete: bool, now: DateTime<Utc>) -> Candidate {
        Candidate {
            id: id.into(),
            time: at(h_ago, now),
            complete,
        }
    }

    fn kept(v: &[(String, Verdict)]) -> Vec<&str> {
        v.iter()
            .filter(|(_, v)| v.keeps())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    #[test]
    fn keep_within_keeps_young_and_forgets_old_but_never_the_newest_complete() {
        let now = Utc::now();
        let p = Policy {
            keep_within: Some(Duration::from_secs(7 * 24 * 3600)),
            keep_last: None,
        };
        let v = decide(
            &[b("old", 24 * 10, true, now), b("young", 24, true, now)],
            &p,
            now,
        );
        assert_eq!(kept(&v), ["young"]);
        // Everything old: the newest complete one stays, an old incomplete newer one goes.
        let v = decide(
            &[
                b("a", 24 * 30, true, now),
                b("b", 24 * 20, true, now),
                b("c", 24 * 9, false, now),
            ],
            &p,
            now,
        );
        assert_eq!(
            v,
            vec![
                ("a".into(), Verdict::Forget),
                ("b".into(), Verdict::KeepNewest),
                ("c".into(), Verdict::Forget)
            ]
        );
    }

    #[test]
    fn keep_last_keeps_n_newest_complete_regardless_of_age() {
        let now = Utc::now();
        let p = Policy {
            keep_within: None,
            keep_last: Some(2),
        };
        let all = [
            b("1", 500, true, now),
            b("2", 400, true, now),
            b("3", 300, false, now),
            b("4", 200, true, now),
        ];
        assert_eq!(kept(&decide(&all, &p, now)), ["2", "4"]);
        let p1 = Policy {
            keep_within: None,
            keep_last: Some(1),
        };
        assert_eq!(kept(&decide(&all, &p1, now)), ["4"]);
        // keep_last 0 still keeps the newest complete backup.
        let p0 = Policy {
            keep_within: None,
            keep_last: Some(0),
        };
        assert_eq!(kept(&decide(&all, &p0, now)), ["4"]);
        // Both rules: the union.
        let both = Policy {
            keep_within: Some(Duration::from_secs(350 * 3600)),
            keep_last: Some(1),
        };
        assert_eq!(kept(&decide(&all, &both, now)), ["3", "4"]);
    }

    #[test]
    fn edge_cases() {
        let now = Utc::now();
        assert!(decide(&[], &Policy::default(), now).is_empty());
        // Only incomplete backups: nothing is "newest complete", old ones go.
        let p = Policy {
            keep_within: Some(Duration::from_secs(3600)),
            keep_last: Some(5),
        };
        assert_eq!(
            kept(&decide(
                &[b("x", 2, false, now), b("y", 0, false, now)],
                &p,
                now
            )),
            ["y"]
        );
        // A backup from the future (clock skew) is kept as young.
        let fut = Candidate {
            id: "f".into(),
            time: now + chrono::Duration::hours(5),
            complete: false,
        };
        assert_eq!(kept(&decide(&[fut], &p, now)), ["f"]);
        // Exactly at the boundary: no longer within.
        let edge = Policy {
            keep_within: Some(Duration::from_secs(3600)),
            keep_last: None,
        };
        assert_eq!(
            kept(&decide(&[b("e", 1, false, now)], &edge, now)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(
            parse_duration("12h").unwrap(),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_duration("1d12h").unwrap(),
            Duration::from_secs(36 * 3600)
        );
        for bad in [
            "",
            "12",
            "h",
            "7x",
            "-1d",
            "1.5h",
            "99999999999999999999d",
            "6000w",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(
                e.remedy().contains("12h"),
                "{bad}: the remedy gives an example"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(36 * 3600)), "1d12h");
        assert_eq!(format_duration(Duration::from_secs(14 * 86_400)), "2w");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
