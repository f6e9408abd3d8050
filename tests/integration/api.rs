//! The management API (`cairn serve --listen`, PRODUCT §8) through the real binary: tokens and
//! roles, errors with remedies, the same documents as the CLI, jobs with live progress, 409 while
//! busy, restore with an identity that is never written, the location's probe, OpenAPI, metrics.

use crate::harness::free_port;
use crate::harness::{assert_same, command, files_under, make_tree, snapshot, Env};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `cairn serve --listen 127.0.0.1:PORT`, stopped with SIGTERM on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) base: String,
    port: u16,
    log: PathBuf,
}

impl Server {
    pub(crate) fn start(env: &Env) -> Server {
        let port = free_port();
        let log = env.path(&format!("serve-{port}.log"));
        let child = command(
            &env.repo,
            ["serve", "--listen", &format!("127.0.0.1:{port}")],
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start cairn serve");
        let mut s = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
        };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("serve exited {st}: {}", s.log_text());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "serve did not listen: {}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// METHOD PATH with `token` and a JSON `body`: (status, body).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut r =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(t) = token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        let res = match body {
            Some(b) => r.set("Content-Type", "application/json").send_string(b),
            None => r.call(),
        };
        match res {
            Ok(resp) => (resp.status(), resp.into_string().unwrap()),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_string().unwrap()),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// A JSON answer with status `want`.
    #[track_caller]
    pub(crate) fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        want: u16,
    ) -> Value {
        let (code, text) = self.call(method, path, token, body);
        assert_eq!(code, want, "{method} {path}: {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} is not JSON ({e}): {text}"))
    }

    /// An error answer with status `want`: JSON with a non-empty error and remedy; its error.
    #[track_caller]
    fn error(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        want: u16,
    ) -> String {
        let v = self.json(method, path, token, body, want);
        let e = v["error"].as_str().unwrap_or_default().to_string();
        assert!(
            !e.is_empty() && !v["remedy"].as_str().unwrap_or_default().is_empty(),
            "{method} {path}: {v}"
        );
        e
    }

    /// Stop with SIGTERM; the exit code.
    fn stop(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!(
                    "serve did not stop within 30 s of SIGTERM: {}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Poll job `id` until it ends; its last document and how many polls saw live progress.
    pub(crate) fn wait_job(&self, id: &str, token: &str) -> (Value, usize) {
        let t0 = Instant::now();
        let mut progressed = 0;
        loop {
            let j = self.json("GET", &format!("/api/v1/jobs/{id}"), Some(token), None, 200);
            match j["state"].as_str() {
                Some("running") => {
                    if j["progress"]["bytes_done"].as_u64().unwrap_or(0) > 0 {
                        assert!(j["progress"]["phase"].is_string(), "{j}");
                        progressed += 1;
                    }
                }
                _ => return (j, progressed),
            }
            assert!(
                t0.elapsed() < Duration::from_secs(180),
                "job {id} still running: {j}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A repository with one path service, one backup, an admin and a reader token.
fn setup() -> (Env, String, String, String) {
    let env = Env::new();
    let src = env.path("src/identity");
    make_tree(&src, 7, 0);
    env.add_path_service("identity", &src);
    let id = env.backup();
    let admin = env.run(["token", "create", "ops", "--role", "admin"]);
    admin.ok("token create admin");
    let reader = env.run(["token", "create", "viewer", "--role", "reader"]);
    reader.ok("token create reader");
    (env, id, admin.last_line(), reader.last_line())
}

/// Whether any file under `dir` holds `needle`.
fn found_under(dir: &Path, needle: &str) -> Option<PathBuf> {
    files_under(dir).into_iter().find(|f| {
        std::fs::read(f)
            .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            .unwrap_or(false)
    })
}

#[test]
fn tokens_are_printed_once_listed_without_the_secret_and_stored_as_hashes() {
    let (env, _, admin, reader) = setup();
    assert!(
        admin.starts_with("cairn_") && admin != reader,
        "{admin} {reader}"
    );
    let l = env.run(["token", "list", "--json"]);
    l.ok("token list --json");
    let listed = l.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ops", "viewer"]);
    assert!(!l.stdout.contains(&admin) && !l.stdout.contains(&reader));
    assert_eq!(
        found_under(&env.repo, &admin),
        None,
        "admin token stored in plaintext"
    );
    assert_eq!(
        found_under(&env.repo, &reader),
        None,
        "reader token stored in plaintext"
    );
    env.run(["token", "create", "x", "--role", "root"])
        .expect(2, "unknown role");
    env.run(["token", "create", "ops", "--role", "reader"])
        .expect(2, "duplicate name");
    env.run(["token", "revoke", "nobody"])
        .expect(2, "unknown token");
}

#[test]
fn serve_refuses_a_non_loopback_address_without_tls() {
    let env = Env::new();
    let o = env.run(["serve", "--listen", &format!("0.0.0.0:{}", free_port())]);
    o.expect(2, "serve --listen 0.0.0.0 without TLS");
    assert!(
        o.stderr.contains("loopback") && o.stderr.contains("--tls-cert"),
        "{}",
        o.stderr
    );
    env.run(["serve", "--listen", "nonsense"])
        .expect(2, "a malformed --listen");
}

#[test]
fn every_read_route_answers_the_cli_documents_and_errors_carry_remedies() {
    let (env, id, admin, reader) = setup();
    let mut s = Server::start(&env);
    let r = Some(reader.as_str());
    let a = Some(admin.as_str());

    // authentication and roles
    s.error("GET", "/api/v1/status", None, None, 401);
    s.error("GET", "/api/v1/status", Some("cairn_made-up"), None, 401);
    s.error("GET", "/metrics", None, None, 401);
    s.error("POST", "/api/v1/backups", r, Some("{}"), 403);
    s.error(
        "PUT",
        "/api/v1/location",
        r,
        Some("{\"keep_days\": 3}"),
        403,
    );
    let rot = format!("{{\"recipients\": [\"{}\"]}}", env.recipient);
    s.error("POST", "/api/v1/keys/rotate", r, Some(&rot), 403);

    // status
    let st = s.json("GET", "/api/v1/status", r, None, 200);
    assert_eq!(st["last_backup"]["id"], id.as_str(), "{st}");
    let keys = env.run(["key", "list", "--json"]).json();
    assert_eq!(st["fingerprint"], keys["fingerprint"], "{st}");
    assert_eq!(st["active_alerts"], 0);

    // the same documents as the CLI
    let list = s.json("GET", "/api/v1/backups", r, None, 200);
    assert_eq!(list, env.run(["list", "--json"]).json());
    let show = s.json("GET", &format!("/api/v1/backups/{id}"), r, None, 200);
    assert_eq!(show, env.run(["show", &id, "--json"]).json());
    let alerts = s.json("GET", "/api/v1/alerts?all=true", r, None, 200);
    assert_eq!(alerts, env.run(["alerts", "--all", "--json"]).json());
    let jobs = s.json("GET", "/api/v1/jobs?limit=1000", r, None, 200);
    let cli_jobs = env.run(["jobs", "--json", "--limit", "1000"]).json();
    let first_backup = cli_jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "backup")
        .unwrap();
    let api_same = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == first_backup["id"])
        .unwrap();
    assert_eq!(api_same, first_backup);
    let jid = first_backup["id"].as_str().unwrap();
    assert_eq!(
        &s.json("GET", &format!("/api/v1/jobs/{jid}"), r, None, 200),
        first_backup
    );

    // 404s
    // the same instant one millisecond digit away (never the id itself: "…779Z" + 9 is itself)
    let last = id.as_bytes()[id.len() - 2];
    let other = if last == b'9' {
        '0'
    } else {
        (last + 1) as char
    };
    let unknown = format!("{}{other}Z", &id[..id.len() - 2]);
    assert_ne!(unknown, id);
    assert!(s
        .error("GET", &format!("/api/v1/backups/{unknown}"), r, None, 404)
        .contains(&unknown));
    s.error(
        "GET",
        "/api/v1/jobs/20990101T000000.000Z-abcd",
        r,
        None,
        404,
    );
    s.error("GET", "/api/v1/jobs/not-a-job", r, None, 404);
    s.error("GET", "/api/v1/nothing-here", r, None, 404);
    s.error(
        "POST",
        &format!("/api/v1/backups/{unknown}/restore"),
        a,
        Some(&format!(
            "{{\"target\": \"/tmp/x\", \"identity\": {:?}}}",
            std::fs::read_to_string(&env.identity).unwrap()
        )),
        404,
    );

    // 400s
    s.error("PUT", "/api/v1/location", a, Some("{not json"), 400);
    s.error(
        "PUT",
        "/api/v1/location",
        a,
        Some("{\"colour\": \"blue\"}"),
        400,
    );
    s.error(
        "PUT",
        "/api/v1/location",
        a,
        Some("{\"backup_every_hours\": -1}"),
        400,
    );
    s.error(
        "POST",
        "/api/v1/keys/rotate",
        a,
        Some("{\"recipients\": [\"age1nonsense\"]}"),
        400,
    );
    s.error(
        "POST",
        "/api/v1/keys/rotate",
        a,
        Some("{\"recipients\": []}"),
        400,
    );
    s.error(
        "POST",
        &format!("/api/v1/backups/{id}/restore"),
        a,
        Some("{\"target\": \"/tmp/x\", \"identity\": \"AGE-SECRET-KEY-1NOTAKEY\"}"),
        400,
    );

    // 413 over 1 MiB, answered as JSON (raw socket: the server answers before reading it all)
    let (code, text) = oversized(s.port, &admin);
    assert_eq!(code, 413, "{text}");
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("413 not JSON ({e}): {text}"));
    assert!(v["error"].is_string() && v["remedy"].is_string(), "{v}");

    // OpenAPI lists every route; metrics in Prometheus text
    let doc = s.json("GET", "/api/v1/openapi.json", r, None, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    for p in [
        "/api/v1/status",
        "/api/v1/location",
        "/api/v1/backups",
        "/api/v1/backups/{id}",
        "/api/v1/backups/{id}/restore",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/alerts",
        "/api/v1/keys/rotate",
        "/api/v1/openapi.json",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi.json lacks {p}");
    }
    let (code, m) = s.call("GET", "/metrics", r, None);
    assert_eq!(code, 200, "{m}");
    for name in [
        "cairn_last_backup_timestamp_seconds",
        "cairn_last_backup_duration_seconds",
        "cairn_read_bytes_total",
        "cairn_stored_bytes_total",
        "cairn_exported_bytes_total",
        "cairn_repository_size_bytes",
        "cairn_jobs",
        "cairn_alerts_active",
    ] {
        assert!(
            m.contains(&format!("# TYPE {name} ")),
            "metrics lack {name}: {m}"
        );
    }

    // a revoked token stops working at once; the log shows no token
    env.run(["token", "revoke", "viewer"]).ok("token revoke");
    s.error("GET", "/api/v1/status", r, None, 401);
    assert_eq!(s.stop(), 0, "serve's exit on SIGTERM: {}", s.log_text());
    let log = s.log_text();
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains(&admin) && !log.contains(&reader),
        "a token in the log: {log}"
    );
}

/// POST a 1.5 MiB body; the status and body of the answer.
fn oversized(port: u16, token: &str) -> (u16, String) {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = format!("{{\"padding\": \"{}\"}}", "x".repeat(1536 * 1024));
    let head = format!(
        "PUT /api/v1/location HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    let _ = c.write_all(body.as_bytes()); // the server may close first
    let mut resp = Vec::new();
    let _ = c.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    // a chunked answer: take the JSON between the braces
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => body[a..=b].to_string(),
        _ => body,
    };
    (code, body)
}

#[test]
fn a_backup_started_through_the_api_shows_live_progress_and_a_second_gets_409_naming_it() {
    let (env, _, admin, reader) = setup();
    // a command service that takes about 4 s whatever the machine: live progress is seen
    env.run([
        "service",
        "add",
        "slow",
        "--command",
        "for i in $(seq 40); do head -c 262144 /dev/urandom; sleep 0.1; done",
    ])
    .ok("service add slow");
    let s = Server::start(&env);
    let a = Some(admin.as_str());
    // (the scheduler's first prune and verify may hold the repository for a moment: 409, retried)
    let text = wait_free(|| s.call("POST", "/api/v1/backups", a, Some("{}")), 202);
    let started: Value = serde_json::from_str(&text).unwrap();
    let job = started["job_id"].as_str().unwrap().to_string();
    assert_eq!(started["url"], format!("/api/v1/jobs/{job}").as_str());
    let busy = s.error("POST", "/api/v1/backups", a, None, 409);
    assert!(
        busy.contains(&job),
        "the 409 does not name job {job}: {busy}"
    );
    let (done, progressed) = s.wait_job(&job, &reader);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(
        done.get("progress").is_none(),
        "an ended job shows progress: {done}"
    );
    assert!(
        progressed > 0,
        "no poll of the running job showed progress.bytes_done > 0"
    );
    let b = done["backup"].as_str().unwrap().to_string();
    let listed = s.json("GET", "/api/v1/backups", Some(&reader), None, 200);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == b.as_str()),
        "{listed}"
    );
    let st = s.json("GET", "/api/v1/status", Some(&reader), None, 200);
    assert_eq!(st["last_backup"]["id"], b.as_str(), "{st}");
    let cli = env.run(["jobs", "--json"]).json();
    let rec = cli
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job.as_str())
        .unwrap()
        .clone();
    assert_eq!(rec, done, "the API's job differs from cairn jobs --json");
}

