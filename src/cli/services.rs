//! `cairn service add|set|list|remove`.

use super::{output, Global};
use cairn::service::{HookSettings, ServiceDef};
use cairn::Result;
use clap::{Args, Subcommand};

/// Hooks and restore order, for `service add` and `service set` (docs/SERVICES.md).
#[derive(Args, Debug, Default)]
pub struct HookArgs {
    /// Hook run before capture, every service's at once (flush, freeze, snapshot); capture
    /// begins when all succeeded. It may print CAIRN_CAPTURE_PATH=DIR to name the directory to
    /// capture. With `service set`, '' removes it.
    #[arg(long, value_name = "CMD")]
    prepare: Option<String>,
    /// Hook run as soon as the service's capture ends; always runs once prepare succeeded,
    /// also when the backup fails or is cancelled. With `service set`, '' removes it.
    #[arg(long, value_name = "CMD")]
    release: Option<String>,
    /// Capture this directory (a snapshot mount) instead of --path.
    #[arg(long, value_name = "DIR")]
    capture_path: Option<std::path::PathBuf>,
    /// Time limit of each hook (e.g. 30s, 10m; default 10m); past it the hook's process group
    /// is killed.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// At recovery, run this service's restore command after OTHER's (repeatable; a cycle is
    /// refused). With `service set`, '' clears the list.
    #[arg(long, value_name = "OTHER")]
    restore_after: Vec<String>,
}

impl HookArgs {
    fn settings(self, restore_command: Option<String>) -> Result<HookSettings> {
        let timeout_s = match &self.timeout {
            Some(t) => Some(cairn::retention::parse_duration(t)?.as_secs()),
            None => None,
        };
        Ok(HookSettings {
            prepare: self.prepare,
            release: self.release,
            capture_path: self.capture_path.map(|p| p.to_string_lossy().into_owned()),
            timeout_s,
            restore_command,
            restore_after: (!self.restore_after.is_empty()).then_some(self.restore_after),
        })
    }
}

/// Service commands.
#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Add a service: a directory (--path) or a command's output (--command).
    ///
    /// Examples: cairn service add identity --path /var/lib/identity
    ///           cairn service add db --command 'pg_dump app' --restore-command 'psql app'
    Add {
        /// Unique name (letters, digits, '-', '_', '.').
        name: String,
        /// Directory to back up.
        #[arg(long, conflicts_with = "command", required_unless_present = "command")]
        path: Option<std::path::PathBuf>,
        /// Command whose standard output is backed up (run with sh -c).
        #[arg(long)]
        command: Option<String>,
        /// Command that takes the output on standard input at recovery.
        #[arg(long, requires = "command")]
        restore_command: Option<String>,
        /// Average chunk size (1K to 4M; min a quarter, max four times it), fixed for the
        /// service's life. Default: 8K for --command (dumps change in small scattered edits);
        /// for --path, 16K or more when most of its bytes are in files of 64 MiB or more
        /// (dumps, images; enough for at most 256Ki chunks of them), else the repository's
        /// 256K. To change it, remove and add the service again: its next backup then stores
        /// all its data once more (nothing is lost, old backups stay readable).
        #[arg(long, value_name = "SIZE")]
        chunk_size: Option<String>,
        #[command(flatten)]
        hooks: HookArgs,
    },
    /// Change a service's hooks, restore command or restore order.
    ///
    /// Examples: cairn service set db --prepare 'psql -c CHECKPOINT' --timeout 5m
    ///           cairn service set identity --restore-after ca
    ///           cairn service set db --release ''   (removes the release hook)
    Set {
        /// The service's name.
        name: String,
        /// Command that takes the output on standard input at recovery ('' removes it).
        #[arg(long)]
        restore_command: Option<String>,
        #[command(flatten)]
        hooks: HookArgs,
    },
    /// List the services.
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Remove a service (its backups stay).
    Remove {
        /// The service's name.
        name: String,
    },
}

/// Run a service command.
pub fn run(g: &Global, c: ServiceCmd) -> Result<()> {
    let term = g.term();
    let cx = g.context(&term);
    match c {
        ServiceCmd::Add {
            name,
            path,
            command,
            restore_command,
            chunk_size,
            hooks,
        } => {
            let mut def = ServiceDef {
                name,
                path: path.map(|p| p.to_string_lossy().into_owned()),
                command,
                chunk_size: chunk_size
                    .as_deref()
                    .map(cairn::service::parse_chunk_size)
                    .transpose()?,
                ..ServiceDef::default()
            };
            hooks.settings(restore_command)?.apply(&mut def);
            let name = def.name.clone();
            if let Some(c) = cairn::ops::add_service(&cx, def)? {
                println!(
                    "service {}: chunk size {} KiB, since {} of its {} are in files of {} MiB or more \
                     (dumps, images), which small chunks store again only where they change; \
                     to choose another, remove the service and add it with --chunk-size",
                    output::escape(&name),
                    c.avg / 1024,
                    cairn::text::size(c.large_bytes),
                    cairn::text::size(c.bytes),
                    cairn::ops::chunk_choice::LARGE_FILE >> 20,
                );
            }
            Ok(())
        }
        ServiceCmd::Set {
            name,
            restore_command,
            hooks,
        } => {
            let changes = hooks.settings(restore_command)?;
            cairn::ops::set_service(&cx, &name, &changes).map(|_| ())
        }
        ServiceCmd::List { json } => {
            let list = cairn::ops::services(&cx)?;
            if json {
                output::json(&list);
            } else if list.is_empty() {
                println!("no services; add one with `cairn service add NAME --path DIR`");
            } else {
                for s in &list {
                    print_service(s);
                }
            }
            Ok(())
        }
        ServiceCmd::Remove { name } => cairn::ops::remove_service(&cx, &name).map(|_| ()),
    }
}

/// One service: `NAME<TAB>path|command<TAB>WHAT`, then one indented `setting<TAB>value` line per
/// coordination setting it has (hooks, capture path, hook time limit, restore order).
fn print_service(s: &cairn::service::ServiceDef) {
    let (kind, what) = match (&s.path, &s.command) {
        (Some(p), _) => ("path", p.as_str()),
        (_, Some(c)) => ("command", c.as_str()),
        _ => return,
    };
    println!(
        "{}\t{kind}\t{}",
        output::escape(&s.name),
        output::escape(what)
    );
    let timeout = s.hook_timeout_s.map(|t| format!("{t}s"));
    let after = (!s.restore_after.is_empty()).then(|| s.restore_after.join(","));
    let chunk = s.chunk_size.map(|c| match c % 1024 {
        0 => format!("{} KiB", c / 1024),
        _ => format!("{c} B"),
    });
    let settings = [
        ("restore command", s.restore_command.as_deref()),
        ("prepare", s.prepare.as_deref()),
        ("release", s.release.as_deref()),
        ("capture path", s.capture_path.as_deref()),
        ("hook timeout", timeout.as_deref()),
        ("restore after", after.as_deref()),
        ("chunk size", chunk.as_deref()),
    ];
    for (label, value) in settings {
        if let Some(v) = value {
            println!("  {label}\t{}", output::escape(v));
        }
    }
}
