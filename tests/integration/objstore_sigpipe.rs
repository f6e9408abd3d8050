//! A store that closes the connection in the middle of an upload must fail the write with a named
//! error, not kill the process with SIGPIPE. The Rust test harness ignores SIGPIPE, as every Rust
//! program does before `main`; the `cairn` binary (and a host embedding the library) may not, so
//! the write runs in a child process that first restores SIGPIPE's default, like `cairn` does.

use cairn::error::StorageErrorKind;
use cairn::target::{open_backend, TargetConfig};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

const CHILD: &str = "CAIRN_TEST_SIGPIPE_PORT";

/// A server that reads each request's headers and some of its body, then closes the connection
/// with the rest of the body unread (the kernel answers the client's next segments with a reset).
fn closing_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 16 << 10];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() < (64 << 10) {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = c.flush();
            drop(c);
        }
    });
    port
}

/// In the child: upload one object to the closing server with SIGPIPE's default disposition.
fn upload_with_default_sigpipe(port: u16) {
    cairn::sys::default_sigpipe();
    let cfg = TargetConfig::new(
        "s3://backups/ctl1",
        Some("key".into()),
        Some("secret".into()),
    )
    .unwrap()
    .with_store_options(
        Some(format!("http://127.0.0.1:{port}")),
        Some("us-east-1".into()),
    )
    .unwrap();
    let b = open_backend(&cfg).unwrap();
    let data = vec![0x5au8; 6 << 20];
    let e = b.write("data/ab/abcd", &data).unwrap_err();
    assert_eq!(e.kind, StorageErrorKind::Disconnected, "{e}");
    println!("SURVIVED: {e}");
}

#[test]
fn a_store_closing_the_connection_mid_upload_fails_the_write_and_does_not_kill_the_process() {
    if let Ok(port) = std::env::var(CHILD) {
        upload_with_default_sigpipe(port.parse().unwrap());
        return;
    }
    let port = closing_server();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "objstore_sigpipe::a_store_closing_the_connection_mid_upload_fails_the_write_and_does_not_kill_the_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, port.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        None,
        "the process was killed by signal {:?} (13 is SIGPIPE)\n{stdout}\n{stderr}",
        out.status.signal()
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("SURVIVED"), "{stdout}\n{stderr}");
}
