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
    assert!(err.contains("not an active member"), "{err}");
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
}
