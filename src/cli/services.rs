//! `cairn service add|list|remove`.

use super::{output, Global};
use cairn::service::ServiceDef;
use cairn::{Error, Result};
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
    let ctl = g.controller()?;
    let mut list = ctl.services()?;
    match c {
        ServiceCmd::Add {
            name,
            path,
            command,
            restore_command,
        } => {
            let path = match path {
                None => None,
                Some(p) => {
                    let abs = if p.is_absolute() {
                        p
                    } else {
                        std::env::current_dir()
                            .map_err(|e| Error::io("current directory", e))?
                            .join(p)
                    };
                    Some(abs.to_string_lossy().into_owned())
                }
            };
            list.add(ServiceDef {
                name,
                path,
                command,
                restore_command,
            })?;
            ctl.save_services(&list)
        }
        ServiceCmd::List { json } => {
            if json {
                output::json(&list.services);
            } else if list.services.is_empty() {
                println!("no services; add one with `cairn service add NAME --path DIR`");
            } else {
                for s in &list.services {
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
        ServiceCmd::Remove { name } => {
            list.remove(&name)?;
            ctl.save_services(&list)
        }
    }
}
