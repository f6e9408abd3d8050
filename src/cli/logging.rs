//! `--log-format text|json`: how cairn writes its log lines on stderr. `json` writes one JSON
//! object per line (`timestamp`, `level`, `message` and the event's fields), for journald and log
//! shippers: tracing's events, `cairn serve`'s job lines, notes, warnings and the final error.
//! Nothing logged holds a secret: passwords and keys never reach a message (the target's
//! settings print without the password, errors name files, never their content).

use clap::ValueEnum;
use serde_json::{json, Map, Value};
use std::io::Write;

/// The format of log lines on stderr.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The log directive that keeps pavao's credential traces out of every log.
const NO_PASSWORD_TRACE: &str = "pavao::utils=info";

/// Set up tracing's subscriber: level from `CAIRN_LOG` (default `warn`), lines on stderr in
/// `format`.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
        // pavao traces the bytes it hands libsmbclient's authentication callback: the
        // share's password. Whatever CAIRN_LOG asks, those lines are never written.
        .add_directive(NO_PASSWORD_TRACE.parse().unwrap_or_default());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
        // colours only on a terminal: logs and captured stderr carry no escape sequences
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .init(),
    }
}

/// Write one JSON log line on stderr: `level`, `message` and `fields` (an object).
pub fn json_line(level: &str, message: &str, fields: Value) {
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    line.insert("level".into(), json!(level));
    line.insert("message".into(), json!(message));
    if let Value::Object(f) = fields {
        line.extend(f);
    }
    let text = Value::Object(line).to_string();
    // one write per line, so concurrent writers never interleave within a line
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{text}\n").as_bytes());
}
