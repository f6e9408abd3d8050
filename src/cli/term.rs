//! The terminal as the operations' sink.

use super::output;
use cairn::Error;

/// The terminal as the operations' sink: a progress bar per phase, notes and warnings on stderr
/// (escaped); with `log`, a line as each job starts and ends (`cairn serve`).
pub struct Term {
    /// `--quiet`: no bar, no notes.
    pub quiet: bool,
    /// Log each job's start and end.
    pub log: bool,
}

impl cairn::ops::Sink for Term {
    fn phase(
        &self,
        name: &str,
        progress: &std::sync::Arc<cairn::progress::Progress>,
    ) -> Option<cairn::ops::PhaseGuard> {
        Some(Box::new(output::Bar::start(
            name,
            progress.clone(),
            self.quiet || self.log,
        )))
    }

    fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("note: {}", output::escape(text));
        }
    }

    fn warn(&self, text: &str) {
        eprintln!("warning: {}", output::escape(text));
    }

    fn started(&self, job: &cairn::jobs::JobRecord) {
        if self.log {
            eprintln!(
                "{} {} job {} starting",
                chrono::Utc::now().to_rfc3339(),
                job.kind,
                job.id.as_str()
            );
        }
    }

    fn finished(&self, job: &cairn::jobs::JobRecord, error: Option<&Error>) {
        if !self.log {
            return;
        }
        let now = chrono::Utc::now().to_rfc3339();
        match error {
            None => eprintln!("{now} {} job {} succeeded", job.kind, job.id.as_str()),
            Some(e) => eprintln!(
                "{now} {} job {} failed: {}\n    what to do: {}",
                job.kind,
                job.id.as_str(),
                output::escape(&e.to_string()),
                output::escape(&e.remedy())
            ),
        }
    }
}
