//! The target's URL: `smb://HOST[:PORT]/SHARE[/PATH]`, `s3://BUCKET[/PREFIX]`,
//! `az://ACCOUNT/CONTAINER[/PREFIX]` or an absolute local directory.

use crate::backend::{ObjectLocation, Provider, SmbLocation};
use crate::error::{Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) const URL_FORMS: &str = "use smb://HOST[:PORT]/SHARE[/PATH] (for example smb://nas.example.com/backups/controller-1 or smb://10.0.0.5:445/backups), s3://BUCKET[/PREFIX] (for example s3://backups/controller-1), az://ACCOUNT/CONTAINER[/PREFIX] (for example az://mystorage/backups/controller-1) or an absolute local directory (for example /mnt/backups/controller-1)";

/// Where the external copy lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// An SMB share.
    Smb(SmbLocation),
    /// A local directory (for example a share mounted by the OS).
    Local(PathBuf),
    /// An S3 bucket or an Azure Blob container.
    Object(ObjectLocation),
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
        for (scheme, provider) in [("s3://", Provider::S3), ("az://", Provider::Azure)] {
            if lower.starts_with(scheme) {
                return Self::parse_object(url, &url[scheme.len()..], provider)
                    .map(TargetUrl::Object);
            }
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
                    "unsupported scheme {:?}: smb://, s3:// and az:// are supported",
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

    /// `BUCKET[/PREFIX]` (S3) or `ACCOUNT/CONTAINER[/PREFIX]` (Azure).
    fn parse_object(url: &str, rest: &str, provider: Provider) -> Result<ObjectLocation> {
        if rest.contains('@') || rest.contains('?') || rest.contains('#') {
            return Err(bad_url(
                url,
                "credentials and options do not belong in the URL: pass --username, --password-file, --endpoint and --region",
            ));
        }
        let (account, rest) = match provider {
            Provider::S3 => (None, rest),
            Provider::Azure => {
                let (a, r) = rest.split_once('/').unwrap_or((rest, ""));
                let ok = (3..=24).contains(&a.len())
                    && a.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !ok {
                    return Err(bad_url(url, format!("{a:?} is not a storage account name (3 to 24 lowercase letters and digits)")));
                }
                (Some(a.to_string()), r)
            }
        };
        let (bucket, prefix) = Self::parse_share_path(url, rest).map_err(|_| {
            bad_url(url, match provider {
                Provider::S3 => "the bucket name is missing, or the prefix has an empty, \".\" or \"..\" folder",
                Provider::Azure => "the container name is missing, or the prefix has an empty, \".\" or \"..\" folder",
            })
        })?;
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(bad_url(url, format!("{bucket:?} is not a bucket or container name (3 to 63 lowercase letters, digits, '-' and '.')")));
        }
        Ok(ObjectLocation {
            provider,
            account,
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The URL as the operator writes it (no credentials).
    pub fn as_string(&self) -> String {
        match self {
            TargetUrl::Smb(l) => l.url(),
            TargetUrl::Local(p) => p.display().to_string(),
            TargetUrl::Object(o) => o.url(),
        }
    }

    /// "smb", "local", "s3" or "azure".
    pub fn kind(&self) -> &'static str {
        match self {
            TargetUrl::Smb(_) => "smb",
            TargetUrl::Local(_) => "local",
            TargetUrl::Object(o) if o.provider == Provider::S3 => "s3",
            TargetUrl::Object(_) => "azure",
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
    fn object_store_urls_parse() {
        let u = TargetUrl::parse("s3://backups/ctl1/").unwrap();
        assert_eq!(
            u,
            TargetUrl::Object(ObjectLocation {
                provider: Provider::S3,
                account: None,
                bucket: "backups".into(),
                prefix: "ctl1".into()
            })
        );
        assert_eq!(u.as_string(), "s3://backups/ctl1");
        assert_eq!(u.kind(), "s3");
        let u = TargetUrl::parse("az://devstoreaccount1/backups/a/b").unwrap();
        assert_eq!(u.as_string(), "az://devstoreaccount1/backups/a/b");
        assert_eq!(u.kind(), "azure");
        assert_eq!(
            TargetUrl::parse("s3://backups").unwrap().as_string(),
            "s3://backups"
        );
        assert!(usage_msg(TargetUrl::parse("s3://")).contains("bucket"));
        assert!(usage_msg(TargetUrl::parse("s3://Bad_Bucket/x")).contains("bucket"));
        assert!(usage_msg(TargetUrl::parse("s3://b/../x")).contains("bucket"));
        assert!(usage_msg(TargetUrl::parse("s3://key:secret@bucket")).contains("--password-file"));
        assert!(usage_msg(TargetUrl::parse("az://acct")).contains("container"));
        assert!(usage_msg(TargetUrl::parse("az://UPPER/c")).contains("account"));
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
