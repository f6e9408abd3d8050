//! `cairn serve`'s flags: with `--listen`, the management API beside the scheduler
//! ([`cairn::api::serve`]); without, the scheduler alone.

use super::Global;
use cairn::{Error, Result};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Serve options.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Also serve the management API (PRODUCT §8) on ADDR:PORT; without TLS, a loopback address
    /// only.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// TLS certificate chain (PEM), with --tls-key.
    #[arg(long, requires = "tls_key", requires = "listen")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM), with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `cairn serve`.
pub fn serve(g: &Global, a: ServeArgs) -> Result<()> {
    let Some(listen) = a.listen else {
        return super::serve::run(g);
    };
    let listen: SocketAddr = listen.parse().map_err(|_| {
        Error::usage(
            format!("--listen {listen:?} is not ADDR:PORT"),
            "give an address and a port, for example --listen 127.0.0.1:8443 or --listen [::1]:8443",
        )
    })?;
    cairn::api::serve(&cairn::api::ServeOptions {
        repo: g.repo.clone(),
        listen,
        tls: a.tls_cert.zip(a.tls_key),
    })
}
