//! What a writer job does first: release the services a backup that died left prepared
//! ([`crate::capture::pending`]), with an alert for each.

use super::Context;
use crate::jobs::JobKind;

impl Context<'_> {
    /// Run the release hooks a dead backup left pending (the writer lease is held), raise an
    /// alert naming each service and tell the sink. Problems only warn: the job goes on.
    pub(super) fn release_leftovers(&self) {
        let local = self.local();
        let errors = match crate::capture::pending::release_leftovers(&local) {
            Ok(e) => e,
            Err(e) => {
                self.sink.warn(&format!(
                    "services left prepared by a dead backup: {e}; {}",
                    e.remedy()
                ));
                return;
            }
        };
        for e in errors {
            self.sink.warn(&e.to_string());
            let d = crate::jobs::catalogue::diagnose(JobKind::Backup, &e);
            match crate::jobs::raise_alert(&local, &d, false) {
                Ok((_, warnings)) => warnings.iter().for_each(|w| self.sink.warn(w)),
                Err(x) => self.sink.warn(&format!("alert not raised: {x}")),
            }
        }
    }
}
