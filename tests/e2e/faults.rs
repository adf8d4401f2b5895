//! Faults of the disk, the vault folder and the source files: each ends in
//! a clear error naming the file and what to do, loses nothing and leaves
//! nothing half-written visible (docs/THREAT_MODEL.md §9.3).
//!
//! A full disk is injected at every step of an add, a key rotation and an
//! audit write (`CHARTSAFE_FAIL_AT`, crates/chartsafe-core/src/failpoint.rs),
//! and also made for real on a small tmpfs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::*;

/// Every file of the vault folder but the audit log (each command adds a
/// batch to it, the failed ones included) and the local state.
fn folder_files(vault: &Path) -> Vec<String> {
    let out = sh(&format!(
        "cd '{}' && find . -path ./a -prune -o -type f -print | sort",
        vault.display()
    ));
    out.lines().map(str::to_owned).collect()
}

fn earlier(w: &World, d: &Device) -> BTreeMap<String, Vec<u8>> {
    let src = w.path("Earlier");
    std::fs::create_dir_all(&src).unwrap();
    let mut files = BTreeMap::new();
    for i in 0..5 {
        let content = format!("kept {i} ").repeat(200 + i * 50).into_bytes();
        std::fs::write(src.join(format!("k{i}.txt")), &content).unwrap();
        files.insert(format!("Earlier/k{i}.txt"), content);
    }
    d.ok(&["add", src.to_str().unwrap()]);
    files
}

fn check_earlier(d: &Device, files: &BTreeMap<String, Vec<u8>>) {
    let l = d.listing();
    for (p, c) in files {
        assert_eq!(l[p]["size"], c.len(), "{p}");
    }
    let (p, c) = files.iter().next().unwrap();
    assert_eq!(&d.get(p), c);
}

/// The steps an operation takes (a dry run with the step log).
fn count_steps(w: &World, d: &Device, args: &[&str]) -> usize {
    let log = w.path("steps.log");
    let _ = std::fs::remove_file(&log);
    let mut c = d.command();
    c.arg("--vault")
        .arg(&d.vault)
        .args(args)
        .env("CHARTSAFE_STEP_LOG", &log);
    let out = output_with(c, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&log).unwrap().lines().count()
}

/// Step numbers to fail at: all of them, or 120 spread over them.
fn points(steps: usize) -> Vec<usize> {
    if steps <= 120 {
        (1..=steps).collect()
    } else {
        (0..120).map(|i| 1 + i * (steps - 1) / 119).collect()
    }
}

