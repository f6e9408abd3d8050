//! A small W3C WebDriver client over HTTP (ureq) for Debian's headless Chromium through its
//! chromedriver: a fresh profile per browser, elements found the way a person finds them (a
//! field by its label's text, a button or link by its text), the visible text of the page,
//! screenshots, and the browser's console log.

#![allow(dead_code)]

use crate::harness::free_port;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's chromium and its driver (`scripts/prereqs.sh` installs both).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether the browser and its driver are installed.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// A headless Chromium driven through its own chromedriver; both end on drop.
pub struct Browser {
    driver: Child,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
    /// Every console entry read so far: (level, message).
    pub log: Vec<(String, String)>,
}

/// One WebDriver call: its `value`, or a panic naming the command and the driver's error.
fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let r = ureq::request(method, url).timeout(Duration::from_secs(60));
    let res = match body {
        Some(b) => r.send_json(b),
        None => r.call(),
    };
    let v: Value = match res {
        Ok(resp) => resp.into_json().unwrap(),
        Err(ureq::Error::Status(code, resp)) => {
            let text = resp.into_string().unwrap_or_default();
            panic!("webdriver {method} {url}: {code} {text}")
        }
        Err(e) => panic!("webdriver {method} {url}: {e}"),
    };
    v["value"].clone()
}

/// An XPath string literal for `s` (which may hold either quote).
fn literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

impl Browser {
    /// Start chromedriver on a free port and a headless Chromium with a fresh profile.
    pub fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::Builder::new()
            .prefix("cairn-chromium-")
            .tempdir()
            .unwrap();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut b = Browser {
            driver,
            session: String::new(),
            base,
            _profile: profile,
            log: Vec::new(),
        };
        let v = call("POST", &format!("{}/session", b.base), Some(caps));
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.session)
    }

    /// Open `url`.
    pub fn open(&self, url: &str) {
        call("POST", &self.url("/url"), Some(json!({ "url": url })));
    }

    /// Run a script in the page; its result.
    pub fn script(&self, js: &str) -> Value {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
    }

    /// The elements matching `xpath`.
    pub fn all(&self, xpath: &str) -> Vec<String> {
        let v = call(
            "POST",
            &self.url("/elements"),
            Some(json!({"using": "xpath", "value": xpath})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether element `e` is shown.
    pub fn displayed(&self, e: &str) -> bool {
        call("GET", &self.url(&format!("/element/{e}/displayed")), None) == json!(true)
    }

    /// The first shown element matching `xpath`, if any.
    pub fn shown(&self, xpath: &str) -> Option<String> {
        self.all(xpath).into_iter().find(|e| self.displayed(e))
    }

    /// Wait up to `secs` for a shown element matching `xpath`.
    #[track_caller]
    pub fn wait_shown(&mut self, xpath: &str, secs: u64, what: &str) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(e) = self.shown(xpath) {
                return e;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                let (text, src) = (self.text(), self.source());
                let src = &src[..src.len().min(2000)];
                panic!(
                    "{what}: not shown after {secs} s; the page shows:\n{text}\n\nits DOM:\n{src}"
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The shown form field whose `<label>` reads `label`.
    #[track_caller]
    pub fn field(&mut self, label: &str) -> String {
        let l = literal(label);
        self.wait_shown(
            &format!("//*[@id = //label[normalize-space(.) = {l}]/@for]"),
            30,
            &format!("the field labelled {label:?}"),
        )
    }

    /// Clear the field labelled `label` and type `text` into it.
    #[track_caller]
    pub fn fill(&mut self, label: &str, text: &str) {
        let e = self.field(label);
        call(
            "POST",
            &self.url(&format!("/element/{e}/clear")),
            Some(json!({})),
        );
        call(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// The current value of the field labelled `label`.
    #[track_caller]
    pub fn value(&mut self, label: &str) -> String {
        let e = self.field(label);
        let v = call(
            "GET",
            &self.url(&format!("/element/{e}/property/value")),
            None,
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// Click the shown button whose text is `text` (waiting until it is shown and enabled).
    #[track_caller]
    pub fn press(&mut self, text: &str) {
        let t = literal(text);
        let e = self.wait_shown(
            &format!("//button[normalize-space(.) = {t} and not(@disabled)]"),
            30,
            &format!("the button {text:?}"),
        );
        call(
            "POST",
            &self.url(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    /// Click the shown link whose text is `text`.
    #[track_caller]
    pub fn follow(&mut self, text: &str) {
        let t = literal(text);
        let e = self.wait_shown(
            &format!("//a[normalize-space(.) = {t}]"),
            30,
            &format!("the link {text:?}"),
        );
        call(
            "POST",
            &self.url(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    /// The text the page shows (what a person reads).
    pub fn text(&self) -> String {
        let body = self.all("//body");
        body.first()
            .map(|e| self.element_text(e))
            .unwrap_or_default()
    }

    /// The rendered text of element `e` (an id from [`Browser::all`] or [`Browser::shown`]).
    pub fn element_text(&self, e: &str) -> String {
        call("GET", &self.url(&format!("/element/{e}/text")), None)
            .as_str()
            .map(str::to_string)
            .unwrap_or_default()
    }

    /// The page's whole DOM as HTML, hidden parts and field values' attributes included.
    pub fn source(&self) -> String {
        call("GET", &self.url("/source"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Wait up to `secs` until the page shows `needle`; the page's text then.
    #[track_caller]
    pub fn wait_text(&mut self, needle: &str, secs: u64, what: &str) -> String {
        let t0 = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                panic!("{what}: {needle:?} not shown after {secs} s; the page shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Save a screenshot as `dir/NAME.png`.
    pub fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let v = call("GET", &self.url("/screenshot"), None);
        let png = base64_decode(v.as_str().expect("a base64 screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(format!("{name}.png"));
        std::fs::write(&p, png).unwrap();
        p
    }

    /// Read the browser's console entries since the last read into `log`; the new ones.
    pub fn read_log(&mut self) -> Vec<(String, String)> {
        let v = call(
            "POST",
            &self.url("/se/log"),
            Some(json!({"type": "browser"})),
        );
        let new: Vec<(String, String)> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.log.extend(new.iter().cloned());
        new
    }

    /// The SEVERE console entries seen so far (after reading the newest).
    pub fn severe(&mut self) -> Vec<String> {
        self.read_log();
        self.log
            .iter()
            .filter(|(level, _)| level == "SEVERE")
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&self.url("")).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    }
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for quad in clean.chunks(4) {
        let digits: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in digits.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..digits.len().max(1)]);
    }
    out
}

#[test]
fn base64_decodes_what_webdriver_sends() {
    assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    assert_eq!(base64_decode("YQ=="), b"a");
    assert_eq!(base64_decode("YWI="), b"ab");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
