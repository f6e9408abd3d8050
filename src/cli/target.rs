//! `cairn target set|show|clear` and `cairn export`.

use super::{output, Global};
use cairn::target::TargetConfig;
use cairn::Result;
use clap::Subcommand;
use std::path::PathBuf;

/// Target commands.
#[derive(Subcommand, Debug)]
pub enum TargetCmd {
    /// Set the external location; checks it can write there before saving.
    ///
    /// Examples: cairn target set smb://nas.example:445/backups/ctl1 --username cairn --password-file /root/smb.pass
    ///           cairn target set /mnt/backup-share/ctl1
    ///           cairn target set s3://backups/ctl1 --region eu-central-1 --username AKIA... --password-file /root/s3.secret
    ///           cairn target set az://mystorage/backups/ctl1 --password-file /root/az.key
    Set {
        /// `smb://HOST[:PORT]/SHARE[/PATH]`, `s3://BUCKET[/PREFIX]`,
        /// `az://ACCOUNT/CONTAINER[/PREFIX]` or a local directory.
        url: String,
        /// SMB username, or the S3 access key id (else AWS_ACCESS_KEY_ID).
        #[arg(long)]
        username: Option<String>,
        /// File holding the SMB password, the S3 secret key (else AWS_SECRET_ACCESS_KEY) or the
        /// Azure account key (else AZURE_STORAGE_KEY) (or CAIRN_PASSWORD_FILE).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The object store's URL, for an S3-compatible store or Azurite (s3:// and az:// only).
        ///
        /// Example: --endpoint http://127.0.0.1:10000/devstoreaccount1
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// The S3 region (s3:// only; else AWS_REGION).
        #[arg(long)]
        region: Option<String>,
        /// Accept an SMB server that offers no encryption (by default SMB 3 encryption is
        /// required and such a server is refused); `target show` then shows a warning.
        ///
        /// Example: cairn target set smb://old-nas/backups/ctl1 --username cairn --password-file /root/smb.pass --allow-unencrypted
        #[arg(long)]
        allow_unencrypted: bool,
    },
    /// Show the target (never the password).
    Show {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Forget the target (nothing on it is deleted).
    Clear,
}

/// Run a target command.
pub fn run(g: &Global, c: TargetCmd) -> Result<()> {
    let term = g.term();
    let cx = g.context(&term);
    cx.controller()?;
    match c {
        TargetCmd::Set {
            url,
            username,
            password_file,
            allow_unencrypted,
            endpoint,
            region,
        } => {
            let cfg = TargetConfig::from_args(
                &url,
                username,
                password_file.as_deref(),
                allow_unencrypted,
            )?
            .with_store_options(endpoint, region)?;
            cairn::ops::set_target(&cx, &cfg)?;
            if !g.quiet {
                eprintln!("target set to {cfg}; backups are exported there after each backup");
            }
            Ok(())
        }
        TargetCmd::Show { json } => {
            match (cairn::ops::target(&cx)?, json) {
                (Some(c), true) => output::json(&c.to_json()),
                (None, true) => output::json(&serde_json::Value::Null),
                (Some(c), false) => println!("{c}"),
                (None, false) => println!("no target set; set one with `cairn target set URL`"),
            }
            Ok(())
        }
        TargetCmd::Clear => cairn::ops::clear_target(&cx).map(|_| ()),
    }
}

/// `cairn export`: exit 1 naming any backup skipped because objects it needs are damaged here
/// (the others are exported).
pub fn export(g: &Global) -> Result<()> {
    let term = g.term();
    let o = cairn::ops::export(&g.context(&term))?;
    if !g.quiet {
        print_export(&o.report);
    }
    o.result()
}

fn print_export(r: &cairn::replicate::ExportReport) {
    println!(
        "exported {} objects ({}), {} already there{}, in {:.1}s",
        r.objects_sent,
        output::size(r.bytes_sent),
        r.objects_skipped,
        if r.objects_healed > 0 {
            format!(", {} damaged on the target and replaced", r.objects_healed)
        } else {
            String::new()
        },
        r.seconds
    );
    for (o, why) in &r.damaged_objects {
        println!(
            "damaged object {}: {}",
            output::escape(o),
            output::escape(&why.to_string())
        );
    }
    for b in &r.backups_skipped {
        println!(
            "backup {} not exported: {}",
            output::escape(&b.id),
            output::escape(&b.reason)
        );
    }
}
