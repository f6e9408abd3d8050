//! `cairn doctor` against real faults (PRODUCT §10): a real Samba stopped, a wrong password, a
//! full share (a tmpfs of a few MiB), no recipients; each failed check named with its remedy.

use crate::harness::{random_bytes, write, Env, Out};
use crate::samba::{Samba, PASSWORD};
use std::fs;

/// A repository with one service and the share's folder `ctl1` as its target, backed up once.
fn env_on(s: &Samba, data: usize) -> Env {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    write(&src.join("a.bin"), &random_bytes(7, data));
    env.add_path_service("app", &src);
    let pw = env.path("smb-password");
    fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let url = s.url("ctl1");
    env.set_share_target(&url, &pw);
    env
}

/// `doctor --json`: the status of each check by name, and the whole document.
fn doctor(env: &Env) -> (Out, serde_json::Value) {
    let o = env.run(["doctor", "--json"]);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    let j = o.json();
    (o, j)
}

fn check<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {j}"))
}

#[track_caller]
fn assert_status(j: &serde_json::Value, name: &str, want: &str) {
    let c = check(j, name);
    assert_eq!(c["status"], want, "{name}: {c}");
    if want != "ok" {
        let remedy = c["remedy"].as_str().unwrap_or("");
        assert!(!remedy.is_empty(), "{name} is {want} without a remedy: {c}");
    }
}

#[test]
fn a_healthy_controller_passes_every_check_then_a_stopped_share_fails_the_target() {
    let mut s = Samba::start();
    let env = env_on(&s, 200_000);
    env.backup();
    write(&env.path("src/b.bin"), &random_bytes(8, 50_000));
    env.backup();
    let (o, j) = doctor(&env);
    o.ok("doctor on a healthy controller");
    assert_eq!(j["status"], "ok", "{j}");
    for name in [
        "repository",
        "recipients",
        "target",
        "transport",
        "target_space",
        "last_backup",
        "alerts",
        "local_disk",
        "clock",
    ] {
        assert_status(&j, name, "ok");
    }
    // the sizing rule's figures: 14 backups of growth at the defaults
    let space = check(&j, "target_space")["summary"].as_str().unwrap();
    assert!(space.contains("14 backups"), "{space}");
    let text = env.run(["doctor"]);
    text.ok("doctor (text)");
    assert!(text
        .stdout
        .lines()
        .any(|l| l.starts_with("ok") && l.contains("target")));

    s.stop();
    let (o, j) = doctor(&env);
    o.expect(1, "doctor with the share's server stopped");
    assert_status(&j, "target", "failed");
    let t = check(&j, "target");
    assert!(t["summary"].as_str().unwrap().contains("127.0.0.1"), "{t}");
    assert!(
        t["remedy"].as_str().unwrap().contains("445")
            || t["remedy"].as_str().unwrap().contains("firewall"),
        "{t}"
    );
    // the rest of the controller is still fine
    assert_status(&j, "repository", "ok");
    assert_status(&j, "recipients", "ok");
    let text = env.run(["doctor"]);
    text.expect(1, "doctor (text) with the server stopped");
    assert!(
        text.stdout.contains("failed   target") && text.stdout.contains("what to do:"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_wrong_password_fails_the_target_check_with_the_logon_remedy() {
    let s = Samba::start();
    let env = env_on(&s, 10_000);
    // the share's password changed since `target set`
    let settings = env.repo.join("local/target.toml");
    let text = fs::read_to_string(&settings).unwrap();
    assert!(text.contains(PASSWORD));
    fs::write(&settings, text.replace(PASSWORD, "not-the-password")).unwrap();
    let (o, j) = doctor(&env);
    o.expect(1, "doctor with a wrong password");
    assert_status(&j, "target", "failed");
    let t = check(&j, "target");
    assert!(
        t["remedy"].as_str().unwrap().contains("cairn target set"),
        "{t}"
    );
    assert!(!o.all().contains("not-the-password"), "the password leaked");
}

#[test]
fn a_full_share_fails_the_space_check() {
    let s = Samba::start_small(4 * 1024 * 1024);
    let env = env_on(&s, 6 * 1024 * 1024);
    // the backup is kept internally; its export runs out of space
    let b = env.run(["--quiet", "backup"]);
    assert_ne!(
        b.code,
        0,
        "an export to a full share succeeded: {}",
        b.all()
    );
    let (o, j) = doctor(&env);
    o.expect(1, "doctor with a full share");
    assert_status(&j, "target_space", "failed");
    let c = check(&j, "target_space");
    assert!(c["remedy"].as_str().unwrap().contains("room"), "{c}");
    // the failed export is an active alert, and the newest backup is not on the share
    assert_status(&j, "alerts", "failed");
    assert_status(&j, "last_backup", "warning");
}

#[test]
fn no_recipients_and_no_target_fail_with_their_remedies() {
    let env = Env::new();
    let (o, j) = doctor(&env);
    o.expect(1, "doctor without a target");
    assert_status(&j, "recipients", "ok");
    assert_status(&j, "target", "failed");
    assert!(check(&j, "target")["remedy"]
        .as_str()
        .unwrap()
        .contains("cairn target set"));
    assert_status(&j, "last_backup", "warning");
    // the current key epoch is lost: new backups have nobody to encrypt to
    fs::remove_file(env.repo.join("local/keys.toml")).unwrap();
    let (o, j) = doctor(&env);
    o.expect(1, "doctor without recipients");
    assert_status(&j, "recipients", "failed");
    assert!(check(&j, "recipients")["remedy"]
        .as_str()
        .unwrap()
        .contains("cairn key rotate --recipient"));
    // no repository at all: named, and the rest not checked
    let none = crate::harness::cairn(&env.path("absent"), ["doctor"]);
    none.expect(1, "doctor without a repository");
    assert!(
        none.stdout.contains("failed   repository"),
        "{}",
        none.stdout
    );
    assert!(none.stdout.contains("cairn init"), "{}", none.stdout);
}

#[test]
fn bad_usage_exits_2() {
    let env = Env::new();
    env.run(["doctor", "--no-such-flag"])
        .expect(2, "doctor with an unknown flag");
}
