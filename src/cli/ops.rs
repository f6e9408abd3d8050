//! `cairn jobs`, `alerts`, `notify`, `schedule` and `serve`.

use super::{output, Global};
use cairn::jobs::{Alerts, History, Job, Notifier};
use cairn::progress::Progress;
use cairn::retention::{format_duration, parse_duration};
use cairn::schedule::{self, Action, Done, ScheduleConfig, ScheduleState};
use cairn::{Error, Result};
use clap::{Args, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
                .map(|b| format!("  backup {b}"))
                .unwrap_or_default()
        );
        if let Some(e) = &j.error {
            println!("    error: {e}");
        }
        if let Some(r) = &j.remedy {
            println!("    what to do: {r}");
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
            x.id,
            x.subject,
            state,
            x.kind,
            x.raised.to_rfc3339(),
            if x.count > 1 {
                format!(", {} times", x.count)
            } else {
                String::new()
            },
            x.message
        );
        println!("    what to do: {}", x.remedy);
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
                Some(c) => println!("{c}"),
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

static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

/// `cairn serve`: the scheduler in the foreground until SIGTERM/SIGINT.
pub fn serve(g: &Global) -> Result<()> {
    let ctl = g.controller()?;
    let l = ctl.local();
    let cfg = ScheduleConfig::load(&l)?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let jobs = History::new(&l).list(10_000)?;
    let mut state = ScheduleState::from_history(&jobs, chrono::Utc::now());
    state.export_pending = export_pending(&ctl);
    eprintln!(
        "cairn serve: backup every {}, verify every {}, keep within {}; stop with SIGTERM",
        format_duration(cfg.backup_every),
        format_duration(cfg.verify_every),
        format_duration(cfg.keep_within)
    );
    let progress = Arc::new(Progress::default());
    let watcher = {
        let p = progress.clone();
        std::thread::spawn(move || {
            while !SHUTDOWN.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            p.cancel.store(true, Ordering::SeqCst);
        })
    };
    let mut runner = schedule::JobRunner::new(
        &l,
        |action: &Action, job: &mut Job, _shutdown: &AtomicBool| -> Result<Done> {
            eprintln!(
                "{} {} job {} starting",
                chrono::Utc::now().to_rfc3339(),
                action.kind(),
                job.id().as_str()
            );
            let res = run_action(&ctl, &cfg, action, job, &progress);
            match &res {
                Ok(_) => eprintln!(
                    "{} {} job {} succeeded",
                    chrono::Utc::now().to_rfc3339(),
                    action.kind(),
                    job.id().as_str()
                ),
                Err(e) => eprintln!(
                    "{} {} job {} failed: {e}\n    what to do: {}",
                    chrono::Utc::now().to_rfc3339(),
                    action.kind(),
                    job.id().as_str(),
                    e.remedy()
                ),
            }
            res
        },
    );
    schedule::serve(
        &cfg,
        &mut state,
        &mut runner,
        &schedule::SystemClock,
        &SHUTDOWN,
    );
    SHUTDOWN.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    eprintln!("cairn serve: stopped");
    Ok(())
}

fn export_pending(ctl: &cairn::controller::Controller) -> bool {
    if cairn::target::TargetConfig::load(&ctl.root)
        .ok()
        .flatten()
        .is_none()
    {
        return false;
    }
    let exported = cairn::remote::exported(&ctl.root).unwrap_or_default();
    ctl.repo
        .manifests()
        .map(|(m, _)| m.iter().any(|m| !exported.contains(&m.id)))
        .unwrap_or(true)
}

fn run_action(
    ctl: &cairn::controller::Controller,
    cfg: &ScheduleConfig,
    action: &Action,
    job: &mut Job,
    progress: &Progress,
) -> Result<Done> {
    progress.check_cancel()?;
    match action {
        Action::Backup => {
            let (m, warnings) = cairn::backup::run_with_warnings(ctl, progress)?;
            super::backup::record(job, &m, &warnings)?;
            Ok(Done {
                export_needed: cairn::target::TargetConfig::load(&ctl.root)?.is_some(),
            })
        }
        Action::Export => {
            let r = cairn::remote::export(ctl, progress)?;
            job.progress(|rec| rec.bytes_exported = r.bytes_sent)?;
            Ok(Done::default())
        }
        Action::Prune => {
            let (_, target) = cairn::prune::prune_all(
                ctl,
                &cfg.retention(),
                chrono::Utc::now(),
                false,
                progress,
                &Progress::default(),
            )?;
            target?;
            Ok(Done::default())
        }
        Action::Verify { slice, slices } => {
            let index = ctl.index()?;
            let r = cairn::verify::verify_slice(&ctl.repo, &index, progress, *slice, *slices)?;
            if r.clean() {
                Ok(Done::default())
            } else {
                Err(Error::corrupt(
                    "the internal repository",
                    format!(
                        "damaged backups: {}",
                        r.damaged_backups
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        }
    }
}
