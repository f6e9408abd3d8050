//! `cairn jobs`, `alerts`, `notify`, `schedule` and `serve`.

use super::{output, Global};
use cairn::jobs::{Alerts, History, Notifier, Trigger};
use cairn::ops::Cancel;
use cairn::retention::{format_duration, parse_duration};
use cairn::schedule::ScheduleConfig;
use cairn::Result;
use clap::{Args, Subcommand};

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

/// Notify commands.
#[derive(Subcommand, Debug)]
pub enum NotifyCmd {
    /// Run CMD (sh -c) with each alert raised or cleared as one JSON document on stdin.
    ///
    /// Example: cairn notify set --command 'logger -t cairn'
    Set {
        /// The command.
        #[arg(long)]
        command: String,
    },
    /// Show the notifier.
    Show,
    /// Remove the notifier.
    Clear,
}

/// Schedule commands.
#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Set the schedule and retention policy (flags not given keep their value).
    ///
    /// Example: cairn schedule set --backup-every 12h --verify-every 7d --keep-within 7d --keep-last 14
    Set {
        /// Time between backups.
        #[arg(long)]
        backup_every: Option<String>,
        /// Time in which every pack is verified once.
        #[arg(long)]
        verify_every: Option<String>,
        /// Keep backups younger than this.
        #[arg(long)]
        keep_within: Option<String>,
        /// Keep this many newest backups whatever their age.
        #[arg(long)]
        keep_last: Option<usize>,
    },
    /// Show the schedule.
    Show {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn local(g: &Global) -> Result<std::path::PathBuf> {
    Ok(g.controller()?.local())
}

/// `cairn jobs`.
pub fn jobs(g: &Global, a: JobsArgs) -> Result<()> {
    let list = History::new(&local(g)?).list(a.limit)?;
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
        let state = serde_json::to_value(j.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
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

/// `cairn alerts`.
pub fn alerts(g: &Global, a: AlertsArgs) -> Result<()> {
    let al = Alerts::new(&local(g)?);
    let list = if a.all { al.all()? } else { al.active()? };
    if a.json {
        output::json(&list);
        return Ok(());
    }
    if list.is_empty() {
        println!("no {}alerts", if a.all { "" } else { "active " });
    }
    for x in &list {
        let sev = serde_json::to_value(x.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let state = serde_json::to_value(x.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
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

/// `cairn notify`.
pub fn notify(g: &Global, c: NotifyCmd) -> Result<()> {
    let l = local(g)?;
    match c {
        NotifyCmd::Set { command } => Notifier::set(&l, &command),
        NotifyCmd::Clear => Notifier::clear(&l),
        NotifyCmd::Show => {
            match &Notifier::load(&l)?.config().command {
                Some(c) => println!("{}", output::escape(c)),
                None => println!("no notifier; set one with `cairn notify set --command CMD`"),
            }
            Ok(())
        }
    }
}

/// `cairn schedule`.
pub fn schedule(g: &Global, c: ScheduleCmd) -> Result<()> {
    let l = local(g)?;
    let mut cfg = ScheduleConfig::load(&l)?;
    match c {
        ScheduleCmd::Set {
            backup_every,
            verify_every,
            keep_within,
            keep_last,
        } => {
            if let Some(d) = backup_every {
                cfg.backup_every = parse_duration(&d)?;
            }
            if let Some(d) = verify_every {
                cfg.verify_every = parse_duration(&d)?;
            }
            if let Some(d) = keep_within {
                cfg.keep_within = parse_duration(&d)?;
            }
            if keep_last.is_some() {
                cfg.keep_last = keep_last;
            }
            cfg.save(&l)
        }
        ScheduleCmd::Show { json } => {
            let v = serde_json::json!({
                "backup_every": format_duration(cfg.backup_every),
                "verify_every": format_duration(cfg.verify_every),
                "keep_within": format_duration(cfg.keep_within),
                "keep_last": cfg.keep_last,
            });
            if json {
                output::json(&v);
            } else {
                println!(
                    "backup every {}, verify every {}, keep backups within {}{}",
                    v["backup_every"].as_str().unwrap_or(""),
                    v["verify_every"].as_str().unwrap_or(""),
                    v["keep_within"].as_str().unwrap_or(""),
                    cfg.keep_last
                        .map(|n| format!(" and the last {n}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

/// `cairn serve`: the scheduler in the foreground until SIGTERM/SIGINT, which set the
/// operations' cancel token (the running job stops at its next check).
pub fn serve(g: &Global) -> Result<()> {
    let term = super::Term {
        quiet: g.quiet,
        log: true,
    };
    let cancel = Cancel::new();
    let cx = g
        .context(&term)
        .with_trigger(Trigger::Schedule)
        .with_cancel(cancel.clone());
    // (the repository is opened once, here, and the scheduler keeps it)
    let cfg = ScheduleConfig::load(&cx.controller()?.local())?;
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, cancel.flag().clone())
            .map_err(|e| cairn::Error::io("installing the signal handlers", e))?;
    }
    eprintln!(
        "cairn serve: backup every {}, verify every {}, keep within {}; stop with SIGTERM",
        format_duration(cfg.backup_every),
        format_duration(cfg.verify_every),
        format_duration(cfg.keep_within)
    );
    cairn::ops::serve(&cx, &cfg)?;
    eprintln!("cairn serve: stopped");
    Ok(())
}
