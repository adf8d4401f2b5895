//! An attacker with write access to the cloud folder: every change is
//! detected and named, and the other entries still open.

use std::path::PathBuf;

use crate::common::*;

/// A vault with files f0..f5, each added alone so that we know its blob.
fn setup(w: &World) -> (Device, String, Vec<PathBuf>) {
    let (d, phrase) = w.init("desk", "vault");
    let mut blob_of = Vec::new();
    for i in 0..6 {
        let f = w.path(&format!("f{i}.txt"));
        std::fs::write(&f, format!("content of file {i} ").repeat(5000)).unwrap();
        let before = blobs(&d.vault);
        d.ok(&["add", f.to_str().unwrap()]);
        let after = blobs(&d.vault);
        let new: Vec<_> = after.into_iter().filter(|b| !before.contains(b)).collect();
        assert_eq!(new.len(), 1);
        blob_of.push(new[0].clone());
    }
    (d, phrase, blob_of)
}

fn expect(d: &Device, w: &World, path: &str, code: i32, words: &str) {
    let out = w.path("out.txt");
    let err = d.fails(&["get", path, "-o", out.to_str().unwrap()], code);
    assert!(err.contains(words) && err.contains(path), "{path}: {err}");
    assert!(!out.exists(), "no partial plaintext is left for {path}");
    let dir_entries: Vec<_> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".chartsafe-"))
        .collect();
    assert!(
        dir_entries.is_empty(),
        "temporary plaintext left: {dir_entries:?}"
    );
}

#[test]
fn damaged_swapped_replaced_and_deleted_contents_are_named() {
    let w = World::new();
    let (d, phrase, blob) = setup(&w);
    // f0: one byte flipped in the middle.
    let mut bytes = std::fs::read(&blob[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&blob[0], &bytes).unwrap();
    expect(&d, &w, "f0.txt", 6, "damaged or truncated");
    // f1: truncated by one chunk.
    let bytes = std::fs::read(&blob[1]).unwrap();
    std::fs::write(&blob[1], &bytes[..bytes.len() - 70_000]).unwrap();
    expect(&d, &w, "f1.txt", 6, "damaged or truncated");
    // f2 and f3: blobs swapped.
    let tmp = w.path("swap");
    std::fs::rename(&blob[2], &tmp).unwrap();
    std::fs::rename(&blob[3], &blob[2]).unwrap();
    std::fs::rename(&tmp, &blob[3]).unwrap();
    expect(&d, &w, "f2.txt", 6, "not the file that was stored");
    expect(&d, &w, "f3.txt", 6, "not the file that was stored");
    // f4: replaced by another valid age file made with the vault's recovery
    // recipient (as an attacker who learnt a public key could).
    let id = d.identity_file(&phrase);
    let recipient = sh(&format!("grep -v '^#' '{}' | age-keygen -y", id.display()));
    sh(&format!(
        "echo 'forged content' | age -r {} -o '{}'",
        recipient.trim(),
        blob[4].display()
    ));
    // This device holds the collection key only: the file is not for it.
    expect(&d, &w, "f4.txt", 6, "not encrypted to this vault's keys");
    // Opened with the recovery identity, it decrypts, but not to what was stored.
    let out = d
        .command()
        .arg("--vault")
        .arg(&d.vault)
        .arg("--identity")
        .arg(&id)
        .args(["get", "f4.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the file that was stored"));
    assert!(
        out.stdout.is_empty(),
        "no unauthenticated plaintext on standard output"
    );
    // f4 again: replaced by a file for a key that is not ours at all.
    sh(&format!("age-keygen -o '{0}/k.txt' 2>/dev/null && echo x | age -R <(age-keygen -y '{0}/k.txt') -o '{1}'", w.dir.path().display(), blob[4].display()));
    expect(&d, &w, "f4.txt", 6, "not encrypted to this vault's keys");
    // f5: deleted.
    std::fs::remove_file(&blob[5]).unwrap();
    expect(&d, &w, "f5.txt", 6, "missing from the vault folder");
    let l = d.listing();
    assert_eq!(l["f5.txt"]["sync"], "missing");
    // An untouched file still opens.
    let fresh = w.path("fresh.txt");
    std::fs::write(&fresh, "still fine").unwrap();
    d.ok(&["add", fresh.to_str().unwrap()]);
    assert_eq!(d.get("fresh.txt"), b"still fine");
}

#[test]
fn forged_replayed_and_rolled_back_records_are_reported() {
    let w = World::new();
    let (d, _, _) = setup(&w); // records 1..6
    d.ok(&["mv", "f0.txt", "renamed.txt"]); // record 7
    let recs = records(&d.vault);
    assert_eq!(recs.len(), 7);
    let dir = recs[0].parent().unwrap().to_owned();

    // Replay: an old record copied in as the device's next one.
    std::fs::copy(&recs[0], dir.join("0000000008")).unwrap();
    let out = d.run_raw(&["ls"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("0000000008 is a replay of record #1") && err.contains("\"f0.txt\""),
        "{err}"
    );
    // Other entries still list and open.
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("renamed.txt") && listing.contains("f5.txt"),
        "{listing}"
    );
    assert!(d.get("f5.txt").starts_with(b"content of file 5"));
    std::fs::remove_file(dir.join("0000000008")).unwrap();

    // Forgery: a byte flipped in a record.
    let mut bytes = std::fs::read(&recs[2]).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 1;
    std::fs::write(&recs[2], &bytes).unwrap();
    let out = d.run_raw(&["ls"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        err.contains("0000000003 is damaged or not from this vault"),
        "{err}"
    );
    assert!(d.get("f4.txt").starts_with(b"content of file 4"));

    // Rollback: the newest record disappears (a provider restores an old state).
    std::fs::remove_file(&recs[6]).unwrap();
    let out = d.run_raw(&["ls"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        err.contains("rolled back") && err.contains("#7 was seen before, only #6"),
        "{err}"
    );
    // The device never reuses the number of a record it wrote.
    d.ok(&["mkdir", "after"]);
    assert!(dir.join("0000000008").exists());

    // Downgrade: the public header claims another version.
    let header = d.vault.join("chartsafe-vault.json");
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, text.replace("\"version\": 2", "\"version\": 0")).unwrap();
    let err = d.fails(&["ls"], 1);
    assert!(err.contains("format version 0"), "{err}");
}