/// Runs `args` with the disk full from step `at` on: it either succeeds
/// (the failed writes were only best-effort local state) or fails with
/// exit 8, saying the disk is full, naming a file and what to do.
fn run_full_from(d: &Device, args: &[&str], at: usize) -> bool {
    let mut c = d.command();
    c.arg("--vault")
        .arg(&d.vault)
        .args(args)
        .env("CHARTSAFE_FAIL_AT", at.to_string());
    let out = output_with(c, None);
    if out.status.success() {
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{args:?} at step {at}: {err}");
    assert!(
        err.contains("the disk is full"),
        "{args:?} at step {at}: {err}"
    );
    assert!(
        err.contains(&*d.vault.to_string_lossy()) || err.contains(&*d.state.to_string_lossy()),
        "{args:?} at step {at}: the error names no file: {err}"
    );
    assert!(err.contains("hint:"), "{args:?} at step {at}: {err}");
    false
}

#[test]
fn a_full_disk_at_every_step_of_add_rotation_and_audit_write_fails_cleanly() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let kept = earlier(&w, &d);
    let src = w.path("New");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..6 {
        std::fs::write(src.join(format!("sub/n{i}.txt")), format!("new {i}")).unwrap();
    }
    std::fs::write(src.join("scan.bin"), vec![3u8; 3 << 20]).unwrap();
    let snapshot = Snapshot::take(&w, &d, "start");
    let before = folder_files(&d.vault);
    let src_arg = src.to_str().unwrap().to_owned();
    let out_file = w.path("out.txt");
    let out_arg = out_file.to_str().unwrap().to_owned();

    let ops: Vec<(&str, Vec<&str>)> = vec![
        ("add", vec!["add", &src_arg]),
        ("rotate", vec!["rotate"]),
        // Reading writes only its audit batch: a read not recorded is
        // not done (FORMAT.md §10.4).
        ("audit write", vec!["get", "Earlier/k1.txt", "-o", &out_arg]),
    ];
    let mut summary = Vec::new();
    for (name, args) in &ops {
        snapshot.restore(&d);
        let steps = count_steps(&w, &d, args);
        let mut failed = 0;
        for at in points(steps) {
            snapshot.restore(&d);
            let _ = std::fs::remove_file(&out_file);
            let ok = run_full_from(&d, args, at);
            if !ok {
                failed += 1;
                // Nothing half-written: no temporary file, no content
                // without its record, nothing of the failed add listed.
                let now = folder_files(&d.vault);
                let extra: Vec<&String> = now.iter().filter(|f| !before.contains(f)).collect();
                match *name {
                    // Either nothing of it is left, or its record got in
                    // place and only a later write failed (its last sync,
                    // or this computer's state): then it is whole.
                    "add" => {
                        let listed = d
                            .listing()
                            .into_iter()
                            .filter(|(p, v)| p.starts_with("New/") && v["kind"] == "file")
                            .count();
                        if listed == 0 {
                            assert!(extra.is_empty(), "{name} at step {at} left {extra:?}");
                        } else {
                            assert_eq!(listed, 7, "{name} at step {at}: a partial add");
                            assert!(!extra.iter().any(|f| f.contains(".cs-tmp-")));
                            verify_orphans_only(&d);
                            let out = d.ok(&["verify"]);
                            assert!(!out.contains("problem"), "{out}");
                        }
                    }
                    "audit write" => {
                        assert!(extra.is_empty(), "{name} at step {at} left {extra:?}");
                        assert!(!out_file.exists(), "read without its audit record");
                    }
                    // A rotation stopped midway has written its new key
                    // and some re-encrypted files; the rest is resumed.
                    _ => assert!(
                        !extra.iter().any(|f| f.contains(".cs-tmp-")),
                        "{name} at step {at} left {extra:?}"
                    ),
                }
            }
            check_earlier(&d, &kept);
            // With space again, the operation completes.
            match *name {
                "rotate" => {
                    d.ok(&["rotate", "--resume"]);
                    let status = d.ok(&["rotate", "--status"]);
                    assert!(!status.contains("not finished"), "{status}");
                }
                _ => {
                    d.ok(args);
                }
            }
            check_earlier(&d, &kept);
        }
        summary.push(format!(
            "{name}: {} of {steps} steps tried, {failed} failed cleanly",
            points(steps).len()
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

#[test]
fn a_real_full_disk_stops_a_rotation_which_resumes_once_there_is_room() {
    let w = World::new();
    let mount = Mount::tmpfs(&w.path("small"), "4m");
    let (d, _) = w.init("desk", "small/vault");
    let src = w.path("Charts");
    std::fs::create_dir_all(&src).unwrap();
    // About 1.8 MiB of contents: re-encrypted copies do not all fit.
    for i in 0..12 {
        std::fs::write(src.join(format!("c{i:02}.bin")), vec![i as u8; 150_000]).unwrap();
    }
    d.ok(&["add", src.to_str().unwrap()]);
    // Fill the disk but for a little room.
    let filler = mount.0.join("filler");
    sh(&format!(
        "dd if=/dev/zero of='{}' bs=64k 2>/dev/null || true",
        filler.display()
    ));
    sh(&format!("truncate -s -400k '{}'", filler.display()));
    let err = d.fails(&["rotate"], 8);
    assert!(err.contains("the disk is full"), "{err}");
    assert!(err.contains("hint: free some space"), "{err}");
    // Every file still opens, under whichever key it is.
    std::fs::remove_file(&filler).unwrap();
    for i in [0, 11] {
        assert_eq!(
            d.get(&format!("Charts/c{i:02}.bin")),
            vec![i as u8; 150_000]
        );
    }
    d.ok(&["rotate", "--resume"]);
    let status = d.ok(&["rotate", "--status"]);
    assert!(!status.contains("not finished"), "{status}");
    assert!(!folder_files(&d.vault)
        .iter()
        .any(|f| f.contains(".cs-tmp-")));
    drop(mount);
}

#[test]
fn the_vault_folder_turning_read_only_mid_add_fails_cleanly_and_resumes() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let kept = earlier(&w, &d);
    let src = w.path("Scans");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..40 {
        std::fs::write(src.join(format!("s{i:02}.bin")), vec![i as u8; 40_000]).unwrap();
    }
    std::fs::write(src.join("big.bin"), vec![9u8; 3 << 20]).unwrap();
    // Read-only from each step on (the error a read-only mount gives).
    let args = ["add", src.to_str().unwrap()];
    let steps = count_steps(&w, &d, &args);
    d.ok(&["rm", "Scans"]);
    d.ok(&["purge", "--all", "--now"]);
    let mut failed = 0;
    for at in points(steps).into_iter().step_by(3) {
        let before = folder_files(&d.vault);
        let mut c = d.command();
        c.arg("--vault")
            .arg(&d.vault)
            .args(args)
            .env("CHARTSAFE_FAIL_AT", at.to_string())
            .env("CHARTSAFE_FAIL_ERRNO", "30");
        let out = output_with(c, None);
        if out.status.success() {
            d.ok(&["rm", "Scans"]);
            d.ok(&["purge", "--all", "--now"]);
            continue;
        }
        failed += 1;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "step {at}: {err}");
        assert!(err.contains("read-only"), "step {at}: {err}");
        assert!(err.contains("hint:"), "step {at}: {err}");
        assert!(
            !d.listing().keys().any(|p| p.starts_with("Scans")),
            "step {at}"
        );
        let extra: Vec<String> = folder_files(&d.vault)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        // Deleting is refused on a read-only folder too: what the failed
        // write placed may stay, as orphans verify reports.
        assert!(
            extra.iter().all(|f| f.starts_with("./b/")),
            "step {at} left {extra:?}"
        );
        verify_orphans_only(&d);
    }
    assert!(failed > 0);
    check_earlier(&d, &kept);

    // And for real: a tmpfs remounted read-only while an add of many
    // files runs (between two files, when none is open for writing).
    let mount = Mount::tmpfs(&w.path("share"), "100m");
    let (d, _) = w.init("front", "share/vault");
    let kept = earlier(&w, &d);
    let many = w.path("Many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..3000 {
        std::fs::write(
            many.join(format!("m{i:04}.txt")),
            format!("{i}").repeat(500),
        )
        .unwrap();
    }
    let child = d
        .command()
        .arg("--vault")
        .arg(&d.vault)
        .args(["add", many.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once it unlocked (its first audit batch), the adding has begun.
    let batches = || {
        std::fs::read_dir(d.vault.join("a"))
            .unwrap()
            .map(|e| std::fs::read_dir(e.unwrap().path()).unwrap().count())
            .sum::<usize>()
    };
    let before = batches();
    let t0 = std::time::Instant::now();
    while batches() == before && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut read_only = false;
    let t0 = std::time::Instant::now();
    while !read_only && t0.elapsed() < Duration::from_secs(20) {
        read_only = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&mount.0)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        eprintln!("the add finished before the folder turned read-only");
    } else {
        eprintln!(
            "read-only after {:?}: {}",
            t0.elapsed(),
            err.lines().last().unwrap_or("")
        );
        assert_eq!(out.status.code(), Some(8), "{err}");
        assert!(err.contains("read-only"), "{err}");
        assert!(err.contains(&*d.vault.to_string_lossy()), "{err}");
    }
    mount.read_write();
    check_earlier(&d, &kept);
    for (p, v) in d.listing() {
        assert_eq!(v["sync"], "available", "{p} listed without its content");
    }
    d.ok(&["add", many.to_str().unwrap()]);
    assert_eq!(d.get("Many/m2999.txt"), "2999".repeat(500).as_bytes());
    drop(mount);
}

/// `verify` reports at most orphan contents.
fn verify_orphans_only(d: &Device) {
    let out = d.run_raw(&["verify"], None);
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("problem: "))
    {
        assert!(line.contains("(an orphan)"), "{line}");
    }
}

#[test]
fn a_source_file_that_grows_or_shrinks_while_added_is_refused_by_name() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let kept = earlier(&w, &d);
    for change in ["grows", "shrinks"] {
        let src = w.path(&format!("{change}.bin"));
        let mut refused = false;
        // The change must land while the file is read: a big file, changed
        // shortly after the add starts; tried again if it came too late.
        for attempt in 0..4 {
            std::fs::write(&src, vec![1u8; (300 + attempt * 200) << 20]).unwrap();
            let blobs_before = blobs(&d.vault).len();
            let child = d
                .command()
                .arg("--vault")
                .arg(&d.vault)
                .args(["add", src.to_str().unwrap(), "--to", change])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let f = std::fs::OpenOptions::new().append(true).open(&src).unwrap();
            if change == "grows" {
                use std::io::Write;
                (&f).write_all(&[2u8; 4096]).unwrap();
            } else {
                f.set_len(1 << 20).unwrap();
            }
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                // Finished first: take it out again and retry with more.
                d.ok(&["rm", change]);
                d.ok(&["purge", "--all", "--now"]);
                continue;
            }
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(5), "{err}");
            assert!(
                err.contains(&format!("{change}.bin")) && err.contains("changed while"),
                "{err}"
            );
            assert!(err.contains("hint:"), "{err}");
            assert!(!d.listing().keys().any(|p| p.starts_with(change)));
            assert_eq!(blobs(&d.vault).len(), blobs_before, "content left behind");
            refused = true;
            break;
        }
        assert!(refused, "the file never changed while being read");
        // Once it is saved, it is added whole.
        d.ok(&["add", src.to_str().unwrap(), "--to", change]);
        let want = std::fs::read(&src).unwrap();
        assert_eq!(d.get(&format!("{change}/{change}.bin")).len(), want.len());
    }
    check_earlier(&d, &kept);
}

