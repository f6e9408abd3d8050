//! `cairn alerts`: the active alerts (or all of them) with what to do.

use super::{output, Global};
use cairn::jobs::Alerts;
use cairn::Result;
use clap::Args;

/// Alerts options.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Cleared alerts too.
    #[arg(long)]
    pub all: bool,
}

/// `cairn alerts`.
pub fn run(g: &Global, a: AlertsArgs) -> Result<()> {
    let al = Alerts::new(&g.controller()?.local());
    let list = if a.all { al.all()? } else { al.active()? };
    if a.json {
        output::json(&list);
        return Ok(());
    }
    if list.is_empty() {
        println!("no {}alerts", if a.all { "" } else { "active " });
    }
    for x in &list {
        let sev = output::name_of(&x.severity);
        let state = output::name_of(&x.state);
        println!(
            "[{sev}] {} {} ({}, {} job, raised {}{}): {}",
            output::escape(&x.id),
            output::escape(&x.subject),
            state,
            x.kind,
            x.raised.to_rfc3339(),
            if x.count > 1 {
                format!(", {} times", x.count)
            } else {
                String::new()
            },
            output::escape(&x.message)
        );
        println!("    what to do: {}", output::escape(&x.remedy));
    }
    Ok(())
}
