//! A vault made by the version before issue 12 (commit 4232d7c), committed
//! as tests/fixtures/vault-before-issue12 (made by the script beside it):
//! it opens, upgrades in place (its admin's computer vouches for the audit
//! chains written before batches were signed, FORMAT.md §10.6; the phrase
//! does the same on a new computer), and keeps every file, version, audit
//! entry and member.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::*;

fn fixture() -> PathBuf {
    root().join("tests/fixtures/vault-before-issue12")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture().join(name)).unwrap()
}

/// The paths `chartsafe ls` printed (the last column).
fn paths(ls: &str) -> BTreeSet<String> {
    ls.lines()
        .filter_map(|l| l.split("  ").last())
        .map(|p| p.trim().to_owned())
        .collect()
}

/// (time, action, path) of every event in `chartsafe audit --format json`.
fn events(jsonl: &str) -> BTreeSet<(i64, String, String)> {
    jsonl
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                e["time_ms"].as_i64().unwrap(),
                e["action"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// A copy of the fixture's vault folder, and of the state folder `state`
/// (if given), in `w`.
fn copy(w: &World, state: Option<&str>) -> (PathBuf, Option<PathBuf>) {
    let vault = w.path("Dropbox/Clinic");
    std::fs::create_dir_all(vault.parent().unwrap()).unwrap();
    sh(&format!(
        "cp -a '{}' '{}'",
        fixture().join("vault").display(),
        vault.display()
    ));
    let state = state.map(|s| {
        let to = w.path(s);
        sh(&format!(
            "cp -a '{}' '{}'",
            fixture().join(s).display(),
            to.display()
        ));
        to
    });
    (vault, state)
}

/// The fixture's computer `who` ("pm", "nurse"): its state folder, its
/// keychain entry (put into this test's keychain) and its passphrase.
fn computer(w: &World, vault: &Path, state: PathBuf, who: &str) -> Device {
    let mut d = w.device(who, vault);
    d.state = state;
    std::fs::copy(fixture().join(format!("passphrase-{who}.txt")), &d.pass).unwrap();
    let id: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vault.join("chartsafe-vault.json")).unwrap())
            .unwrap();
    let secret = read(&format!("keychain-{who}.txt"));
    sh(&format!(
        "printf %s '{}' | secret-tool store --label=fixture service '{}' username 'vault-{}'",
        secret.trim(),
        d.service,
        id["id"].as_str().unwrap()
    ));
    d
}

#[test]
fn a_vault_from_before_issue_12_opens_as_its_admin_and_upgrades_in_place() {
    let w = World::new();
    let (vault, state) = copy(&w, Some("state-pm"));
    let pm = computer(&w, &vault, state.unwrap(), "pm");
    let (_, nurse_state) = (0, {
        let to = w.path("state-nurse");
        sh(&format!(
            "cp -a '{}' '{}'",
            fixture().join("state-nurse").display(),
            to.display()
        ));
        to
    });
    let nurse = computer(&w, &vault, nurse_state, "nurse");

    // Every file, as the old version listed it.
    assert_eq!(paths(&pm.ok(&["ls"])), paths(&read("ls-pm.txt")));
    assert_eq!(
        pm.get("Patients/Doe/referral.txt"),
        b"Jane Doe referral, v2 (corrected)\n"
    );
    let versions = pm.ok(&["versions", "Patients/Doe/referral.txt"]);
    assert_eq!(
        versions.lines().count(),
        read("versions.txt").lines().count(),
        "{versions}"
    );
    assert_eq!(pm.get("Billing/claim.txt"), b"Claim 0042\n");
    // The nurse's computer reads what it read, and writes (signed now).
    assert_eq!(nurse.get("ward.txt"), b"Ward round notes\n");
    write_tree(&w.path("src"), &[("after.txt", b"after the upgrade")]);
    nurse.ok(&["add", w.path("src/after.txt").to_str().unwrap()]);

    // The audit log: the admin's computer vouches for the chains written
    // before batches were signed at its first read; then it is intact,
    // with every old event.
    let out = pm.run_raw(&["audit", "verify"], None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let now = events(&pm.ok(&["audit", "--format", "json"]));
    for old in events(&read("audit.jsonl")) {
        assert!(now.contains(&old), "{old:?} kept");
    }
    assert!(now.iter().any(|(_, a, _)| a == "audit_vouched"));
    let log = pm.ok(&["audit", "--format", "json"]);
    assert!(!log.contains("\"unverified\":true"), "{log}");

    // Every member, with their role.
    let m: serde_json::Value = serde_json::from_str(&pm.ok(&["members", "--json"])).unwrap();
    let old: serde_json::Value = serde_json::from_str(&read("members.json")).unwrap();
    let roles = |v: &serde_json::Value| -> BTreeSet<(String, String)> {
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap().to_owned(),
                    x["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(roles(&m), roles(&old));
}

#[test]
fn a_vault_from_before_issue_12_upgrades_with_the_recovery_phrase() {
    let w = World::new();
    let (vault, _) = copy(&w, None);
    let laptop = w.device("new laptop", &vault);
    let out = laptop.run_raw(&["recover"], Some(&read("phrase.txt")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(paths(&laptop.ok(&["ls"])), paths(&read("ls-pm.txt")));
    let out = laptop.run_raw(&["audit", "verify"], None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let now = events(&laptop.ok(&["audit", "--format", "json"]));
    for old in events(&read("audit.jsonl")) {
        assert!(now.contains(&old), "{old:?} kept");
    }
    // The phrase recovered the founder, not the nurse.
    let m: serde_json::Value = serde_json::from_str(&laptop.ok(&["members", "--json"])).unwrap();
    let pm = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Practice Manager")
        .unwrap();
    assert!(pm["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "new laptop"));
}
