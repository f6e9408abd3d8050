//! Command-line interface: clap definitions, one file per command group. It parses arguments,
//! calls the library and prints; it holds no logic of its own.

mod alerts;
mod backup;
mod doctor;
mod generate;
mod jobs;
mod keys;
mod listen;
mod listing;
mod logging;
mod mount;
mod notify;
mod output;
mod prune;
mod recover;
mod restore;
mod schedule;
mod serve;
mod services;
mod target;
mod term;
mod token;
mod verify;

pub use generate::{man_pages_requested, write_man_pages};
pub use logging::{init as init_logging, LogFormat};
pub use term::Term;

use cairn::{Error, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// cairn: coordinated, deduplicated, public-key encrypted backups of a private cloud's
/// infrastructure services, exported to an SMB 3 share.
#[derive(Parser, Debug)]
#[command(name = "cairn", version, about, long_about = None, after_help = "Example: cairn --repo /var/lib/cairn backup")]
pub struct Cli {
    /// The internal repository directory.
    #[arg(
        long,
        global = true,
        env = "CAIRN_REPO",
        default_value = "/var/lib/cairn"
    )]
    pub repo: PathBuf,
    /// No progress bar and no informational output.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log lines on stderr as text, or as one JSON object per line (for journald and log
    /// shippers). Example: cairn --log-format json serve
    #[arg(
        long,
        global = true,
        value_enum,
        env = "CAIRN_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Keys: generate an identity, rotate or list the recipients.
    #[command(subcommand)]
    Key(keys::KeyCmd),
    /// Create the internal repository, encrypting to these recipients.
    ///
    /// Example: cairn init --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
    Init(keys::RecipientArgs),
    /// Configure the services a backup covers.
    #[command(subcommand)]
    Service(services::ServiceCmd),
    /// Run one coordinated full backup of all services.
    ///
    /// Prints the new backup's id alone on the last line. Example: cairn backup
    Backup(backup::BackupArgs),
    /// List the backups.
    ///
    /// Example: cairn list --json
    List(listing::ListArgs),
    /// Show one backup in detail.
    ///
    /// Example: cairn show latest
    Show(listing::ShowArgs),
    /// Restore a backup (or one service, or one path) into a directory.
    ///
    /// Example: cairn restore latest --target /srv/restore --identity /root/cairn.key
    Restore(restore::RestoreArgs),
    /// Check the repository: every object present and matching its name.
    ///
    /// Example: cairn verify --read-data --identity /root/cairn.key
    Verify(verify::VerifyArgs),
    /// The external location (SMB 3 share or local directory) backups are exported to.
    #[command(subcommand)]
    Target(target::TargetCmd),
    /// Export to the target every backup not yet there (resumes an interrupted export).
    ///
    /// Example: cairn export
    Export,
    /// Recover the cloud from the share alone onto a fresh controller.
    ///
    /// Example: cairn --repo /var/lib/cairn recover --from smb://nas/backups/ctl1 --username cairn
    ///          --password-file /root/smb.pass --identity /root/cairn.key --target /srv/restore
    Recover(recover::RecoverArgs),
    /// Job history, newest first.
    ///
    /// Example: cairn jobs --limit 20
    Jobs(jobs::JobsArgs),
    /// Active alerts with their remediation (--all for the history).
    ///
    /// Example: cairn alerts --json
    Alerts(alerts::AlertsArgs),
    /// The command that receives every alert raised and cleared (JSON on stdin).
    #[command(subcommand)]
    Notify(notify::NotifyCmd),
    /// The schedule and retention policy that `cairn serve` keeps.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCmd),
    /// Run the scheduler in the foreground: backup, export, prune and verify on their schedules;
    /// with --listen, also the management API.
    ///
    /// Example: cairn serve --listen 127.0.0.1:8443
    Serve(listen::ServeArgs),
    /// The management API's tokens.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Show every backup as a read-only filesystem: MOUNTPOINT/<backup-id>/<service>/… and
    /// MOUNTPOINT/latest.
    ///
    /// Runs in the background until `umount MOUNTPOINT` (or in the foreground with --foreground).
    /// Example: cairn mount /mnt/backups --identity /root/cairn.key
    Mount(mount::MountArgs),
    /// Forget backups outside the retention policy (never the newest) and reclaim the space no
    /// kept backup needs, on the internal repository and on the target.
    ///
    /// Example: cairn prune --keep-within 7d --keep-last 3 --dry-run
    Prune(prune::PruneArgs),
    /// Print the shell completion script for bash, zsh or fish.
    ///
    /// Example: cairn completions bash > /etc/bash_completion.d/cairn
    Completions(generate::CompletionsArgs),
    /// Check every requirement: repository, recipients, target (reachable, writable, encrypted,
    /// room for the schedule and retention), last backup, alerts, local disk, clock.
    ///
    /// Prints each check as ok, warning or failed with what to do; exits 1 when one failed.
    /// Example: cairn doctor --json
    Doctor(doctor::DoctorArgs),
}

