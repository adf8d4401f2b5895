//! Crash trials: the `chartsafe` command killed at random points of six
//! operations, then checked (docs/THREAT_MODEL.md §9.2, FORMAT.md §1.2).
//!
//! Half the trials stop the process at an injected failpoint: step N of
//! the operation's changes to files, N drawn from all of them (the binary
//! is built with `test-knobs`, which turns `CHARTSAFE_CRASH_AT` on; see
//! crates/chartsafe-core/src/failpoint.rs). The other half send SIGKILL
//! after a random time within the operation's own duration. After each:
//!
//! - the vault opens and lists with no problem;
//! - `verify` reports nothing but work left to resume (orphan contents
//!   and temporary files of the interrupted write);
//! - the operation either happened whole or not at all (or, for a big add,
//!   whole batches of it), and running it again completes it;
//! - no earlier file is lost or changed.
//!
//! `make test` runs a sample; `make stress` runs at least 300 trials and
//! prints a table (CHARTSAFE_STRESS_TRIALS per operation, default 50).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::common::*;

/// What a trial found the vault to be after the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum After {
    /// Nothing of the operation is visible.
    NotDone,
    /// Some whole batches of an add are in, the rest not.
    Partly,
    /// The operation is complete.
    Done,
}

/// `ls --json`, by path.
type Listing = BTreeMap<String, serde_json::Value>;
/// Judges a listing after a crash.
type Judge = Box<dyn Fn(&Device, &Listing) -> After>;
/// Completes an operation a crash left in some state.
type Resume = Box<dyn Fn(&Device, After)>;
/// Checks the final state.
type Check = Box<dyn Fn(&Device, &Listing)>;

/// One operation to interrupt.
struct Op {
    /// What is run and killed.
    args: Vec<String>,
    /// Judges the listing after the crash (panics if it is neither state).
    judge: Judge,
    /// Completes the operation after a crash that left it `After`.
    resume: Resume,
    /// Checks the final state, once complete.
    check: Check,
}

/// The files every trial must find unchanged: added before the operation.
struct Earlier(BTreeMap<String, Vec<u8>>);

impl Earlier {
    fn add(w: &World, d: &Device) -> Self {
        let src = w.path("Earlier");
        let mut files = BTreeMap::new();
        for i in 0..12 {
            let content = format!("earlier file {i} ")
                .repeat(50 + i * 97)
                .into_bytes();
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join(format!("e{i:02}.txt")), &content).unwrap();
            files.insert(format!("Earlier/e{i:02}.txt"), content);
        }
        d.ok(&["add", src.to_str().unwrap()]);
        Self(files)
    }

    /// Every earlier file is listed with its size, and a few, drawn at
    /// random, decrypt to exactly what was added.
    fn check(&self, d: &Device, l: &BTreeMap<String, serde_json::Value>, rng: &mut impl Rng) {
        for (path, content) in &self.0 {
            let e = l.get(path).unwrap_or_else(|| panic!("{path} is gone"));
            assert_eq!(e["size"], content.len(), "{path}");
            assert_eq!(e["sync"], "available", "{path}");
        }
        let keys: Vec<&String> = self.0.keys().collect();
        for _ in 0..2 {
            let p = keys[rng.gen_range(0..keys.len())];
            assert_eq!(&d.get(p), &self.0[p], "{p} changed");
        }
    }
}