#[test]
fn a_restore_through_the_api_holds_the_identity_in_memory_only() {
    let (env, id, admin, reader) = setup();
    let s = Server::start(&env);
    let identity = std::fs::read_to_string(&env.identity).unwrap();
    let secret = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY"))
        .unwrap()
        .to_string();
    let target = env.path("restored");
    std::fs::create_dir_all(&target).unwrap();
    let body = serde_json::json!({"target": target, "identity": identity}).to_string();
    // (a reader shares the lease: the scheduler's first prune may hold it a moment, 409)
    let path = format!("/api/v1/backups/{id}/restore");
    let text = wait_free(|| s.call("POST", &path, Some(&admin), Some(&body)), 202);
    let job = serde_json::from_str::<Value>(&text).unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (done, _) = s.wait_job(&job, &reader);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["kind"], "restore");
    assert_same(
        &snapshot(&env.path("src/identity")),
        &snapshot(&target.join("identity")),
        "restore through the API",
    );
    assert_eq!(
        found_under(&env.repo, &secret),
        None,
        "the identity was written under REPO"
    );
    assert!(
        !s.log_text().contains(&secret),
        "the identity is in serve's log"
    );
}

#[test]
fn a_location_put_probes_first_changes_nothing_when_it_fails_and_rotates_keys() {
    let (env, _, admin, reader) = setup();
    let s = Server::start(&env);
    let (a, r) = (Some(admin.as_str()), Some(reader.as_str()));
    let before = s.json("GET", "/api/v1/location", r, None, 200);
    assert!(before["url"].is_null(), "{before}");
    // a directory that cannot exist (under a file): the probe fails, nothing changes
    let file = env.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    let bad =
        serde_json::json!({"url": file.join("share"), "backup_every_hours": 6, "keep_days": 3})
            .to_string();
    s.error("PUT", "/api/v1/location", a, Some(&bad), 400);
    assert_eq!(s.json("GET", "/api/v1/location", r, None, 200), before);
    // a good one: saved, as `target set` would, with the schedule
    let share = env.path("share");
    std::fs::create_dir_all(&share).unwrap();
    let good =
        serde_json::json!({"url": share, "recipients": [env.recipient], "scheduler_enabled": true,
        "backup_every_hours": 10, "keep_days": 5})
        .to_string();
    let after = s.json("PUT", "/api/v1/location", a, Some(&good), 200);
    assert_eq!(after["url"], share.to_str().unwrap(), "{after}");
    assert_eq!(
        (
            after["backup_every_hours"].as_f64(),
            after["keep_days"].as_f64()
        ),
        (Some(10.0), Some(5.0))
    );
    assert!(after.get("password").is_none());
    let t = env.run(["target", "show", "--json"]).json();
    assert_eq!(t["url"], share.to_str().unwrap());
    let sched = env.run(["schedule", "show", "--json"]).json();
    assert_eq!(
        (
            sched["backup_every"].as_str(),
            sched["keep_within"].as_str()
        ),
        (Some("10h"), Some("5d")),
        "{sched}"
    );
    // new recipients through the location: a key rotation
    let g = env.run([
        "key",
        "generate",
        "--output",
        env.path("id2.txt").to_str().unwrap(),
    ]);
    g.ok("key generate");
    let second = g.last_line();
    let body = serde_json::json!({"recipients": [env.recipient, second]}).to_string();
    let _ = wait_free(|| s.call("PUT", "/api/v1/location", a, Some(&body)), 200);
    let keys = env.run(["key", "list", "--json"]).json();
    assert_eq!(
        keys["current"]["recipients"].as_array().unwrap().len(),
        2,
        "{keys}"
    );
    let rot = serde_json::json!({"recipients": [second]}).to_string();
    let v: Value = serde_json::from_str(&wait_free(
        || s.call("POST", "/api/v1/keys/rotate", a, Some(&rot)),
        200,
    ))
    .unwrap();
    assert_eq!(v["recipients"], 1, "{v}");
    assert!(v["job_id"].is_string(), "{v}");
    let keys = env.run(["key", "list", "--json"]).json();
    assert_eq!(keys["current"]["recipients"], serde_json::json!([second]));
}

