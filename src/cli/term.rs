//! The terminal as the operations' sink.

use super::output;
use cairn::Error;

/// The terminal as the operations' sink: a progress bar per phase, notes and warnings on stderr
/// (escaped); with `log`, a line as each job starts and ends (`cairn serve`); with `json`
/// (`--log-format json`), every such line is one JSON object and there is no bar.
pub struct Term {
    /// `--quiet`: no bar, no notes.
    pub quiet: bool,
    /// Log each job's start and end.
    pub log: bool,
    /// Lines as JSON objects (`--log-format json`).
    pub json: bool,
}

impl Term {
    /// One log line on stderr: `message` as text, or a JSON object with `fields`.
    pub fn line(&self, level: &str, message: &str, fields: serde_json::Value) {
        if self.json {
            super::logging::json_line(level, message, fields);
        } else {
            eprintln!("{}", output::escape(message));
        }
    }
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
            self.quiet || self.log || self.json,
        )))
    }

    fn note(&self, text: &str) {
        match (self.quiet, self.json) {
            (true, _) => {}
            (false, true) => super::logging::json_line("INFO", text, serde_json::json!({})),
            (false, false) => eprintln!("note: {}", output::escape(text)),
        }
    }

    fn warn(&self, text: &str) {
        if self.json {
            super::logging::json_line("WARN", text, serde_json::json!({}));
        } else {
            eprintln!("warning: {}", output::escape(text));
        }
    }

    fn started(&self, job: &cairn::jobs::JobRecord) {
        if self.log && self.json {
            let fields = serde_json::json!({"job": job.id.as_str(), "kind": job.kind.to_string(), "event": "started"});
            super::logging::json_line("INFO", &format!("{} job starting", job.kind), fields);
        } else if self.log {
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
        if self.json {
            let mut fields =
                serde_json::json!({"job": job.id.as_str(), "kind": job.kind.to_string()});
            let (level, message) = match error {
                None => ("INFO", format!("{} job succeeded", job.kind)),
                Some(e) => {
                    fields["remedy"] = serde_json::json!(e.remedy());
                    ("ERROR", format!("{} job failed: {e}", job.kind))
                }
            };
            fields["event"] = serde_json::json!(if error.is_some() {
                "failed"
            } else {
                "succeeded"
            });
            super::logging::json_line(level, &message, fields);
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
