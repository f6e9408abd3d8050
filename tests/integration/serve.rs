//! `cairn serve`: a short schedule runs several backups, exports and prunes unattended, and
//! SIGTERM stops it cleanly.

use crate::harness::{command, terminate, Env};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn scheduler_backs_up_exports_and_prunes_unattended_then_stops_on_sigterm() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("conf")).unwrap();
    std::fs::write(src.join("conf/a.json"), b"{\"tenant\": 1}\n").unwrap();
    env.add_path_service("idp", &src);
    let share = env.path("share");
    std::fs::create_dir_all(&share).unwrap();
    env.run(["target", "set", share.to_str().unwrap()])
        .ok("target set");
    env.run([
        "schedule",
        "set",
        "--backup-every",
        "2s",
        "--keep-within",
        "1s",
        "--keep-last",
        "2",
        "--verify-every",
        "1h",
    ])
    .ok("schedule set");

    let log = std::fs::File::create(env.path("serve.log")).unwrap();
    let mut child = command(&env.repo, ["serve"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start serve");
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_secs(14) {
        std::thread::sleep(Duration::from_millis(700));
        n += 1;
        std::fs::write(src.join("conf/changing.txt"), format!("generation {n}\n")).unwrap();
    }
    terminate(&child);
    let status = wait_timeout::ChildExt::wait_timeout(&mut child, Duration::from_secs(30))
        .unwrap()
        .expect("serve did not stop within 30 s of SIGTERM");
    let log = std::fs::read_to_string(env.path("serve.log")).unwrap_or_default();
    assert!(status.success(), "serve exited {status}: {log}");

    let jobs = env
        .run(["jobs", "--json", "--limit", "500"])
        .ok("jobs")
        .json();
    let jobs = jobs.as_array().expect("jobs array").clone();
    let count = |kind: &str| {
        jobs.iter()
            .filter(|j| {
                j["kind"] == kind && j["state"] == "succeeded" && j["trigger"] == "schedule"
            })
            .count()
    };
    assert!(
        count("backup") >= 3,
        "fewer than 3 scheduled backups succeeded: {jobs:?}\n{log}"
    );
    assert!(
        count("prune") >= 1,
        "no scheduled prune succeeded: {jobs:?}\n{log}"
    );
    assert!(
        count("export") >= 1,
        "no scheduled export succeeded: {jobs:?}\n{log}"
    );
    assert!(
        jobs.iter().all(|j| j["state"] != "running"),
        "a job is left running: {jobs:?}"
    );

    // retention held: keep-last 2 (keep-within 1s adds at most the one that just ran)
    let listed = env.list();
    assert!(
        (1..=3).contains(&listed.len()),
        "retention not applied: {} backups listed",
        listed.len()
    );
    env.run(["verify"]).ok("verify after serve");
    env.run(["verify", "--from-target"])
        .ok("verify of the exported copy");
    let out = env.path("restored");
    env.restore("latest", &out, &[]).ok("restore latest");
    assert_eq!(
        std::fs::read(out.join("idp/conf/a.json")).unwrap(),
        b"{\"tenant\": 1}\n"
    );
}
