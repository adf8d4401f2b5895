//! Sharing outside the clinic (docs/FORMAT.md §15): the stock `age` command
//! opens a share with the passphrase ChartSafe printed once (typed at the
//! terminal prompt, as a person would) or with the recipient's own key;
//! every share is in the audit log with its note.

use std::path::Path;

use crate::common::*;

/// Runs stock `age -d -o OUT FILE` under a pseudo-terminal and types
/// `passphrase` at its prompt (age reads it from the terminal only).
fn age_with_passphrase(file: &Path, out: &Path, passphrase: &str) {
    let status = std::process::Command::new("python3")
        .arg(crate::common::root().join("tests/fixtures/age-with-passphrase.py"))
        .arg(file)
        .arg(out)
        .arg(passphrase)
        .status()
        .unwrap();
    assert!(status.success(), "age -d with the passphrase failed");
}

#[test]
fn stock_age_opens_a_share_with_the_passphrase_or_the_recipients_key() {
    let w = World::new();
    let (d, _) = w.init("front desk", "vault");
    write_tree(&w.path("src"), &[("Jane Doe labs.pdf", b"potassium 4.1")]);
    d.ok(&["add", w.path("src/Jane Doe labs.pdf").to_str().unwrap()]);
    let out = w.path("shares");
    std::fs::create_dir_all(&out).unwrap();

    // A passphrase share: the passphrase alone on standard output.
    let o = d.run_raw(
        &[
            "share",
            "Jane Doe labs.pdf",
            "--note",
            "Dr Lee, Riverside Cardiology",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let pass = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_eq!(pass.split('-').count(), 6, "{pass}");
    assert!(
        err.contains("age -d -o \"Jane Doe labs.pdf\" \"Jane Doe labs.pdf.age\""),
        "{err}"
    );
    let share = out.join("Jane Doe labs.pdf.age");
    let head = std::fs::read(&share).unwrap();
    assert!(head.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    age_with_passphrase(&share, &w.path("opened.pdf"), &pass);
    assert_eq!(
        std::fs::read(w.path("opened.pdf")).unwrap(),
        b"potassium 4.1"
    );

    // A share to the recipient's own key.
    sh(&format!(
        "age-keygen -o '{}' 2>/dev/null",
        w.path("key.txt").display()
    ));
    let recipient = sh(&format!("age-keygen -y '{}'", w.path("key.txt").display()));
    let o = d.run_raw(
        &[
            "share",
            "Jane Doe labs.pdf",
            "--note",
            "the patient",
            "--recipient",
            recipient.trim(),
            "-o",
            w.path("to-patient.age").to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "no passphrase for a key share");
    let opened = sh(&format!(
        "age -d -i '{}' '{}'",
        w.path("key.txt").display(),
        w.path("to-patient.age").display()
    ));
    assert_eq!(opened, "potassium 4.1");

    // Both are recorded, with for whom and how.
    let json = d.ok(&["audit", "--action", "shared", "--format", "json"]);
    let details: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["detail"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(details.len(), 2, "{json}");
    assert_eq!(
        details[0],
        "to \"Dr Lee, Riverside Cardiology\" with a passphrase"
    );
    assert_eq!(
        details[1],
        format!("to \"the patient\" with age key {}", recipient.trim())
    );

    // Never over a file; a bad key and a missing note are refused.
    let o = d.run_raw(
        &[
            "share",
            "Jane Doe labs.pdf",
            "--note",
            "again",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
    d.fails(
        &[
            "share",
            "Jane Doe labs.pdf",
            "--note",
            "x",
            "--recipient",
            "age1nope",
        ],
        2,
    );
    d.fails(&["share", "Jane Doe labs.pdf", "--note", " "], 2);
}
