//! The `cairn` binary: parse, run, map the error to an exit code.

mod cli;

use clap::Parser;

fn main() {
    cairn::sys::default_sigpipe();
    cairn::sys::limit_malloc_arenas(2);
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `cairn __smb-worker`: one SMB connection serving its parent (src/backend/smb_worker.rs)
    if args
        .get(1)
        .is_some_and(|a| a == cairn::backend::SMB_WORKER_SUBCOMMAND)
    {
        std::process::exit(cairn::backend::smb_worker_main());
    }
    cairn::sys::fix_mmap_threshold();
    cairn::backend::enable_smb_workers();
    if let Some(dir) = cli::man_pages_requested(&args) {
        if let Err(e) = cli::write_man_pages(&dir) {
            cli::print_error(&e, cli::LogFormat::Text);
            std::process::exit(e.exit_code());
        }
        return;
    }
    let cli = cli::Cli::parse_from(args);
    let log_format = cli.log_format;
    cli::init_logging(log_format);
    if let Err(e) = cli::run(cli) {
        cli::print_error(&e, log_format);
        std::process::exit(e.exit_code());
    }
}
