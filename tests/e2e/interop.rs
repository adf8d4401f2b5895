//! Stock `age` reads what ChartSafe writes; the FORMAT.md §8 recovery
//! procedure (scripts/recover-with-age.sh) restores a whole tree.

use crate::common::*;

fn sample_tree(w: &World) -> std::path::PathBuf {
    let src = w.path("Patients");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    write_tree(
        &src,
        &[
            ("Jane Doe/labs 2026-01.pdf", b"hemoglobin 13.5"),
            ("Jane Doe/notes.txt", b"follow up in 2 weeks"),
            ("José Álvarez/é ü ñ 検査.txt", b"unicode name"),
            ("O'Brien \"quoted\"/a b  c.txt", b"quotes and spaces"),
            ("empty.txt", b""),
            ("scan.bin", &big),
        ],
    );
    src
}

#[test]
fn stock_age_decrypts_every_blob_with_the_recovery_identity() {
    let w = World::new();
    let (d, phrase) = w.init("desk", "vault");
    let src = sample_tree(&w);
    d.ok(&["add", src.to_str().unwrap()]);
    let id = d.identity_file(&phrase);
    let mut decrypted: Vec<Vec<u8>> = blobs(&d.vault)
        .iter()
        .map(|b| {
            let out = std::process::Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&id)
                .arg(b)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "age -d {}: {}",
                b.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
        .collect();
    let mut originals: Vec<Vec<u8>> = read_tree(&src).into_values().collect();
    decrypted.sort();
    originals.sort();
    assert_eq!(decrypted, originals);
    // Records are age files too, with a JSON envelope.
    for r in records(&d.vault) {
        let json = sh(&format!(
            "age -d -i '{}' '{}' | jq -r '.body|fromjson|.vault'",
            id.display(),
            r.display()
        ));
        assert!(!json.trim().is_empty());
    }
}

#[test]
fn the_format_md_recovery_procedure_restores_the_tree_byte_for_byte() {
    let w = World::new();
    let (d, phrase) = w.init("desk", "vault");
    let src = sample_tree(&w);
    d.ok(&["add", src.to_str().unwrap()]);
    // Some history, so that the procedure must pick current versions.
    let note = w.path("note.txt");
    std::fs::write(&note, "v1").unwrap();
    d.ok(&["add", note.to_str().unwrap(), "--to", "Patients/Jane Doe"]);
    std::fs::write(&note, "version two").unwrap();
    d.ok(&["add", note.to_str().unwrap(), "--to", "Patients/Jane Doe"]);
    d.ok(&["mv", "Patients/scan.bin", "Patients/Jane Doe/scan.bin"]);
    std::fs::rename(src.join("scan.bin"), src.join("Jane Doe/scan.bin")).unwrap();
    std::fs::copy(&note, src.join("Jane Doe/note.txt")).unwrap();
    d.ok(&["rm", "Patients/empty.txt"]);
    std::fs::remove_file(src.join("empty.txt")).unwrap();
    // A collection with its own key (FORMAT.md §14): restored too.
    d.ok(&["collections", "add", "Billing"]);
    let billing = w.path("billing-src");
    write_tree(
        &billing,
        &[
            ("claim 7781.txt", b"claim 7781"),
            ("2026/claim 7790.txt", b"claim 7790"),
        ],
    );
    d.ok(&[
        "add",
        billing.join("claim 7781.txt").to_str().unwrap(),
        "--to",
        "Billing",
    ]);
    d.ok(&[
        "add",
        billing.join("2026").to_str().unwrap(),
        "--to",
        "Billing",
    ]);

    let id = d.identity_file(&phrase);
    let out = w.path("restored");
    let script = root().join("scripts/recover-with-age.sh");
    sh(&format!(
        "bash '{}' '{}' '{}' '{}'",
        script.display(),
        d.vault.display(),
        id.display(),
        out.display()
    ));
    assert_eq!(read_tree(&out.join("Patients")), read_tree(&src));
    assert_eq!(read_tree(&out.join("Billing")), read_tree(&billing));
}
