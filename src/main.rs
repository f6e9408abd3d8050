//! The `cairn` binary: parse, run, map the error to an exit code.

mod cli;

use clap::Parser;

fn main() {
    cairn::sys::default_sigpipe();
    cairn::sys::limit_malloc_arenas(2);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs and captured stderr carry no escape sequences
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(dir) = cli::man_pages_requested(&args) {
        if let Err(e) = cli::write_man_pages(&dir) {
            cli::print_error(&e);
            std::process::exit(e.exit_code());
        }
        return;
    }
    let cli = cli::Cli::parse_from(args);
    if let Err(e) = cli::run(cli) {
        cli::print_error(&e);
        std::process::exit(e.exit_code());
    }
}
