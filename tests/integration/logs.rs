//! `--log-format json`: every line cairn writes on stderr is one JSON object (journald and log
//! shippers read it), at every log level, and no line holds the share's password.

use crate::harness::{command, run_cmd, terminate, Env};
use crate::samba::{Samba, PASSWORD};
use std::process::Stdio;
use std::time::Duration;

/// Each line of `stderr` as a JSON object with `level` and `message`; none holds the password.
#[track_caller]
fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    assert!(
        !stderr.contains(PASSWORD),
        "the password is in a log line:\n{stderr}"
    );
    stderr
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\nall:\n{stderr}"));
            assert!(v["level"].is_string() && v["message"].is_string(), "{l}");
            v
        })
        .collect()
}

fn smb_env() -> (Env, String) {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"tenant data\n").unwrap();
    env.add_path_service("idp", &src);
    let pw = env.path("smb-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    (env, pw.to_str().unwrap().to_string())
}

#[test]
fn json_logs_are_one_object_per_line_without_the_password() {
    let mut s = Samba::start();
    let (env, pw) = smb_env();
    let url = s.url("ctl1");
    let set = [
        "--log-format",
        "json",
        "--quiet",
        "target",
        "set",
        &url,
        "--username",
        "cairn",
        "--password-file",
        &pw,
    ];
    let mut c = command(&env.repo, set);
    c.env("CAIRN_LOG", "trace");
    let o = run_cmd(c);
    o.ok("target set with json logs at trace level");
    let lines = json_lines(&o.stderr);
    assert!(!lines.is_empty(), "trace level logged nothing");

    // the scheduler's job lines, and a failure with its remedy
    env.run(["schedule", "set", "--backup-every", "1s"])
        .ok("schedule set");
    let log = std::fs::File::create(env.path("serve.log")).unwrap();
    let mut child = command(&env.repo, ["--log-format", "json", "serve"])
        .env("CAIRN_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    s.stop();
    std::thread::sleep(Duration::from_secs(4));
    terminate(&child);
    let status = wait_timeout::ChildExt::wait_timeout(&mut child, Duration::from_secs(30))
        .unwrap()
        .expect("serve stops on SIGTERM");
    let stderr = std::fs::read_to_string(env.path("serve.log")).unwrap();
    assert!(status.success(), "{stderr}");
    let lines = json_lines(&stderr);
    let event = |kind: &str, event: &str| {
        lines
            .iter()
            .any(|l| l["kind"] == kind && l["event"] == event)
    };
    assert!(event("backup", "succeeded"), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "ERROR" && l["remedy"].is_string()),
        "no failed job with its remedy once the share stopped:\n{stderr}"
    );

    // the final error of a command
    let o = env.run(["--log-format", "json", "show", "no-such-backup"]);
    assert_ne!(o.code, 0);
    let lines = json_lines(&o.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "ERROR" && l["remedy"].is_string()),
        "{}",
        o.stderr
    );
}
