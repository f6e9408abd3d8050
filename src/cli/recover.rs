//! `cairn recover`.

use super::{output, Global, IdentityArg};
use cairn::recover::{RecoverOptions, RecoverReport, RecoverRequest};
use cairn::Result;
use clap::Args;
use std::path::PathBuf;

/// Recover options.
#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// The share: `smb://HOST[:PORT]/SHARE[/PATH]`, `s3://BUCKET[/PREFIX]`,
    /// `az://ACCOUNT/CONTAINER[/PREFIX]` (or a local directory).
    #[arg(long)]
    pub from: String,
    /// SMB username, or the S3 access key id.
    #[arg(long)]
    pub username: Option<String>,
    /// File holding the SMB password, the S3 secret key or the Azure account key (or
    /// CAIRN_PASSWORD_FILE).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The object store's URL (s3:// and az:// only), as for `target set`.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The S3 region (s3:// only).
    #[arg(long)]
    pub region: Option<String>,
    /// The identity.
    #[command(flatten)]
    pub identity: IdentityArg,
    /// Where to restore every service's data (as DIR/<service>/…).
    #[arg(long)]
    pub target: PathBuf,
    /// Which backup (default: the newest).
    #[arg(long)]
    pub backup: Option<String>,
    /// The repository fingerprint kept with the identity (printed by `cairn init` and
    /// `cairn key list`); nothing not signed by its key is accepted. Without it, recover lists the
    /// fingerprints found on the share and stops.
    ///
    /// Example: --fingerprint cairn-fp1:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
    /// Accept an SMB server that offers no encryption (by default SMB 3 encryption is required);
    /// the recovered controller keeps exporting there with the same setting, which `target show`
    /// shows as a warning.
    ///
    /// Example: cairn recover --from smb://old-nas/backups/ctl1 ... --allow-unencrypted
    #[arg(long)]
    pub allow_unencrypted: bool,
}

/// Run a recovery and print its report.
pub fn run(g: &Global, a: RecoverArgs) -> Result<()> {
    let req = RecoverRequest {
        from: &a.from,
        username: a.username,
        password_file: a.password_file.as_deref(),
        allow_unencrypted: a.allow_unencrypted,
        fingerprint: a.fingerprint.as_deref(),
        endpoint: a.endpoint,
        region: a.region,
    };
    let opts = RecoverOptions::new(req, g.repo.clone(), a.target, a.backup)?;
    let keys = a.identity.require("recover")?;
    let term = g.term();
    let r = cairn::ops::recover(&g.context(&term), &opts, &keys)?;
    print_report(&r, &opts);
    Ok(())
}

/// Print what a recovery did.
fn print_report(r: &RecoverReport, opts: &RecoverOptions) {
    for i in &r.ignored {
        eprintln!("warning: ignored on the share: {}", i.escape_debug());
    }
    let now = chrono::Utc::now().timestamp_millis();
    println!(
        "newest backup on the share: {} from {} ({} ago)",
        r.newest.0,
        output::rfc3339(r.newest.1),
        cairn::retention::format_duration(std::time::Duration::from_millis(
            now.saturating_sub(r.newest.1).max(0) as u64
        ))
    );
    if let Some(w) = &r.stale {
        eprintln!("warning: {}", output::escape(w));
    }
    println!(
        "recovered backup {} ({})",
        output::escape(&r.backup),
        output::escape(&r.services.join(", "))
    );
    println!(
        "  {} files, {} restored and verified into {}",
        r.files,
        output::size(r.bytes),
        opts.target.display()
    );
    println!(
        "  {} objects ({}) copied from the share into {}",
        r.objects_copied,
        output::size(r.bytes_copied),
        opts.repo.display()
    );
    for c in &r.restore_commands {
        println!("  ran the restore command of service {}", output::escape(c));
    }
    println!(
        "  took {:.1}s; backups continue to the same share (`cairn backup`)",
        r.seconds
    );
}
