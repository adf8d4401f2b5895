//! `chartsafe watch`: the scanner folder (docs/FORMAT.md §16). Files are
//! taken once complete, stored, read back and removed; what cannot be
//! taken stays with a warning; everything is in the audit log.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_scanner_folder_is_emptied_into_the_vault_and_what_cannot_be_taken_stays() {
    let w = World::new();
    let (d, _) = w.init("scan pc", "vault");
    let scans = w.path("scans");
    write_tree(
        &scans,
        &[
            ("scan 0001.pdf", b"%PDF Jane Doe referral"),
            ("scan 0002.pdf", b"%PDF John Roe labs"),
            ("fax.pdf.part", b"%PDF half a fax"),
            ("bad\u{1}name.pdf", b"%PDF a name the vault refuses"),
        ],
    );
    let o = d.run_raw(
        &[
            "watch",
            scans.to_str().unwrap(),
            "--to",
            "Inbox",
            "--settle",
            "1",
            "--once",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "a file was left: {err}");
    assert!(err.contains("left where it is"), "{err}");
    let mut left: Vec<String> = std::fs::read_dir(&scans)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["bad\u{1}name.pdf", "fax.pdf.part"]);
    assert_eq!(d.get("Inbox/scan 0001.pdf"), b"%PDF Jane Doe referral");
    assert_eq!(d.get("Inbox/scan 0002.pdf"), b"%PDF John Roe labs");

    // The scanner starts from 0001 again: the new scan goes beside the old.
    std::fs::write(scans.join("scan 0001.pdf"), b"%PDF another patient").unwrap();
    d.run_raw(
        &[
            "watch",
            scans.to_str().unwrap(),
            "--to",
            "Inbox",
            "--settle",
            "1",
            "--once",
        ],
        None,
    );
    assert_eq!(d.get("Inbox/scan 0001 (2).pdf"), b"%PDF another patient");
    assert_eq!(d.get("Inbox/scan 0001.pdf"), b"%PDF Jane Doe referral");

    let json = d.ok(&["audit", "--action", "scanned", "--format", "json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok = rows.iter().filter(|r| r["outcome"] == "ok").count();
    let failed = rows.iter().filter(|r| r["outcome"] == "failed").count();
    // The refused name was tried once by each run (a run retries nothing
    // that has not changed; a new run tries again).
    assert_eq!((ok, failed), (3, 2), "{json}");

    // The vault folder itself is refused.
    d.fails(
        &["watch", d.vault.to_str().unwrap(), "--to", "x", "--once"],
        2,
    );
}

/// Figures for the closing note of issue 17: 100 PDFs of 1 MiB through
/// the scanner folder, and the time from one drop to its plaintext gone.
#[test]
#[ignore = "a measurement: cargo test --test e2e watch_figures -- --ignored --nocapture"]
#[allow(clippy::print_stdout)]
fn watch_figures() {
    let w = World::new();
    let (d, _) = w.init("scan pc", "vault");
    let scans = w.path("scans");
    std::fs::create_dir_all(&scans).unwrap();
    let page: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let spawn = |settle: &str| {
        let mut c = d.command();
        c.arg("--vault")
            .arg(&d.vault)
            .args([
                "watch",
                scans.to_str().unwrap(),
                "--to",
                "Inbox",
                "--settle",
                settle,
            ])
            .stderr(std::process::Stdio::null());
        c.spawn().unwrap()
    };
    // 100 scans land at once; the folder is empty when all are taken.
    let mut child = spawn("1");
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    for i in 0..100 {
        std::fs::write(scans.join(format!("scan {i:04}.pdf")), &page).unwrap();
    }
    while std::fs::read_dir(&scans).unwrap().count() > 0 {
        assert!(t.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = t.elapsed().as_secs_f64();
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "100 x 1 MiB: folder empty {all:.2} s after the drop (settle 1 s): {:.1} MiB/s after the settle time",
        100.0 / (all - 1.0).max(0.01)
    );

    let mut child = spawn("2");
    std::thread::sleep(Duration::from_secs(2));
    let mut latencies = Vec::new();
    for i in 0..5 {
        let f = scans.join(format!("drop {i}.pdf"));
        let t = Instant::now();
        std::fs::write(&f, &page).unwrap();
        while f.exists() {
            assert!(t.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(20));
        }
        latencies.push(t.elapsed().as_secs_f64());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    latencies.sort_by(f64::total_cmp);
    println!(
        "drop to plaintext removed (default settle 2 s): median {:.2} s, range {:.2}-{:.2} s",
        latencies[2], latencies[0], latencies[4]
    );
}
