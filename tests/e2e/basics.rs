//! The everyday commands, the keychain's two factors, and recovery.

use crate::common::*;

#[test]
fn add_list_get_round_trip_keeps_folders_and_bytes() {
    let w = World::new();
    let (d, _) = w.init("desk", "cloud/vault");
    let src = w.path("Clinic");
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    write_tree(
        &src,
        &[
            ("labs/2026/cbc.pdf", b"cbc result"),
            ("notes.txt", b"doctor's notes"),
            ("empty.txt", b""),
            ("scan.bin", &big),
        ],
    );
    d.ok(&["add", src.to_str().unwrap()]);
    let listing = d.listing();
    let paths: Vec<&str> = listing.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "Clinic",
            "Clinic/empty.txt",
            "Clinic/labs",
            "Clinic/labs/2026",
            "Clinic/labs/2026/cbc.pdf",
            "Clinic/notes.txt",
            "Clinic/scan.bin"
        ]
    );
    assert_eq!(listing["Clinic/scan.bin"]["size"], 5_000_000);
    assert_eq!(listing["Clinic/labs"]["kind"], "dir");
    assert_eq!(d.get("Clinic/labs/2026/cbc.pdf"), b"cbc result");
    assert_eq!(d.get("Clinic/empty.txt"), b"");
    assert_eq!(d.get("Clinic/scan.bin"), big);
    // To standard output as well.
    assert_eq!(d.ok(&["get", "/Clinic/notes.txt"]), "doctor's notes");
    // The human listing names sizes and paths.
    let human = d.ok(&["ls", "Clinic/labs"]);
    assert!(
        human.contains("Clinic/labs/2026/cbc.pdf") && !human.contains("notes.txt"),
        "{human}"
    );
    // A rerun adds nothing.
    let out = d.run_raw(&["add", src.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("added 0 files, replaced 0, unchanged 4"));
    let info = d.ok(&["info"]);
    assert!(info.contains("files:       4 (5000024 bytes)"), "{info}");
}

#[test]
fn unlocking_needs_the_keychain_entry_and_the_passphrase() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    d.ok(&["mkdir", "Labs"]);
    // A new process reads the secret back from the real keychain.
    assert!(d.listing().contains_key("Labs"));
    // Wrong passphrase.
    std::fs::write(&d.pass, "not the passphrase\n").unwrap();
    let err = d.fails(&["ls"], 4);
    assert!(err.contains("wrong passphrase"), "{err}");
    std::fs::write(&d.pass, "passphrase of desk\n").unwrap();
    // Right passphrase, but the keychain entry is absent (another keychain).
    let mut other = w.device("thief", &d.vault);
    other.pass = d.pass.clone();
    other.state = d.state.clone();
    let err = other.fails(&["ls"], 4);
    assert!(err.contains("not enrolled"), "{err}");
    // Too short a passphrase is refused at creation.
    let weak = w.device("weak", &w.path("weak-vault"));
    std::fs::write(&weak.pass, "short\n").unwrap();
    let out = weak.run_raw(&["init", weak.vault.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(!weak.vault.join("chartsafe-vault.json").exists());
}

#[test]
fn the_recovery_phrase_alone_enrols_a_new_device() {
    let w = World::new();
    let (d, phrase) = w.init("desk", "vault");
    write_tree(&w.path("src"), &[("a.txt", b"alpha")]);
    d.ok(&["add", w.path("src/a.txt").to_str().unwrap()]);

    // A new laptop: empty keychain, no local state, its own passphrase.
    let laptop = w.device("laptop", &d.vault);
    laptop.fails(&["ls"], 4);
    // A mistyped phrase: the checksum catches it.
    let mut words: Vec<&str> = phrase.split(' ').collect();
    words.swap(0, 1);
    let out = laptop.run_raw(&["recover"], Some(&words.join(" ")));
    if words[0] != words[1] {
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A valid phrase of another vault.
    let (_, other_phrase) = w.init("other", "other-vault");
    let out = laptop.run_raw(&["recover"], Some(&other_phrase));
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not belong to this vault"));
    // The right phrase.
    let out = laptop.run_raw(
        &["recover"],
        Some(&format!("  {}\n", phrase.to_uppercase())),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(laptop.get("a.txt"), b"alpha");
    laptop.ok(&["mkdir", "From laptop"]);
    assert!(d.listing().contains_key("From laptop"));
}

#[test]
fn recovery_identity_matches_age_keygen() {
    let w = World::new();
    let (d, phrase) = w.init("desk", "vault");
    let id = d.identity_file(&phrase);
    let text = std::fs::read_to_string(&id).unwrap();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("identity line");
    let public = text.lines().next().unwrap().rsplit(' ').next().unwrap();
    let derived = sh(&format!("echo '{secret}' | age-keygen -y"));
    assert_eq!(derived.trim(), public);
    // The identity file unlocks the vault without keychain or passphrase.
    let mut c = d.command();
    let out = c
        .arg("--vault")
        .arg(&d.vault)
        .arg("--identity")
        .arg(&id)
        .arg("ls")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn versions_trash_restore_and_purge() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let f = w.path("report.txt");
    std::fs::write(&f, "first").unwrap();
    d.ok(&["add", f.to_str().unwrap(), "--to", "Reports"]);
    std::fs::write(&f, "second, longer").unwrap();
    d.ok(&["add", f.to_str().unwrap(), "--to", "Reports"]);
    let versions = d.ok(&["versions", "Reports/report.txt"]);
    assert_eq!(versions.lines().count(), 2, "{versions}");
    assert_eq!(d.get("Reports/report.txt"), b"second, longer");
    let old = w.path("old.txt");
    d.ok(&[
        "get",
        "Reports/report.txt",
        "--version",
        "2",
        "-o",
        old.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&old).unwrap(), b"first");
    d.fails(&["get", "Reports/report.txt", "--version", "3"], 5);

    // Move and rename.
    d.ok(&["mkdir", "Archive/2026"]);
    d.ok(&["mv", "Reports/report.txt", "Archive/2026"]);
    d.ok(&["mv", "Archive/2026/report.txt", "Archive/2026/final.txt"]);
    assert_eq!(d.get("Archive/2026/final.txt"), b"second, longer");
    d.fails(&["mv", "Archive", "Archive/2026/inside"], 5);

    // Trash a folder with its contents, restore it.
    d.ok(&["rm", "Archive"]);
    let l = d.listing();
    assert!(!l.contains_key("Archive") && !l.contains_key("Archive/2026/final.txt"));
    let trash = d.ok(&["trash"]);
    assert!(
        trash.contains("Archive") && !trash.contains("final.txt"),
        "{trash}"
    );
    d.ok(&["restore", "Archive"]);
    assert_eq!(d.get("Archive/2026/final.txt"), b"second, longer");

    // Trash and purge: every version's blob is deleted.
    let before = blobs(&d.vault).len();
    assert_eq!(before, 2);
    d.ok(&["rm", "Archive/2026/final.txt"]);
    d.ok(&["purge", "Archive/2026/final.txt"]);
    // Gone from the trash at once; the content files wait out the grace period.
    assert!(d.ok(&["trash"]).is_empty());
    assert_eq!(blobs(&d.vault).len(), 2);
    d.ok(&["purge", "--now"]);
    assert_eq!(blobs(&d.vault).len(), 0);
    assert!(d.ok(&["trash"]).is_empty());
    d.fails(&["restore", "Archive/2026/final.txt"], 5);
    d.fails(&["purge"], 2);
}
