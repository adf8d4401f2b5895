//! Figures for issue 12 (hostile input and signatures), for `make bench`
//! (not a pass/fail test: ignored by `cargo test`, run with `--ignored`).
//! Prints markdown table rows on stdout.
//!
//! - listing a vault (every record read and checked) with 300 planted
//!   files of 165 recipient stanzas each, against the same vault clean, in
//!   the same run: the cost a storage attacker can add;
//! - bytes a signature adds to a record and to an audit batch: the same
//!   body sealed with the MAC only and with the signature. Measured on the
//!   plaintext: the age file around it adds the same header and tag to
//!   both (its random "grease" stanza would only add noise).

// A measurement prints its table; the library itself never prints.
#![allow(clippy::print_stdout)]

mod support;

use chartsafe_core::format::audit::{AuditBody, Event};
use chartsafe_core::format::record::{Content, EntryState, Kind, Op, RecordBody, Status};
use chartsafe_core::keys::MacKey;
use chartsafe_core::sign::SigningKey;
use chartsafe_core::{Action, AgeIdentity, NoProgress, Vault};
use support::{best_of, options, pass, Store};

/// An age file of `plain` for `recipients`, as the vault writes them.
fn age_file(plain: &[u8], recipients: &[age::x25519::Recipient]) -> Vec<u8> {
    use std::io::Write;
    let e = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .unwrap();
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

#[test]
#[ignore = "a measurement for make bench"]
fn measure_hostile_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let store = Store::default();
    let (mut v, _) = Vault::create(&dir, &store, &pass(), options(tmp.path(), "a")).unwrap();
    // A small clinic's vault: 300 files in 30 folders, in 30 batches.
    let src = tmp.path().join("src");
    for f in 0..30 {
        let folder = src.join(format!("Patient {f:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..10 {
            std::fs::write(folder.join(format!("note {i}.txt")), format!("{f} {i}")).unwrap();
        }
        v.add(&[folder], "", &NoProgress).unwrap();
    }
    let clean = best_of(5, || v.list().unwrap());

    // The baseline of the attack: 300 junk files (not age files) where
    // records go, each read and refused.
    let junk = dir.join("r").join("zyxwvutsrqponmlkjihgfedcba");
    std::fs::create_dir_all(&junk).unwrap();
    for i in 1..=300 {
        std::fs::write(junk.join(format!("{i:010}")), vec![b'x'; 1200]).unwrap();
    }
    let with_junk = best_of(5, || v.list().unwrap());
    std::fs::remove_dir_all(&junk).unwrap();

    // The attack: 300 files of 165 stanzas, in an unknown device's chain
    // (every one is read and refused).
    let recipients: Vec<_> = (0..165)
        .map(|_| AgeIdentity::generate().recipient())
        .collect();
    let planted = age_file(b"junk", &recipients);
    let chain = dir.join("r").join("abcdefghijklmnopqrstuvwxyz");
    std::fs::create_dir_all(&chain).unwrap();
    for i in 1..=300 {
        std::fs::write(chain.join(format!("{i:010}")), &planted).unwrap();
    }
    let mut refused = 0;
    let hostile = best_of(5, || {
        let l = v.list().unwrap();
        refused = l.problems.len();
    });
    assert!(refused >= 300, "{refused}");
    println!(
        "| ls (list and check every record), 300 files: clean vault | 300 | {:.1} ms | - | - |",
        clean * 1e3
    );
    println!(
        "| ls, same vault + 300 junk files (not age files) | 600 | {:.1} ms | 300 refused, each named | {:.2}× the clean vault |",
        with_junk * 1e3,
        with_junk / clean
    );
    println!(
        "| ls, same vault + 300 planted files of 165 stanzas each | 600 | {:.1} ms | {refused} refused, each named | {:.2}× the clean vault, {:.2}× the junk files (before the bound: 57× junk) |",
        hostile * 1e3,
        hostile / clean,
        hostile / with_junk
    );

    // Signature overhead.
    let mac = MacKey::from_bytes([7; 32]);
    let key = SigningKey::generate();
    let id = |c: char| c.to_string().repeat(26);
    let mut record = RecordBody {
        format: 1,
        vault: id('v'),
        device: id('d'),
        device_name: "front desk".into(),
        author: id('m'),
        seq: 7,
        prev: Some("a".repeat(64)),
        time: 1_780_000_000_000,
        ops: vec![Op {
            entry: id('e'),
            parents: vec![],
            state: EntryState {
                parent: None,
                name: "Lab results.pdf".into(),
                kind: Kind::File,
                status: Status::Live,
                content: Some(Content {
                    blob: id('b'),
                    size: 48_213,
                    sha256: "3".repeat(64),
                    mtime: Some(1_767_000_000_123),
                }),
                collection: None,
            },
        }],
        place: None,
        sig: None,
    };
    let mac_only = record.seal(&mac).0.len();
    record.format = 2;
    record.place = Some(format!("c/{}", id('c')));
    let signed = record.seal_signed(&key).0.len();
    println!(
        "| record with one change: MAC only (v1) vs signed with its place (v2) | 1 | {mac_only} B → {signed} B | +{} B per record | - |",
        signed as i64 - mac_only as i64
    );
    let mut batch = AuditBody {
        format: 1,
        vault: id('v'),
        device: id('d'),
        device_name: "front desk".into(),
        member: id('m'),
        seq: 12,
        prev: Some("a".repeat(64)),
        time: 1_780_000_000_000,
        app: "chartsafe 0.1.0".into(),
        events: vec![Event::new(1_780_000_000_000, Action::Opened).on(&id('e'), "Lab results.pdf")],
        seen: Default::default(),
        team: Vec::new(),
        legacy: Default::default(),
    };
    let unsigned = batch.seal(&mac).0.len();
    let signed_only = batch.seal_signed(&mac, &key).0.len();
    batch.team = vec!["f".repeat(64)];
    let with_head = batch.seal_signed(&mac, &key).0.len();
    println!(
        "| audit batch of one `opened` event: MAC only vs signed vs signed announcing one team head | 1 | {unsigned} B → {signed_only} B → {with_head} B | +{} B per batch, +{} B per team head | - |",
        signed_only as i64 - unsigned as i64,
        with_head as i64 - signed_only as i64
    );
}