/// Run a parsed command. First, whatever it creates is private (umask 077), and the
/// repository's `local/` is tightened to 0700 with files 0600 if an older cairn left it open.
pub fn run(cli: Cli) -> Result<()> {
    cairn::fsutil::private_umask();
    let local = cli.repo.join("local");
    if local.is_dir() {
        cairn::fsutil::make_private(&local);
    }
    let g = Global {
        repo: cli.repo,
        quiet: cli.quiet,
        log_format: cli.log_format,
    };
    match cli.command {
        Command::Key(c) => keys::run(&g, c),
        Command::Init(a) => keys::init(&g, a),
        Command::Service(c) => services::run(&g, c),
        Command::Backup(a) => backup::run(&g, a),
        Command::List(a) => listing::list(&g, a),
        Command::Show(a) => listing::show(&g, a),
        Command::Restore(a) => restore::run(&g, a),
        Command::Verify(a) => verify::run(&g, a),
        Command::Target(c) => target::run(&g, c),
        Command::Export => target::export(&g),
        Command::Recover(a) => recover::run(&g, a),
        Command::Jobs(a) => jobs::run(&g, a),
        Command::Alerts(a) => alerts::run(&g, a),
        Command::Notify(c) => notify::run(&g, c),
        Command::Schedule(c) => schedule::run(&g, c),
        Command::Serve(a) => listen::serve(&g, a),
        Command::Token(c) => token::run(&g, c),
        Command::Mount(a) => mount::run(&g, a),
        Command::Prune(a) => prune::run(&g, a),
        Command::Completions(a) => generate::completions(a),
        Command::Doctor(a) => doctor::run(&g, a),
    }
}

/// Print a command's error on stderr, control characters escaped (or as one JSON log line).
pub fn print_error(e: &Error, format: LogFormat) {
    match format {
        LogFormat::Text => output::error(e),
        LogFormat::Json => logging::json_line(
            "ERROR",
            &e.to_string(),
            serde_json::json!({ "remedy": e.remedy(), "exit_code": e.exit_code() }),
        ),
    }
}

/// Options every command sees.
pub struct Global {
    /// `--repo`.
    pub repo: PathBuf,
    /// `--quiet`.
    pub quiet: bool,
    /// `--log-format`.
    pub log_format: LogFormat,
}

impl Global {
    /// Open the internal repository.
    pub fn controller(&self) -> Result<cairn::controller::Controller> {
        cairn::controller::Controller::open(&self.repo)
    }

    /// The terminal sink for an operation.
    pub fn term(&self) -> Term {
        Term {
            quiet: self.quiet,
            log: false,
            json: self.log_format == LogFormat::Json,
        }
    }

    /// The context for an operation on `--repo`, reporting to `sink`.
    pub fn context<'s>(&self, sink: &'s Term) -> cairn::ops::Context<'s> {
        cairn::ops::Context::new(&self.repo).with_sink(sink)
    }
}

/// The identity option shared by restore, verify, mount and recover.
#[derive(clap::Args, Debug, Clone)]
pub struct IdentityArg {
    /// The age identity file (private key).
    #[arg(long, env = "CAIRN_IDENTITY_FILE")]
    pub identity: Option<PathBuf>,
}

impl IdentityArg {
    /// Load the identity, which this command requires.
    pub fn require(&self, why: &str) -> Result<cairn::keyring::KeyRing> {
        let p = self.identity.as_ref().ok_or_else(|| {
            Error::usage(
                format!("{why} needs the identity (private key)"),
                "pass --identity FILE or set CAIRN_IDENTITY_FILE",
            )
        })?;
        Ok(cairn::keyring::KeyRing::new(cairn::crypto::Identity::load(
            p,
        )?))
    }
}
