//! `chartsafe members`: the signed team log as the command line shows it,
//! against a folder changed behind ChartSafe's back (FORMAT.md §11).

use crate::common::*;

fn members(d: &Device) -> serde_json::Value {
    serde_json::from_str(&d.ok(&["members", "--json"])).unwrap()
}

#[test]
fn members_come_from_the_signed_team_log_and_tampering_is_named() {
    let w = World::new();
    let (desk, phrase) = w.init("desk", "vault");
    let laptop = w.device("laptop", &desk.vault);
    let out = laptop.run_raw(&["--name", "Dr. Lima", "recover"], Some(&phrase));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Both devices compute the same team: one member (version 1 vaults have
    // one), an admin, with both devices; each marks its own.
    let m = members(&desk);
    assert_eq!(m["members"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["members"][0]["role"], "admin");
    let devices = m["members"][0]["devices"].as_array().unwrap();
    let names: Vec<_> = devices
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"desk") && names.contains(&"laptop"),
        "{names:?}"
    );
    let from_laptop = members(&laptop);
    assert_eq!(from_laptop["members"][0]["id"], m["members"][0]["id"]);
    let table = laptop.ok(&["members"]);
    assert!(
        table.contains("admin") && table.contains("(this device)"),
        "{table}"
    );

    // Files planted in t/ by someone with folder access only: a junk file
    // and an age file to the (public) recovery recipient. Neither counts;
    // both are named, and the exit status says the vault has problems.
    let t = desk.vault.join("t");
    let planted_dir = t.join("abcdefghijklmnopqrstuvwxyz");
    std::fs::create_dir_all(&planted_dir).unwrap();
    std::fs::write(planted_dir.join("0000000001"), b"{\"chartsafe_team\":2}").unwrap();
    let identity = desk.identity_file(&phrase);
    let recipient = sh(&format!("age-keygen -y {}", identity.display()));
    let planted = planted_dir.join("0000000002");
    sh(&format!(
        "echo '{{}}' | age -r {} -o {}",
        recipient.trim(),
        planted.display()
    ));
    let err = desk.fails(&["members"], 3);
    assert!(
        err.contains("t/abcdefghijklmnopqrstuvwxyz/0000000001"),
        "{err}"
    );
    assert!(
        err.contains("t/abcdefghijklmnopqrstuvwxyz/0000000002"),
        "{err}"
    );
    let out = laptop.run_raw(&["members", "--json"], None);
    assert_eq!(out.status.code(), Some(3));
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after["members"], from_laptop["members"]);
    assert_eq!(after["unreadable"].as_array().unwrap().len(), 2, "{after}");

    // The whole team log deleted: refused with its own message.
    std::fs::remove_dir_all(&t).unwrap();
    let err = desk.fails(&["members"], 6);
    assert!(err.contains("team log"), "{err}");
}

#[test]
fn an_identity_file_session_reads_but_may_not_change_a_vault_with_a_team() {
    let w = World::new();
    let (desk, phrase) = w.init("desk", "vault");
    write_tree(&w.path("src"), &[("a.txt", b"alpha")]);
    desk.ok(&["add", w.path("src/a.txt").to_str().unwrap()]);
    let identity = desk.identity_file(&phrase);
    let with_identity = |args: &[&str]| {
        desk.command()
            .arg("--vault")
            .arg(&desk.vault)
            .arg("--identity")
            .arg(&identity)
            .args(args)
            .output()
            .unwrap()
    };
    let out = with_identity(&["ls", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.txt"));
    let out = with_identity(&["mkdir", "Labs"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot sign changes") && err.contains("chartsafe recover"),
        "{err}"
    );
    // Nothing changed.
    assert_eq!(desk.listing().len(), 1);
}
