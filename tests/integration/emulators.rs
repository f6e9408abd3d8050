//! Real object storage servers on 127.0.0.1 for the tests: moto's S3 server (PyPI `moto[server]`)
//! and Azurite (npm `azurite`), both installed by scripts/prereqs.sh, each on a free port.

use crate::harness::free_port;
use crate::harness::missing_tool;
use object_store::ObjectStore;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Azurite's well-known development account and key.
pub const AZ_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's development account key.
pub const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The venv scripts/prereqs.sh installs moto into.
fn venv() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    cache.join("cairn-accept/venv")
}

fn wait_port(port: u16, child: &mut Child, log: &Path, what: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!(
                "{what} exited ({st}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 60 s");
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// moto's S3 server with bucket `backups`, requiring signatures by an IAM user's key.
pub struct Moto {
    child: Option<Child>,
    /// Holds the secret file.
    _dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
    /// The access key id.
    pub key_id: String,
    /// The secret key, in a file (mode 0600).
    pub secret_file: PathBuf,
}

impl Moto {
    /// Start it and set up the bucket and the key.
    pub fn start() -> Moto {
        let py = venv().join("bin/python");
        assert!(
            py.exists(),
            "{}",
            missing_tool("moto's S3 server (the venv scripts/prereqs.sh creates)")
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("moto.log");
        let mut child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port, &mut child, &log, "moto_server");
        let secret_file = dir.path().join("s3-secret");
        let out = Command::new(&py)
            .arg("-c")
            .arg(MOTO_SETUP)
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(&secret_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "moto setup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Moto {
            child: Some(child),
            _dir: dir,
            port,
            key_id,
            secret_file,
        }
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The secret key.
    pub fn secret(&self) -> String {
        std::fs::read_to_string(&self.secret_file)
            .unwrap()
            .trim()
            .to_string()
    }

    /// `object_store`'s own client for bucket `bucket`, to look at the store from outside.
    pub fn client(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(self.endpoint())
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(bucket)
                .with_access_key_id(&self.key_id)
                .with_secret_access_key(self.secret())
                .build()
                .unwrap(),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            stop(c);
        }
    }
}

const MOTO_SETUP: &str = r#"
import json, os, sys, urllib.request
import boto3
ep, secret_file = sys.argv[1:]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
boto3.client("s3", **kw).create_bucket(Bucket="backups")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="cairn")
iam.put_user_policy(UserName="cairn", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="cairn")["AccessKey"]
with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    f.write(key["SecretAccessKey"] + "\n")
urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"})).read()
print(key["AccessKeyId"])
"#;

fn secret_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)
        .unwrap();
    std::io::Write::write_all(&mut f, format!("{text}\n").as_bytes()).unwrap();
    p
}

/// Azurite's Blob service with container `backups`, keeping its data on disk (so it survives a
/// restart, as a real store's does).
pub struct Azurite {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
    /// The account key, in a file (mode 0600).
    pub key_file: PathBuf,
}

impl Azurite {
    /// Start it and create container `backups`.
    pub fn start() -> Azurite {
        let dir = tempfile::tempdir().unwrap();
        let key_file = secret_file(dir.path(), "az-key", AZ_KEY);
        let mut a = Azurite {
            child: None,
            port: free_port(),
            dir,
            key_file,
        };
        a.run();
        create_container(a.port);
        a
    }

    fn run(&mut self) {
        let which = Command::new("sh")
            .args(["-c", "command -v azurite-blob"])
            .output()
            .unwrap();
        assert!(
            which.status.success(),
            "{}",
            missing_tool("Azurite (npm install -g azurite, as scripts/prereqs.sh does)")
        );
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let log = self.dir.path().join("azurite.log");
        let mut child = Command::new("azurite-blob")
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &self.port.to_string(),
            ])
            .arg("--location")
            .arg(&data)
            .args(["--loose", "--skipApiVersionCheck"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(self.port, &mut child, &log, "azurite-blob");
        self.child = Some(child);
    }

    /// Stop it (SIGTERM: it saves its metadata).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
    }

    /// Start it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Its endpoint URL (path style, with the account).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZ_ACCOUNT}", self.port)
    }

    /// `object_store`'s own client for container `container`.
    pub fn client(&self, container: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            object_store::azure::MicrosoftAzureBuilder::new()
                .with_account(AZ_ACCOUNT)
                .with_access_key(AZ_KEY)
                .with_endpoint(self.endpoint())
                .with_allow_http(true)
                .with_container_name(container)
                .build()
                .unwrap(),
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Create container `backups` (object_store creates none) with Azure's Python SDK, installed in
/// the venv with moto.
fn create_container(port: u16) {
    let py = venv().join("bin/python");
    let out = Command::new(py)
        .arg("-c")
        .arg(
            r#"
import sys
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
svc = BlobServiceClient(account_url=sys.argv[1], credential={"account_name": sys.argv[2], "account_key": sys.argv[3]})
try:
    svc.create_container("backups")
except ResourceExistsError:
    pass
"#,
        )
        .arg(format!("http://127.0.0.1:{port}/{AZ_ACCOUNT}"))
        .arg(AZ_ACCOUNT)
        .arg(AZ_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "could not create the container: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
