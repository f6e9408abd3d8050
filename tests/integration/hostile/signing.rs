//! Attacks on signing (see ../hostile.rs): a share writer who builds a complete, valid-looking
//! backup from public material only, and what the real `cairn` binary does with it.
//!
//! The forger ([`Forger`]) is what anyone with write access to the share can do: run a cairn of
//! their own initialised for the victim's *public* recipients (read from the share's epoch
//! envelope), back up a service whose restore command would leave a marker file, then copy that
//! backup into the victim's share, every signed object re-signed for the victim's repository id
//! with the forger's own key (or left unsigned). They never hold the victim's signing key.

use crate::harness::{cairn, write, Env};
use cairn::format::config::RepoConfig;
use cairn::format::envelope::{Envelope, EnvelopeKind};
use cairn::format::manifest::Manifest;
use cairn::format::sealed_key::SealedKey;
use cairn::id::KeyId;
use cairn::signing::{PublicKey, SigningKey};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The victim: a controller with one path service, backed up and exported to a local-directory
/// share (an OS-mounted share).
struct Victim {
    env: Env,
    /// The share's folder on the local disk (where a share writer writes).
    share: PathBuf,
    /// `--from` for recover, with the credentials.
    from: Vec<OsString>,
    fingerprint: String,
    backups: Vec<String>,
}

impl Victim {
    fn new(backups: usize) -> Self {
        let env = Env::new();
        let share = env.path("share");
        fs::create_dir_all(&share).unwrap();
        let from = vec!["--from".into(), share.clone().into()];
        Self::with_target(env, backups, share, from.clone(), from[1..].to_vec())
    }

    /// A victim exporting to `target` (the arguments of `target set`), whose folder on disk is
    /// `share`; `from` are recover's `--from …` arguments.
    fn with_target(
        env: Env,
        backups: usize,
        share: PathBuf,
        from: Vec<OsString>,
        target: Vec<OsString>,
    ) -> Self {
        let src = env.path("src/app");
        write(&src.join("config.txt"), b"the genuine data\n");
        env.add_path_service("app", &src);
        let mut args: Vec<OsString> = vec!["target".into(), "set".into()];
        args.extend(target);
        env.run(args).ok("target set");
        let backups = (0..backups).map(|_| env.backup()).collect();
        let fingerprint = fingerprint_of(&env.repo);
        Victim {
            env,
            share,
            from,
            fingerprint,
            backups,
        }
    }

    /// `recover --from SHARE --identity ID [--fingerprint FP] --target DIR` into a new repo.
    fn recover(
        &self,
        repo: &Path,
        target: &Path,
        fingerprint: Option<&str>,
    ) -> crate::harness::Out {
        self.recover_with(&self.env.identity, repo, target, fingerprint)
    }

    fn recover_with(
        &self,
        identity: &Path,
        repo: &Path,
        target: &Path,
        fingerprint: Option<&str>,
    ) -> crate::harness::Out {
        let mut args: Vec<OsString> = vec!["--quiet".into(), "recover".into()];
        args.extend(self.from.iter().cloned());
        args.extend([
            "--identity".into(),
            identity.into(),
            "--target".into(),
            target.into(),
        ]);
        if let Some(fp) = fingerprint {
            args.push("--fingerprint".into());
            args.push(fp.into());
        }
        cairn(repo, args)
    }
}

fn fingerprint_of(repo: &Path) -> String {
    let o = cairn(repo, ["key", "list", "--json"]);
    o.ok("key list --json");
    o.json()["fingerprint"]
        .as_str()
        .expect("key list --json has a fingerprint")
        .to_string()
}

fn config_of(share: &Path) -> RepoConfig {
    RepoConfig::decode(&fs::read(share.join("config")).unwrap()).unwrap()
}

/// The recipients on the share, as anyone can read them: the epoch envelopes' plaintext lists.
fn public_recipients(share: &Path) -> Vec<String> {
    let cfg = config_of(share);
    let key = cfg.public_key().unwrap();
    for e in fs::read_dir(share.join("keys")).unwrap() {
        let p = e.unwrap().path();
        if let Ok(env) = Envelope::decode(&fs::read(&p).unwrap(), &cfg.repo_id, &key, "k") {
            if let EnvelopeKind::Epoch { recipients } = env.kind {
                return recipients;
            }
        }
    }
    panic!("no epoch envelope on the share");
}

