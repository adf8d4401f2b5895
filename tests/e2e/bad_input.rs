//! Bad input gets a clear error naming the file, and changes nothing.

use std::os::unix::ffi::OsStrExt;

use crate::common::*;

#[test]
fn bad_names_are_refused_and_change_nothing() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    d.ok(&["mkdir", "Labs"]);
    let before = d.ok(&["ls", "--json"]);
    let records_before = records(&d.vault).len();
    let long = "x".repeat(10_000);
    for (args, words) in [
        (vec!["mkdir", long.as_str()], "10000 bytes long"),
        (vec!["mv", "Labs", long.as_str()], "10000 bytes long"),
        (vec!["mkdir", "a/../b"], "are not names"),
        (vec!["mkdir", "bad\nname"], "control characters"),
        (vec!["mv", "Labs", "La\u{7}bs"], "control characters"),
        (vec!["mkdir", "back\\slash"], "cannot hold"),
        (vec!["mv", "Nope", "Other"], "is not in the vault"),
        (vec!["mkdir", "Labs"], "already exists"),
    ] {
        let err = d.fails(&args, 5);
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(
            err.len() < 400,
            "long names are shortened in messages: {err}"
        );
    }
    // A source file whose name holds a newline: refused before anything is written.
    let src = w.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("ok.txt"), "fine").unwrap();
    std::fs::write(src.join("bad\nname.txt"), "x").unwrap();
    let err = d.fails(&["add", src.to_str().unwrap()], 5);
    assert!(
        // Named, with the newline shown escaped (never raw on a terminal).
        err.contains("bad\\nname.txt") && err.contains("control characters"),
        "{err}"
    );
    // A name that is not UTF-8.
    let src2 = w.path("src2");
    std::fs::create_dir_all(&src2).unwrap();
    std::fs::write(
        src2.join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")),
        "latin-1",
    )
    .unwrap();
    let err = d.fails(&["add", src2.to_str().unwrap()], 5);
    assert!(err.contains("not valid Unicode"), "{err}");
    // A named pipe: it would block forever; refused before anything is written.
    let fifo = w.path("pipe");
    sh(&format!("mkfifo '{}'", fifo.display()));
    let err = d.fails(&["add", fifo.to_str().unwrap()], 5);
    assert!(err.contains("not a regular file"), "{err}");
    // A stray file where the vault has folders of its own changes nothing.
    std::fs::create_dir_all(d.vault.join("b")).unwrap();
    std::fs::write(d.vault.join("b/notes.txt"), "stray").unwrap();
    std::fs::write(d.vault.join("r/aaaaaaaaaaaaaaaaaaaaaaaaaa"), "stray").unwrap();
    // A missing source.
    let err = d.fails(&["add", w.path("nothing-here").to_str().unwrap()], 5);
    assert!(
        err.contains("nothing-here: no such file or folder"),
        "{err}"
    );
    assert_eq!(d.ok(&["ls", "--json"]), before);
    assert_eq!(records(&d.vault).len(), records_before);
    assert!(blobs(&d.vault).is_empty());
    // A dangling link where a record would be is reported; the rest still lists.
    let dev = records(&d.vault)[0].parent().unwrap().to_owned();
    std::os::unix::fs::symlink("/nonexistent", dev.join("0000000099")).unwrap();
    let out = d.run_raw(&["ls", "--json"], None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);
}

#[test]
fn unicode_names_are_one_entry_whatever_the_normal_form() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let nfd = w.path("nfd/Jose\u{301} Mu\u{308}ller.txt");
    let nfc = w.path("nfc/Jos\u{e9} M\u{fc}ller.txt");
    write_tree(
        w.dir.path(),
        &[
            ("nfd/Jose\u{301} Mu\u{308}ller.txt", b"from a Mac"),
            ("nfc/Jos\u{e9} M\u{fc}ller.txt", b"from Windows, newer"),
        ],
    );
    d.ok(&["add", nfd.to_str().unwrap()]);
    d.ok(&["add", nfc.to_str().unwrap()]);
    let l = d.listing();
    assert_eq!(l.len(), 1, "{:?}", l.keys());
    assert_eq!(
        d.get("Jose\u{301} Mu\u{308}ller.txt"),
        b"from Windows, newer"
    );
    assert_eq!(d.get("Jos\u{e9} M\u{fc}ller.txt"), b"from Windows, newer");
    assert_eq!(
        d.ok(&["versions", "Jos\u{e9} M\u{fc}ller.txt"])
            .lines()
            .count(),
        2
    );
    // Emoji, right-to-left and CJK names round-trip.
    write_tree(
        w.dir.path(),
        &[("odd/🩺 ملف 検査 (copy) [1] #2 ' \" ;.txt", b"odd")],
    );
    let odd = w.path("odd/🩺 ملف 検査 (copy) [1] #2 ' \" ;.txt");
    d.ok(&["add", odd.to_str().unwrap()]);
    assert_eq!(d.get("🩺 ملف 検査 (copy) [1] #2 ' \" ;.txt"), b"odd");
}

