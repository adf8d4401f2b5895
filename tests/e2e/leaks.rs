//! Nothing a patient file says, or is called, can be read from the vault folder.

use crate::common::*;

/// Searched for in names, case-sensitively. Our names are lowercase base32,
/// digits and dots of temporary files, so none of these can occur by chance.
const NAME_MARKERS: &[&str] = &[
    "Jane", "Doe", "HIV", "Smith", "John", ".pdf", "Labs", "Patients", "123-",
];
/// Searched for in contents, ignoring case. At 8 bytes or more, a chance match
/// in a few megabytes of ciphertext has a probability below 10^-12.
const CONTENT_MARKERS: &[&str] = &[
    "Jane Doe",
    "John Smith",
    "HIV positive",
    "oncology",
    "Patient Jane",
    "HIV result",
];

fn ssn_like(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| {
        w.iter().enumerate().all(|(i, &b)| {
            if i == 3 || i == 6 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    })
}

#[test]
fn the_vault_folder_holds_no_names_no_contents_no_structure() {
    let w = World::new();
    let (d, _) = w.init("desk", "cloud/vault");
    let src = w.path("Labs");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..30 {
        files.push((
            format!("John Smith {i}/Jane Doe HIV result 123-45-67{i:02}.pdf"),
            format!("Patient Jane Doe, SSN 123-45-67{i:02}, HIV positive, oncology referral {i}\n")
                .repeat(50)
                .into_bytes(),
        ));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    write_tree(&src, &refs);
    d.ok(&["add", src.to_str().unwrap()]);
    d.ok(&["mv", "Labs/John Smith 0", "Labs/John Smith HIV clinic"]);
    d.ok(&["rm", "Labs/John Smith 1"]);
    d.ok(&["mkdir", "Patients/Jane Doe/2026 oncology"]);

    let mut scanned = 0;
    let mut stack = vec![d.vault.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(&d.vault)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for m in NAME_MARKERS {
                assert!(!rel.contains(m), "name {rel} holds {m}");
            }
            assert!(!ssn_like(rel.as_bytes()), "name {rel} looks like an SSN");
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let lower = bytes.to_ascii_lowercase();
            for m in CONTENT_MARKERS {
                let needle = m.to_lowercase().into_bytes();
                assert!(
                    !lower.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{rel} holds {m}"
                );
            }
            assert!(!ssn_like(&bytes), "{rel} holds an SSN-like string");
            scanned += 1;
        }
    }
    assert!(
        scanned > 30,
        "every blob, record and keyslot was scanned ({scanned})"
    );

    // No folder structure: blobs are spread over random shards, records by device.
    let top: Vec<String> = std::fs::read_dir(&d.vault)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut top_sorted = top.clone();
    top_sorted.sort();
    assert_eq!(
        top_sorted,
        ["a", "b", "chartsafe-vault.json", "k", "r", "t"]
    );
    // Every file time is the fixed one: nothing about when patients' files changed.
    for b in blobs(&d.vault) {
        let m = std::fs::metadata(&b).unwrap().modified().unwrap();
        assert_eq!(
            m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            946_684_800
        );
    }
    // The local state (outside the cloud folder) holds no patient names
    // either. It is JSON of lowercase base32 ids and hex hashes, so the
    // markers are searched case-sensitively (a lowercase "doe" can occur in
    // a random id by chance), and the longer content markers in any case.
    for (rel, bytes) in read_tree(&d.state) {
        let text = String::from_utf8_lossy(&bytes);
        for m in NAME_MARKERS {
            assert!(!text.contains(m), "state file {rel} holds {m}");
        }
        let lower = text.to_lowercase();
        for m in CONTENT_MARKERS {
            assert!(
                !lower.contains(&m.to_lowercase()),
                "state file {rel} holds {m}"
            );
        }
    }
}
