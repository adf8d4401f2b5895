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

    // The whole team log deleted (FORMAT.md §11.7): each computer keeps its
    // own copy of what it accepted, says what went back, and writes it
    // back; a computer that never saw it then reads it from the folder.
    std::fs::remove_dir_all(&t).unwrap();
    let err = desk.fails(&["members"], 3);
    assert!(err.contains("went back to an older state"), "{err}");
    assert!(err.contains("the team log's beginning"), "{err}");
    let fresh = w.device("fresh", &desk.vault);
    let out = fresh.run_raw(&["recover"], Some(&phrase));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(members(&fresh)["members"][0]["id"], m["members"][0]["id"]);

    // Deleted again, on a computer that has no copy (its state folder
    // lost too): refused with its own message.
    std::fs::remove_dir_all(&t).unwrap();
    std::fs::remove_dir_all(&laptop.state).unwrap();
    let err = laptop.fails(&["--identity", identity.to_str().unwrap(), "members"], 6);
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

#[test]
fn an_admin_invites_and_approves_a_new_person_after_checking_the_code() {
    let w = World::new();
    let (desk, _) = w.init("desk", "vault");
    let invite = desk.ok(&["invite"]);
    let invite = invite.trim();
    assert_eq!(invite.len(), 64, "{invite}");

    // The nurse's computer: its own keychain and state, same folder.
    let ward = w.device("ward", &desk.vault);
    let out = ward.run_raw(&["--name", "Nurse Joy", "join", "--invite", invite], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(code.len(), 9, "{code}");
    // Not approved yet: waiting (exit 7).
    ward.fails(&["ls"], 7);

    let listed = desk.ok(&["requests"]);
    assert!(
        listed.contains("Nurse Joy") && listed.contains("ward"),
        "{listed}"
    );
    let id = listed.split_whitespace().next().unwrap().to_owned();
    // A wrong code: refused with exit 4, nothing changes.
    let wrong = if code == "0000 0000" {
        "1111 1111"
    } else {
        "0000 0000"
    };
    let err = desk.fails(&["approve", &id, "--code", wrong], 4);
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(members(&desk)["members"].as_array().unwrap().len(), 1);
    // The right code, as read out (with a dash instead of the space).
    desk.ok(&[
        "approve",
        &id,
        "--code",
        &code.replace(' ', "-"),
        "--role",
        "viewer",
    ]);
    let m = members(&desk);
    let names: Vec<_> = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"Nurse Joy".to_owned()), "{names:?}");

    // The nurse's computer now opens the vault, as a viewer: it reads, and
    // may not change anything.
    write_tree(&w.path("src"), &[("a.txt", b"alpha")]);
    desk.ok(&["add", w.path("src/a.txt").to_str().unwrap()]);
    assert!(ward.ok(&["ls"]).contains("a.txt"));
    assert_eq!(ward.get("a.txt"), b"alpha");
    let err = ward.fails(&["mkdir", "Mine"], 4);
    assert!(err.contains("viewer"), "{err}");
    let table = ward.ok(&["members"]);
    assert!(
        table.contains("Nurse Joy") && table.contains("viewer"),
        "{table}"
    );
}

#[test]
fn a_removed_member_is_refused_everywhere_after_their_last_change_seen() {
    let w = World::new();
    let (desk, _) = w.init("desk", "vault");
    let invite = desk.ok(&["invite"]);
    let ward = w.device("ward", &desk.vault);
    let out = ward.run_raw(
        &["--name", "Temp Nurse", "join", "--invite", invite.trim()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let id = desk
        .ok(&["requests"])
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    desk.ok(&["approve", &id, "--code", &code]);
    write_tree(&w.path("src"), &[("shift.txt", b"notes")]);
    ward.ok(&["add", w.path("src/shift.txt").to_str().unwrap()]);
    assert!(desk.ok(&["ls"]).contains("shift.txt"));

    // The last admin cannot be removed; the nurse cannot remove anyone.
    desk.fails(&["remove", "Administrator"], 4);
    ward.fails(&["remove", "Administrator"], 4);
    let err = desk.fails(&["remove", "Nobody"], 5);
    assert!(err.contains("Nobody"), "{err}");

    desk.ok(&["remove", "Temp Nurse"]);
    // The nurse's computer may no longer change anything (its keys no
    // longer even open the team log: re-encrypted); what it wrote before
    // stays.
    let err = ward.fails(&["mkdir", "After"], 4);
    assert!(err.contains("removed from the team"), "{err}");
    assert!(desk.ok(&["ls"]).contains("shift.txt"));
    let m = members(&desk);
    let nurse = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Temp Nurse")
        .unwrap()
        .clone();
    assert_eq!(nurse["removed"], true, "{m}");
}