/// A share writer's own cairn, initialised for the victim's public recipients.
struct Forger {
    env: Env,
    marker: PathBuf,
    key: SigningKey,
    config: RepoConfig,
}

impl Forger {
    fn new(share: &Path) -> Self {
        let env = Env::new();
        let recipients = public_recipients(share);
        let repo = env.path("forger-repo");
        let mut args = vec!["init".to_string()];
        for r in &recipients {
            args.push("--recipient".into());
            args.push(r.clone());
        }
        cairn(&repo, &args).ok("forger init");
        let env = Env { repo, ..env };
        let marker = env.path("MARKER-restore-command-ran");
        env.run([
            "service",
            "add",
            "evil",
            "--command",
            "echo planted",
            "--restore-command",
            &format!("touch {}", marker.display()),
        ])
        .ok("forger service add");
        let data = env.path("evil-src");
        write(&data.join("config.txt"), b"the attacker's data\n");
        env.add_path_service("app", &data);
        let key = SigningKey::load(&env.repo.join("local/signing.key")).unwrap();
        let config = RepoConfig::decode(&fs::read(env.repo.join("config")).unwrap()).unwrap();
        Forger {
            env,
            marker,
            key,
            config,
        }
    }

    /// Back up in the forger's repository and plant the backup in `share` as backup `id`, every
    /// signed object re-signed for the victim's repository with the forger's key (or, with
    /// `unsigned`, the manifest left without a signature). Returns the manifest's object name.
    fn plant(&self, share: &Path, id: &str, unsigned: bool) -> String {
        self.env.backup();
        let victim = config_of(share);
        let mine = self.key.public();
        let names = fs::read_dir(self.env.repo.join("backups")).unwrap();
        let mut newest: Vec<PathBuf> = names.map(|e| e.unwrap().path()).collect();
        newest.sort();
        let mpath = newest.pop().unwrap();
        let mname = format!("backups/{}", mpath.file_name().unwrap().to_string_lossy());
        let mut m = Manifest::decode(
            &fs::read(&mpath).unwrap(),
            &mname,
            &self.config.repo_id,
            &mine,
        )
        .unwrap();
        // the envelopes, re-signed for the victim's repository id (new names)
        let reenc = |id: &KeyId| -> Envelope {
            Envelope::decode(
                &fs::read(self.env.repo.join(id.object_name())).unwrap(),
                &self.config.repo_id,
                &mine,
                "k",
            )
            .unwrap()
        };
        let epoch_env = reenc(&m.epoch);
        let epoch_bytes = epoch_env.encode(&victim.repo_id, &self.key);
        let epoch = Envelope::id_of(&epoch_bytes);
        write(&share.join(epoch.object_name()), &epoch_bytes);
        let mut session_env = reenc(&m.session);
        session_env.kind = EnvelopeKind::Session { epoch };
        let session_bytes = session_env.encode(&victim.repo_id, &self.key);
        let session = Envelope::id_of(&session_bytes);
        write(&share.join(session.object_name()), &session_bytes);
        // the forger's own signing key, sealed to the victim's recipients
        let sealed_name = SealedKey::name(&m.epoch);
        let mut sealed = SealedKey::decode(
            &fs::read(self.env.repo.join(&sealed_name)).unwrap(),
            &self.config.repo_id,
            &sealed_name,
        )
        .unwrap();
        sealed.epoch = epoch;
        write(
            &share.join(SealedKey::name(&epoch)),
            &sealed.encode(&victim.repo_id, &self.key),
        );
        // the packs are content-addressed: copied as they are
        copy_tree(&self.env.repo.join("data"), &share.join("data"));
        m.id = id.to_string();
        m.repo_id = victim.repo_id;
        m.epoch = epoch;
        m.session = session;
        m.seq = 1_000;
        let name = m.name();
        let bytes = if unsigned {
            let mut b = m.encode(&self.key);
            b.truncate(b.len() - 64);
            b
        } else {
            m.encode(&self.key)
        };
        write(&share.join(&name), &bytes);
        name
    }

