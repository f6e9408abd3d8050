//! Services: the named data sources a backup covers.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One configured service: a directory tree (`path`) or a command's standard output (`command`),
/// with its optional hooks (`prepare`, `release`, `capture_path`, `hook_timeout_s`, see
/// [`crate::capture`]) and its place in the restore order (`restore_after`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDef {
    /// Unique name; the service's folder in restores and mounts.
    pub name: String,
    /// Directory to back up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Command whose standard output is backed up (run with `sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Command that takes the backed-up output on standard input at recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_command: Option<String>,
    /// Hook run before capture (all services' together, see [`crate::capture::barrier`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare: Option<String>,
    /// Hook run after capture; always runs once `prepare` succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Directory captured instead of `path` (a snapshot mount); prepare's
    /// `CAIRN_CAPTURE_PATH=…` line overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_path: Option<String>,
    /// Time limit of each hook, seconds (default [`crate::capture::DEFAULT_TIMEOUT_S`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_timeout_s: Option<u64>,
    /// Services whose restore command `recover` runs before this one's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore_after: Vec<String>,
    /// Average chunk size in bytes, fixed at `service add` (min a quarter, max four times it,
    /// see [`crate::chunker::ChunkerParams::from_avg`]); `None`: the repository's chunker
    /// (`config`). Readers never need it: a file entry lists its chunks' lengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u32>,
}

/// File name under which a command service's output is stored.
pub const COMMAND_OUTPUT: &str = "stdout";

impl ServiceDef {
    /// `path` or `command`.
    pub fn kind(&self) -> &'static str {
        if self.command.is_some() {
            "command"
        } else {
            "path"
        }
    }

    /// The chunker bounds this service's backups use: its own (`chunk_size`), else the
    /// repository's.
    pub fn chunker(&self, repo: crate::chunker::ChunkerParams) -> crate::chunker::ChunkerParams {
        self.chunk_size
            .and_then(crate::chunker::ChunkerParams::from_avg)
            .unwrap_or(repo)
    }

    /// Check the definition is complete and its name usable as a folder name.
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        if !valid_name(n) {
            return Err(Error::usage(
                format!("bad service name {n:?}"),
                "use letters, digits, '-', '_' or '.', e.g. `cairn service add identity --path /var/lib/identity`",
            ));
        }
        self.validate_hooks()?;
        if let Some(avg) = self.chunk_size {
            if crate::chunker::ChunkerParams::from_avg(avg).is_none() {
                return Err(Error::usage(
                    format!("service {n}: a chunk size of {avg} bytes"),
                    "give an average between 1K and 4M, e.g. `--chunk-size 16K`",
                ));
            }
        }
        match (&self.path, &self.command) {
            (Some(p), None) if Path::new(p).is_absolute() => Ok(()),
            (Some(p), None) => Err(Error::usage(
                format!("service {n}: path {p:?} is not absolute"),
                format!("give the absolute path, e.g. `cairn service add {n} --path /var/lib/{n}`"),
            )),
            (None, Some(c)) if !c.trim().is_empty() => Ok(()),
            _ => Err(Error::usage(
                format!("service {n}: give exactly one of --path DIR or --command CMD"),
                format!("e.g. `cairn service add {n} --path /var/lib/{n}` or `cairn service add {n} --command 'pg_dump app'`"),
            )),
        }
    }
}

impl ServiceDef {
    /// Hooks: a capture path is absolute and for a path service; a timeout is at least a second;
    /// `restore_after` names valid services other than this one.
    fn validate_hooks(&self) -> Result<()> {
        let n = &self.name;
        if let Some(c) = &self.capture_path {
            if self.path.is_none() || !Path::new(c).is_absolute() {
                return Err(Error::usage(
                    format!("service {n}: --capture-path must be an absolute directory, for a --path service"),
                    format!("e.g. `cairn service set {n} --capture-path /mnt/snap/{n}` (or let --prepare print CAIRN_CAPTURE_PATH=DIR)"),
                ));
            }
        }
        if self.hook_timeout_s == Some(0) {
            return Err(Error::usage(
                format!("service {n}: a hook timeout of 0 s"),
                "give a duration of at least 1s, e.g. `--timeout 10m`",
            ));
        }
        for o in &self.restore_after {
            if !valid_name(o) || o == n {
                return Err(Error::usage(
                    format!("service {n} cannot be restored after {o:?}: that is a cycle or not a service name"),
                    format!("name another service that {n}'s restore command needs first, e.g. `cairn service set {n} --restore-after ca`"),
                ));
            }
        }
        Ok(())
    }
}