/// Runs the CLI as root without the capabilities that let root read any
/// file, so file permissions apply to it as to a clinic's staff.
fn without_override(d: &Device, args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new("setpriv");
    c.args([
        "--bounding-set=-dac_override,-dac_read_search",
        "--inh-caps=-all",
        "--",
    ]);
    let inner = d.command();
    c.arg(inner.get_program());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.args(inner.get_args())
        .arg("--vault")
        .arg(&d.vault)
        .args(args);
    output_with(c, None)
}

#[test]
fn permission_denied_on_one_subfolder_is_named_and_changes_nothing() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let kept = earlier(&w, &d);
    // A source tree with one folder this user may not read.
    let src = w.path("Referrals");
    std::fs::create_dir_all(src.join("open")).unwrap();
    std::fs::create_dir_all(src.join("locked")).unwrap();
    std::fs::write(src.join("open/a.txt"), "a").unwrap();
    std::fs::write(src.join("locked/b.txt"), "b").unwrap();
    sh(&format!("chmod 000 '{}'", src.join("locked").display()));
    let before = folder_files(&d.vault);
    let out = without_override(&d, &["add", src.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    sh(&format!("chmod 755 '{}'", src.join("locked").display()));
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("locked"), "{err}");
    assert!(err.to_lowercase().contains("permission denied"), "{err}");
    assert_eq!(folder_files(&d.vault), before, "something was written");
    assert!(!d.listing().keys().any(|p| p.starts_with("Referrals")));

    // A folder of the vault this user may not read: named, nothing lost.
    let shard = std::fs::read_dir(d.vault.join("b"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    sh(&format!("chmod 000 '{}'", shard.display()));
    let out = without_override(&d, &["verify"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    sh(&format!("chmod 755 '{}'", shard.display()));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&*shard.file_name().unwrap().to_string_lossy()),
        "the folder is not named: {text}"
    );
    assert!(text.to_lowercase().contains("permission denied"), "{text}");
    check_earlier(&d, &kept);
    d.ok(&["add", src.to_str().unwrap()]);
    assert_eq!(d.get("Referrals/locked/b.txt"), b"b");
}