    fn fingerprint(&self) -> String {
        self.key.public().fingerprint()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else if !dst.exists() {
            fs::copy(e.path(), &dst).unwrap();
            // as a share writer writes them: readable by the share's server (cairn made its own
            // objects 0600 under its private umask; smbd serves as another user)
            fs::set_permissions(&dst, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        }
    }
}

fn files_in(dir: &Path) -> usize {
    crate::harness::files_under(dir).len()
}

fn local_keys_epoch(repo: &Path) -> String {
    let text = fs::read_to_string(repo.join("local/keys.toml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("epoch = "))
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn recover_refuses_a_share_holding_only_a_forged_backup() {
    let v = Victim::new(1);
    let f = Forger::new(&v.share);
    f.plant(&v.share, "29991231T000000.000Z", false);
    // the genuine manifests gone: only the forgery is left
    for id in &v.backups {
        fs::remove_file(v.share.join(format!("backups/{id}"))).unwrap();
    }
    let repo = v.env.path("rec");
    let target = v.env.path("rt");
    let o = v.recover(&repo, &target, Some(&v.fingerprint));
    o.expect(1, "recover from a share with only a forged backup");
    assert!(o.stderr.contains("signature"), "{}", o.stderr);
    assert!(!f.marker.exists(), "the forged restore command ran");
    assert_eq!(files_in(&target), 0, "recover restored files");
    assert!(
        !repo.join("local/services.toml").exists(),
        "the forged service definitions were saved"
    );
    // an unsigned forgery: the same
    let f2 = Forger::new(&v.share);
    f2.plant(&v.share, "29991231T000001.000Z", true);
    let repo = v.env.path("rec2");
    let o = v.recover(&repo, &v.env.path("rt2"), Some(&v.fingerprint));
    o.expect(
        1,
        "recover from a share with only forged and unsigned backups",
    );
    assert!(
        !f2.marker.exists() && !f.marker.exists(),
        "a forged restore command ran"
    );
    assert!(!repo.join("local/services.toml").exists());
}

#[test]
fn recover_restores_the_genuine_backup_and_adopts_nothing_forged() {
    let v = Victim::new(1);
    let victim_epoch = local_keys_epoch(&v.env.repo);
    let f = Forger::new(&v.share);
    let forged = f.plant(&v.share, "29991231T000000.000Z", false);
    let repo = v.env.path("rec");
    let target = v.env.path("rt");
    let o = v.recover(&repo, &target, Some(&v.fingerprint));
    o.ok("recover with a forged newer backup on the share");
    assert!(o.stdout.contains(&v.backups[0]), "{}", o.stdout);
    assert!(
        o.stderr.contains(&forged),
        "the forgery is not named: {}",
        o.stderr
    );
    assert_eq!(
        fs::read(target.join("app/config.txt")).unwrap(),
        b"the genuine data\n"
    );
    assert!(!f.marker.exists(), "the forged restore command ran");
    let services = fs::read_to_string(repo.join("local/services.toml")).unwrap();
    assert!(
        !services.contains("evil"),
        "forged definitions saved: {services}"
    );
    // the victim's own key and epoch, not the forger's newer ones
    assert_eq!(fingerprint_of(&repo), v.fingerprint);
    assert_ne!(fingerprint_of(&repo), f.fingerprint());
    assert_eq!(local_keys_epoch(&repo), victim_epoch);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&repo.join("local")), 0o700);
        assert_eq!(mode(&repo.join("local/signing.key")), 0o600);
    }
    // the recovered controller goes on signing: its next backup is listed and verifies
    let next = cairn(&repo, ["--quiet", "backup"]);
    next.ok("backup after recovery");
    let list = cairn(&repo, ["list", "--json"]);
    list.ok("list");
    let ids: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.iter().any(|i| i.starts_with("2999")), "{ids:?}");
    assert_eq!(ids.len(), 2, "{ids:?}");
}

