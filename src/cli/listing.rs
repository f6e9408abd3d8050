//! `cairn list` and `cairn show`.

use super::{output, Global};
use cairn::ops::backup_json;
use cairn::Result;
use clap::Args;
use serde_json::json;

/// List options.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Show options.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The backup id, or `latest`.
    pub id: String,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `cairn list`.
pub fn list(g: &Global, a: ListArgs) -> Result<()> {
    let term = g.term();
    let l = cairn::ops::list_backups(&g.context(&term))?;
    for (name, e) in &l.damaged {
        eprintln!(
            "warning: {} is damaged and not listed: {}",
            output::escape(name),
            output::escape(e)
        );
    }
    if a.json {
        output::json(
            &l.backups
                .iter()
                .map(|b| backup_json(&b.manifest, b.chunks, b.on_target))
                .collect::<Vec<_>>(),
        );
        return Ok(());
    }
    if l.backups.is_empty() {
        println!("no backups yet; run `cairn backup`");
    }
    for m in l.backups.iter().map(|b| &b.manifest) {
        let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
        println!(
            "{}  {}  {:>10}  {:>10} new  {}",
            output::escape(&m.id),
            output::rfc3339(m.time_ms),
            output::size(m.bytes()),
            output::size(m.bytes_new()),
            output::escape(&names.join(","))
        );
    }
    Ok(())
}

/// `cairn show`.
pub fn show(g: &Global, a: ShowArgs) -> Result<()> {
    let term = g.term();
    let d = cairn::ops::show_backup(&g.context(&term), &a.id)?;
    let m = &d.entry.manifest;
    if a.json {
        let mut v = backup_json(m, d.entry.chunks, d.entry.on_target);
        v["recipients"] = json!(d.recipients);
        output::json(&v);
        return Ok(());
    }
    let e = output::escape;
    println!("backup   {}", e(&m.id));
    println!(
        "time     {} (point in time: every prepare hook done, capture began)",
        output::rfc3339(m.time_ms)
    );
    println!("host     {}", e(&m.host));
    println!(
        "size     {} ({} new, {} chunks)",
        output::size(m.bytes()),
        output::size(m.bytes_new()),
        d.entry.chunks
    );
    println!("keys     {}", e(&d.recipients.join(", ")));
    for s in &m.services {
        println!(
            "service  {:<16} {:<8} {:>8} files {:>6} dirs {:>12} {:>12} new  {:.1}s",
            e(&s.name),
            e(&s.kind),
            s.files,
            s.dirs,
            output::size(s.bytes),
            output::size(s.bytes_new),
            s.duration_ms as f64 / 1000.0
        );
        if let Some(line) = phases_line(&s.phases) {
            println!("         {:<16} {line}", e(&s.name));
        }
    }
    if m.warnings > 0 {
        println!(
            "warnings {} (their texts are in the backup's job: `cairn jobs`)",
            m.warnings
        );
    }
    Ok(())
}

/// `prepare HH:MM:SS.mmm–HH:MM:SS.mmm  capture …  release …` (UTC), for the phases recorded.
fn phases_line(p: &cairn::format::manifest::Phases) -> Option<String> {
    let clock = |ms: i64| {
        let t = cairn::text::rfc3339_ms(ms);
        t.get(11..23).map(str::to_string).unwrap_or(t)
    };
    let parts: Vec<String> = [
        ("prepare", p.prepare),
        ("capture", p.capture),
        ("release", p.release),
    ]
    .into_iter()
    .filter_map(|(name, s)| s.map(|s| format!("{name} {}–{}", clock(s.start_ms), clock(s.end_ms))))
    .collect();
    (!parts.is_empty()).then(|| parts.join("  "))
}
