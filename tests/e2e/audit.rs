//! The audit log and the health check through the command line
//! (docs/FORMAT.md §10): what is recorded, tampering a storage attacker could
//! try, two devices synced by rsync, and `chartsafe verify`.

use std::path::{Path, PathBuf};

use crate::common::*;

fn rsync(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    sh(&format!(
        "rsync -a '{}/' '{}/'",
        from.display(),
        to.display()
    ));
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    // Enough CSV for our rows: quoted fields may hold commas.
    text.lines()
        .map(|l| {
            let mut fields = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            let mut chars = l.trim_end_matches('\r').chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut cur)),
                    _ => cur.push(c),
                }
            }
            fields.push(cur);
            fields
        })
        .collect()
}

fn chain_files(vault: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(vault.join("a")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn actions_are_listed_filtered_and_exported() {
    let w = World::new();
    let (d, _) = w.init("front desk", "vault");
    write_tree(
        &w.path("src"),
        &[("Lab, results.pdf", b"labs"), ("=SUM(A1).txt", b"x")],
    );
    d.ok(&[
        "add",
        w.path("src/Lab, results.pdf").to_str().unwrap(),
        "--to",
        "Smith/src",
    ]);
    d.ok(&["add", w.path("src/=SUM(A1).txt").to_str().unwrap()]);
    d.get("Smith/src/Lab, results.pdf");
    d.ok(&["mv", "Smith/src/Lab, results.pdf", "Smith/Labs.pdf"]);
    let _ = d.run_raw(&["get", "nope.txt"], None);

    let table = d.ok(&["audit"]);
    assert!(table.starts_with("TIME "), "{table}");
    for action in [
        "created",
        "unlocked",
        "folder_created",
        "added",
        "exported",
        "moved",
    ] {
        assert!(table.contains(action), "{action} in {table}");
    }

    // The file's whole history under both its names, by its current path.
    let csv = d.ok(&[
        "audit",
        "--entry",
        "Smith/Labs.pdf",
        "--format",
        "csv",
        "--utc",
    ]);
    let rows = csv_rows(&csv);
    assert_eq!(
        rows[0].join(","),
        "time,member,computer,action,path,outcome,reason,detail,app,verified"
    );
    let actions: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(actions, ["added", "exported", "moved"], "{csv}");
    for r in &rows[1..] {
        assert_eq!(r[1], "Administrator");
        assert_eq!(r[2], "front desk");
        assert_eq!(r[4], "Smith/src/Lab, results.pdf");
        assert_eq!(r[5], "ok");
        assert!(r[8].starts_with("chartsafe "), "{r:?}");
        assert!(r[0].ends_with('Z') && r[0].len() == 20, "{}", r[0]);
    }
    // Ids only when asked.
    let csv = d.ok(&[
        "audit",
        "--entry",
        "Smith/Labs.pdf",
        "--format",
        "csv",
        "--ids",
    ]);
    let rows = csv_rows(&csv);
    assert_eq!(rows[0][10..], ["member_id", "computer_id", "entry_id"]);
    assert_eq!(rows[1][12].len(), 26, "{:?}", rows[1]);
    // A name that a spreadsheet would run as a formula is defused.
    let csv = d.ok(&["audit", "--action", "added", "--format", "csv"]);
    assert!(
        csv.contains(",'=SUM(A1).txt,") || csv.contains("'=SUM(A1).txt"),
        "{csv}"
    );

    let json = d.ok(&["audit", "--action", "exported,moved", "--format", "json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["action"], "exported");
    assert_eq!(lines[1]["detail"], "to Smith/Labs.pdf");

    // Time filters.
    assert_eq!(
        d.ok(&["audit", "--since", "2000-01-01", "--until", "2000-01-02"])
            .lines()
            .count(),
        1
    );
    assert!(
        d.ok(&["audit", "--since", "1h", "--device", "front desk"])
            .lines()
            .count()
            > 5
    );
    d.fails(&["audit", "--since", "yesterday-ish"], 2);
    d.fails(&["audit", "--action", "stole"], 2);
    d.ok(&["audit", "verify"]);
}

/// A locale of the C library, compiled into `dir` (LOCPATH) from the
/// sources of Debian's `locales` package: the machine need not have it.
fn locale(dir: &Path, name: &str) {
    if !dir.join(format!("{name}.UTF-8")).exists() {
        std::fs::create_dir_all(dir).unwrap();
        sh(&format!(
            "localedef -i {name} -f UTF-8 '{}/{name}.UTF-8'",
            dir.display()
        ));
    }
}

/// The first table row of `chartsafe audit`, under a zone and a locale.
fn first_row(d: &Device, locales: &Path, tz: &str, lang: &str, extra: &[&str]) -> String {
    let mut c = d.command();
    c.env("TZ", tz)
        .env("LOCPATH", locales)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_TIME")
        .arg("--vault")
        .arg(&d.vault)
        .arg("audit")
        .args(extra);
    let out = output_with(c, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap_or_default().to_owned()
}

/// A clinic in Berlin and one in New York read the same log in their own
/// clock, date order and 12- or 24-hour time, with people's names; the
/// CSV carries the offset; `--utc` and typed times agree (GNU `date` is
/// the oracle).
#[test]
fn times_follow_the_zone_and_the_locale_and_people_have_names() {
    let w = World::new();
    let (d, _) = w.init("front desk", "vault");
    let locales = w.path("locales");
    locale(&locales, "de_DE");
    locale(&locales, "en_US");
    let json = d.ok(&["audit", "--format", "json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["member_name"], "Administrator");
    assert_eq!(first["computer_name"], "front desk");
    let secs = first["time_ms"].as_i64().unwrap() / 1000;
    let date = |tz: &str, fmt: &str| {
        sh(&format!("LC_ALL=C TZ={tz} date -d @{secs} '+{fmt}'"))
            .trim()
            .to_owned()
    };

    let de = first_row(&d, &locales, "Europe/Berlin", "de_DE.UTF-8", &[]);
    let want = date("Europe/Berlin", "%d.%m.%Y %H:%M:%S");
    assert!(
        de.starts_with(&format!("{want}  Administrator ")),
        "{de:?} vs {want:?}"
    );
    assert!(de.contains("front desk"), "{de}");

    let us = first_row(&d, &locales, "America/New_York", "en_US.UTF-8", &[]);
    let want = date("America/New_York", "%m/%d/%Y %-I:%M:%S %p");
    assert!(
        us.starts_with(&format!("{want}  Administrator ")),
        "{us:?} vs {want:?}"
    );

    let utc = first_row(&d, &locales, "America/New_York", "en_US.UTF-8", &["--utc"]);
    let want = date("UTC", "%Y-%m-%d %H:%M:%S UTC");
    assert!(utc.starts_with(&want), "{utc:?} vs {want:?}");

    // A locale that is not installed, or none: ISO dates, 24-hour clock.
    let plain = first_row(&d, &locales, "Europe/Berlin", "xx_YY.UTF-8", &[]);
    let want = date("Europe/Berlin", "%Y-%m-%d %H:%M:%S");
    assert!(plain.starts_with(&want), "{plain:?} vs {want:?}");

    // The CSV: ISO 8601 with the offset of that day in that zone.
    let csv = first_row(
        &d,
        &locales,
        "Europe/Berlin",
        "de_DE.UTF-8",
        &["--format", "csv"],
    );
    let want = date("Europe/Berlin", "%Y-%m-%dT%H:%M:%S%:z");
    assert!(
        csv.starts_with(&format!("{want},Administrator,front desk,created,")),
        "{csv:?} vs {want:?}"
    );

    // Typed times are the zone's: from the minute of the first entry on,
    // everything; from the next day on, nothing.
    let since = date("Europe/Berlin", "%Y-%m-%d %H:%M");
    let row = first_row(
        &d,
        &locales,
        "Europe/Berlin",
        "de_DE.UTF-8",
        &["--since", &since],
    );
    assert!(row.contains("created"), "{row}");
    let tomorrow = sh(&format!(
        "TZ=Europe/Berlin date -d @{} +%Y-%m-%d",
        secs + 86_400
    ));
    let row = first_row(
        &d,
        &locales,
        "Europe/Berlin",
        "de_DE.UTF-8",
        &["--since", tomorrow.trim()],
    );
    assert_eq!(row, "", "nothing after tomorrow");

    // A member by name, in any case; a name nobody has matches nothing.
    let row = first_row(&d, &locales, "UTC", "C", &["--member", "administrator"]);
    assert!(row.contains("created"), "{row}");
    let row = first_row(&d, &locales, "UTC", "C", &["--member", "Nobody"]);
    assert_eq!(row, "");
}

#[test]
fn tampering_with_the_log_is_reported_with_chain_and_position() {
    let w = World::new();
    let (d, _) = w.init("front desk", "vault");
    for i in 0..6 {
        d.ok(&["mkdir", &format!("folder {i}")]);
    }
    let files = chain_files(&d.vault);
    assert!(files.len() >= 12, "{files:?}");
    let verify_fails = |what: &str| -> String {
        let out = d.run_raw(&["audit", "verify"], None);
        assert_eq!(
            out.status.code(),
            Some(6),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dir = files[0].parent().unwrap().to_owned();
    let chain = format!(
        "audit chain of \"front desk\" (a/{})",
        dir.file_name().unwrap().to_string_lossy()
    );
    // Each tamper is undone exactly afterwards (every command appends to
    // the chain, so an old copy of the folder would look truncated).

    // Flip a byte.
    let original = std::fs::read(&files[4]).unwrap();
    let mut bytes = original.clone();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&files[4], bytes).unwrap();
    let out = verify_fails("flip");
    assert!(out.contains(&format!("{chain}, position 5")), "{out}");
    std::fs::write(&files[4], &original).unwrap();
    d.ok(&["audit", "verify"]);

    // Delete a middle batch.
    let original = std::fs::read(&files[6]).unwrap();
    std::fs::remove_file(&files[6]).unwrap();
    let out = verify_fails("delete");
    assert!(
        out.contains(&format!("{chain}: positions 7 to 7 are missing")),
        "{out}"
    );
    std::fs::write(&files[6], &original).unwrap();
    d.ok(&["audit", "verify"]);

    // Reorder two batches.
    let swap = || {
        sh(&format!(
            "cd '{}' && mv 0000000003 x && mv 0000000004 0000000003 && mv x 0000000004",
            dir.display()
        ))
    };
    swap();
    let out = verify_fails("reorder");
    assert!(
        out.contains(&format!("{chain}, position 3")) && out.contains("reordered or replayed"),
        "{out}"
    );
    swap();
    d.ok(&["audit", "verify"]);

    // Replay a batch from another vault, far ahead of the chain's end.
    let (other, _) = w.init("other", "other-vault");
    other.ok(&["mkdir", "x"]);
    let theirs = chain_files(&other.vault);
    let far = chain_files(&d.vault).len() + 50;
    let planted = dir.join(format!("{far:010}"));
    std::fs::copy(&theirs[1], &planted).unwrap();
    let out = verify_fails("replay");
    assert!(out.contains(&format!("{chain}, position {far}")), "{out}");
    std::fs::remove_file(&planted).unwrap();

    // Insert a forged batch (anything a storage attacker can write).
    std::fs::write(&planted, b"age-encryption.org/v1\n-> X25519 forged\n").unwrap();
    let out = verify_fails("forge");
    assert!(out.contains(&format!("{chain}, position {far}")), "{out}");
    std::fs::remove_file(&planted).unwrap();
    d.ok(&["audit", "verify"]);

    // Truncate the tail. This device appends at once (its unlock), past the
    // cut, so the cut shows as a gap; `verify` and `audit` report it too.
    let files_now = chain_files(&d.vault);
    let last = files_now.len();
    for f in &files_now[last - 3..] {
        std::fs::remove_file(f).unwrap();
    }
    let out = verify_fails("truncate");
    assert!(
        out.contains(&format!(
            "{chain}: positions {} to {last} are missing",
            last - 2
        )),
        "{out}"
    );
    let out = d.run_raw(&["verify"], None);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("are missing") && text.contains("fix: "),
        "{text}"
    );
    let out = d.run_raw(&["audit"], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("are missing"));
}

#[test]
fn two_devices_synced_by_rsync_see_both_chains_in_time_order() {
    let w = World::new();
    let (a, phrase) = w.init("front desk", "desk/Clinic");
    write_tree(&w.path("src"), &[("chart.pdf", b"chart")]);
    a.ok(&["add", w.path("src/chart.pdf").to_str().unwrap()]);
    let b_vault = w.path("laptop/Clinic");
    rsync(&a.vault, &b_vault);
    let b = w.device("nurse laptop", &b_vault);
    let out = b.run_raw(&["recover"], Some(&phrase));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.get("chart.pdf");
    rsync(&b_vault, &a.vault);
    a.get("chart.pdf");
    rsync(&a.vault, &b_vault);

    let seen = |d: &Device| -> Vec<(String, String)> {
        csv_rows(&d.ok(&["audit", "--entry", "chart.pdf", "--format", "csv"]))[1..]
            .iter()
            .map(|r| (r[2].clone(), r[3].clone()))
            .collect()
    };
    let expected = [
        ("front desk", "added"),
        ("nurse laptop", "exported"),
        ("front desk", "exported"),
    ]
    .map(|(d, a)| (d.to_owned(), a.to_owned()));
    assert_eq!(seen(&a), expected);
    assert_eq!(seen(&b), expected);
    let v = b.ok(&["audit", "verify"]);
    assert_eq!(
        v.lines().filter(|l| l.starts_with("chain of")).count(),
        2,
        "{v}"
    );
    let recovered = csv_rows(&b.ok(&[
        "audit",
        "--action",
        "recovery_used,device_enrolled",
        "--format",
        "csv",
    ]));
    // The creator's enrolment, then the laptop's recovery and enrolment.
    assert_eq!(recovered.len(), 4, "{recovered:?}");
    // The front desk's chain loses its tail on the laptop's copy (the
    // laptop saw it whole): flagged as truncated.
    let info = a.ok(&["info"]);
    let a_id = info
        .lines()
        .find_map(|l| l.strip_prefix("this device: front desk ("))
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    let mut a_chain: Vec<PathBuf> = std::fs::read_dir(b_vault.join("a").join(&a_id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    a_chain.sort();
    let n = a_chain.len();
    for f in &a_chain[n - 2..] {
        std::fs::remove_file(f).unwrap();
    }
    let out = b.run_raw(&["audit", "verify"], None);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "audit chain of \"front desk\" (a/{a_id}) is truncated: it ends at position {}, but this device saw position {n}",
            n - 2
        )),
        "{text}"
    );
}

#[test]
fn verify_finds_injected_faults_and_repairs_only_what_is_safe() {
    let w = World::new();
    let (d, _) = w.init("front desk", "vault");
    let files: Vec<(String, Vec<u8>)> = (0..2000)
        .map(|i| {
            (
                format!("p{:02}/note {i}.txt", i % 40),
                format!("note {i}").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    write_tree(&w.path("src"), &refs);
    d.ok(&["add", w.path("src").to_str().unwrap()]);
    let out = d.run_raw(&["verify"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("checked 2000 content files"));

    // Faults: a missing blob, two swapped blobs, a damaged record, an orphan.
    let mut blobs = blobs(&d.vault);
    blobs.sort();
    let kept = w.path("kept");
    std::fs::rename(&blobs[0], &kept).unwrap();
    let tmp = w.path("swap");
    let swap = || {
        std::fs::rename(&blobs[1], &tmp).unwrap();
        std::fs::rename(&blobs[2], &blobs[1]).unwrap();
        std::fs::rename(&tmp, &blobs[2]).unwrap();
    };
    swap();
    let orphan = blobs[3].with_file_name(format!(
        "{}aaaaaaaaaaaaaaaaaaaaaaaa",
        &blobs[3].file_name().unwrap().to_string_lossy()[..2]
    ));
    std::fs::copy(&blobs[3], &orphan).unwrap();
    let out = d.run_raw(&["verify"], None);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.matches("is missing").count(), 1, "{text}");
    assert_eq!(
        text.matches("is not the file that was stored").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("(an orphan)").count(), 1, "{text}");
    assert!(text.contains(".txt\" (current version)"), "{text}");
    assert_eq!(text.matches("    fix: ").count(), 4, "{text}");

    // While contents are missing or replaced, --repair removes nothing
    // (the orphan could be one of them), even with no waiting period.
    let out = d.run_raw(&["verify", "--repair", "--yes", "--orphan-days", "0"], None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing that --repair may remove"),
        "{out:?}"
    );
    assert!(orphan.exists());
    // Whole again: the orphan waits 30 days by default, then goes.
    std::fs::rename(&kept, &blobs[0]).unwrap();
    swap();
    let out = d.run_raw(&["verify", "--repair", "--yes"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing that --repair may remove"));
    assert!(orphan.exists());
    let out = d.run_raw(&["verify", "--repair", "--orphan-days", "0"], None);
    assert_eq!(out.status.code(), Some(2), "no terminal, no --yes: refused");
    assert!(orphan.exists());
    let out = d.run_raw(&["verify", "--repair", "--yes", "--orphan-days", "0"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed: b/"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!orphan.exists());

    // A damaged record: reported, and no orphan repair while it is.
    let mut recs = records(&d.vault);
    recs.sort();
    let mut bytes = std::fs::read(&recs[0]).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    std::fs::write(&recs[0], bytes).unwrap();
    let out = d.run_raw(&["verify", "--repair", "--yes", "--orphan-days", "0"], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("is damaged or not from this vault"), "{text}");
    assert!(!text.contains("removed:"), "{text}");
    let audit = d.ok(&["audit", "--action", "checked,repaired", "--format", "csv"]);
    assert!(
        audit.contains(",repaired,") && audit.matches(",checked,").count() >= 4,
        "{audit}"
    );
}