#[test]
fn recover_backup_takes_the_signed_backup_asked_for_and_no_other() {
    let v = Victim::new(2);
    let f = Forger::new(&v.share);
    let forged = f.plant(&v.share, "29991231T000000.000Z", false);
    let recover = |n: &str, backup: &str| {
        let mut args: Vec<OsString> = vec!["--quiet".into(), "recover".into()];
        args.extend(v.from.iter().cloned());
        args.extend([
            "--identity".into(),
            v.env.identity.clone().into(),
            "--target".into(),
            v.env.path(&format!("rt-{n}")).into(),
            "--fingerprint".into(),
            v.fingerprint.clone().into(),
            "--backup".into(),
            backup.into(),
        ]);
        cairn(&v.env.path(&format!("rec-{n}")), args)
    };
    let o = recover("old", &v.backups[0]);
    o.ok("recover --backup the older backup");
    let line = format!("recovered backup {} ", v.backups[0]);
    assert!(o.stdout.contains(&line), "{}", o.stdout);
    let o = recover("latest", "latest");
    o.ok("recover --backup latest");
    let line = format!("recovered backup {} ", v.backups[1]);
    assert!(o.stdout.contains(&line), "{}", o.stdout);
    // the forged one, asked for by id: refused, nothing restored, its command never run
    let id = forged.trim_start_matches("backups/");
    let o = recover("forged", id);
    assert_ne!(o.code, 0, "recover --backup {id}: {}", o.all());
    assert!(o.stderr.contains("signature"), "{}", o.stderr);
    assert_eq!(files_in(&v.env.path("rt-forged")), 0);
    assert!(!f.marker.exists(), "the forged restore command ran");
    // one that is not there: a usage error naming it
    let o = recover("none", "20000101T000000.000Z");
    o.expect(2, "recover --backup of a backup that does not exist");
    assert!(
        o.stderr.contains("no backup 20000101T000000.000Z"),
        "{}",
        o.stderr
    );
}

#[test]
fn recover_needs_the_right_fingerprint() {
    let v = Victim::new(1);
    let other = Env::new();
    let wrong = fingerprint_of(&other.repo);
    // none: the fingerprint on the share is listed, exit 2, nothing created
    let repo = v.env.path("rec0");
    let o = v.recover(&repo, &v.env.path("rt0"), None);
    o.expect(2, "recover without --fingerprint");
    assert!(o.all().contains(&v.fingerprint), "{}", o.all());
    assert!(!repo.join("config").exists());
    // another repository's: exit 1, nothing restored
    let repo = v.env.path("rec1");
    let o = v.recover(&repo, &v.env.path("rt1"), Some(&wrong));
    o.expect(1, "recover with a wrong fingerprint");
    assert!(o.stderr.contains(&wrong), "{}", o.stderr);
    assert_eq!(files_in(&v.env.path("rt1")), 0);
    assert!(!repo.join("config").exists());
    // malformed: exit 2 with an example
    let o = v.recover(
        &v.env.path("rec2"),
        &v.env.path("rt2"),
        Some("cairn-fp1:12ab"),
    );
    o.expect(2, "recover with a malformed fingerprint");
    assert!(
        o.stderr.contains("e.g. --fingerprint cairn-fp1:"),
        "{}",
        o.stderr
    );
    // the right one, typed in upper case with spaces: accepted
    let messy = v.fingerprint.to_uppercase().replace(':', ": ");
    let o = v.recover(&v.env.path("rec3"), &v.env.path("rt3"), Some(&messy));
    o.ok("recover with the right fingerprint");
}

#[test]
fn recover_refuses_a_share_whose_config_names_another_key() {
    let v = Victim::new(1);
    let f = Forger::new(&v.share);
    f.plant(&v.share, "29991231T000000.000Z", false);
    // the forger replaces the config by one naming their own key, for the same repository id
    let cfg = RepoConfig {
        signing_key: f.key.public().to_bytes(),
        ..config_of(&v.share)
    };
    fs::write(v.share.join("config"), cfg.encode(&f.key)).unwrap();
    for id in &v.backups {
        fs::remove_file(v.share.join(format!("backups/{id}"))).unwrap();
    }
    let repo = v.env.path("rec");
    let o = v.recover(&repo, &v.env.path("rt"), Some(&v.fingerprint));
    o.expect(1, "recover from a share whose config was replaced");
    assert!(!f.marker.exists(), "the forged restore command ran");
    assert_eq!(files_in(&v.env.path("rt")), 0);
    assert!(
        !repo.join("config").exists(),
        "recover copied the share anyway"
    );
    // without --fingerprint, both keys seen on the share are listed (for the operator to compare)
    let o = v.recover(&v.env.path("rec0"), &v.env.path("rt0"), None);
    o.expect(2, "recover without --fingerprint");
    assert!(o.all().contains(&f.fingerprint()), "{}", o.all());
}