#[test]
fn a_full_disk_or_read_only_folder_fails_cleanly() {
    let w = World::new();
    let mount = Mount::tmpfs(&w.path("small"), "2m");
    let (d, _) = w.init("desk", "small/vault");
    let f = w.path("keep.txt");
    std::fs::write(&f, "kept").unwrap();
    d.ok(&["add", f.to_str().unwrap()]);
    let before = d.ok(&["ls", "--json"]);
    // Every command adds an audit batch under a/ (its unlock, at least):
    // compare everything else.
    let names = || {
        sh(&format!(
            "cd '{}' && find . -path ./a -prune -o -print | sort",
            d.vault.display()
        ))
    };
    let names_before = names();

    // Full disk: a 4 MiB file into a 2 MiB file system.
    let big = w.path("big.bin");
    std::fs::write(&big, vec![7u8; 4 << 20]).unwrap();
    let err = d.fails(&["add", big.to_str().unwrap()], 8);
    assert!(
        err.contains("the disk is full") && err.contains("b/"),
        "{err}"
    );
    assert!(err.contains("hint: free some space"), "{err}");
    assert_eq!(d.ok(&["ls", "--json"]), before);
    // Nothing left behind: not even a temporary file.
    assert_eq!(names(), names_before);
    assert_eq!(d.get("keep.txt"), b"kept");

    // Read-only folder.
    mount.read_only();
    let err = d.fails(&["mkdir", "New"], 8);
    assert!(err.contains("read-only"), "{err}");
    let err = d.fails(&["add", f.to_str().unwrap(), "--to", "x"], 8);
    assert!(err.contains("read-only"), "{err}");
    // Reading is refused too: no access goes unrecorded (FORMAT.md §10.4).
    let out = w.path("out.txt");
    let err = d.fails(&["get", "keep.txt", "-o", out.to_str().unwrap()], 8);
    assert!(
        err.contains("the audit log could not be written") && err.contains("read-only"),
        "{err}"
    );
    assert!(!out.exists());
    mount.read_write();
    assert_eq!(d.get("keep.txt"), b"kept");
    assert_eq!(d.ok(&["ls", "--json"]), before);
    drop(mount);
}

#[test]
fn a_file_vanishing_during_add_is_named_and_a_rerun_completes() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let src = w.path("batch");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..1500 {
        std::fs::write(src.join(format!("f{i:04}.txt")), vec![b'a'; 20_000]).unwrap();
    }
    let victim = src.join("f1499.txt");
    let child = d
        .command()
        .arg("--vault")
        .arg(&d.vault)
        .arg("add")
        .arg(&src)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    std::fs::remove_file(&victim).unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code();
    if code == Some(0) {
        eprintln!("the add finished before the file was removed; nothing to check this time");
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, Some(5), "{err}");
        assert!(err.contains("f1499.txt"), "{err}");
        // The error names the file (it went missing either while listing or while reading).
        let l = d.listing(); // opens, no problems
        assert!(!l.contains_key("batch/f1499.txt"));
        for (p, v) in l.iter().filter(|(_, v)| v["kind"] == "file").take(5) {
            assert_eq!(v["sync"], "available");
            assert_eq!(d.get(p), vec![b'a'; 20_000]);
        }
    }
    std::fs::write(&victim, "back").unwrap();
    d.ok(&["add", src.to_str().unwrap()]);
    let l = d.listing();
    assert_eq!(l.values().filter(|v| v["kind"] == "file").count(), 1500);
    assert_eq!(d.get("batch/f1499.txt"), b"back");
}
