//! `chartsafe open`: a file edited in its default program and saved back,
//! through the `open` crate's real launcher search (a stand-in `xdg-open`
//! first on PATH plays the person's editor).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A folder of launchers: `xdg-open FILE` records where the file is and
/// how its folder is protected, then edits it as an editor would (write a
/// new file, rename it over the old one).
fn editor(w: &World) -> PathBuf {
    let bin = w.path("launchers");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        r#"#!/bin/sh
# The open crate may call us without a file: that is a usage error.
[ $# -eq 1 ] || exit 1
PATH=/usr/bin:/bin
out="$CHARTSAFE_TEST_MARK"
printf '%s' "$1" > "$out.path"
stat -c %a "$(dirname "$1")" > "$out.mode"
cat "$1" > "$out.seen"
{ cat "$1"; printf ' + addendum'; } > "$1.tmp" && mv "$1.tmp" "$1"
touch "$out.done"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

struct Opening {
    child: Child,
    mark: PathBuf,
    runtime: PathBuf,
}

/// Starts `chartsafe open PATH` with launchers from `bin` only.
fn start_open(w: &World, d: &Device, path: &str, bin: &Path) -> Opening {
    let runtime = w.path("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mark = w.path("mark");
    let mut c = d.command();
    c.arg("--vault")
        .arg(&d.vault)
        .args(["open", path])
        .env("PATH", bin)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CACHE_HOME", w.path("cache"))
        .env("CHARTSAFE_TEST_MARK", &mark)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Opening {
        child: c.spawn().expect("run chartsafe open"),
        mark,
        runtime,
    }
}

impl Opening {
    fn mark(&self, what: &str) -> PathBuf {
        let mut p = self.mark.clone().into_os_string();
        p.push(format!(".{what}"));
        PathBuf::from(p)
    }

    /// Waits until the stand-in editor has saved.
    fn wait_edited(&mut self) {
        let start = Instant::now();
        while !self.mark("done").exists() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let out = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
                    .wait_with_output()
                    .unwrap();
                panic!(
                    "chartsafe open ended ({status}) before the editor ran: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the editor never ran"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The decrypted copy the editor was given.
    fn copy(&self) -> PathBuf {
        PathBuf::from(std::fs::read_to_string(self.mark("path")).unwrap())
    }
}

#[test]
fn open_saves_the_edit_back_and_removes_the_copy_on_enter() {
    let w = World::new();
    let (d, _) = w.init("desk", "cloud/vault");
    let src = w.path("in");
    write_tree(&src, &[("Smith/notes.txt", b"BP 120/80")]);
    d.ok(&["add", src.join("Smith").to_str().unwrap()]);

    let mut o = start_open(&w, &d, "Smith/notes.txt", &editor(&w));
    o.wait_edited();
    let copy = o.copy();
    // The editor got the plaintext under its own name, in a folder only
    // this user enters, inside the private root (THREAT_MODEL.md §5).
    assert_eq!(std::fs::read(o.mark("seen")).unwrap(), b"BP 120/80");
    assert_eq!(copy.file_name().unwrap(), "notes.txt");
    assert!(copy.starts_with(o.runtime.join("chartsafe")), "{copy:?}");
    assert_eq!(
        std::fs::read_to_string(o.mark("mode")).unwrap().trim(),
        "700"
    );

    o.child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let out = o.child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("saved back into the vault: Smith/notes.txt"),
        "{stderr}"
    );
    assert!(stderr.contains("the decrypted copy is removed"), "{stderr}");

    // The edit is the file's new version; the copy and its folders are gone.
    assert_eq!(d.get("Smith/notes.txt"), b"BP 120/80 + addendum");
    assert!(d.ok(&["versions", "Smith/notes.txt"]).lines().count() >= 2);
    assert!(!copy.exists() && !copy.parent().unwrap().exists());
    let left: Vec<_> = std::fs::read_dir(o.runtime.join("chartsafe"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap())
        .collect();
    assert!(left.is_empty(), "copies left behind: {left:?}");
    // Both the opening and the save are in the audit log.
    let log = d.ok(&["audit", "--entry", "Smith/notes.txt", "--format", "csv"]);
    assert!(
        log.contains(",opened,") && log.contains(",saved_back,"),
        "{log}"
    );
}

#[test]
fn ctrl_c_still_saves_back_and_removes_the_copy() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let src = w.path("in");
    write_tree(&src, &[("labs.txt", b"K 4.1")]);
    d.ok(&["add", src.join("labs.txt").to_str().unwrap()]);

    let mut o = start_open(&w, &d, "labs.txt", &editor(&w));
    o.wait_edited();
    let copy = o.copy();
    // Standard input stays open until the command has ended: its end
    // would also end the command (with 0), racing the signal.
    let stdin = o.child.stdin.take();
    sh(&format!("kill -INT {}", o.child.id()));
    let out = o.child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(d.get("labs.txt"), b"K 4.1 + addendum");
    assert!(!copy.exists() && !copy.parent().unwrap().exists());
}

#[test]
fn with_no_program_to_open_it_the_copy_is_removed_and_the_error_says_so() {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let src = w.path("in");
    write_tree(&src, &[("scan.pdf", b"%PDF-1.7 scan")]);
    d.ok(&["add", src.join("scan.pdf").to_str().unwrap()]);

    let empty = w.path("no-launchers");
    std::fs::create_dir_all(&empty).unwrap();
    let o = start_open(&w, &d, "scan.pdf", &empty);
    let runtime = o.runtime.clone();
    let out = o.child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no program could open scan.pdf"),
        "{stderr}"
    );
    assert!(stderr.contains("chartsafe get"), "{stderr}");
    let copies: Vec<_> = walk(&runtime)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "scan.pdf"))
        .collect();
    assert!(copies.is_empty(), "{copies:?}");
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
