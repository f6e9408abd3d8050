//! `cairn list` and `cairn show`.

use super::{output, Global};
use cairn::format::manifest::Manifest;
use cairn::Result;
use clap::Args;
use serde_json::{json, Value};

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

/// A backup as JSON (`target`: whether the target holds it; null when no target is set): the
/// library's document, which the API serves too.
pub fn backup_json(m: &Manifest, target: Option<bool>) -> Value {
    serde_json::to_value(cairn::listing::BackupDoc::new(m, target)).unwrap_or_default()
}

/// `cairn list`.
pub fn list(g: &Global, a: ListArgs) -> Result<()> {
    let ctl = g.controller()?;
    let (manifests, bad) = ctl.repo.manifests()?;
    for (name, e) in &bad {
        eprintln!(
            "warning: {} is damaged and not listed: {}",
            output::escape(name),
            output::escape(&e.to_string())
        );
    }
    if a.json {
        let on_target = cairn::ops::on_target(&ctl);
        output::json(
            &manifests
                .iter()
                .map(|m| backup_json(m, on_target(&m.id)))
                .collect::<Vec<_>>(),
        );
        return Ok(());
    }
    if manifests.is_empty() {
        println!("no backups yet; run `cairn backup`");
    }
    for m in &manifests {
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
    let ctl = g.controller()?;
    let m = ctl.repo.resolve(&a.id)?;
    if a.json {
        let mut v = backup_json(&m, cairn::ops::on_target(&ctl)(&m.id));
        v["recipients"] = json!(ctl.repo.epoch_recipients(&m.epoch)?);
        output::json(&v);
        return Ok(());
    }
    let e = output::escape;
    println!("backup   {}", e(&m.id));
    println!("time     {}", output::rfc3339(m.time_ms));
    println!("host     {}", e(&m.host));
    println!(
        "size     {} ({} new, {} chunks)",
        output::size(m.bytes()),
        output::size(m.bytes_new()),
        m.refs.len()
    );
    println!(
        "keys     {}",
        e(&ctl.repo.epoch_recipients(&m.epoch)?.join(", "))
    );
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
    }
    if m.warnings > 0 {
        println!(
            "warnings {} (their texts are in the backup's job: `cairn jobs`)",
            m.warnings
        );
    }
    Ok(())
}
