//! `cairn token create|list|revoke`: the management API's bearer tokens.

use super::{output, Global};
use cairn::api::tokens::{Role, Tokens};
use cairn::Result;
use clap::Subcommand;

/// Token commands.
#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token; it is printed once, alone on the last line of stdout, and stored only as
    /// a hash.
    ///
    /// Example: cairn token create console --role admin
    Create {
        /// A name for it (letters, digits, `.`, `_`, `-`).
        name: String,
        /// `admin` (may change things) or `reader` (may only read).
        #[arg(long)]
        role: String,
    },
    /// List the tokens: names, roles, creation times (never the tokens).
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working at once.
    ///
    /// Example: cairn token revoke console
    Revoke {
        /// Its name.
        name: String,
    },
}

/// Run a token command.
pub fn run(g: &Global, c: TokenCmd) -> Result<()> {
    let tokens = Tokens::new(&g.controller()?.local());
    match c {
        TokenCmd::Create { name, role } => {
            let role: Role = role.parse()?;
            let secret = tokens.create(&name, role)?;
            if !g.quiet {
                eprintln!(
                    "token {name} ({role}) created; it is shown only now (send it as `Authorization: Bearer TOKEN`):"
                );
            }
            println!("{secret}");
        }
        TokenCmd::List { json } => {
            let list = tokens.list()?;
            if json {
                output::json(&list);
            } else if list.is_empty() {
                println!(
                    "no tokens; create one with `cairn token create NAME --role admin|reader`"
                );
            } else {
                for t in &list {
                    println!(
                        "{:<24} {:<7} created {}",
                        output::escape(&t.name),
                        t.role,
                        t.created
                    );
                }
            }
        }
        TokenCmd::Revoke { name } => {
            tokens.revoke(&name)?;
            if !g.quiet {
                eprintln!("token {name} revoked");
            }
        }
    }
    Ok(())
}
