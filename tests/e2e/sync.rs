//! Two devices sharing a vault through a real sync tool (unison, and rsync
//! for partial syncs), as two laptops share a Dropbox folder.

use std::path::Path;

use crate::common::*;

fn unison(w: &World, a: &Path, b: &Path) {
    let archive = w.path("unison-archive");
    std::fs::create_dir_all(&archive).unwrap();
    sh(&format!(
        "UNISON='{}' unison '{}' '{}' -batch -auto -silent -perms 0 -dontchmod -copyonconflict -confirmbigdel=false",
        archive.display(),
        a.display(),
        b.display()
    ));
}

/// Same paths, kinds and sizes on both devices, and every file reads the same.
fn assert_converged(
    a: &Device,
    b: &Device,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let la = a.listing();
    let lb = b.listing();
    let shape = |l: &std::collections::BTreeMap<String, serde_json::Value>| {
        l.iter()
            .map(|(p, v)| {
                (
                    p.clone(),
                    v["kind"].clone(),
                    v["size"].clone(),
                    v["conflict"].clone(),
                    v["sync"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&la), shape(&lb), "both devices list the same tree");
    for (path, v) in &la {
        if v["kind"] == "file" {
            assert_eq!(
                a.get(path),
                b.get(path),
                "{path} reads the same on both devices"
            );
        }
    }
    la
}

#[test]
fn concurrent_changes_on_two_devices_converge_and_lose_nothing() {
    let w = World::new();
    let (a, phrase) = w.init("desk", "dropbox-desk/Clinic");
    let b_vault = w.path("dropbox-laptop/Clinic");
    std::fs::create_dir_all(&b_vault).unwrap();
    let src = w.path("src");
    write_tree(
        &src,
        &[
            ("s1.txt", b"shared one"),
            ("d1.txt", b"to delete"),
            ("e1.txt", b"to edit"),
            ("f.txt", b"same"),
        ],
    );
    for f in ["s1.txt", "d1.txt", "e1.txt", "f.txt"] {
        a.ok(&["add", src.join(f).to_str().unwrap()]);
    }
    unison(&w, &a.vault, &b_vault);
    let b = w.device("laptop", &b_vault);
    let out = b.run_raw(&["recover"], Some(&phrase));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    unison(&w, &a.vault, &b_vault);
    assert_converged(&a, &b);

    // Both work offline at the same time.
    let edits_a = w.path("edits-a");
    let edits_b = w.path("edits-b");
    write_tree(
        &edits_a,
        &[("x.txt", b"new on desk"), ("e1.txt", b"desk's edit")],
    );
    write_tree(
        &edits_b,
        &[
            ("y.txt", b"new on laptop"),
            ("e1.txt", b"laptop's edit, longer"),
            ("d1.txt", b"laptop edited it"),
        ],
    );
    a.ok(&["add", edits_a.join("x.txt").to_str().unwrap()]);
    a.ok(&["add", edits_a.join("e1.txt").to_str().unwrap()]);
    a.ok(&["mv", "s1.txt", "s1-desk.txt"]);
    a.ok(&["rm", "d1.txt"]);
    a.ok(&["mkdir", "Shared"]);
    a.ok(&["mv", "f.txt", "f-desk.txt"]);
    b.ok(&["add", edits_b.join("y.txt").to_str().unwrap()]);
    b.ok(&["add", edits_b.join("e1.txt").to_str().unwrap()]);
    b.ok(&["add", edits_b.join("d1.txt").to_str().unwrap()]);
    b.ok(&["mv", "s1.txt", "s1-laptop.txt"]);
    b.ok(&["mkdir", "Shared"]);
    b.ok(&["rm", "f.txt"]);

    unison(&w, &a.vault, &b_vault);
    let l = assert_converged(&a, &b);
    let contents: Vec<Vec<u8>> = l
        .iter()
        .filter(|(_, v)| v["kind"] == "file")
        .map(|(p, _)| a.get(p))
        .collect();
    for expected in [
        &b"new on desk"[..],
        b"new on laptop",
        b"desk's edit",
        b"laptop's edit, longer",
        b"laptop edited it",
        b"shared one",
        b"same",
    ] {
        assert!(
            contents.iter().any(|c| c == expected),
            "{:?} survived",
            String::from_utf8_lossy(expected)
        );
    }
    // The edit that lost the name is a conflict copy named after its device.
    assert!(
        l.keys()
            .any(|p| p.starts_with("e1 (conflict, ") && p.ends_with(".txt")),
        "{:?}",
        l.keys()
    );
    // An edit beats a concurrent delete.
    assert_eq!(a.get("d1.txt"), b"laptop edited it");
    // Two concurrent renames: both names are shown, one as a conflict copy.
    assert!(
        l.keys().any(|p| p.starts_with("s1-desk")) && l.keys().any(|p| p.starts_with("s1-laptop"))
    );
    // Rename beats a concurrent delete.
    assert_eq!(a.get("f-desk.txt"), b"same");
    // Two folders of the same name.
    assert!(l.contains_key("Shared") && l.keys().any(|p| p.starts_with("Shared (conflict, ")));

    // Resolving: remove the conflict copy on one device; both agree after sync.
    let copy = l
        .keys()
        .find(|p| p.starts_with("e1 (conflict, "))
        .unwrap()
        .clone();
    b.ok(&["rm", &copy]);
    unison(&w, &a.vault, &b_vault);
    let l = assert_converged(&a, &b);
    assert!(!l.keys().any(|p| p.starts_with("e1 (conflict")));
    assert!(l.contains_key("e1.txt"));
    // Both record folders, nothing else, appeared: nobody overwrote anybody.
    assert_eq!(std::fs::read_dir(a.vault.join("r")).unwrap().count(), 2);
}

#[test]
fn sync_client_copies_and_late_contents_are_handled() {
    let w = World::new();
    let (a, phrase) = w.init("desk", "one/Clinic");
    let b_vault = w.path("two/Clinic");
    let src = w.path("src");
    write_tree(&src, &[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    a.ok(&["add", src.join("a.txt").to_str().unwrap()]);
    sh(&format!(
        "mkdir -p '{0}' && rsync -a '{1}/' '{0}/'",
        b_vault.display(),
        a.vault.display()
    ));
    let b = w.device("laptop", &b_vault);
    assert!(b.run_raw(&["recover"], Some(&phrase)).status.success());

    // Dropbox made a "conflicted copy" of a record, Google Drive a "(1)" copy
    // of a blob (and the original blob went away).
    let rec = records(&b_vault)[0].clone();
    std::fs::copy(
        &rec,
        format!("{} (desk's conflicted copy 2026-01-31)", rec.display()),
    )
    .unwrap();
    let blob = blobs(&b_vault)[0].clone();
    std::fs::rename(&blob, format!("{} (1)", blob.display())).unwrap();
    // A copy of a whole device folder, as some clients make.
    let dev_dir = rec.parent().unwrap();
    sh(&format!(
        "cp -r '{0}' '{0} (Conflicted copy 2)'",
        dev_dir.display()
    ));
    let l = b.listing(); // exit 0: no problems
    assert_eq!(l.keys().collect::<Vec<_>>(), ["a.txt"]);
    assert_eq!(b.get("a.txt"), b"alpha");

    // Device A adds a file; its record arrives before its content.
    a.ok(&["add", src.join("b.txt").to_str().unwrap()]);
    sh(&format!(
        "rsync -a --exclude '/b/' '{}/' '{}/'",
        a.vault.display(),
        b_vault.display()
    ));
    let l = b.listing();
    assert_eq!(l["b.txt"]["sync"], "waiting");
    let err = b.fails(&["get", "b.txt", "-o", w.path("out").to_str().unwrap()], 7);
    assert!(err.contains("waiting for sync"), "{err}");
    assert!(!w.path("out").exists());
    sh(&format!(
        "rsync -a '{}/' '{}/'",
        a.vault.display(),
        b_vault.display()
    ));
    assert_eq!(b.get("b.txt"), b"beta");
}