#[test]
fn a_forged_manifest_is_never_latest_and_verify_names_it() {
    let v = Victim::new(1);
    let f = Forger::new(&v.env.repo);
    let forged = f.plant(&v.env.repo, "29991231T000000.000Z", false);
    let unsigned = Forger::new(&v.env.repo).plant(&v.env.repo, "29991231T000001.000Z", true);
    assert_eq!(v.env.ids(), v.backups, "list shows a forged backup");
    let target = v.env.path("restored");
    v.env.restore("latest", &target, &[]).ok("restore latest");
    assert_eq!(
        fs::read(target.join("app/config.txt")).unwrap(),
        b"the genuine data\n"
    );
    assert!(!target.join("evil").exists());
    let o = v
        .env
        .restore("29991231T000000.000Z", &v.env.path("r2"), &[]);
    assert_ne!(o.code, 0, "restore of a forged backup succeeded");
    assert_eq!(files_in(&v.env.path("r2")), 0);
    let o = v.env.run(["verify"]);
    o.expect(1, "verify with forged manifests");
    for name in [&forged, &unsigned] {
        let line = o
            .all()
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap_or_else(|| panic!("verify does not name {name}: {}", o.all()))
            .to_string();
        assert!(line.contains("signature"), "{line}");
    }
}

#[test]
fn an_old_manifest_renamed_to_a_far_future_id_is_rejected() {
    let v = Victim::new(2);
    let old = v.env.repo.join(format!("backups/{}", v.backups[0]));
    let future = v.env.repo.join("backups/29991231T235959.999Z");
    fs::copy(&old, &future).unwrap();
    assert_eq!(v.env.ids(), v.backups);
    let o = v.env.run(["show", "latest"]);
    o.ok("show latest with a renamed manifest present");
    assert!(o.stdout.contains(&v.backups[1]), "{}", o.stdout);
    assert!(!o.stdout.contains("2999"), "{}", o.stdout);
    let o = v.env.run(["verify"]);
    o.expect(1, "verify with a renamed manifest");
    assert!(o.all().contains("29991231T235959.999Z"), "{}", o.all());
    // the next backup chains after the genuine newest, not after the renamed copy; its export
    // names the renamed manifest in the internal copy as damage (reported and alerted, exit 1)
    // and still sends the genuine backups
    let o = v.env.run(["--quiet", "backup"]);
    let next = o.last_line();
    assert!(
        o.code == 0 || (o.code == 1 && o.stderr.contains("29991231T235959.999Z")),
        "backup: {}",
        o.all()
    );
    assert!(!next.starts_with("2999"), "{next}");
    let ids = v.env.ids();
    assert_eq!(
        ids.last(),
        Some(&next),
        "the new backup is not the newest: {ids:?}"
    );
    let o = v.env.run(["show", "latest"]);
    o.ok("show latest");
    assert!(o.stdout.contains(&next), "{}", o.stdout);
}

#[test]
fn verify_reports_a_gap_in_the_chain() {
    let v = Victim::new(3);
    v.env.run(["verify"]).ok("verify of an intact chain");
    fs::remove_file(v.env.repo.join(format!("backups/{}", v.backups[1]))).unwrap();
    let o = v.env.run(["verify"]);
    o.expect(1, "verify with a backup deleted from the middle");
    assert!(o.all().contains("chain gap"), "{}", o.all());
    assert!(o.all().contains(&v.backups[2]), "{}", o.all());
    // the oldest one gone is retention, not a gap
    let v = Victim::new(2);
    fs::remove_file(v.env.repo.join(format!("backups/{}", v.backups[0]))).unwrap();
    v.env
        .run(["verify"])
        .ok("verify after the oldest backup is gone");
}

/// A gap in the share's chain is its history, not damage to the recovered copy: recover names
/// it and succeeds.
#[test]
fn recover_from_a_share_with_a_gap_in_its_chain_names_the_gap_and_succeeds() {
    let v = Victim::new(3);
    fs::remove_file(v.share.join(format!("backups/{}", v.backups[1]))).unwrap();
    let o = v.recover(&v.env.path("rec"), &v.env.path("rt"), Some(&v.fingerprint));
    o.ok("recover from a share with a backup deleted from the middle");
    assert!(
        o.all().contains("chain gap") && o.all().contains(&v.backups[2]),
        "the gap is not shown: {}",
        o.all()
    );
}