/// Retry `f` while it answers 409 (the scheduler's export of a new target may run), up to 60 s;
/// the body of the answer, which must be `want`.
#[track_caller]
pub(crate) fn wait_free(f: impl Fn() -> (u16, String), want: u16) -> String {
    let t0 = Instant::now();
    loop {
        let (code, text) = f();
        if code != 409 || t0.elapsed() > Duration::from_secs(60) {
            assert_eq!(code, want, "{text}");
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_refuses_an_unreadable_tls_certificate_before_starting() {
    let env = Env::new();
    let missing = env.path("missing.pem");
    let m = missing.to_str().unwrap();
    let o = env.run([
        "serve",
        "--listen",
        &format!("0.0.0.0:{}", free_port()),
        "--tls-cert",
        m,
        "--tls-key",
        m,
    ]);
    o.expect(2, "serve with a missing TLS certificate");
    assert!(o.stderr.contains("TLS certificate"), "{}", o.stderr);
    assert!(
        !o.stderr.contains("backup every"),
        "the scheduler started: {}",
        o.stderr
    );
}

/// GET `path` without a token: (status, content type, CSP, nosniff, referrer policy, body).
fn fetch_asset(server: &Server, path: &str) -> (u16, [String; 4], String) {
    let resp = ureq::get(&format!("{}{path}", server.base))
        .timeout(Duration::from_secs(60))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let h = |name: &str| resp.header(name).unwrap_or_default().to_string();
    let headers = [
        h("Content-Type"),
        h("Content-Security-Policy"),
        h("X-Content-Type-Options"),
        h("Referrer-Policy"),
    ];
    (resp.status(), headers, resp.into_string().unwrap())
}

#[test]
fn the_console_and_its_assets_are_served_without_a_token_under_a_strict_csp() {
    let (env, _id, _admin, _reader) = setup();
    let server = Server::start(&env);
    // what the page holds (no inline code, only its own assets, its labels) is checked on the
    // embedded files by `api::console`'s unit tests; here: they are what is served, and how
    for (path, kind, file) in [
        (
            "/",
            "text/html",
            include_str!("../../src/api/console/index.html"),
        ),
        (
            "/console.css",
            "text/css",
            include_str!("../../src/api/console/console.css"),
        ),
        (
            "/console.js",
            "text/javascript",
            include_str!("../../src/api/console/console.js"),
        ),
    ] {
        let (code, [ctype, csp, nosniff, referrer], body) = fetch_asset(&server, path);
        assert_eq!(body, file, "GET {path} is not the console's file");
        assert_eq!(code, 200, "GET {path} without a token: {body}");
        assert!(ctype.starts_with(kind), "GET {path}: Content-Type {ctype}");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "GET {path}: CSP {csp:?}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(nosniff, "nosniff", "GET {path}");
        assert_eq!(referrer, "no-referrer", "GET {path}");
    }
}

#[test]
fn the_api_behind_the_console_still_needs_the_token() {
    let (env, _id, admin, _reader) = setup();
    let server = Server::start(&env);
    for path in [
        "/api/v1/status",
        "/api/v1/location",
        "/api/v1/backups",
        "/metrics",
    ] {
        server.error("GET", path, None, None, 401);
    }
    server.error("POST", "/api/v1/backups", None, Some("{}"), 401);
    server.error("PUT", "/api/v1/location", None, Some("{}"), 401);
    // a path beside the console's assets is not one of them: a JSON 404, no page
    server.error("GET", "/console.html", None, None, 404);
    server.json("GET", "/api/v1/status", Some(&admin), None, 200);
}

#[test]
fn a_method_a_route_does_not_take_and_a_bad_query_answer_json_with_a_remedy() {
    let (env, _, admin, _) = setup();
    let s = Server::start(&env);
    let a = Some(admin.as_str());
    let e = s.error("DELETE", "/api/v1/status", a, None, 405);
    assert!(e.contains("method"), "{e}");
    let e = s.error("GET", "/api/v1/jobs?limit=many", a, None, 400);
    assert!(e.contains("limit"), "the error names the parameter: {e}");
}

/// GET `path` with `token`: (status, `Link` header, `X-Total-Count` header, body).
fn get_page(s: &Server, path: &str, token: &str) -> (u16, String, String, String) {
    let res = ureq::get(&format!("{}{path}", s.base))
        .timeout(Duration::from_secs(60))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let header = |h: &str| resp.header(h).unwrap_or_default().to_string();
    let (link, total) = (header("Link"), header("X-Total-Count"));
    (resp.status(), link, total, resp.into_string().unwrap())
}

/// Follow the pages of GET `first` to the end: the ids of each page, in order.
fn walk_pages(s: &Server, first: &str, token: &str, total: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let (code, link, count, body) = get_page(s, &path, token);
        assert_eq!(code, 200, "GET {path}: {body}");
        assert_eq!(count, total.to_string(), "X-Total-Count of {path}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        pages.push(
            doc.as_array()
                .unwrap_or_else(|| panic!("GET {path} is not an array: {body}"))
                .iter()
                .map(|b| b["id"].as_str().unwrap().to_string())
                .collect(),
        );
        if let Some(url) = link.strip_prefix('<') {
            assert!(link.ends_with("; rel=\"next\""), "Link: {link}");
            next = Some(url.split('>').next().unwrap().to_string());
        }
        assert!(pages.len() <= total + 1, "the pages never end: {link}");
    }
    pages
}

#[test]
fn the_backups_come_in_pages_newest_first_that_list_each_backup_once() {
    let (env, _, _, reader) = setup();
    let n = 250;
    for _ in 1..n {
        cairn::ops::backup(&cairn::ops::Context::new(&env.repo)).unwrap();
    }
    let mut all: Vec<String> = env
        .list()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), n);
    all.sort();
    all.reverse(); // newest first
    let s = Server::start(&env);

    // default pages of 100, then pages of 64, then one page of everything
    for (first, size) in [
        ("/api/v1/backups", 100),
        ("/api/v1/backups?limit=64", 64),
        ("/api/v1/backups?limit=1000", 1000),
    ] {
        let pages = walk_pages(&s, first, &reader, n);
        assert_eq!(pages.len(), n.div_ceil(size), "{first}");
        assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == size));
        assert_eq!(
            pages.concat(),
            all,
            "{first}: not every backup once, newest first"
        );
    }
    // a page is made of the CLI's documents
    let cli = env.list();
    let (_, _, _, body) = get_page(&s, "/api/v1/backups?limit=1", &reader);
    let newest = cli.iter().find(|b| b["id"] == all[0].as_str()).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::json!([newest])
    );
    // a cursor need not be listed (a backup pruned meanwhile): the older ones follow
    let ms = cairn::id::BackupId::parse(&all[10])
        .unwrap()
        .millis()
        .unwrap();
    let pruned = cairn::id::BackupId::from_millis(ms - 1).to_string();
    assert!(!all.contains(&pruned));
    let pages = walk_pages(&s, &format!("/api/v1/backups?before={pruned}"), &reader, n);
    let older: Vec<_> = all.iter().filter(|i| **i < pruned).cloned().collect();
    assert_eq!(pages.concat(), older);

    // the bound and the cursor are checked
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "before=yesterday",
        "before=20261301T000000.000Z%2F..",
        "offset=3",
    ] {
        s.error(
            "GET",
            &format!("/api/v1/backups?{bad}"),
            Some(&reader),
            None,
            400,
        );
    }
}

