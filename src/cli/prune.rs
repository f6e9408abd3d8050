//! `cairn prune`: forget backups outside the retention policy and reclaim space, on the internal
//! repository and then on the target's copy.

use super::{output, Global};
use cairn::jobs::{Job, JobKind, Trigger};
use cairn::progress::Progress;
use cairn::prune::{self, PruneReport, Scope};
use cairn::retention::{parse_duration, Policy};
use cairn::{Error, Result};
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

/// Run prune as a job; the target's copy after the internal one.
pub fn run(g: &Global, a: PruneArgs) -> Result<()> {
    let ctl = g.controller()?;
    let policy = policy(g, &a)?;
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
    let outcome = prune_both(g, &ctl, &policy, a.dry_run);
    if let Ok((l, t)) = &outcome {
        let warnings: Vec<String> = l
            .warnings
            .iter()
            .chain(t.iter().flat_map(|t| &t.warnings))
            .cloned()
            .collect();
        if let Err(e) = job.progress(|r| r.warnings.extend(warnings)) {
            eprintln!("warning: job record not updated: {e}");
        }
    }
    let done = job.finish(&outcome);
    for w in &done.warnings {
        eprintln!("warning: {w}");
    }
    let (local, target) = outcome?;
    print(&a, g.quiet, &local, target.as_ref())
}

/// Prune the internal repository, then the target's copy if a target is set. A target failure
/// leaves the internal prune done and is returned as the job's error.
fn prune_both(
    g: &Global,
    ctl: &cairn::controller::Controller,
    policy: &Policy,
    dry_run: bool,
) -> Result<(PruneReport, Option<PruneReport>)> {
    let now = chrono::Utc::now();
    let progress = Arc::new(Progress::default());
    let local = {
        let _bar = output::Bar::start("prune", progress.clone(), g.quiet);
        prune::prune_local(ctl, policy, now, dry_run, &progress)?
    };
    let Some(cfg) = cairn::target::TargetConfig::load(&ctl.root)? else {
        return Ok((local, None));
    };
    let (epoch, _) = ctl.keys()?;
    let scope = Scope {
        also_forget: local.backups_forgotten.clone(),
        protect_keys: vec![epoch],
    };
    let target = (|| {
        let store: Arc<dyn cairn::backend::Backend> = Arc::from(cairn::target::open_backend(&cfg)?);
        let progress = Arc::new(Progress::default());
        let _bar = output::Bar::start("prune target", progress.clone(), g.quiet);
        prune::prune_copy(store, policy, now, &scope, dry_run, &progress)
    })();
    match target {
        Ok(t) => Ok((local, Some(t))),
        Err(e) => {
            print_human(&local, g.quiet);
            Err(Error::failed(
                format!(
                    "the internal repository was pruned, but pruning the copy at {} failed: {e}",
                    cfg.url
                ),
                format!(
                    "{}; then run `cairn prune` again (it finishes the target's part)",
                    e.remedy()
                ),
            ))
        }
    }
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
        eprintln!("warning: {w}");
    }
    if quiet {
        return;
    }
    let would = if r.dry_run { "would forget" } else { "forgot" };
    for b in &r.backups_forgotten {
        println!("{would} backup {b}");
    }
    println!(
        "{}: {} {} backup(s), kept {}; {} pack(s) deleted, {} rewritten into {}, {} key envelope(s) deleted; {} {}",
        r.place,
        would,
        r.backups_forgotten.len(),
        r.backups_kept,
        r.packs_deleted,
        r.packs_rewritten,
        r.packs_written,
        r.envelopes_deleted,
        if r.dry_run { "would free about" } else { "freed" },
        output::size(r.bytes_freed),
    );
}