/// Changes to a service's hooks and restore order (`service add` and `service set`): `None`
/// leaves a setting as it is; an empty command, path or list removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookSettings {
    /// `--prepare CMD`.
    pub prepare: Option<String>,
    /// `--release CMD`.
    pub release: Option<String>,
    /// `--capture-path DIR`.
    pub capture_path: Option<String>,
    /// `--timeout DURATION`, seconds.
    pub timeout_s: Option<u64>,
    /// `--restore-command CMD` (command services).
    pub restore_command: Option<String>,
    /// `--restore-after OTHER` (repeated).
    pub restore_after: Option<Vec<String>>,
}

impl HookSettings {
    /// Apply to `def`.
    pub fn apply(&self, def: &mut ServiceDef) {
        let set = |field: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *field = (!v.trim().is_empty()).then(|| v.clone());
            }
        };
        set(&mut def.prepare, &self.prepare);
        set(&mut def.release, &self.release);
        set(&mut def.capture_path, &self.capture_path);
        set(&mut def.restore_command, &self.restore_command);
        if let Some(t) = self.timeout_s {
            def.hook_timeout_s = Some(t);
        }
        if let Some(after) = &self.restore_after {
            def.restore_after = after.iter().filter(|a| !a.is_empty()).cloned().collect();
        }
    }
}

/// A chunk size as given to `--chunk-size`: bytes, or with a binary suffix `K`, `M` (`KiB`,
/// `MiB` too), e.g. `16K`.
pub fn parse_chunk_size(s: &str) -> Result<u32> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        _ => 0,
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            Error::usage(
                format!("cannot read the chunk size {s:?}"),
                "give bytes with an optional K or M, e.g. `--chunk-size 16K`",
            )
        })
}

/// The rule for service names (`service add`, and every name decoded from a repository): 1 to 64
/// of letters, digits, `-`, `_`, `.`, not starting with `.` (so never `..`, `/` or NUL).
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !n.starts_with('.')
}

/// The service list as stored in `REPO/local/services.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceList {
    /// Services in the order they were added.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceDef>,
}

impl ServiceList {
    /// Read the list (empty if the file does not exist).
    pub fn load(path: &Path) -> Result<Self> {
        let Some(t) = crate::fsutil::read_if_present(path)? else {
            return Ok(Self::default());
        };
        toml::from_str(&t).map_err(|e| {
            Error::failed(
                format!("cannot parse {}: {e}", path.display()),
                "fix the file by hand or remove and re-add the services",
            )
        })
    }

    /// Write the list atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self)
            .map_err(|e| Error::failed(format!("cannot encode services: {e}"), "report a bug"))?;
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)
    }

    /// Add a service, refusing a duplicate name.
    pub fn add(&mut self, def: ServiceDef) -> Result<()> {
        def.validate()?;
        if self.services.iter().any(|s| s.name == def.name) {
            return Err(Error::usage(
                format!("a service named {} already exists", def.name),
                format!(
                    "choose another name, or `cairn service remove {}` first",
                    def.name
                ),
            ));
        }
        self.services.push(def);
        self.check_order()
    }

    /// Replace the definition of the service named `def.name`, refusing an unknown name.
    pub fn set(&mut self, def: ServiceDef) -> Result<()> {
        def.validate()?;
        let slot = self
            .services
            .iter_mut()
            .find(|s| s.name == def.name)
            .ok_or_else(|| unknown(&def.name))?;
        *slot = def;
        self.check_order()
    }

    /// Every `restore_after` names a configured service and the order has no cycle.
    fn check_order(&self) -> Result<()> {
        for s in &self.services {
            if let Some(o) = s.restore_after.iter().find(|o| self.find(o).is_none()) {
                return Err(Error::usage(
                    format!(
                        "service {} is to be restored after {o}, which is not configured",
                        s.name
                    ),
                    format!(
                        "add service {o} first, or give an existing one (`cairn service list`)"
                    ),
                ));
            }
        }
        let order = self.restore_order();
        if order.len() < self.services.len() {
            let stuck: Vec<&str> = self
                .services
                .iter()
                .filter(|s| !order.iter().any(|o| o.name == s.name))
                .map(|s| s.name.as_str())
                .collect();
            return Err(Error::usage(
                format!("--restore-after makes a cycle among services {}", stuck.join(", ")),
                "each service may only be restored after services that are not (directly or through others) restored after it: drop one --restore-after of the cycle (`cairn service set NAME --restore-after ...`)",
            ));
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Option<&ServiceDef> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The services in the order `recover` runs their restore commands: each after those it
    /// names in `restore_after` (names not configured are ignored), otherwise in the order they
    /// were added. Services on a cycle (refused by `service add`) are left out.
    pub fn restore_order(&self) -> Vec<&ServiceDef> {
        let mut done: Vec<&ServiceDef> = Vec::with_capacity(self.services.len());
        while done.len() < self.services.len() {
            let ready = self.services.iter().find(|s| {
                !done.iter().any(|d| d.name == s.name)
                    && s.restore_after
                        .iter()
                        .all(|o| self.find(o).is_none() || done.iter().any(|d| &d.name == o))
            });
            match ready {
                Some(s) => done.push(s),
                None => break,
            }
        }
        done
    }

    /// Remove a service by name.
    pub fn remove(&mut self, name: &str) -> Result<ServiceDef> {
        let i = self
            .services
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| unknown(name))?;
        if let Some(d) = self
            .services
            .iter()
            .find(|s| s.restore_after.iter().any(|o| o == name))
        {
            return Err(Error::usage(
                format!("service {} is restored after {name}", d.name),
                format!(
                    "first drop that order: `cairn service set {} --restore-after ...` without {name}",
                    d.name
                ),
            ));
        }
        Ok(self.services.remove(i))
    }
}

