//! The web console of `cairn serve --listen` in Debian's headless Chromium, used as an operator
//! uses it: fields found by their label, buttons and links by their text, results read as the
//! text the page shows. Against a real Samba share: sign in with a token, enable backup on the
//! share from Settings (the password is never shown again), back up from the dashboard and see
//! the backup reach the share, press "Back up now" while a job runs and read the refusal naming
//! it, read the backup's detail page, then break the share and read the alert's remedy.
//! Screenshots go to `target/screenshots/`; any SEVERE browser console entry fails, but for the
//! 409 of each refusal the dashboard showed.

use crate::api::{wait_free, Server};
use crate::harness::{files_under, make_tree, Env};
use crate::samba::{Samba, PASSWORD};
use crate::webdriver::{self, Browser};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/screenshots/console/`, beside the test's own temporary directory in target/.
fn screenshots() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .unwrap_or(&tmp)
        .join("screenshots")
        .join("console")
}

/// The ids the API lists.
fn backup_ids(s: &Server, token: &str) -> BTreeSet<String> {
    let v = s.json("GET", "/api/v1/backups", Some(token), None, 200);
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

/// Press "Back up now" on an idle dashboard; the backup its job made. The scheduler may start a
/// job between the dashboard's "No job is running." and the press (the first scheduled backup is
/// due as soon as backup is enabled): the console then shows the 409's error naming that job, and
/// the operator presses again once it is done. So does this, five times at most. The backup's id
/// and how many presses were refused (each left one 409 in the browser's console).
fn back_up_now(b: &mut Browser, s: &Server, token: &str) -> (String, usize) {
    let mut refusals = 0;
    let started = "//*[@id = 'now-msg' and contains(@class, 'ok')]";
    let refused = "//*[@id = 'now-msg' and contains(@class, 'error')]";
    for _ in 0..5 {
        dashboard_idle(b, s, token);
        b.press("Back up now");
        b.wait_shown(
            &format!("{started} | {refused}"),
            60,
            "the answer to \"Back up now\"",
        );
        let text = b.text();
        if b.shown(refused).is_some() {
            eprintln!("\"Back up now\" refused, pressing again when idle: {text}");
            refusals += 1;
            continue;
        }
        let job = text
            .split("Backup started: job ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .map(|t| t.trim_end_matches('.').to_string())
            .unwrap_or_else(|| panic!("no job id in the dashboard's answer: {text}"));
        let (j, _) = s.wait_job(&job, token);
        assert_eq!(j["state"], "succeeded", "{j}\n{}", s.log_text());
        let id = j["backup"]
            .as_str()
            .unwrap_or_else(|| panic!("job {job} names no backup: {j}"))
            .to_string();
        return (id, refusals);
    }
    panic!("\"Back up now\" was refused five times: {}", s.log_text());
}

/// Wait up to 120 s until the API has an active alert; its remedy.
fn an_alert_remedy(s: &Server, token: &str) -> String {
    let t0 = Instant::now();
    loop {
        let v = s.json("GET", "/api/v1/alerts", Some(token), None, 200);
        if let Some(a) = v.as_array().and_then(|a| a.first()) {
            return a["remedy"].as_str().unwrap().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no alert 120 s after backing up to a stopped share"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The dashboard with no job running (the scheduler may be exporting to a new target). The API is
/// asked first: the page may still show how a job it watched from another page ended while a job
/// that started after it (that backup's export) runs, until its next load answers.
fn dashboard_idle(b: &mut Browser, s: &Server, token: &str) {
    for _ in 0..10 {
        let st = s.json("GET", "/api/v1/status", Some(token), None, 200);
        if let Some(job) = st["running_job"]["id"].as_str() {
            s.wait_job(job, token);
            continue;
        }
        b.follow("Dashboard");
        b.wait_shown(
            "//*[normalize-space(.) = 'No job is running.']",
            120,
            "the dashboard's \"No job is running.\"",
        );
        return;
    }
    panic!("a job was still running after ten waits: {}", s.log_text());
}

/// The settings form never shows the share's password: not in the field, not in the page's text,
/// not anywhere in its DOM.
#[track_caller]
fn password_not_shown(b: &mut Browser, when: &str) {
    assert_eq!(
        b.value("Password"),
        "",
        "{when}: the Password field is filled"
    );
    assert!(
        !b.text().contains(PASSWORD),
        "{when}: the page shows the password"
    );
    assert!(
        !b.source().contains(PASSWORD),
        "{when}: the page's DOM holds the password"
    );
}

#[test]
fn an_operator_enables_backup_on_a_share_backs_up_and_reads_it_in_the_browser() {
    if !webdriver::available() {
        eprintln!(
            "\n\n!!!!!!!! SKIPPED the browser test of the web console: {} or {} is missing. \
             Run `bash scripts/prereqs.sh` (as root) to install chromium and chromium-driver. !!!!!!!!\n",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        );
        return;
    }
    let mut smb = Samba::start();
    let env = Env::new();
    let src = env.path("src/identity");
    make_tree(&src, 11, 0);
    env.add_path_service("identity", &src);
    let created = env.run(["token", "create", "browser", "--role", "admin"]);
    created.ok("token create");
    let token = created.last_line();
    let s = Server::start(&env);
    let shots = screenshots();
    let _ = std::fs::remove_dir_all(&shots);
    let mut b = Browser::start();

    // sign in with the token
    b.open(&format!("{}/", s.base));
    b.fill("Token", &token);
    b.screenshot(&shots, "01-sign-in");
    b.press("Sign in");
    b.wait_shown(
        "//h1[normalize-space(.) = 'Dashboard']",
        30,
        "the dashboard",
    );
    for card in [
        "Last backup",
        "Next backup",
        "Target",
        "Running job",
        "Active alerts",
    ] {
        b.wait_shown(&format!("//h2[normalize-space(.) = '{card}']"), 5, card);
    }
    b.wait_text("No target set", 30, "the dashboard before Settings");
    b.screenshot(&shots, "02-dashboard-new");

    // Settings: enable backup on the share
    b.follow("Settings");
    assert_eq!(b.value("Recipients"), env.recipient, "the current key");
    let url = smb.url("ctl1");
    b.fill("Location URL", &url);
    b.fill("Username", "cairn");
    b.fill("Password", PASSWORD);
    b.fill("Back up every (hours)", "24");
    b.fill("Keep (days)", "14");
    b.press("Save");
    b.wait_text("Saved.", 60, "Save with the share's password");
    b.screenshot(&shots, "03-settings-saved");
    password_not_shown(&mut b, "after Save");
    let loc = s.json("GET", "/api/v1/location", Some(&token), None, 200);
    assert_eq!(loc["url"], url.as_str(), "{loc}");
    assert!(!loc.to_string().contains(PASSWORD), "{loc}");
    // and after coming back to the page
    b.open(&format!("{}/#settings", s.base));
    b.wait_shown(
        "//h2[normalize-space(.) = 'External location']",
        30,
        "the form",
    );
    assert_eq!(b.value("Location URL"), url);
    assert_eq!(b.value("Username"), "cairn");
    password_not_shown(&mut b, "reopening Settings");

    // Back up now, from the dashboard, to the share
    let (id, refusals) = back_up_now(&mut b, &s, &token);
    assert!(
        backup_ids(&s, &token).contains(&id),
        "the API does not list the new backup {id}"
    );
    // The backup's export follows it as a job of its own: the dashboard ends on the backup, or on
    // the export when its refresh after the backup saw the export running.
    let last = b.wait_shown(
        &format!(
            "//*[@id = 'd-job-last' and (contains(., 'backup {id}') \
             or starts-with(normalize-space(.), 'Last job: export'))]"
        ),
        120,
        "the finished job",
    );
    let last = b.element_text(&last);
    assert!(last.contains("succeeded"), "{last}");
    b.wait_text("No job is running.", 60, "the dashboard after the backup");
    b.screenshot(&shots, "04-dashboard-backed-up");

    // Back up now while a job runs: refused, and the dashboard names that job and what to do
    env.run([
        "service",
        "add",
        "slow",
        "--command",
        "for i in $(seq 100); do head -c 65536 /dev/urandom; sleep 0.1; done",
    ])
    .ok("service add slow");
    let a = Some(token.as_str());
    let text = wait_free(|| s.call("POST", "/api/v1/backups", a, Some("{}")), 202);
    let running: Value = serde_json::from_str(&text).unwrap();
    let running = running["job_id"].as_str().unwrap().to_string();
    b.follow("Dashboard");
    b.press("Back up now");
    b.wait_shown(
        &format!(
            "//*[@id = 'now-msg' and contains(@class, 'error') and contains(., '{running}') \
             and contains(., 'wait for that job to finish')]"
        ),
        30,
        "the refusal naming the running job and what to do",
    );
    let refusals = refusals + 1;
    b.screenshot(&shots, "04b-dashboard-refused");
    let (j, _) = s.wait_job(&running, &token);
    assert_eq!(j["state"], "succeeded", "{j}");
    env.run(["service", "remove", "slow"])
        .ok("service remove slow");

    // the list shows it complete and exported; the share holds it
    b.follow("Backups");
    let row = format!("//tr[td/a[normalize-space(.) = '{id}']]");
    b.wait_shown(&row, 30, "the new backup's row");
    b.wait_text("exported", 60, "the backup exported to the share");
    assert!(b.text().contains("identity"), "the row names the service");
    assert!(
        !files_under(&smb.share_dir().join("ctl1")).is_empty(),
        "the share holds nothing"
    );
    b.screenshot(&shots, "05-backups");

    // its detail page says what `cairn show --json` says
    let show: Value = env.run(["show", &id, "--json"]).json();
    let files = show["services"][0]["files"].as_u64().unwrap();
    b.follow(&id);
    b.wait_shown(
        &format!("//h1[contains(normalize-space(.), '{id}')]"),
        30,
        "the backup's detail page",
    );
    b.wait_shown(
        "//tr[td[normalize-space(.) = 'identity']]",
        30,
        "the service's row in the detail",
    );
    let text = b.wait_text(&env.recipient, 30, "the backup's recipient");
    let line = text
        .lines()
        .find(|l| l.starts_with("identity"))
        .unwrap_or_default();
    assert!(
        line.split_whitespace().any(|w| w == files.to_string()),
        "the detail's service row does not show its {files} files: {line:?}\n{text}"
    );
    assert!(text.contains("exported"), "{text}");
    b.screenshot(&shots, "06-backup-detail");

    // the share stops: the next backup raises an alert whose remedy the dashboard shows
    dashboard_idle(&mut b, &s, &token);
    smb.stop();
    b.press("Back up now");
    let remedy = an_alert_remedy(&s, &token);
    b.wait_text(&remedy, 60, "the alert's remedy on the dashboard");
    b.screenshot(&shots, "07-dashboard-share-down");
    b.follow("Alerts");
    b.wait_text(&remedy, 30, "the alert's remedy on the Alerts page");
    b.screenshot(&shots, "08-alerts");

    // the only errors the console may log are the refusals the dashboard showed and the test
    // answered by pressing again: the browser logs every 4xx a page fetches
    let mut severe = b.severe();
    let refused = |m: &String| m.contains("/api/v1/backups ") && m.contains("(Conflict)");
    let conflicts = severe.iter().filter(|m| refused(m)).count();
    assert!(
        conflicts <= refusals,
        "{conflicts} refused backups in the console, {refusals} seen on the dashboard: {severe:#?}"
    );
    severe.retain(|m| !refused(m));
    assert!(
        severe.is_empty(),
        "SEVERE entries in the browser console: {severe:#?}"
    );
    assert!(
        std::fs::read_dir(&shots).unwrap().count() >= 8,
        "screenshots missing"
    );
}

#[test]
fn the_backups_page_pages_through_older_and_newer_backups() {
    if !webdriver::available() {
        eprintln!("\n\n!!!!!!!! SKIPPED the browser test of the console's pages of backups: run `bash scripts/prereqs.sh` (as root). !!!!!!!!\n");
        return;
    }
    let env = Env::new();
    let src = env.path("src/identity");
    make_tree(&src, 3, 0);
    env.add_path_service("identity", &src);
    let n = 103; // one page of 100, then 3 older
    for _ in 0..n {
        cairn::ops::backup(&cairn::ops::Context::new(&env.repo)).unwrap();
    }
    let mut ids: Vec<String> = env
        .list()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let (oldest, newest) = (ids[0].clone(), ids[n - 1].clone());
    let created = env.run(["token", "create", "browser", "--role", "reader"]);
    created.ok("token create");
    let s = Server::start(&env);
    let shots = screenshots().join("pages");
    let _ = std::fs::remove_dir_all(&shots);
    let mut b = Browser::start();
    b.open(&format!("{}/", s.base));
    b.fill("Token", &created.last_line());
    b.press("Sign in");
    b.follow("Backups");
    let row = |id: &str| format!("//tr[td/a[normalize-space(.) = '{id}']]");
    b.wait_text(
        &format!("{n} backups (100 shown)"),
        30,
        "the count of backups",
    );
    b.wait_shown(&row(&newest), 30, "the newest backup's row");
    assert!(
        b.shown(&row(&oldest)).is_none(),
        "the oldest is on the first page"
    );
    b.screenshot(&shots, "01-newest");
    b.press("Older");
    b.wait_shown(
        &row(&oldest),
        30,
        "the oldest backup's row on the older page",
    );
    b.wait_text(
        &format!("{n} backups (3 shown)"),
        30,
        "the count on the older page",
    );
    assert!(
        b.shown(&row(&newest)).is_none(),
        "the newest is on the older page"
    );
    b.screenshot(&shots, "02-older");
    b.press("Newer");
    b.wait_shown(&row(&newest), 30, "the newest backup's row again");
    let severe = b.severe();
    assert!(
        severe.is_empty(),
        "SEVERE entries in the browser console: {severe:#?}"
    );
}
