//! Privacy at recovery: a failing restore command never reveals its command line (it may carry
//! credentials) in recover's output, job record or alerts.

use crate::harness::{cairn, Env};

#[test]
fn a_failing_restore_command_never_reveals_its_command_line_at_recovery() {
    let e = Env::new();
    let share = e.path("share");
    std::fs::create_dir_all(&share).unwrap();
    e.run([
        "service",
        "add",
        "db",
        "--command",
        "echo dump",
        "--restore-command",
        "PGPASSWORD=hunter2 sh -c 'echo \"psql: connection refused\" >&2; exit 3'",
    ])
    .ok("service add");
    e.run(["target", "set", share.to_str().unwrap()])
        .ok("target set");
    e.backup();
    let fp = e.run(["key", "list", "--json"]).json()["fingerprint"]
        .as_str()
        .expect("key list --json has the fingerprint")
        .to_string();
    let repo = e.path("recovered");
    let o = cairn(
        &repo,
        [
            "recover",
            "--from",
            share.to_str().unwrap(),
            "--identity",
            e.identity.to_str().unwrap(),
            "--fingerprint",
            &fp,
            "--target",
            e.path("rt").to_str().unwrap(),
        ],
    );
    o.expect(1, "recover with a failing restore command");
    assert!(
        o.stderr.contains("db") && o.stderr.contains("status 3"),
        "the error names neither the service nor the exit status: {}",
        o.stderr
    );
    assert_eq!(
        std::fs::read(e.path("rt/db/stdout")).ok().as_deref(),
        Some(&b"dump\n"[..]),
        "the dump is not left where the remedy says"
    );
    for (what, text) in [
        ("recover's output", o.all()),
        ("jobs --json", cairn(&repo, ["jobs", "--json"]).all()),
        (
            "alerts --json",
            cairn(&repo, ["alerts", "--json", "--all"]).all(),
        ),
    ] {
        assert!(
            !text.contains("hunter2") && !text.contains("PGPASSWORD"),
            "{what} reveals the restore command line:\n{text}"
        );
    }
}
