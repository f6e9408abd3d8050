//! `cairn prune`: forget backups outside the retention policy and reclaim space, on the internal
//! repository and then on the target's copy.

use super::{output, Global};
use cairn::jobs::{Job, JobId, JobKind, Lease, Trigger};
use cairn::progress::Progress;
use cairn::prune::{self, PruneReport};
use cairn::retention::{parse_duration, Policy};
use cairn::Result;
use clap::Args;
use std::sync::Arc;

/// Prune options.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Keep every backup younger than this (e.g. 7d, 12h, 2w). Without --keep-within and
    /// --keep-last, the schedule's retention applies (default: 7d).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep the N newest backups, whatever their age. The newest backup is always kept.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Only show what would be forgotten and freed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The policy the flags give (or the schedule's when neither is given).
fn policy(g: &Global, a: &PruneArgs) -> Result<Policy> {
    if a.keep_within.is_none() && a.keep_last.is_none() {
        return Ok(cairn::schedule::ScheduleConfig::load(&g.repo.join("local"))?.retention());
    }
    Ok(Policy {
        keep_within: a.keep_within.as_deref().map(parse_duration).transpose()?,
        keep_last: a.keep_last,
    })
}

/// Run prune as a job; the target's copy after the internal one. A dry run only takes the
/// lease (it records no job, so it clears no alert).
pub fn run(g: &Global, a: PruneArgs) -> Result<()> {
    let ctl = g.controller()?;
    let policy = policy(g, &a)?;
    if a.dry_run {
        let _lease = Lease::acquire(&ctl.local(), JobKind::Prune, &JobId::new())?;
        let (local, target) = work(g, &ctl, &policy, true)?;
        return print(&a, g.quiet, &local, target?.as_ref());
    }
    let mut job = Job::begin(&ctl.local(), JobKind::Prune, Trigger::Manual)?;
    if let Some(prev) = job.interrupted() {
        if !g.quiet && !a.json {
            eprintln!(
                "note: job {} ({}) was interrupted; its leftovers are reclaimed now",
                prev.id,
                prev.kind.as_str()
            );
        }
    }
    let outcome = work(g, &ctl, &policy, false);
    let (local, target) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let err = Err(e);
            finish(job, &err);
            return err;
        }
    };
    let warnings: Vec<String> = local
        .warnings
        .iter()
        .chain(target.iter().flatten().flat_map(|t| &t.warnings))
        .cloned()
        .collect();
    if let Err(e) = job.progress(|r| r.warnings.extend(warnings)) {
        eprintln!("warning: job record not updated: {e}");
    }
    match target {
        Ok(t) => {
            finish(job, &Ok(()));
            print(&a, g.quiet, &local, t.as_ref())
        }
        Err(e) => {
            // the internal prune is done: show it, and fail the job for the target's part
            print(&a, g.quiet, &local, None)?;
            let err = Err(e);
            finish(job, &err);
            err
        }
    }
}

fn finish(job: Job, outcome: &Result<()>) {
    for w in job.finish(outcome).warnings {
        eprintln!("warning: {}", output::escape(&w.to_string()));
    }
}

type Reports = (PruneReport, Result<Option<PruneReport>>);

fn work(
    g: &Global,
    ctl: &cairn::controller::Controller,
    policy: &Policy,
    dry_run: bool,
) -> Result<Reports> {
    let (progress, target_progress) =
        (Arc::new(Progress::default()), Arc::new(Progress::default()));
    let _bar = output::Bar::start("prune", progress.clone(), g.quiet);
    prune::prune_all(
        ctl,
        policy,
        chrono::Utc::now(),
        dry_run,
        &progress,
        &target_progress,
    )
}

fn print(
    a: &PruneArgs,
    quiet: bool,
    local: &PruneReport,
    target: Option<&PruneReport>,
) -> Result<()> {
    if a.json {
        output::json(&serde_json::json!({
            "dry_run": a.dry_run,
            "internal": local,
            "target": target,
        }));
        return Ok(());
    }
    print_human(local, quiet);
    if let Some(t) = target {
        print_human(t, quiet);
    }
    Ok(())
}

fn print_human(r: &PruneReport, quiet: bool) {
    for w in &r.warnings {
        eprintln!("warning: {}", output::escape(&w.to_string()));
    }
    if quiet {
        return;
    }
    let would = if r.dry_run { "would forget" } else { "forgot" };
    for b in &r.backups_forgotten {
        println!("{would} backup {b}");
    }
    let rewritten = if r.dry_run {
        format!("{} to rewrite", r.packs_rewritten)
    } else {
        format!("{} rewritten into {}", r.packs_rewritten, r.packs_written)
    };
    println!(
        "{}: {} {} backup(s), kept {}; {} pack(s) {}, {rewritten}, {} key envelope(s) {}; {} {}",
        r.place,
        would,
        r.backups_forgotten.len(),
        r.backups_kept,
        r.packs_deleted,
        if r.dry_run { "to delete" } else { "deleted" },
        r.envelopes_deleted,
        if r.dry_run { "to delete" } else { "deleted" },
        if r.dry_run {
            "would free about"
        } else {
            "freed"
        },
        output::size(r.bytes_freed),
    );
}
