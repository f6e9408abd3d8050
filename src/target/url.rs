//! The target's URL: `smb://HOST[:PORT]/SHARE[/PATH]` or an absolute local directory.

use crate::backend::SmbLocation;
use crate::error::{Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) const URL_FORMS: &str = "use smb://HOST[:PORT]/SHARE[/PATH] (for example smb://nas.example.com/backups/controller-1 or smb://10.0.0.5:445/backups) or an absolute local directory (for example /mnt/backups/controller-1)";

/// Where the external copy lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// An SMB share.
    Smb(SmbLocation),
    /// A local directory (for example a share mounted by the OS).
    Local(PathBuf),
}

fn bad_url(url: &str, fault: impl fmt::Display) -> Error {
    Error::usage(format!("malformed target {url:?}: {fault}"), URL_FORMS)
}

impl TargetUrl {
    /// Parse `smb://HOST[:PORT]/SHARE[/PATH]` or an absolute local path.
    pub fn parse(url: &str) -> Result<TargetUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(bad_url(url, "it is empty"));
        }
        if url.contains('\0') {
            return Err(bad_url(url, "it contains a NUL byte"));
        }
        let lower = url.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("smb://").map(|_| &url[6..]) {
            return Self::parse_smb(url, rest).map(TargetUrl::Smb);
        }
        if lower.starts_with("smb:") {
            return Err(bad_url(
                url,
                "an SMB URL starts with \"smb://\" (two slashes)",
            ));
        }
        if let Some(i) = url.find("://") {
            return Err(bad_url(
                url,
                format!(
                    "unsupported scheme {:?}: only smb:// is supported",
                    &url[..i]
                ),
            ));
        }
        if url.starts_with("\\\\") {
            return Err(bad_url(
                url,
                "UNC paths are not accepted: write \\\\HOST\\SHARE\\PATH as smb://HOST/SHARE/PATH",
            ));
        }
        if !url.starts_with('/') {
            return Err(bad_url(url, "a local directory must be an absolute path"));
        }
        let p = Path::new(url);
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(bad_url(url, "the path must not contain \"..\""));
        }
        Ok(TargetUrl::Local(p.to_path_buf()))
    }

    fn parse_smb(url: &str, rest: &str) -> Result<SmbLocation> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (host, port) = Self::parse_authority(url, authority)?;
        let (share, path) = Self::parse_share_path(url, path)?;
        Ok(SmbLocation {
            host: host.to_string(),
            port,
            share: share.to_string(),
            path,
        })
    }

    /// `HOST[:PORT]` (or `[IPv6][:PORT]`): no credentials, a plain host name or address, a port
    /// from 1 to 65535.
    fn parse_authority<'u>(url: &str, authority: &'u str) -> Result<(&'u str, Option<u16>)> {
        if authority.contains('@') {
            return Err(bad_url(
                url,
                "credentials do not belong in the URL: pass --username and --password-file",
            ));
        }
        if authority.is_empty() {
            return Err(bad_url(url, "the host is missing"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some(end) = v6.find(']') else {
                return Err(bad_url(url, "an IPv6 address must be closed with ']'"));
            };
            let host = &authority[..end + 2];
            (host, authority[end + 2..].strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad_url(url, "the host is missing"));
        }
        if !host.starts_with('[')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(bad_url(
                url,
                format!("{host:?} is not a valid host name or address"),
            ));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(bad_url(
                        url,
                        format!("the port {p:?} is not a number from 1 to 65535"),
                    ))
                }
            },
        };
        Ok((host, port))
    }

    /// `SHARE[/PATH]`: the share name and the folders below it (trailing `/` ignored; no empty,
    /// `.` or `..` folder, no `\`).
    fn parse_share_path<'u>(url: &str, path: &'u str) -> Result<(&'u str, String)> {
        let mut parts = path.split('/');
        let share = parts.next().unwrap_or("");
        if share.is_empty() {
            return Err(bad_url(url, "the share name is missing"));
        }
        let comps: Vec<&str> = parts.collect();
        let trailing_empty = comps
            .iter()
            .rposition(|c| !c.is_empty())
            .map_or(0, |i| i + 1);
        let comps = &comps[..trailing_empty];
        for c in comps {
            if c.is_empty() {
                return Err(bad_url(
                    url,
                    "the path contains an empty folder name (\"//\")",
                ));
            }
            if *c == "." || *c == ".." {
                return Err(bad_url(url, format!("the path must not contain {c:?}")));
            }
            if c.contains('\\') {
                return Err(bad_url(url, "use '/' between folders, not '\\'"));
            }
        }
        Ok((share, comps.join("/")))
    }

    /// The URL as the operator writes it (no credentials).
    pub fn as_string(&self) -> String {
        match self {
            TargetUrl::Smb(l) => l.url(),
            TargetUrl::Local(p) => p.display().to_string(),
        }
    }

    /// "smb" or "local".
    pub fn kind(&self) -> &'static str {
        match self {
            TargetUrl::Smb(_) => "smb",
            TargetUrl::Local(_) => "local",
        }
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_msg(r: Result<TargetUrl>) -> String {
        match r {
            Err(Error::Usage { message, remedy }) => {
                assert!(
                    remedy.contains("smb://HOST[:PORT]/SHARE[/PATH]"),
                    "{remedy}"
                );
                message
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn smb_urls_parse() {
        let u = TargetUrl::parse("smb://127.0.0.1:4455/backups/ctl1/").unwrap();
        assert_eq!(
            u,
            TargetUrl::Smb(SmbLocation {
                host: "127.0.0.1".into(),
                port: Some(4455),
                share: "backups".into(),
                path: "ctl1".into()
            })
        );
        assert_eq!(u.as_string(), "smb://127.0.0.1:4455/backups/ctl1");
        let u = TargetUrl::parse("smb://nas.example.com/backups").unwrap();
        assert_eq!(u.as_string(), "smb://nas.example.com/backups");
        let u = TargetUrl::parse("smb://[::1]:445/b/x/y").unwrap();
        assert_eq!(u.as_string(), "smb://[::1]:445/b/x/y");
        assert_eq!(
            TargetUrl::parse("/mnt/share").unwrap(),
            TargetUrl::Local("/mnt/share".into())
        );
    }

    #[test]
    fn malformed_urls_name_the_fault() {
        assert!(usage_msg(TargetUrl::parse("smb:/127.0.0.1/x")).contains("two slashes"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1")).contains("share name is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1/")).contains("share name is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1:99999/b")).contains("port"));
        assert!(usage_msg(TargetUrl::parse("smb://127.0.0.1:x/b")).contains("port"));
        assert!(usage_msg(TargetUrl::parse("smb:///b")).contains("host is missing"));
        assert!(usage_msg(TargetUrl::parse("smb://u:p@h/b")).contains("--username"));
        assert!(usage_msg(TargetUrl::parse("smb://h/b/../x")).contains(".."));
        assert!(usage_msg(TargetUrl::parse("nfs://h/b")).contains("scheme"));
        assert!(usage_msg(TargetUrl::parse("relative/dir")).contains("absolute"));
        assert!(usage_msg(TargetUrl::parse("")).contains("empty"));
    }
}