/// `verify` finds nothing but what an interrupted write leaves: contents no
/// record names yet, and temporary files.
fn verify_only_leftovers(d: &Device, context: &str) {
    let out = d.run_raw(&["verify"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("problem: ")) {
        assert!(
            line.contains("(an orphan)") || line.contains("a temporary file left by"),
            "{context}: verify reports {line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        matches!(out.status.code(), Some(0) | Some(3) | Some(6)),
        "{context}: verify exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn audit_batches(vault: &Path) -> usize {
    std::fs::read_dir(vault.join("a"))
        .map(|dirs| {
            dirs.map(|e| std::fs::read_dir(e.unwrap().path()).map_or(0, |d| d.count()))
                .sum()
        })
        .unwrap_or(0)
}

fn make_files(dir: &Path, count: usize, size: usize, tag: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for i in 0..count {
        let sub = format!("part{}", i % 3);
        std::fs::create_dir_all(dir.join(&sub)).unwrap();
        let content = format!("{tag} {i} ").repeat(size / 8 + i % 5).into_bytes();
        let rel = format!("{sub}/f{i:04}.txt");
        std::fs::write(dir.join(&rel), &content).unwrap();
        out.insert(rel, content);
    }
    out
}

fn files_under<'a>(
    l: &'a BTreeMap<String, serde_json::Value>,
    prefix: &str,
) -> Vec<(&'a String, &'a serde_json::Value)> {
    l.iter()
        .filter(|(p, v)| v["kind"] == "file" && p.starts_with(prefix))
        .collect()
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Sets up operation `name` in a fresh vault with its earlier files.
fn prepare(w: &World, d: &Device, name: &str) -> Op {
    match name {
        "add a big file" => {
            let big: Vec<u8> = (0..24_000_000u32).map(|i| (i % 251) as u8).collect();
            let src = w.path("big.bin");
            std::fs::write(&src, &big).unwrap();
            let judge =
                |_: &Device, l: &BTreeMap<String, serde_json::Value>| match l.get("Big/big.bin") {
                    None => After::NotDone,
                    Some(e) => {
                        assert_eq!(e["size"], 24_000_000, "a partial big file is listed");
                        assert_eq!(e["sync"], "available");
                        After::Done
                    }
                };
            let resume_src = src.clone();
            Op {
                args: s(&["add", src.to_str().unwrap(), "--to", "Big"]),
                judge: Box::new(judge),
                resume: Box::new(move |d, _| {
                    d.ok(&["add", resume_src.to_str().unwrap(), "--to", "Big"]);
                }),
                check: Box::new(move |d, l| {
                    assert_eq!(l["Big/big.bin"]["size"], 24_000_000);
                    assert!(d.get("Big/big.bin") == big, "Big/big.bin differs");
                }),
            }
        }
        "add many small files" => {
            let src = w.path("Scans");
            // More than one batch (1024 files): a crash may leave some in.
            let files = make_files(&src, 1500, 600, "scan");
            let n = files.len();
            let judge = move |_: &Device, l: &BTreeMap<String, serde_json::Value>| {
                let listed = files_under(l, "Scans/");
                for (p, v) in &listed {
                    assert_eq!(v["sync"], "available", "{p} listed without content");
                }
                match listed.len() {
                    0 => After::NotDone,
                    k if k == n => After::Done,
                    _ => After::Partly,
                }
            };
            let src2 = src.clone();
            Op {
                args: s(&["add", src.to_str().unwrap()]),
                judge: Box::new(judge),
                resume: Box::new(move |d, _| {
                    d.ok(&["add", src2.to_str().unwrap()]);
                }),
                check: Box::new(move |d, l| {
                    assert_eq!(files_under(l, "Scans/").len(), n);
                    assert_eq!(
                        d.get("Scans/part1/f0100.txt"),
                        "scan 100 ".repeat(600 / 8).into_bytes()
                    );
                }),
            }
        }
        "rotate the key" => {
            let src = w.path("Charts");
            make_files(&src, 200, 2000, "chart");
            d.ok(&["add", src.to_str().unwrap()]);
            Op {
                args: s(&["rotate"]),
                // Every file stays readable whatever the key: the listing
                // shows them all; the status says whether work is left.
                judge: Box::new(|d: &Device, l: &BTreeMap<String, serde_json::Value>| {
                    assert_eq!(files_under(l, "Charts/").len(), 200);
                    let status = d.ok(&["rotate", "--status"]);
                    if status.contains("never been replaced") {
                        After::NotDone
                    } else if status.contains("not finished") || status.contains("left") {
                        After::Partly
                    } else {
                        After::Done
                    }
                }),
                resume: Box::new(|d, _| {
                    d.ok(&["rotate", "--resume"]);
                }),
                check: Box::new(|d, l| {
                    assert_eq!(files_under(l, "Charts/").len(), 200);
                    let status = d.ok(&["rotate", "--status"]);
                    assert!(
                        !status.contains("not finished") && !status.contains("left"),
                        "{status}"
                    );
                    assert_eq!(
                        d.get("Charts/part2/f0101.txt"),
                        "chart 101 ".repeat(2000 / 8 + 1).into_bytes()
                    );
                }),
            }
        }
        "purge the trash" => {
            let src = w.path("Old");
            make_files(&src, 150, 3000, "old");
            d.ok(&["add", src.to_str().unwrap()]);
            d.ok(&["rm", "Old"]);
            Op {
                args: s(&["purge", "--all", "--now"]),
                judge: Box::new(|d: &Device, l: &BTreeMap<String, serde_json::Value>| {
                    assert!(files_under(l, "Old/").is_empty());
                    if d.ok(&["trash"]).contains("Old") {
                        After::NotDone
                    } else {
                        After::Done
                    }
                }),
                resume: Box::new(|d, _| {
                    d.ok(&["purge", "--all", "--now"]);
                }),
                check: Box::new(|d, _| {
                    assert!(!d.ok(&["trash"]).contains("Old"));
                    // Only the earlier files' contents are left.
                    assert_eq!(blobs(&d.vault).len(), 12, "purged contents remain");
                }),
            }
        }
        "move a large folder" => {
            let src = w.path("Patients");
            make_files(&src, 1000, 400, "patient");
            d.ok(&["add", src.to_str().unwrap()]);
            Op {
                args: s(&["mv", "Patients", "Archive 2026"]),
                judge: Box::new(|_: &Device, l: &BTreeMap<String, serde_json::Value>| {
                    let (old, new) = (
                        files_under(l, "Patients/").len(),
                        files_under(l, "Archive 2026/").len(),
                    );
                    match (old, new) {
                        (1000, 0) => After::NotDone,
                        (0, 1000) => After::Done,
                        _ => panic!("a half-moved folder: {old} old, {new} new"),
                    }
                }),
                resume: Box::new(|d, after| {
                    if after == After::NotDone {
                        d.ok(&["mv", "Patients", "Archive 2026"]);
                    }
                }),
                check: Box::new(|d, l| {
                    assert_eq!(files_under(l, "Archive 2026/").len(), 1000);
                    assert_eq!(
                        d.get("Archive 2026/part0/f0999.txt"),
                        "patient 999 ".repeat(400 / 8 + 4).into_bytes()
                    );
                }),
            }
        }
        "save an edited file back" => {
            // The app saves an opened file back with the core's add (as a
            // new version, `saved_back`); the CLI's add of the edited file
            // over its path is the same call (src-tauri/src/open_files.rs).
            let doc = w.path("Report.txt");
            std::fs::write(&doc, "first draft\n".repeat(20_000)).unwrap();
            d.ok(&["add", doc.to_str().unwrap()]);
            let edited = "second draft\n".repeat(30_000);
            std::fs::write(&doc, &edited).unwrap();
            let doc2 = doc.clone();
            Op {
                args: s(&["add", doc.to_str().unwrap()]),
                judge: Box::new(|d: &Device, l: &BTreeMap<String, serde_json::Value>| {
                    let size = l["Report.txt"]["size"].as_u64().unwrap();
                    let versions = d.ok(&["versions", "Report.txt"]).lines().count();
                    match size {
                        240_000 => After::NotDone,
                        390_000 => {
                            assert!(versions >= 2, "the first draft is gone");
                            After::Done
                        }
                        other => panic!("Report.txt has size {other}"),
                    }
                }),
                resume: Box::new(move |d, _| {
                    d.ok(&["add", doc2.to_str().unwrap()]);
                }),
                check: Box::new(move |d, _| {
                    assert_eq!(d.get("Report.txt"), edited.as_bytes());
                    let v = d.ok(&["versions", "Report.txt"]);
                    assert!(v.lines().count() >= 2, "{v}");
                }),
            }
        }
        other => panic!("no operation {other}"),
    }
}

const OPERATIONS: &[&str] = &[
    "add a big file",
    "add many small files",
    "rotate the key",
    "purge the trash",
    "move a large folder",
    "save an edited file back",
];

/// The outcomes of one operation's trials.
#[derive(Default)]
struct Tally {
    trials: usize,
    at_failpoint: usize,
    by_time: usize,
    finished_before_kill: usize,
    steps: usize,
    after: BTreeMap<String, usize>,
}

/// Runs `count` trials of operation `name`.
fn run_trials(name: &str, count: usize) -> Tally {
    let w = World::new();
    let (d, _) = w.init("desk", "vault");
    let earlier = Earlier::add(&w, &d);
    let op = prepare(&w, &d, name);
    let snap = Snapshot::take(&w, &d, "start");
    let mut rng = rand::thread_rng();

    // A dry run: how many steps the operation takes, and how long.
    let log = w.path("steps.log");
    let started = Instant::now();
    let out = output_with(
        {
            let mut c = d.command();
            c.arg("--vault")
                .arg(&d.vault)
                .args(&op.args)
                .env("CHARTSAFE_STEP_LOG", &log);
            c
        },
        None,
    );
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duration = started.elapsed();
    let steps = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(steps > 3, "{name}: only {steps} steps");
    (op.check)(&d, &d.listing());

    let mut tally = Tally {
        steps,
        ..Tally::default()
    };
    for trial in 0..count {
        snap.restore(&d);
        let by_failpoint = trial % 2 == 0;
        let mut c = d.command();
        c.arg("--vault")
            .arg(&d.vault)
            .args(&op.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let context;
        let finished;
        if by_failpoint {
            let at = rng.gen_range(1..=steps);
            context = format!("{name}, trial {trial}, crash at step {at} of {steps}");
            let status = c
                .env("CHARTSAFE_CRASH_AT", at.to_string())
                .status()
                .unwrap();
            finished = status.success();
            assert!(
                finished || status.code().is_none(),
                "{context}: exit {status:?}"
            );
            tally.at_failpoint += 1;
        } else {
            // Killed only once it unlocked (its first audit batch):
            // gnome-keyring aborts when a client dies while opening a
            // session (see crash.rs).
            let before = audit_batches(&d.vault);
            let mut child = c.spawn().unwrap();
            let t0 = Instant::now();
            while audit_batches(&d.vault) == before && t0.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let delay = rng.gen_range(0..duration.as_millis().max(2) as u64);
            std::thread::sleep(Duration::from_millis(delay));
            finished = child.try_wait().unwrap().is_some();
            let _ = child.kill();
            let _ = child.wait();
            context = format!("{name}, trial {trial}, SIGKILL after {delay} ms");
            tally.by_time += 1;
        }
        if finished {
            tally.finished_before_kill += 1;
        }
        // The vault opens, and lists with no problem (`ls` fails on one).
        let l = d.listing();
        earlier.check(&d, &l, &mut rng);
        let after = (op.judge)(&d, &l);
        verify_only_leftovers(&d, &context);
        *tally.after.entry(format!("{after:?}")).or_default() += 1;
        // Running it again completes it.
        (op.resume)(&d, after);
        let l = d.listing();
        (op.check)(&d, &l);
        earlier.check(&d, &l, &mut rng);
        verify_only_leftovers(&d, &context);
        tally.trials += 1;
    }
    tally
}

// The table is the output of `make stress`.
#[allow(clippy::print_stdout)]
fn table(rows: &[(String, Tally)]) {
    println!("| Operation | Steps | Trials | At a failpoint | By time | Finished first | After the crash | Outcome |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for (name, t) in rows {
        let after: Vec<String> = t.after.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | all recovered |",
            t.steps,
            t.trials,
            t.at_failpoint,
            t.by_time,
            t.finished_before_kill,
            after.join(", ")
        );
    }
}

/// A sample of the crash trials, two per operation, in `make test`.
#[test]
fn crash_trials_sample() {
    for name in OPERATIONS {
        let t = run_trials(name, 2);
        assert_eq!(t.trials, 2);
    }
}

/// `make stress`: CHARTSAFE_STRESS_TRIALS trials per operation (default
/// 50, so 300 in all), with a table of outcomes.
#[test]
#[ignore = "long: run by `make stress`"]
fn crash_trials_at_scale() {
    let per_op: usize = std::env::var("CHARTSAFE_STRESS_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rows: Vec<(String, Tally)> = OPERATIONS
        .iter()
        .map(|name| (name.to_string(), run_trials(name, per_op)))
        .collect();
    table(&rows);
}
