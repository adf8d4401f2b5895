//! Figures of the audit log and the health check, for `make bench` (not a
//! pass/fail test: it is ignored by `cargo test` and run with `--ignored`).
//! Prints markdown table rows on stdout.
//!
//! - appending: single-event batches per second (each durable, as every
//!   read is), against the same number of plain files written with the same
//!   durable procedure (temporary file, syncfs, no-clobber rename, syncfs)
//!   in the same run: the ratio is the cost of encryption and the MAC;
//! - loading and verifying 10,000 events: as 10,000 one-event batches (the
//!   worst case: every event its own file) and as 100 batches of 100.

// A measurement prints its table; the library itself never prints.
#![allow(clippy::print_stdout)]

mod support;

use std::time::Instant;

use chartsafe_core::{Action, Event, Vault};
use support::{pass, Store};

fn options(dir: &std::path::Path) -> chartsafe_core::Options {
    support::options(dir, "bench")
}

/// Flushes the file system holding `root`, as ChartSafe does per batch.
fn sync_all(root: &std::fs::File) {
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(root).unwrap();
    #[cfg(not(target_os = "linux"))]
    root.sync_all().unwrap();
}

/// Writes `n` small files durably the way ChartSafe writes a batch.
fn plain_durable_writes(dir: &std::path::Path, n: usize) -> f64 {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let root = std::fs::File::open(dir).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let mut t = tempfile::NamedTempFile::new_in(dir).unwrap();
        t.write_all(&[b'x'; 600]).unwrap();
        sync_all(&root);
        t.persist_noclobber(dir.join(format!("{i:010}"))).unwrap();
        sync_all(&root);
    }
    start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "a measurement for make bench"]
fn measure_audit_figures() {
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let tmp = tempfile::tempdir_in(base).unwrap();
    let n = 1000;
    let store = Store::default();
    let (mut v, _) = Vault::create(
        &tmp.path().join("vault"),
        &store,
        &pass(),
        options(tmp.path()),
    )
    .unwrap();
    let start = Instant::now();
    for i in 0..n {
        let e = Event::new(v.now_ms(), Action::Opened).detail(format!("bench {i}"));
        v.record(e).unwrap();
    }
    let ours = start.elapsed().as_secs_f64();
    drop(v);
    let plain = plain_durable_writes(&tmp.path().join("plain"), n);
    println!(
        "| append one-event audit batches (durable, as every read is) | {n} | {ours:.2} s | {:.0} batches/s | {:.2}× plain durable 600-byte file writes ({:.0}/s) |",
        n as f64 / ours,
        plain / ours,
        n as f64 / plain
    );

    // 10,000 events as 10,000 one-event batches (every event its own file,
    // the worst case), and as 100 imports of 100 files (100 events a batch).
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..100 {
        std::fs::write(src.join(format!("{i:03}.txt")), format!("file {i}")).unwrap();
    }
    for (name, batches) in [("10000-one-event", 10_000usize), ("100-imports", 100)] {
        let dir = tmp.path().join(name);
        let store = Store::default();
        let (mut v, _) = Vault::create(&dir.join("vault"), &store, &pass(), options(&dir)).unwrap();
        for b in 0..batches {
            if batches == 10_000 {
                let e = Event::new(v.now_ms(), Action::Previewed).detail(format!("{b}"));
                v.record(e).unwrap();
            } else {
                v.add(
                    std::slice::from_ref(&src),
                    &format!("import {b}"),
                    &chartsafe_core::NoProgress,
                )
                .unwrap();
            }
        }
        drop(v);
        let mut v = Vault::unlock(&dir.join("vault"), &store, &pass(), options(&dir)).unwrap();
        let start = Instant::now();
        let log = v.audit_log().unwrap();
        let t = start.elapsed().as_secs_f64();
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        let files = log.chains.iter().map(|c| c.batches).sum::<u64>();
        println!(
            "| load and verify the audit log: {} events in {files} batch files | {} | {t:.2} s | {:.0} events/s | - |",
            log.entries.len(),
            log.entries.len(),
            log.entries.len() as f64 / t
        );
    }
}