#[test]
fn the_fingerprint_is_printed_by_init_and_key_list() {
    let env = Env::new();
    let fp = fingerprint_of(&env.repo);
    assert!(PublicKey::parse_fingerprint(&fp).is_ok(), "{fp}");
    let o = env.run(["key", "list"]);
    o.ok("key list");
    assert!(o.stdout.contains(&fp), "{}", o.stdout);
    let repo = env.path("second");
    let o = cairn(&repo, ["init", "--recipient", &env.recipient]);
    o.ok("init");
    let fp2 = fingerprint_of(&repo);
    assert!(o.stdout.contains(&fp2), "{}", o.all());
    assert_ne!(fp, fp2);
    // the secret half is private
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(repo.join("local/signing.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "signing.key mode {mode:o}");
}

#[test]
fn after_key_rotate_the_new_identity_recovers_and_goes_on_signing() {
    let v = Victim::new(1);
    let new_id = v.env.path("new-id.txt");
    let g = v.env.run([
        OsString::from("key"),
        "generate".into(),
        "--output".into(),
        new_id.clone().into(),
    ]);
    g.ok("key generate");
    v.env
        .run(["key", "rotate", "--recipient", &g.last_line()])
        .ok("key rotate");
    assert_eq!(fingerprint_of(&v.env.repo), v.fingerprint);
    v.env.backup();
    let repo = v.env.path("rec");
    let o = v.recover_with(&new_id, &repo, &v.env.path("rt"), Some(&v.fingerprint));
    o.ok("recover with the rotated identity");
    assert_eq!(fingerprint_of(&repo), v.fingerprint);
    cairn(&repo, ["--quiet", "backup"]).ok("backup after recovery");
    cairn(&repo, ["verify"]).ok("verify after recovery");
}

#[test]
fn a_stale_share_is_shown_with_its_age() {
    assert!(cairn::recover::staleness(0, 23 * 3_600_000).is_none());
    let w = cairn::recover::staleness(0, 25 * 3_600_000).expect("a warning after two intervals");
    assert!(w.contains("rolled back"), "{w}");
    let v = Victim::new(1);
    let o = v.recover(&v.env.path("rec"), &v.env.path("rt"), Some(&v.fingerprint));
    o.ok("recover");
    assert!(
        o.stdout.contains("newest backup on the share"),
        "{}",
        o.stdout
    );
    assert!(!o.stderr.contains("rolled back"), "{}", o.stderr);
}

/// The same attack through a real Samba share.
#[test]
fn over_real_smb_recover_refuses_a_forged_backup_and_a_wrong_fingerprint() {
    use crate::samba::{Samba, PASSWORD};
    let s = Samba::start();
    let env = Env::new();
    let pw = env.path("smb-password");
    fs::write(&pw, PASSWORD).unwrap();
    let creds: Vec<OsString> = vec![
        "--username".into(),
        "cairn".into(),
        "--password-file".into(),
        pw.clone().into(),
    ];
    let mut from: Vec<OsString> = vec!["--from".into(), s.url("ctl1").into()];
    from.extend(creds.iter().cloned());
    let mut target: Vec<OsString> = vec![s.url("ctl1").into()];
    target.extend(creds);
    let v = Victim::with_target(env, 1, s.share_dir().join("ctl1"), from, target);
    let f = Forger::new(&v.share);
    f.plant(&v.share, "29991231T000000.000Z", false);
    let wrong = f.fingerprint();
    let o = v.recover(&v.env.path("rec0"), &v.env.path("rt0"), Some(&wrong));
    o.expect(1, "recover over SMB with the forger's fingerprint");
    fs::remove_file(v.share.join(format!("backups/{}", v.backups[0]))).unwrap();
    let repo = v.env.path("rec");
    let o = v.recover(&repo, &v.env.path("rt"), Some(&v.fingerprint));
    o.expect(1, "recover over SMB from a share with only a forged backup");
    assert!(o.stderr.contains("signature"), "{}", o.stderr);
    assert!(!f.marker.exists(), "the forged restore command ran");
    assert_eq!(files_in(&v.env.path("rt")), 0);
    assert!(!repo.join("local/services.toml").exists());
    // the genuine backup exported again: recovered over SMB, with the signing key
    v.env.run(["--quiet", "export"]).ok("export");
    let repo = v.env.path("rec-ok");
    let target = v.env.path("rt-ok");
    v.recover(&repo, &target, Some(&v.fingerprint))
        .ok("recover over SMB with the genuine backup back");
    assert_eq!(
        fs::read(target.join("app/config.txt")).unwrap(),
        b"the genuine data\n"
    );
    assert!(!f.marker.exists(), "the forged restore command ran");
    assert_eq!(fingerprint_of(&repo), v.fingerprint);
}
