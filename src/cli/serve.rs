//! `cairn serve`: the scheduler in the foreground.

use super::Global;
use cairn::jobs::Trigger;
use cairn::ops::Cancel;
use cairn::retention::format_duration;
use cairn::schedule::ScheduleConfig;
use cairn::Result;

/// `cairn serve`: the scheduler in the foreground until SIGTERM/SIGINT, which set the
/// operations' cancel token (the running job stops at its next check).
pub fn run(g: &Global) -> Result<()> {
    let term = super::Term {
        quiet: g.quiet,
        log: true,
        json: g.log_format == super::LogFormat::Json,
    };
    let cancel = Cancel::new();
    let cx = g
        .context(&term)
        .with_trigger(Trigger::Schedule)
        .with_cancel(cancel.clone());
    // (the repository is opened once, here, and the scheduler keeps it)
    let cfg = ScheduleConfig::load(&cx.controller()?.local())?;
    cancel.on_signals(&cairn::ops::SHUTDOWN_SIGNALS)?;
    term.line(
        "INFO",
        &format!(
            "cairn serve: backup every {}, verify every {}, keep within {}; stop with SIGTERM",
            format_duration(cfg.backup_every),
            format_duration(cfg.verify_every),
            format_duration(cfg.keep_within)
        ),
        serde_json::json!({}),
    );
    cairn::ops::serve(&cx, &cfg)?;
    term.line("INFO", "cairn serve: stopped", serde_json::json!({}));
    Ok(())
}
