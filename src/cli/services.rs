//! `cairn service add|list|remove`.

use super::{output, Global};
use cairn::service::ServiceDef;
use cairn::Result;
use clap::Subcommand;

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
        } => {
            let def = ServiceDef {
                name,
                path: path.map(|p| p.to_string_lossy().into_owned()),
                command,
                restore_command,
            };
            cairn::ops::add_service(&cx, def)
        }
        ServiceCmd::List { json } => {
            let list = cairn::ops::services(&cx)?;
            if json {
                output::json(&list);
            } else if list.is_empty() {
                println!("no services; add one with `cairn service add NAME --path DIR`");
            } else {
                for s in &list {
                    match (&s.path, &s.command) {
                        (Some(p), _) => {
                            println!("{}\tpath\t{}", output::escape(&s.name), output::escape(p))
                        }
                        (_, Some(c)) => println!(
                            "{}\tcommand\t{}",
                            output::escape(&s.name),
                            output::escape(c)
                        ),
                        _ => {}
                    }
                }
            }
            Ok(())
        }
        ServiceCmd::Remove { name } => cairn::ops::remove_service(&cx, &name).map(|_| ()),
    }
}