#[test]
fn status_and_backups_served_from_memory_follow_a_backup_made_by_the_cli() {
    let (env, first, _, reader) = setup();
    let s = Server::start(&env);
    let r = Some(reader.as_str());
    // past the racy second of the files' last change: the documents are kept and served again
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..3 {
        let st = s.json("GET", "/api/v1/status", r, None, 200);
        assert_eq!(st["last_backup"]["id"], first.as_str());
        let list = s.json("GET", "/api/v1/backups", r, None, 200);
        assert_eq!(list[0]["id"], first.as_str());
    }
    let second = env.backup();
    let st = s.json("GET", "/api/v1/status", r, None, 200);
    assert_eq!(st["last_backup"]["id"], second.as_str(), "{st}");
    assert_eq!(st["backups"], 2);
    let list = s.json("GET", "/api/v1/backups", r, None, 200);
    assert_eq!(list[0]["id"], second.as_str(), "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2);
    // a token created by the CLI works at once, one revoked stops at once
    let made = env.run(["token", "create", "late", "--role", "reader"]);
    made.ok("token create");
    let late = made.last_line();
    s.json("GET", "/api/v1/status", Some(&late), None, 200);
    env.run(["token", "revoke", "late"]).ok("token revoke");
    s.error("GET", "/api/v1/status", Some(&late), None, 401);
}
