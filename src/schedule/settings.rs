//! Changing and showing the schedule's settings (`cairn schedule set|show`, the API later), and
//! the retention policy a manual prune applies.

use super::ScheduleConfig;
use crate::retention::{format_duration, parse_duration, Policy};
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// A change to the settings as an operator writes it: durations as text (`12h`, `7d`); `None`
/// keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChange {
    /// Time between backups.
    pub backup_every: Option<String>,
    /// Time in which every pack is verified once.
    pub verify_every: Option<String>,
    /// Keep backups younger than this.
    pub keep_within: Option<String>,
    /// Keep this many newest backups whatever their age.
    pub keep_last: Option<usize>,
}

/// The settings as shown to an operator (durations as text). Fields in alphabetical order: the
/// JSON document lists them so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleSummary {
    /// Time between backups.
    pub backup_every: String,
    /// Retention: how many newest backups are kept whatever their age.
    pub keep_last: Option<usize>,
    /// Retention: backups younger than this are kept.
    pub keep_within: String,
    /// Time in which every pack is verified once.
    pub verify_every: String,
}

impl ScheduleConfig {
    /// Apply `change` (every duration parsed before anything changes).
    pub fn apply(&mut self, change: &ScheduleChange) -> Result<()> {
        let parse = |d: &Option<String>| d.as_deref().map(parse_duration).transpose();
        let (backup, verify, within) = (
            parse(&change.backup_every)?,
            parse(&change.verify_every)?,
            parse(&change.keep_within)?,
        );
        if let Some(d) = backup {
            self.backup_every = d;
        }
        if let Some(d) = verify {
            self.verify_every = d;
        }
        if let Some(d) = within {
            self.keep_within = d;
        }
        if change.keep_last.is_some() {
            self.keep_last = change.keep_last;
        }
        Ok(())
    }

    /// Load the settings under `local_dir`, apply `change` and save them.
    pub fn update(local_dir: &Path, change: &ScheduleChange) -> Result<ScheduleConfig> {
        let mut cfg = ScheduleConfig::load(local_dir)?;
        cfg.apply(change)?;
        cfg.save(local_dir)?;
        Ok(cfg)
    }

    /// The settings an operator sees.
    pub fn summary(&self) -> ScheduleSummary {
        ScheduleSummary {
            backup_every: format_duration(self.backup_every),
            keep_last: self.keep_last,
            keep_within: format_duration(self.keep_within),
            verify_every: format_duration(self.verify_every),
        }
    }
}

/// The retention policy of a manual prune: the one given (`keep_within` as text), or the
/// schedule's under `local_dir` when neither part is given.
pub fn retention_policy(
    local_dir: &Path,
    keep_within: Option<&str>,
    keep_last: Option<usize>,
) -> Result<Policy> {
    if keep_within.is_none() && keep_last.is_none() {
        return Ok(ScheduleConfig::load(local_dir)?.retention());
    }
    Ok(Policy {
        keep_within: keep_within.map(parse_duration).transpose()?,
        keep_last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_change_sets_what_it_names_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let change = ScheduleChange {
            backup_every: Some("6h".into()),
            keep_last: Some(3),
            ..Default::default()
        };
        let cfg = ScheduleConfig::update(dir.path(), &change).unwrap();
        assert_eq!(cfg.backup_every, Duration::from_secs(6 * 3600));
        assert_eq!(cfg.keep_last, Some(3));
        assert_eq!(cfg.verify_every, ScheduleConfig::default().verify_every);
        assert_eq!(ScheduleConfig::load(dir.path()).unwrap(), cfg);
        let shown = serde_json::to_string(&cfg.summary()).unwrap();
        assert_eq!(
            shown,
            r#"{"backup_every":"6h","keep_last":3,"keep_within":"1w","verify_every":"1w"}"#
        );
    }

    #[test]
    fn a_bad_duration_changes_nothing() {
        let mut cfg = ScheduleConfig::default();
        let change = ScheduleChange {
            backup_every: Some("1h".into()),
            keep_within: Some("soon".into()),
            ..Default::default()
        };
        assert!(cfg.apply(&change).is_err());
        assert_eq!(cfg, ScheduleConfig::default());
    }

    #[test]
    fn a_manual_prune_falls_back_to_the_schedules_retention() {
        let dir = tempfile::tempdir().unwrap();
        let change = ScheduleChange {
            keep_within: Some("3d".into()),
            ..Default::default()
        };
        ScheduleConfig::update(dir.path(), &change).unwrap();
        let p = retention_policy(dir.path(), None, None).unwrap();
        assert_eq!(p.keep_within, Some(Duration::from_secs(3 * 86_400)));
        let p = retention_policy(dir.path(), None, Some(2)).unwrap();
        assert_eq!((p.keep_within, p.keep_last), (None, Some(2)));
    }
}
