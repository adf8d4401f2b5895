//! Three people on three computers, each with their own HOME and their own
//! OS keychain (a Secret Service of their own, through
//! `scripts/with-keyring.sh` with WITH_KEYRING_HOME), sharing one vault
//! folder through unison and a hub folder, as three laptops share a
//! Dropbox folder (docs/FORMAT.md §11, §12).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

struct Person {
    name: &'static str,
    home: PathBuf,
    vault: PathBuf,
    pass: PathBuf,
}

impl Person {
    fn new(w: &World, name: &'static str) -> Self {
        let base = w.path(&format!("person-{name}"));
        std::fs::create_dir_all(&base).unwrap();
        let pass = base.join("passphrase");
        std::fs::write(&pass, format!("passphrase of {name}\n")).unwrap();
        Self {
            name,
            home: base.join("home"),
            vault: base.join("Dropbox").join("Clinic"),
            pass,
        }
    }

    /// `chartsafe ARGS` as this person, in their own session and keychain.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new("bash");
        c.arg(root().join("scripts/with-keyring.sh"))
            .arg(bin())
            .arg("--vault")
            .arg(&self.vault)
            .arg("--passphrase-file")
            .arg(&self.pass)
            .args(args)
            .env("WITH_KEYRING_HOME", &self.home)
            .env("CHARTSAFE_DEVICE_NAME", format!("{}-pc", self.name))
            .env("CHARTSAFE_KDF_LOG_N", "10")
            .env_remove("CHARTSAFE_STATE_DIR")
            .env_remove("CHARTSAFE_KEYCHAIN_SERVICE")
            .env_remove("CHARTSAFE_VAULT");
        output_with(c, stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{} {args:?}: exit {:?}: {}",
            self.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, None);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{} {args:?}: {err}",
            self.name
        );
        err
    }

    /// Joins with `invite`; returns the code shown.
    fn join(&self, invite: &str, full_name: &str) -> String {
        let out = self.run(&["--name", full_name, "join", "--invite", invite], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// Syncs one person's folder with the hub, both ways (unison, as a sync
/// client would).
fn sync(w: &World, hub: &Path, p: &Person) {
    std::fs::create_dir_all(&p.vault).unwrap();
    let archive = w.path(&format!("unison-{}", p.name));
    std::fs::create_dir_all(&archive).unwrap();
    sh(&format!(
        "UNISON='{}' unison '{}' '{}' -batch -auto -silent -perms 0 -dontchmod -copyonconflict -confirmbigdel=false",
        archive.display(),
        hub.display(),
        p.vault.display()
    ));
}

/// A health-check finding without the file size (re-encryption changes
/// the size of an age file by a few bytes).
fn finding(line: &str) -> String {
    match line.split_once(" bytes) ") {
        Some((head, tail)) => format!("{} {tail}", head.rsplit_once(" (").map_or(head, |h| h.0)),
        None => line.to_owned(),
    }
}

#[test]
fn three_people_on_three_computers_invite_approve_restrict_and_remove() {
    let w = World::new();
    let hub = w.path("hub");
    std::fs::create_dir_all(&hub).unwrap();
    let admin = Person::new(&w, "admin");
    let billing = Person::new(&w, "billing");
    let viewer = Person::new(&w, "auditor");
    let everyone = [&admin, &billing, &viewer];
    let sync_all = || {
        for p in everyone {
            sync(&w, &hub, p);
        }
        sync(&w, &hub, &admin);
    };

    // The practice manager creates the vault.
    std::fs::create_dir_all(admin.vault.parent().unwrap()).unwrap();
    let out = admin.run(
        &[
            "--name",
            "Practice Manager",
            "init",
            admin.vault.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sync_all();

    // Billing joins: invitation given in person, code read out.
    let invite = admin.ok(&["invite"]);
    let code = billing.join(invite.trim(), "Billing Clerk");
    sync_all();
    let listed = admin.ok(&["requests"]);
    assert!(listed.contains("Billing Clerk"), "{listed}");
    let id = listed.split_whitespace().next().unwrap().to_owned();
    admin.ok(&["approve", &id, "--code", &code, "--role", "staff"]);
    sync_all();
    write_tree(
        &w.path("src"),
        &[("claims.txt", b"claim 1"), ("late.txt", b"late")],
    );
    billing.ok(&["add", w.path("src/claims.txt").to_str().unwrap()]);
    sync_all();
    assert!(admin.ok(&["ls"]).contains("claims.txt"));

    // Collections: Billing for billing, Clinical for nobody but admins.
    // The billing clerk reads Billing and never sees Clinical's names or
    // contents, nor the audit log (which names them).
    admin.ok(&["collections", "add", "Billing"]);
    admin.ok(&["collections", "add", "Clinical"]);
    write_tree(
        &w.path("src"),
        &[
            ("Smith, John - potassium.txt", b"K 4.1 mmol/L"),
            ("invoice-0042.txt", b"invoice 42"),
        ],
    );
    admin.ok(&[
        "add",
        "--to",
        "Clinical",
        w.path("src/Smith, John - potassium.txt").to_str().unwrap(),
    ]);
    admin.ok(&["grant", "Billing", "Billing Clerk", "--write"]);
    sync_all();
    billing.ok(&[
        "add",
        "--to",
        "Billing",
        w.path("src/invoice-0042.txt").to_str().unwrap(),
    ]);
    sync_all();
    let listing = billing.ok(&["ls"]);
    assert!(listing.contains("invoice-0042.txt"), "{listing}");
    assert!(!listing.contains("Clinical"), "{listing}");
    assert!(!listing.contains("Smith"), "{listing}");
    let collections = billing.ok(&["collections"]);
    assert!(collections.contains("Billing"), "{collections}");
    assert!(!collections.contains("Clinical"), "{collections}");
    billing.fails(&["get", "Clinical/Smith, John - potassium.txt"], 5);
    let err = billing.fails(&["audit"], 4);
    assert!(err.contains("only admins"), "{err}");
    let listing = admin.ok(&["ls"]);
    assert!(listing.contains("Smith, John - potassium.txt"), "{listing}");
    assert!(listing.contains("invoice-0042.txt"), "{listing}");

    // A request planted in the shared folder by someone without an
    // invitation is not even listed.
    std::fs::create_dir_all(hub.join("j")).unwrap();
    std::fs::write(hub.join("j").join("abcdefghijklmnopqrstuvwxyz"), b"{}").unwrap();
    sync_all();

    // The auditor joins as a viewer: reads, may not change anything.
    let invite = admin.ok(&["invite"]);
    let code = viewer.join(invite.trim(), "External Auditor");
    sync_all();
    let listed = admin.ok(&["requests"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let id = listed.split_whitespace().next().unwrap().to_owned();
    admin.ok(&["approve", &id, "--code", &code, "--role", "viewer"]);
    sync_all();
    assert!(viewer.ok(&["ls"]).contains("claims.txt"));
    let err = viewer.fails(&["mkdir", "Audit notes"], 4);
    assert!(err.contains("viewer"), "{err}");

    // Billing leaves. Their computer, offline, still adds a file; the
    // practice manager removes them; when both sync, the late change is
    // refused on every computer, and what billing did before stays.
    billing.ok(&["add", w.path("src/late.txt").to_str().unwrap()]);
    admin.ok(&["remove", "Billing Clerk"]);
    sync_all();
    sync_all();
    for p in [&admin, &viewer] {
        let out = p.run(&["ls"], None);
        let listing = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(listing.contains("claims.txt"), "{}: {listing}", p.name);
        assert!(!listing.contains("late.txt"), "{}: {listing}", p.name);
        assert!(warnings.contains("write rights"), "{}: {warnings}", p.name);
        assert_eq!(out.status.code(), Some(3), "{}", p.name);
    }
    let err = billing.fails(&["mkdir", "After"], 4);
    assert!(err.contains("removed from the team"), "{err}");
    // Everyone computes the same team.
    let teams: Vec<serde_json::Value> = [&admin, &viewer]
        .iter()
        .map(|p| {
            let out = p.run(&["members", "--json"], None);
            let mut m = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
                ["members"]
                .clone();
            for member in m.as_array_mut().unwrap() {
                for d in member["devices"].as_array_mut().unwrap() {
                    d.as_object_mut().unwrap().remove("this_device");
                }
            }
            m
        })
        .collect();
    assert_eq!(teams[0], teams[1]);
    assert_eq!(teams[0].as_array().unwrap().len(), 3);

    // The removal replaced the key: what the practice manager writes now,
    // the auditor reads and billing's computer cannot, even with the
    // whole folder synced to it.
    write_tree(&w.path("src"), &[("after.txt", b"written after removal")]);
    admin.ok(&["add", w.path("src/after.txt").to_str().unwrap()]);
    sync_all();
    assert_eq!(viewer.ok(&["get", "after.txt"]), "written after removal");
    let out = billing.run(&["ls"], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("after.txt"), "{listing}");
    let out = billing.run(&["get", "after.txt"], None);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    // And the files from before are re-encrypted: billing's computer,
    // which kept its old key, now reads none of them.
    let out = billing.run(&["ls"], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("claims.txt"), "{listing}");

    // Key rotation killed with -9 in the middle resumes and completes with
    // nothing lost. The health check's findings before (billing's refused
    // late change and its content) are the baseline.
    let baseline: Vec<Vec<String>> = [&admin, &viewer]
        .iter()
        .map(|p| {
            let out = p.run(&["verify"], None);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("problem:"))
                // Billing's removed computer keeps recording its own
                // attempts (FORMAT.md §10.6): not what this part checks.
                .filter(|l| !l.contains("was removed from the team"))
                .map(finding)
                .collect()
        })
        .collect();
    let many: Vec<(String, Vec<u8>)> = (0..3000)
        .map(|i| {
            (
                format!("batch/note-{i:04}.txt"),
                format!("note {i} ").repeat(2000).into_bytes(),
            )
        })
        .collect();
    let tree: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    write_tree(&w.path("src"), &tree);
    admin.ok(&["add", w.path("src/batch").to_str().unwrap()]);
    let mut child = {
        let mut c = Command::new("bash");
        c.arg(root().join("scripts/with-keyring.sh"))
            .arg(bin())
            .arg("--vault")
            .arg(&admin.vault)
            .arg("--passphrase-file")
            .arg(&admin.pass)
            .arg("rotate")
            .env("WITH_KEYRING_HOME", &admin.home)
            .env("CHARTSAFE_DEVICE_NAME", "admin-pc")
            .env("CHARTSAFE_KDF_LOG_N", "10")
            .env_remove("CHARTSAFE_STATE_DIR")
            .env_remove("CHARTSAFE_KEYCHAIN_SERVICE")
            .env_remove("CHARTSAFE_VAULT")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("re-encrypted") {
            // The chartsafe process itself (not the keyring wrapper).
            sh(&format!(
                "pkill -9 -f '^{} --vault {} '",
                bin().display(),
                admin.vault.display()
            ));
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the rotation ran to its end before the kill: {seen}"
    );
    let status_text = admin.ok(&["rotate", "--status"]);
    assert!(status_text.contains("not finished"), "{status_text}");
    let out = admin.run(&["rotate", "--resume"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("were under the current key already"), "{err}");
    let done: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("Re-encrypted "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        done > 0 && done < 3000,
        "the resumed pass redid everything: {err}"
    );
    assert!(admin.ok(&["rotate", "--status"]).contains("finished"));
    sync_all();
    // Nothing lost: every content file decrypts to what its record says,
    // on the auditor's computer too (the only new findings allowed are
    // temporary files the kill left behind, which `verify --repair`
    // removes a day later).
    for (i, p) in [&admin, &viewer].into_iter().enumerate() {
        let out = p.run(&["verify"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let now: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("problem:") && !l.contains("temporary file"))
            .filter(|l| !l.contains("was removed from the team"))
            .map(finding)
            .collect();
        assert_eq!(now, baseline[i], "{}: {text}", p.name);
        let out = p.run(&["ls", "batch"], None);
        let listing = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            listing.lines().filter(|l| l.contains("note-")).count(),
            3000,
            "{}",
            p.name
        );
    }
    assert_eq!(
        viewer.ok(&["get", "batch/note-2999.txt"]),
        "note 2999 ".repeat(2000)
    );
}
