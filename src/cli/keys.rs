//! `cairn key …` and `cairn init`.

use super::{output, Global};
use cairn::crypto::Recipient;
use cairn::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Key commands.
#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Write a new age identity to FILE (mode 0600) and print its public recipient.
    ///
    /// Example: cairn key generate --output /root/cairn.key
    Generate {
        /// Where to write the identity; never overwritten.
        #[arg(long)]
        output: PathBuf,
    },
    /// Make new backups encrypt to these recipients (older backups keep theirs).
    ///
    /// Example: cairn key rotate --recipient age1…
    Rotate(RecipientArgs),
    /// Show the repository fingerprint and which recipients each backup was written for.
    ///
    /// Example: cairn key list --json
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Recipients given on the command line or in a file.
#[derive(Args, Debug)]
pub struct RecipientArgs {
    /// An age public key (`age1…`); repeat for several.
    #[arg(long = "recipient", value_name = "R")]
    pub recipients: Vec<String>,
    /// A file of recipients, one per line, `#` comments allowed.
    #[arg(long, value_name = "F", conflicts_with = "recipients")]
    pub recipients_file: Option<PathBuf>,
}

impl RecipientArgs {
    fn parse(&self) -> Result<Vec<Recipient>> {
        cairn::ops::recipients(&self.recipients, self.recipients_file.as_deref())
    }
}

/// `cairn init`.
pub fn init(g: &Global, a: RecipientArgs) -> Result<()> {
    let r = a.parse()?;
    let ctl = cairn::controller::Controller::init(&g.repo, &r)?;
    if !g.quiet {
        eprintln!(
            "initialised repository {} for {} recipient(s)",
            g.repo.display(),
            r.len()
        );
    }
    println!("repository fingerprint: {}", ctl.repo.fingerprint());
    if !g.quiet {
        eprintln!("keep this fingerprint with the identity: `cairn recover` needs both (`cairn key list` shows it again)");
    }
    Ok(())
}

/// Key subcommands.
pub fn run(g: &Global, c: KeyCmd) -> Result<()> {
    match c {
        KeyCmd::Generate { output } => {
            println!("{}", cairn::ops::generate_key(&output)?);
            Ok(())
        }
        KeyCmd::Rotate(a) => {
            let r = a.parse()?;
            let term = g.term();
            let done = cairn::ops::rotate_keys(&g.context(&term), &r)?;
            if !g.quiet {
                eprintln!("new backups now encrypt to {} recipient(s) (key epoch {}); older backups stay readable with their identities; the signing key is sealed to them too (fingerprint unchanged: {})", done.recipients, done.epoch, done.fingerprint);
            }
            Ok(())
        }
        KeyCmd::List { json } => {
            let term = g.term();
            let l = cairn::ops::key_list(&g.context(&term))?;
            if json {
                output::json(&l);
                return Ok(());
            }
            println!("repository fingerprint: {}", l.fingerprint);
            println!(
                "new backups encrypt to: {}",
                output::escape(&l.current.recipients.join(", "))
            );
            for b in &l.backups {
                println!(
                    "{}  {}",
                    output::escape(&b.backup),
                    output::escape(&b.recipients.join(", "))
                );
            }
            Ok(())
        }
    }
}