fn unknown(name: &str) -> Error {
    Error::usage(
        format!("no service named {name}"),
        "`cairn service list` shows the configured services",
    )
}

/// Why a service's command failed, without the command line (it may hold secrets such as
/// `PGPASSWORD=…`) and without its error output: `its command exited with status 1`.
pub fn exit_cause(status: &std::process::ExitStatus) -> String {
    format!("its command {}", exit_reason(status))
}

/// How a process ended, as a predicate: `exited with status 1`, `was killed by signal 9`.
pub fn exit_reason(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => format!("exited with {status}"),
    }
}

/// The end of a command's error output, for the job record only (`REPO/local`, 0600; never an
/// error, alert or notification: a command may print its secrets): at most the last 3 lines
/// and 300 characters, control characters escaped.
pub fn stderr_excerpt(bytes: &[u8]) -> String {
    const LINES: usize = 3;
    const CHARS: usize = 300;
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(LINES)..].join(" / ");
    let skip = tail.chars().count().saturating_sub(CHARS);
    let cut: String = tail.chars().skip(skip).collect();
    let prefix = if skip > 0 { "…" } else { "" };
    format!("{prefix}{}", crate::text::escape(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_is_described_without_its_command_line() {
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg("PGPASSWORD=hunter2 exit 3")
            .status()
            .unwrap();
        let c = exit_cause(&st);
        assert_eq!(c, "its command exited with status 3");
        let long = format!("{}\nline2\nline3\nlast \u{1b}[31m line", "x".repeat(1000));
        let e = stderr_excerpt(long.as_bytes());
        assert!(e.starts_with("line2 / line3 / last \\x1b[31m line"), "{e}");
        let e = stderr_excerpt("y".repeat(1000).as_bytes());
        assert!(e.starts_with('…') && e.chars().count() == 301, "{e}");
        assert_eq!(stderr_excerpt(b""), "");
    }

    #[test]
    fn chunk_sizes_parse_and_bound_the_chunker() {
        assert_eq!(parse_chunk_size("16K").unwrap(), 16 << 10);
        assert_eq!(parse_chunk_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_chunk_size("4096").unwrap(), 4096);
        for bad in ["", "K", "16Q", "0", "-4K", "8192M"] {
            assert!(parse_chunk_size(bad).is_err(), "{bad}");
        }
        let repo = crate::chunker::ChunkerParams::default();
        let mut d = ServiceDef {
            name: "db".into(),
            command: Some("pg_dump".into()),
            ..Default::default()
        };
        assert_eq!(d.chunker(repo), repo);
        d.chunk_size = Some(16 << 10);
        let p = d.chunker(repo);
        assert_eq!((p.min, p.avg, p.max), (4 << 10, 16 << 10, 64 << 10));
        d.validate().unwrap();
        d.chunk_size = Some(512);
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("chunk size of 512"), "{e}");
    }

    #[test]
    fn add_validate_remove_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("services.toml");
        let mut l = ServiceList::load(&f).unwrap();
        l.add(ServiceDef {
            name: "idp".into(),
            path: Some("/var/lib/idp".into()),
            command: None,
            restore_command: None,
            ..Default::default()
        })
        .unwrap();
        l.add(ServiceDef {
            name: "db".into(),
            path: None,
            command: Some("echo hi".into()),
            restore_command: Some("cat".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            l.add(ServiceDef {
                name: "idp".into(),
                path: Some("/x".into()),
                command: None,
                restore_command: None,
                ..Default::default()
            })
            .unwrap_err()
            .exit_code(),
            2
        );
        assert!(l
            .add(ServiceDef {
                name: "../x".into(),
                path: Some("/x".into()),
                command: None,
                restore_command: None,
                ..Default::default()
            })
            .is_err());
        assert!(l
            .add(ServiceDef {
                name: "rel".into(),
                path: Some("x".into()),
                command: None,
                restore_command: None,
                ..Default::default()
            })
            .is_err());
        l.save(&f).unwrap();
        let mut back = ServiceList::load(&f).unwrap();
        assert_eq!(back.services, l.services);
        back.remove("idp").unwrap();
        assert!(back.remove("idp").is_err());
    }
}
