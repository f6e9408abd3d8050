//! `cairn completions bash|zsh|fish` and `cairn generate-man DIR`: shell completions and man
//! pages generated from the same clap definitions as `--help` (PRODUCT §10). The packaged copies
//! under `packaging/` are written by `cargo xtask packaging`, which runs these.
//!
//! `generate-man` is a packaging step, not a command of the CLI: it is recognised before clap
//! parses ([`man_pages_requested`]), so it appears in no help, page or completion.

use super::Cli;
use cairn::{Error, Result};
use clap::{Args, CommandFactory, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The shells cairn writes completions for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// bash (bash-completion).
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

impl Shell {
    /// Every shell.
    #[cfg(test)]
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// `cairn completions SHELL`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Print the completion script for `a.shell` on stdout.
pub fn completions(a: CompletionsArgs) -> Result<()> {
    let mut out = Vec::new();
    write_completions(a.shell, &mut out);
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::io("standard output", e))
}

/// Write the completion script for `shell` into `out`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell.generator(), &mut cmd, "cairn", out);
}

/// `cairn generate-man DIR` (what `cargo xtask man DIR` runs): the directory, when these are
/// the arguments.
pub fn man_pages_requested(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    match args {
        [_, cmd, dir] if cmd == "generate-man" => Some(PathBuf::from(dir)),
        _ => None,
    }
}

/// Write `cairn.1` and one page per command (`cairn-target-set.1`, …) into `dir` (created if
/// missing).
pub fn write_man_pages(dir: &Path) -> Result<()> {
    let io = |e| Error::io(dir.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let source = format!("cairn {}", env!("CARGO_PKG_VERSION"));
    write_pages(cmd, dir, &source).map_err(io)
}

/// The page of `cmd` and of every visible command below it (each names the version it documents).
fn write_pages(cmd: clap::Command, dir: &Path, source: &str) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        write_pages(sub, dir, source)?;
    }
    let page = clap_mangen::Man::new(cmd)
        .source(source)
        .manual("cairn manual");
    page.generate_to(dir).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Command;

    /// Every visible command below `cmd` with its man page's name (`cairn-target-set`).
    fn commands(cmd: &Command, prefix: &str, out: &mut Vec<(String, Command)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("{prefix}-{}", sub.get_name());
            out.push((name.clone(), sub.clone()));
            commands(sub, &name, out);
        }
    }

    fn every_command() -> Vec<(String, Command)> {
        let mut cmd = Cli::command().disable_help_subcommand(true);
        cmd.build();
        let mut all = vec![("cairn".to_string(), cmd.clone())];
        commands(&cmd, "cairn", &mut all);
        all
    }

    /// The long flags a command takes (global ones included), as `--name`.
    fn flags(cmd: &Command) -> Vec<String> {
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect()
    }

    #[test]
    fn completions_offer_every_command_in_every_shell() {
        let all = every_command();
        assert!(all.len() > 20, "{}", all.len());
        for shell in Shell::ALL {
            let mut out = Vec::new();
            write_completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for (page, cmd) in &all[1..] {
                assert!(
                    text.contains(cmd.get_name()),
                    "{shell:?} completion lacks {page}"
                );
            }
            assert!(text.contains("completions"), "{shell:?}");
            assert!(
                !text.contains("generate-man"),
                "{shell:?} offers the hidden command"
            );
        }
    }

    #[test]
    fn a_man_page_for_every_command_names_every_flag() {
        let dir = tempfile::tempdir().unwrap();
        write_man_pages(dir.path()).unwrap();
        for (page, cmd) in every_command() {
            let path = dir.path().join(format!("{page}.1"));
            let roff = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("no man page {page}.1: {e}"));
            // roff writes a hyphen as `\-`
            let text = roff.replace("\\-", "-");
            assert!(text.contains(&page), "{page}.1 does not name its command");
            for flag in flags(&cmd) {
                assert!(text.contains(&flag), "{page}.1 does not mention {flag}");
            }
            if let Some(about) = cmd.get_about() {
                let first = about.to_string();
                let first = first.split_whitespace().next().unwrap();
                assert!(text.contains(first), "{page}.1 lacks its description");
            }
        }
        assert!(!dir.path().join("cairn-generate-man.1").exists());
        assert!(dir.path().join("cairn-target-set.1").exists());
    }

    /// The copies the Debian package installs are what the definitions generate today.
    #[test]
    fn the_packaged_man_pages_and_completions_are_up_to_date() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging");
        let stale = "is stale: run `cargo xtask packaging` and commit packaging/";
        let dir = tempfile::tempdir().unwrap();
        write_man_pages(dir.path()).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let mut packaged: Vec<_> = std::fs::read_dir(root.join("man"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        packaged.sort();
        assert_eq!(names, packaged, "the list of packaging/man pages {stale}");
        for n in names {
            let want = std::fs::read(dir.path().join(&n)).unwrap();
            let have = std::fs::read(root.join("man").join(&n)).unwrap();
            assert!(
                want == have,
                "packaging/man/{} {stale}",
                n.to_string_lossy()
            );
        }
        for shell in Shell::ALL {
            let mut want = Vec::new();
            write_completions(shell, &mut want);
            let file = root.join("completions").join(completion_file(shell));
            let have = std::fs::read(&file).unwrap();
            assert!(want == have, "{} {stale}", file.display());
        }
    }

    /// The file names `cargo xtask completions` writes (xtask/src/main.rs).
    fn completion_file(shell: Shell) -> &'static str {
        match shell {
            Shell::Bash => "cairn.bash",
            Shell::Zsh => "_cairn",
            Shell::Fish => "cairn.fish",
        }
    }
}
