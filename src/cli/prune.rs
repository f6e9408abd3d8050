//! `cairn prune`: forget backups outside the retention policy and reclaim space, on the internal
//! repository and then on the target's copy.

use super::{output, Global};
use cairn::prune::PruneReport;
use cairn::Result;
use clap::Args;

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

/// Run prune (`cairn::ops::prune`) and print both parts; a failed target part fails the command
/// after the internal part is shown.
pub fn run(g: &Global, a: PruneArgs) -> Result<()> {
    let policy = cairn::schedule::retention_policy(
        &g.repo.join("local"),
        a.keep_within.as_deref(),
        a.keep_last,
    )?;
    let term = super::Term {
        quiet: g.quiet || a.json,
        log: false,
        json: g.log_format == super::LogFormat::Json,
    };
    let o = cairn::ops::prune(&g.context(&term), &policy, a.dry_run)?;
    print(&a, g.quiet, &o.internal, o.target.as_ref())?;
    match o.target_error {
        Some(e) => Err(e),
        None => Ok(()),
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
        eprintln!("warning: {}", output::escape(&w.to_string()));
    }
    if quiet {
        return;
    }
    let would = if r.dry_run { "would forget" } else { "forgot" };
    for b in &r.backups_forgotten {
        println!("{would} backup {}", output::escape(b));
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
