//! Printing: JSON documents, escaped text, human sizes and times, and the progress bar.
//!
//! Every text printer passes what came from outside (file names, warnings, job errors, alert
//! messages, anything decoded from a repository) through [`escape`]: no control character
//! reaches the terminal raw. JSON output is escaped by serde.

use cairn::progress::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// Print one JSON document on stdout.
pub fn json<T: serde::Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into())
    );
}

/// The name a unit enum value (a job state, a severity) has in JSON, for the text listings.
pub fn name_of<T: serde::Serialize>(v: &T) -> String {
    cairn::text::serde_name(v)
}

/// Text with its control characters escaped (see [`cairn::text::escape`]).
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    cairn::text::escape(s)
}

/// Print an error (what went wrong, then what to do) on stderr, escaped.
pub fn error(e: &cairn::Error) {
    eprintln!("error: {}", escape(&e.to_string()));
    eprintln!("  what to do: {}", escape(&e.remedy()));
}

/// Bytes for humans, in binary units (`512 B`, `1.50 KiB`, `4.00 GiB`).
pub fn size(b: u64) -> String {
    cairn::text::size(b)
}

/// Unix milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    cairn::text::rfc3339_ms(ms)
}

/// A progress bar over `p`, shown only on a terminal and without --quiet; stops on drop.
pub struct Bar {
    bar: Option<ProgressBar>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    /// Start a bar labelled `what`.
    pub fn start(what: &str, p: Arc<Progress>, quiet: bool) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Bar {
                bar: None,
                stop,
                thread: None,
            };
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(what.to_string());
        let (b, s) = (bar.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let (files, bytes, total) = p.snapshot();
                if total > 0 {
                    b.set_length(total);
                } else {
                    b.set_length(bytes.max(1));
                }
                b.set_position(bytes);
                b.set_message(format!("{files} files"));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        Bar {
            bar: Some(bar),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
