//! The checks of the target: reachable, writable and readable (the probe of `cairn target set`),
//! its transport, and its space against the sizing rule.

use super::local::Facts;
use super::{sizing, Check, Status};
use crate::backend::Backend;
use crate::controller::Controller;
use crate::error::StorageErrorKind;
use crate::object::ObjectKind;
use crate::target::{TargetConfig, TargetUrl};
use crate::text::size;
use std::sync::Arc;

const SET_IT: &str = "set one: `cairn target set smb://HOST/SHARE/PATH --username U --password-file F` (or a directory where the OS mounts the share)";

/// `target`, `transport` and `target_space`.
pub(super) fn checks(ctl: &Controller, f: &Facts) -> Vec<Check> {
    let not_checked = |name| {
        Check::warning(
            name,
            "not checked: the target cannot be used",
            "fix the target first (see above)",
        )
    };
    let cfg = match TargetConfig::load(&ctl.root) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            return vec![
                Check::failed(
                    "target",
                    "no target is set: backups stay on this controller only, and are lost with it",
                    SET_IT,
                ),
                not_checked("transport"),
                not_checked("target_space"),
            ]
        }
        Err(e) => return vec![Check::failed("target", e.to_string(), e.remedy())],
    };
    let transport = transport(&cfg);
    let store = match crate::remote::open(&cfg) {
        Ok(s) => s,
        Err(e) => {
            let insecure =
                matches!(&e, crate::Error::Storage(s) if s.kind == StorageErrorKind::Insecure);
            let t = if insecure {
                Check::failed(
                    "transport",
                    format!("the target {} {e}", cfg.url),
                    e.remedy(),
                )
            } else {
                not_checked("transport")
            };
            return vec![
                Check::failed(
                    "target",
                    format!("the target {} cannot be reached: {e}", cfg.url),
                    e.remedy(),
                ),
                t,
                not_checked("target_space"),
            ];
        }
    };
    let probed = crate::target::probe_backend(store.as_ref())
        .and_then(|()| crate::remote::check_owner(&store, &ctl.repo));
    let target = match probed {
        Ok(()) => Check::ok(
            "target",
            format!("the target {} is reachable, writable and readable (a probe object was written, read back and deleted)", cfg.url),
        ),
        Err(e) => Check::failed(
            "target",
            format!("the target {} is reachable but cannot be used: {e}", cfg.url),
            e.remedy(),
        ),
    };
    vec![target, transport, space(&cfg, &store, f)]
}

/// SMB with encryption required, or what was accepted instead.
fn transport(cfg: &TargetConfig) -> Check {
    if let Some(w) = cfg.warning() {
        return Check::warning("transport", format!("the target {}: {w}", cfg.url), "run `cairn target set` again without --allow-unencrypted once the server offers SMB 3 encryption");
    }
    match &cfg.url {
        TargetUrl::Smb(_) => Check::ok(
            "transport",
            "SMB 3 encryption and signing are required: a server without them is refused",
        ),
        TargetUrl::Local(_) => Check::ok(
            "transport",
            "a local directory: the mount that holds it carries the data (mount SMB shares with `seal` for encryption)",
        ),
        TargetUrl::Object(_) => match cfg.endpoint.as_deref() {
            Some(e) if e.starts_with("http://") => Check::warning(
                "transport",
                format!("the endpoint {e} is plain HTTP: cairn's objects stay encrypted and signed, but the store's requests, object names and sizes travel in clear"),
                "use an https:// endpoint (plain HTTP is for a test bench on loopback)",
            ),
            _ => Check::ok(
                "transport",
                format!("{} target reached over HTTPS", cfg.url.kind()),
            ),
        },
    }
}

/// The free space fits one full backup plus the growth of every backup the schedule keeps.
fn space(cfg: &TargetConfig, store: &Arc<dyn Backend>, f: &Facts) -> Check {
    let free = match store.free_space() {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Check::warning(
                "target_space",
                format!("the target {} does not say how much space is left", cfg.url),
                "check the space left there by hand against the sizing rule: one full backup plus the growth of every backup kept",
            )
        }
        Err(e) => {
            return Check::warning(
                "target_space",
                format!("the space left on the target {} cannot be read: {e}", cfg.url),
                e.remedy(),
            )
        }
    };
    let there: u64 = store
        .list(ObjectKind::Pack.prefix())
        .map(|l| l.iter().map(|o| o.size).sum())
        .unwrap_or(0);
    let growth = f.growth.unwrap_or(0);
    let needed = sizing::needed(f.stored, growth, f.kept);
    let more = needed.saturating_sub(there);
    // the next export alone: what the target lacks of the internal copy, and one backup's growth
    let next = f.stored.saturating_sub(there).saturating_add(growth);
    let status = match free {
        b if b < next => Status::Failed,
        b if b < more => Status::Warning,
        _ => Status::Ok,
    };
    let every = crate::retention::format_duration(f.schedule.backup_every);
    let within = crate::retention::format_duration(f.schedule.keep_within);
    let summary = format!(
        "{} free on the target; a backup every {every} kept {within} is {} backups: one full ({}) plus {} × {} growth{} = {}, of which {} is there",
        size(free),
        f.kept,
        size(f.stored),
        f.kept,
        size(growth),
        if f.growth.is_none() { " (no growth observed yet)" } else { "" },
        size(needed),
        size(there),
    );
    Check {
        name: "target_space",
        status,
        summary,
        remedy: (status != Status::Ok).then(|| {
            format!("make {} more room on the share (free space, raise its quota), or keep fewer backups (`cairn schedule set --keep-within 3d`, then `cairn prune`)", size(more.saturating_sub(free)))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_target(endpoint: Option<&str>) -> TargetConfig {
        TargetConfig {
            url: TargetUrl::parse("s3://bucket/prefix").unwrap(),
            username: None,
            password: None,
            endpoint: endpoint.map(str::to_string),
            region: None,
            allow_unencrypted: false,
        }
    }

    #[test]
    fn a_plain_http_object_endpoint_is_a_transport_warning() {
        let c = transport(&object_target(Some("http://127.0.0.1:9000")));
        assert_eq!(c.status, super::super::Status::Warning, "{c:?}");
        assert!(c.summary.contains("plain HTTP"), "{c:?}");
        let c = transport(&object_target(Some("https://s3.example.net")));
        assert_eq!(c.status, super::super::Status::Ok, "{c:?}");
        let c = transport(&object_target(None));
        assert_eq!(c.status, super::super::Status::Ok, "{c:?}");
    }
}
