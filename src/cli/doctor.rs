//! `cairn doctor [--json]`: print each check of [`cairn::ops::doctor`] with its remedy.

use super::{output, Global};
use cairn::doctor::{DoctorReport, Status};
use cairn::{Error, Result};
use clap::Args;

/// Doctor options.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// One JSON document on stdout: `status` and `checks`, each with `name`, `status` (ok,
    /// warning, failed), `summary` and `remedy`.
    #[arg(long)]
    pub json: bool,
}

/// `cairn doctor`: exit 0 when nothing failed (warnings allowed), 1 when a check failed.
pub fn run(g: &Global, a: DoctorArgs) -> Result<()> {
    let term = g.term();
    let report = cairn::ops::doctor(&g.context(&term));
    if a.json {
        output::json(&report);
    } else {
        print(&report);
    }
    match report.failures() {
        0 => Ok(()),
        n => Err(Error::failed(
            format!("{n} of {} checks failed", report.checks.len()),
            "do what each failed check says, then run `cairn doctor` again",
        )),
    }
}

fn print(r: &DoctorReport) {
    for c in &r.checks {
        println!(
            "{:<8} {:<13} {}",
            c.status.as_str(),
            c.name,
            output::escape(&c.summary)
        );
        if let Some(remedy) = c.remedy.as_ref().filter(|_| c.status != Status::Ok) {
            println!("{:<22} what to do: {}", "", output::escape(remedy));
        }
    }
    println!(
        "{} ok, {} warning(s), {} failed",
        r.count(Status::Ok),
        r.count(Status::Warning),
        r.failures()
    );
}
