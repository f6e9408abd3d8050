//! Load on the management API: a repository with 1,000 real backups (signed manifests made by
//! `cairn::ops::backup` of a small service), served by the real `cairn serve --listen`, and 200
//! concurrent clients on `GET /api/v1/backups` (its first page, the newest 100) and
//! `GET /api/v1/status`. Reports p50, p99 and max latency per route and the server's idle and
//! peak RSS (`/proc/PID/status`).
//!
//!   cargo bench --bench api_load
//!   CAIRN_BENCH_BACKUPS=200 CAIRN_BENCH_CLIENTS=50 CAIRN_BENCH_ROUNDS=5 cargo bench --bench api_load
//!
//! Goals (issue 10): p99 under 50 ms, RSS under 60 MB while idle.
#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

use cairn::controller::Controller;
use cairn::ops::Context;
use cairn::service::ServiceDef;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A repository at `repo` with `n` backups of one small path service.
fn build(repo: &Path, src: &Path, n: usize) {
    std::fs::create_dir_all(src).unwrap();
    let (_, recipient) = cairn::crypto::generate_identity();
    let ctl =
        Controller::init(repo, &[cairn::crypto::parse_recipient(&recipient).unwrap()]).unwrap();
    let mut services = ctl.services().unwrap();
    services
        .add(ServiceDef {
            name: "identity".into(),
            path: Some(src.display().to_string()),
            command: None,
            restore_command: None,
            ..Default::default()
        })
        .unwrap();
    ctl.save_services(&services).unwrap();
    let t0 = Instant::now();
    for i in 0..n {
        // a little new data each time, so each manifest differs in more than its id
        std::fs::write(src.join("config.json"), format!("{{\"generation\": {i}}}")).unwrap();
        std::fs::write(src.join(format!("log-{}", i % 7)), vec![b'x'; 100 + i]).unwrap();
        cairn::ops::backup(&Context::new(repo)).unwrap();
    }
    eprintln!("built {n} backups in {:.1} s", t0.elapsed().as_secs_f64());
}

fn cairn_cmd(repo: &Path) -> Command {
    let mut c = Command::new(CAIRN);
    c.env("CAIRN_REPO", repo).stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `VmRSS` and `VmHWM` of process `pid`, in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn get(agent: &ureq::Agent, url: &str, token: &str) -> usize {
    match agent
        .get(url)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => r.into_string().unwrap().len(),
        Err(ureq::Error::Status(code, r)) => {
            panic!("GET {url}: {code} {}", r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// `clients` threads, each `rounds` times GET backups then GET status; the latencies of each.
fn load(base: &str, token: &str, clients: usize, rounds: usize) -> [Vec<Duration>; 2] {
    let start = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (start, base, token) = (start.clone(), base.to_string(), token.to_string());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(120))
                    .build();
                let mut lat = [Vec::new(), Vec::new()];
                start.wait();
                for _ in 0..rounds {
                    for (i, route) in ["/api/v1/backups", "/api/v1/status"].iter().enumerate() {
                        let t = Instant::now();
                        get(&agent, &format!("{base}{route}"), &token);
                        lat[i].push(t.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut all = [Vec::new(), Vec::new()];
    for h in handles {
        let [a, b] = h.join().unwrap();
        all[0].extend(a);
        all[1].extend(b);
    }
    all
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn serve(repo: &Path) -> (Child, String) {
    let port = free_port();
    let child = cairn_cmd(repo)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CAIRN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this with no flag: keep it short
    let full = std::env::args().any(|a| a == "--bench");
    let n = knob("CAIRN_BENCH_BACKUPS", if full { 1000 } else { 20 });
    let clients = knob("CAIRN_BENCH_CLIENTS", if full { 200 } else { 4 });
    let rounds = knob("CAIRN_BENCH_ROUNDS", if full { 10 } else { 1 });
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-api-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    build(&repo, &dir.path().join("src"), n);
    let out = cairn_cmd(&repo)
        .args(["token", "create", "bench", "--role", "reader"])
        .output()
        .unwrap();
    assert!(out.status.success(), "token create failed");
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.lines().last().unwrap().trim().to_string();

    let (mut child, base) = serve(&repo);
    let warm = ureq::agent();
    let body = get(&warm, &format!("{base}/api/v1/backups"), &token);
    get(&warm, &format!("{base}/api/v1/status"), &token);
    std::thread::sleep(Duration::from_secs(2));
    let (idle_before, _) = rss(child.id());

    // one client alone: what one request costs the server
    let mut alone = load(&base, &token, 1, 20);
    for (i, route) in ["GET /api/v1/backups", "GET /api/v1/status"]
        .iter()
        .enumerate()
    {
        alone[i].sort();
        println!(
            "  one client, {route:22} p50 {:7.1} ms   p99 {:7.1} ms",
            pct(&alone[i], 0.50),
            pct(&alone[i], 0.99)
        );
    }
    let t0 = Instant::now();
    let mut lat = load(&base, &token, clients, rounds);
    let took = t0.elapsed().as_secs_f64();
    let (_, peak) = rss(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let (idle_after, _) = rss(child.id());

    println!(
        "api_load: {n} backups (GET /api/v1/backups answers {} KiB), {clients} clients x {rounds} rounds, {:.0} requests/s",
        body / 1024,
        (2 * clients * rounds) as f64 / took
    );
    for (i, route) in ["GET /api/v1/backups", "GET /api/v1/status"]
        .iter()
        .enumerate()
    {
        lat[i].sort();
        println!(
            "  {route:22} p50 {:7.1} ms   p99 {:7.1} ms   max {:7.1} ms",
            pct(&lat[i], 0.50),
            pct(&lat[i], 0.99),
            pct(&lat[i], 1.0)
        );
    }
    println!(
        "  server RSS: idle {:.1} MiB before the load, peak {:.1} MiB, idle {:.1} MiB after",
        idle_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        idle_after as f64 / 1024.0
    );
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
