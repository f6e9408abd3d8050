//! `cairn jobs`: the job history, newest first.

use super::{output, Global};
use cairn::jobs::History;
use cairn::Result;
use clap::Args;

/// Jobs options.
#[derive(Args, Debug)]
pub struct JobsArgs {
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// How many jobs at most.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `cairn jobs`.
pub fn run(g: &Global, a: JobsArgs) -> Result<()> {
    let list = History::new(&g.controller()?.local()).list(a.limit)?;
    if a.json {
        output::json(&list);
        return Ok(());
    }
    if list.is_empty() {
        println!("no jobs yet");
    }
    for j in &list {
        let dur = j
            .duration_ms
            .map(|d| format!("{:.1}s", d as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let state = output::name_of(&j.state);
        println!(
            "{}  {:<8} {:<11} {:>8}  read {:>10} stored {:>10} exported {:>10}{}",
            j.id.as_str(),
            j.kind,
            state,
            dur,
            output::size(j.bytes_read),
            output::size(j.bytes_stored),
            output::size(j.bytes_exported),
            j.backup
                .as_ref()
                .map(|b| format!("  backup {}", output::escape(b)))
                .unwrap_or_default()
        );
        if let Some(e) = &j.error {
            println!("    error: {}", output::escape(e));
        }
        if let Some(r) = &j.remedy {
            println!("    what to do: {}", output::escape(r));
        }
        const SHOWN: usize = 5;
        for w in j.warnings.iter().take(SHOWN) {
            println!("    warning: {}", output::escape(w));
        }
        if j.warnings.len() > SHOWN {
            println!(
                "    ... {} warnings in all (`cairn jobs --json` lists them)",
                j.warnings.len()
            );
        }
    }
    Ok(())
}
