//! Format test vectors (docs/FORMAT.md §9): data files, one case per file,
//! each testing exactly one thing, run through every reader.
//!
//! Regenerate with `CHARTSAFE_WRITE_VECTORS=1 cargo test -p chartsafe-core --test vectors`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chartsafe_core::format::audit::{self, Action, AuditBatchError, AuditBody, Event, Head};
use chartsafe_core::format::header::{Header, HeaderError};
use chartsafe_core::format::join::{self, Invite, JoinBody};
use chartsafe_core::format::record::{
    self, Content, EntryState, Kind, Op, RecordBody, RecordError, Status,
};
use chartsafe_core::format::team::{self as team_format, Entry, Role, TeamBody};
use chartsafe_core::ids;
use chartsafe_core::keys::{DeviceSecret, KdfParams, MacKey, RecoveryPhrase};
use chartsafe_core::sign::SigningKey;
use chartsafe_core::team;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Digest;
use zeroize::Zeroizing;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn body() -> RecordBody {
    RecordBody {
        format: 1,
        place: None,
        vault: "aaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        device: "dddddddddddddddddddddddddd".into(),
        device_name: "front desk".into(),
        author: "mmmmmmmmmmmmmmmmmmmmmmmmmm".into(),
        seq: 2,
        prev: Some("00".repeat(32)),
        time: 1_780_000_000_000,
        ops: vec![Op {
            entry: "eeeeeeeeeeeeeeeeeeeeeeeeee".into(),
            parents: vec![],
            state: EntryState {
                parent: None,
                name: "Jos\u{e9} lab results.pdf".into(),
                kind: Kind::File,
                status: Status::Live,
                content: Some(Content {
                    blob: "bbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
                    size: 5,
                    sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
                        .into(),
                    mtime: Some(1_779_999_000_000),
                }),
                collection: None,
            },
        }],
        sig: None,
    }
}

const MAC: [u8; 32] = [7u8; 32];

fn batch() -> AuditBody {
    AuditBody {
        format: 1,
        team: Vec::new(),
        legacy: Default::default(),
        vault: "aaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        device: "dddddddddddddddddddddddddd".into(),
        device_name: "front desk".into(),
        member: "mmmmmmmmmmmmmmmmmmmmmmmmmm".into(),
        seq: 3,
        prev: Some("11".repeat(32)),
        time: 1_780_000_000_000,
        app: "chartsafe 0.1.0".into(),
        events: vec![
            Event::new(1_779_999_999_000, Action::Unlocked).detail("passphrase"),
            Event::new(1_780_000_000_000, Action::Opened).on(
                "eeeeeeeeeeeeeeeeeeeeeeeeee",
                "Patients/Jos\u{e9} lab results.pdf",
            ),
        ],
        seen: [(
            "cccccccccccccccccccccccccc".to_owned(),
            Head {
                seq: 7,
                hash: "22".repeat(32),
            },
        )]
        .into_iter()
        .collect(),
    }
}

/// Audit batch vectors (FORMAT.md §10.1): `record_plaintext` is a valid
/// record envelope, which must not pass for a batch.
fn audit_vectors(mac: &MacKey, record_plaintext: &str) -> Vec<(String, Value)> {
    let (good, hash) = batch().seal(mac);
    let good_text = String::from_utf8(good).unwrap();
    let envelope: Value = serde_json::from_str(&good_text).unwrap();
    let audit = |name: &str, what: &str, plaintext: String, expect: &str| {
        (
            format!("audit-{name}.json"),
            json!({"kind": "audit", "description": what, "mac_key": ids::hex(&MAC),
                   "plaintext": plaintext, "expect": expect,
                   "batch_hash": if expect == "success" { json!(hash) } else { Value::Null }}),
        )
    };
    let mut out = vec![audit(
        "valid",
        "a valid audit batch envelope",
        good_text,
        "success",
    )];
    let mut e = envelope.clone();
    e["body"] = json!(envelope["body"]
        .as_str()
        .unwrap()
        .replace("opened", "exported"));
    out.push(audit(
        "body-altered",
        "the action changed, MAC kept",
        e.to_string(),
        "bad_mac",
    ));
    out.push(audit(
        "is-a-record",
        "a valid record envelope given as an audit batch",
        record_plaintext.to_owned(),
        "malformed",
    ));
    let renamed = record_plaintext.replace("chartsafe_record", "chartsafe_audit");
    out.push(audit(
        "record-renamed",
        "a record envelope renamed to an audit envelope: the MAC domain differs",
        renamed,
        "bad_mac",
    ));
    let mut b = batch();
    b.format = 2;
    let (bytes, _) = b.seal(mac);
    out.push(audit(
        "body-format-2",
        "a correctly authenticated batch of format 2",
        String::from_utf8(bytes).unwrap(),
        "newer_format",
    ));
    let mut b = batch();
    b.events[1].entry = Some("../../etc/passwd".into());
    let (bytes, _) = b.seal(mac);
    out.push(audit(
        "entry-id-traversal",
        "an authenticated batch whose entry id is a path",
        String::from_utf8(bytes).unwrap(),
        "bad_body",
    ));
    out
}

/// Every vector: file name → content.
fn generate() -> Vec<(String, Value)> {
    let mac = MacKey::from_bytes(MAC);
    let (good, hash) = body().seal(&mac);
    let good_text = String::from_utf8(good).unwrap();
    let envelope: Value = serde_json::from_str(&good_text).unwrap();
    let record = |name: &str, what: &str, plaintext: String, expect: &str| {
        (
            format!("record-{name}.json"),
            json!({"kind": "record", "description": what, "mac_key": ids::hex(&MAC),
                   "plaintext": plaintext, "expect": expect,
                   "body_hash": if expect == "success" { json!(hash) } else { Value::Null }}),
        )
    };
    let mut out = vec![record(
        "valid",
        "a valid record envelope",
        good_text.clone(),
        "success",
    )];
    let mut e = envelope.clone();
    e["mac"] = json!("00".repeat(32));
    out.push(record(
        "bad-mac",
        "the MAC is zeros",
        e.to_string(),
        "bad_mac",
    ));
    let mut e = envelope.clone();
    e["body"] = json!(envelope["body"]
        .as_str()
        .unwrap()
        .replace("front desk", "front dusk"));
    out.push(record(
        "body-altered",
        "one byte of the body changed, MAC kept",
        e.to_string(),
        "bad_mac",
    ));
    let mut e = envelope.clone();
    e["chartsafe_record"] = json!(2);
    out.push(record(
        "unknown-envelope-version",
        "envelope version 2 with a MAC and no signature",
        e.to_string(),
        "malformed",
    ));
    out.push(record("not-json", "not JSON", "hello".into(), "malformed"));
    let mut b = body();
    b.format = 3;
    let (bytes, _) = b.seal(&mac);
    out.push(record(
        "body-format-3",
        "a correctly authenticated body of format 3",
        String::from_utf8(bytes).unwrap(),
        "newer_format",
    ));
    let mut b = body();
    b.format = 2;
    let (bytes, _) = b.seal(&mac);
    out.push(record(
        "body-format-2-with-mac",
        "a body of format 2 (signed records) in a version 1 envelope with a MAC",
        String::from_utf8(bytes).unwrap(),
        "bad_body",
    ));
    // Signed records (FORMAT.md §5.6): the device key of seed 0x02….
    let device = SigningKey::from_seed(&[2; 32]);
    let mut b = body();
    b.format = 2;
    let (bytes, signed_hash) = b.seal_signed(&device);
    let signed_text = String::from_utf8(bytes).unwrap();
    let signed = |name: &str, what: &str, plaintext: String, expect: &str| {
        (
            format!("record-{name}.json"),
            json!({"kind": "record", "description": what, "mac_key": ids::hex(&MAC),
                   "signing": device.public().to_string(),
                   "plaintext": plaintext, "expect": expect,
                   "body_hash": if expect == "success" { json!(signed_hash) } else { Value::Null }}),
        )
    };
    out.push(signed(
        "signed-valid",
        "a record signed by its device (envelope version 2, no MAC)",
        signed_text.clone(),
        "success",
    ));
    let mut e: Value = serde_json::from_str(&signed_text).unwrap();
    e["body"] = json!(e["body"]
        .as_str()
        .unwrap()
        .replace("front desk", "front dusk"));
    out.push(signed(
        "signed-body-altered",
        "one byte of a signed body changed, signature kept",
        e.to_string(),
        "bad_signature",
    ));
    let mut b = body();
    b.ops[0].state.content.as_mut().unwrap().blob = "../../etc/passwd".into();
    let (bytes, _) = b.seal(&mac);
    out.push(record(
        "blob-id-traversal",
        "an authenticated body whose blob id is a path",
        String::from_utf8(bytes).unwrap(),
        "bad_body",
    ));

    out.extend(audit_vectors(&mac, &good_text));

    let header = |name: &str, what: &str, text: &str, expect: &str| {
        (
            format!("header-{name}.json"),
            json!({"kind": "header", "description": what, "bytes": text, "expect": expect}),
        )
    };
    out.push(header(
        "valid",
        "a valid header (version 2: with a team log)",
        &String::from_utf8(Header::new("aaaaaaaaaaaaaaaaaaaaaaaaaa".into()).to_bytes()).unwrap(),
        "success",
    ));
    out.push(header(
        "version-1",
        "a vault from before the team log",
        r#"{"format":"chartsafe","version":1,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "success",
    ));
    out.push(header(
        "version-3",
        "a newer format",
        r#"{"format":"chartsafe","version":3,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "unsupported_version",
    ));
    out.push(header(
        "version-0",
        "a downgrade",
        r#"{"format":"chartsafe","version":0,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "unsupported_version",
    ));
    out.push(header(
        "bad-id",
        "an id that is not 26 base32 characters",
        r#"{"format":"chartsafe","version":1,"id":"../../etc"}"#,
        "malformed",
    ));

    let phrase = RecoveryPhrase::from_entropy(Zeroizing::new([0u8; 32]));
    let id = phrase.identity();
    out.push((
        "keys-recovery-identity.json".into(),
        json!({"kind": "recovery_identity", "description": "all-zero entropy",
               "phrase": phrase.words().expose_secret(),
               "identity": id.to_secret_text().expose_secret(),
               "recipient": id.recipient().to_string(),
               "mac_key": ids::hex(&mac_bytes(&id))}),
    ));
    let root = phrase.root_signing_key();
    let message = "a team log entry";
    out.push((
        "keys-root-signing.json".into(),
        json!({"kind": "root_signing_key",
               "description": "all-zero entropy: the root key (docs/design/team.md §2) and one signature",
               "phrase": phrase.words().expose_secret(),
               "seed": ids::hex(root.seed().as_ref()),
               "public": root.public().to_string(),
               "domain": "chartsafe/v2 team\n",
               "message": message,
               "signature": ids::hex(&root.sign(b"chartsafe/v2 team\n", message.as_bytes()))}),
    ));
    let device = DeviceSecret::from_stored(SecretString::from("11".repeat(32)));
    let kdf = KdfParams {
        log_n: 10,
        salt: "22".repeat(16),
    };
    let pass = SecretString::from("correct horse battery".to_owned());
    let dev_id = device.device_identity(&pass, &kdf).unwrap();
    out.push((
        "keys-device-identity.json".into(),
        json!({"kind": "device_identity", "description": "device secret 0x11…, salt 0x22…, log_n 10",
               "device_secret": "11".repeat(32), "salt": kdf.salt, "log_n": 10,
               "passphrase": "correct horse battery", "recipient": dev_id.recipient().to_string()}),
    ));
    out.push(("join-request.json".into(), join_vector()));
    out.push(("team-log.json".into(), team_log_vector()));
    out
}

/// An invitation, a join request made with it, and the code both sides show
/// (FORMAT.md §12). The invitation's secret is fixed (0x01…0x10) so the
/// vector is reproducible.
fn join_vector() -> Value {
    let phrase = RecoveryPhrase::from_entropy(Zeroizing::new([0u8; 32]));
    let root = phrase.root_signing_key().public();
    let fingerprint = sha2::Sha256::digest(root.to_bytes());
    let mut bytes: Vec<u8> = (1..=16).collect();
    bytes.extend_from_slice(&fingerprint[..16]);
    let invite = Invite::parse(&ids::base32(&bytes)).unwrap();
    let key = SigningKey::from_seed(&[2; 32]);
    let vault = "a".repeat(26);
    let body = JoinBody {
        format: 2,
        vault: vault.clone(),
        invite: invite.id(),
        member: "d".repeat(26),
        new_member: true,
        name: "Nurse Joy".into(),
        device: "e".repeat(26),
        device_name: "ward pc".into(),
        recipient: phrase.identity().recipient().to_string(),
        signing: key.public().to_string(),
        slot: "k".repeat(26),
        time: 1_000,
    };
    let (plain, hash) = body.seal(&key);
    json!({
        "kind": "join_request",
        "description": "invitation secret 0x01..0x10, root key of the all-zero phrase, one request",
        "invite": invite.to_text().expose_secret(),
        "root": root.to_string(),
        "vault": vault,
        "plaintext": String::from_utf8(plain).unwrap(),
        "invite_id": invite.id(),
        "invite_recipient": invite.identity().recipient().to_string(),
        "request_hash": hash,
        "code": join::join_code(&invite, &hash),
    })
}

/// A small team log (FORMAT.md §11) with one entry of each outcome that
/// matters: counted, voided (a removed admin's backdated entry), not admin,
/// forged, and pending. The entries are listed newest first, so a reader
/// must order them itself.
fn team_log_vector() -> Value {
    let phrase = RecoveryPhrase::from_entropy(Zeroizing::new([0u8; 32]));
    let root = phrase.root_signing_key();
    let recipient = phrase.identity().recipient().to_string();
    let vault = "a".repeat(26);
    let id = |c: &str| c.repeat(26);
    let owner = (id("b"), SigningKey::from_seed(&[1; 32]));
    let nurse = (id("e"), SigningKey::from_seed(&[2; 32]));
    let contractor = (id("g"), SigningKey::from_seed(&[3; 32]));
    let forger = SigningKey::from_seed(&[9; 32]);
    let mut plaintexts: Vec<String> = Vec::new();
    let mut chains: std::collections::BTreeMap<String, (u64, String)> = Default::default();
    let mut write = |dev: &(String, SigningKey),
                     key: &SigningKey,
                     deps: Vec<String>,
                     time: i64,
                     entry: Entry| {
        let (seq, prev) = chains
            .get(&dev.0)
            .map_or((1, None), |(s, h)| (s + 1, Some(h.clone())));
        let body = TeamBody {
            format: 2,
            vault: vault.clone(),
            device: dev.0.clone(),
            seq,
            prev,
            deps,
            time,
            entry,
        };
        let root_key = body.entry.needs_root().then_some(&root);
        let (plain, hash) = body.seal(key, root_key);
        chains.insert(dev.0.clone(), (seq, hash.clone()));
        plaintexts.push(String::from_utf8(plain).unwrap());
        hash
    };
    let genesis = write(
        &owner,
        &owner.1,
        vec![],
        1_000,
        Entry::Genesis {
            root: root.public().to_string(),
            member: id("c"),
            name: "Owner".into(),
            device_name: "front desk".into(),
            recipient: recipient.clone(),
            signing: owner.1.public().to_string(),
            legacy: Default::default(),
            key: None,
        },
    );
    let _ = genesis;
    write(
        &owner,
        &owner.1,
        vec![],
        1_001,
        Entry::MemberAdd {
            member: id("d"),
            name: "Nurse".into(),
            role: Role::Staff,
        },
    );
    write(
        &owner,
        &owner.1,
        vec![],
        1_002,
        Entry::DeviceAdd {
            member: id("d"),
            device: nurse.0.clone(),
            name: "ward pc".into(),
            recipient: recipient.clone(),
            signing: nurse.1.public().to_string(),
            request: None,
        },
    );
    write(
        &owner,
        &owner.1,
        vec![],
        1_003,
        Entry::MemberAdd {
            member: id("f"),
            name: "Contractor".into(),
            role: Role::Admin,
        },
    );
    let added = write(
        &owner,
        &owner.1,
        vec![],
        1_004,
        Entry::DeviceAdd {
            member: id("f"),
            device: contractor.0.clone(),
            name: "it laptop".into(),
            recipient: recipient.clone(),
            signing: contractor.1.public().to_string(),
            request: None,
        },
    );
    // Concurrent: the contractor adds an admin, dated before everything;
    // the owner, not having seen it, removes the contractor.
    write(
        &contractor,
        &contractor.1,
        vec![added.clone()],
        1,
        Entry::MemberAdd {
            member: id("h"),
            name: "Accomplice".into(),
            role: Role::Admin,
        },
    );
    let removal = write(
        &owner,
        &owner.1,
        vec![],
        1_006,
        Entry::MemberRemove {
            member: id("f"),
            cutoffs: Default::default(),
        },
    );
    // A staff member tries to manage the team.
    write(
        &nurse,
        &nurse.1,
        vec![removal.clone()],
        1_007,
        Entry::MemberAdd {
            member: id("i"),
            name: "Friend".into(),
            role: Role::Staff,
        },
    );
    // A storage attacker writes as the owner's device with their own key.
    write(
        &owner,
        &forger,
        vec![],
        1_008,
        Entry::RoleSet {
            member: id("d"),
            role: Role::Admin,
            cutoffs: Default::default(),
        },
    );
    // An entry that builds on one that never arrived.
    write(
        &nurse,
        &nurse.1,
        vec!["f".repeat(64)],
        1_009,
        Entry::DeviceRemove {
            device: nurse.0.clone(),
            cutoffs: Default::default(),
        },
    );
    plaintexts.reverse();
    let opened: Vec<_> = plaintexts
        .iter()
        .map(|p| team_format::open(p.as_bytes()).unwrap())
        .collect();
    let t = team::evaluate(&vault, &root.public(), opened).unwrap();
    json!({
        "kind": "team_log",
        "description": "a team log of ten entries, newest first: counted, voided, not admin, forged, pending",
        "vault": vault,
        "root": root.public().to_string(),
        "entries": plaintexts,
        "expect": team_summary(&t),
    })
}

/// What a team-log vector expects: the members and devices, the entries
/// that count in order, and the refused and pending ones.
fn team_summary(t: &team::Team) -> Value {
    json!({
        "members": t.members.values().map(|m| json!({
            "id": m.id, "name": m.name, "role": m.role.as_str(), "removed": m.removed,
        })).collect::<Vec<_>>(),
        "devices": t.devices.values().map(|d| json!({
            "id": d.id, "member": d.member, "signing": d.signing.to_string(), "removed": d.removed,
        })).collect::<Vec<_>>(),
        "order": t.order,
        "heads": t.heads,
        "rejected": t.rejected.iter().map(|r| json!({
            "device": r.device, "seq": r.seq, "hash": r.hash, "reason": r.reason.code(),
        })).collect::<Vec<_>>(),
        "pending": t.pending,
    })
}

/// The record MAC key of a recovery identity, derived here as FORMAT.md §2.3
/// documents it, and checked against the library's (whose key type is opaque).
fn mac_bytes(id: &chartsafe_core::AgeIdentity) -> Vec<u8> {
    use hkdf::Hkdf;
    let lower = id.to_secret_text().expose_secret().to_lowercase();
    let (_, sk) = bech32::decode(&lower).unwrap();
    let mut key = [0u8; 32];
    Hkdf::<sha2::Sha256>::new(Some(b"chartsafe/v1"), &sk)
        .expand(b"record mac", &mut key)
        .unwrap();
    // The library's key must agree: a record sealed with ours opens with its.
    let (bytes, _) = body().seal(&MacKey::from_bytes(key));
    assert!(
        record::open(&bytes, &id.derive_mac_key()).is_ok(),
        "FORMAT.md §2.3 derivation"
    );
    key.to_vec()
}

/// The generated vectors, made once per test binary (scrypt is slow).
fn generated() -> &'static BTreeMap<String, Value> {
    static GENERATED: std::sync::OnceLock<BTreeMap<String, Value>> = std::sync::OnceLock::new();
    GENERATED.get_or_init(|| generate().into_iter().collect())
}

/// Checks one vector file: every reader gives what it expects, and it is
/// exactly what the code generates today.
fn check(name: &str) {
    let path = dir().join(name);
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let generated = generated()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not generated by the code any more"));
    assert_eq!(&v, generated, "{name} is stale: regenerate the vectors");
    let expect = v["expect"].as_str().unwrap_or("success");
    match v["kind"].as_str().unwrap() {
        "record" => {
            let key: [u8; 32] = ids::unhex(v["mac_key"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let got = record::open(
                v["plaintext"].as_str().unwrap().as_bytes(),
                &MacKey::from_bytes(key),
            );
            let signing = v["signing"]
                .as_str()
                .map(|k| chartsafe_core::sign::PublicSigningKey::parse(k).unwrap());
            match (expect, got) {
                ("success", Ok(r)) => {
                    assert_eq!(r.hash, v["body_hash"].as_str().unwrap(), "{name}");
                    if let Some(k) = signing {
                        assert!(r.is_signed() && r.signed_by(&k), "{name}");
                    }
                }
                ("bad_signature", Ok(r)) => {
                    assert!(r.is_signed() && !r.signed_by(&signing.unwrap()), "{name}")
                }
                ("bad_mac", Err(RecordError::BadMac))
                | ("malformed", Err(RecordError::Malformed))
                | ("bad_body", Err(RecordError::BadBody))
                | ("newer_format", Err(RecordError::NewerFormat(_))) => {}
                (e, g) => panic!("{name}: expected {e}, got {g:?}"),
            }
        }
        "audit" => {
            let key: [u8; 32] = ids::unhex(v["mac_key"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let got = audit::open(
                v["plaintext"].as_str().unwrap().as_bytes(),
                &MacKey::from_bytes(key),
            );
            match (expect, got) {
                ("success", Ok(b)) => {
                    assert_eq!(b.hash, v["batch_hash"].as_str().unwrap(), "{name}")
                }
                ("bad_mac", Err(AuditBatchError::BadMac))
                | ("malformed", Err(AuditBatchError::Malformed))
                | ("bad_body", Err(AuditBatchError::BadBody))
                | ("newer_format", Err(AuditBatchError::NewerFormat(_))) => {}
                (e, g) => panic!("{name}: expected {e}, got {g:?}"),
            }
        }
        "header" => {
            let got = Header::parse(v["bytes"].as_str().unwrap().as_bytes());
            match (expect, got) {
                ("success", Ok(_))
                | ("unsupported_version", Err(HeaderError::UnsupportedVersion(_)))
                | ("malformed", Err(HeaderError::Malformed(_))) => {}
                (e, g) => panic!("{name}: expected {e}, got {g:?}"),
            }
        }
        "root_signing_key" => {
            let phrase = RecoveryPhrase::parse(v["phrase"].as_str().unwrap()).unwrap();
            let root = phrase.root_signing_key();
            assert_eq!(ids::hex(root.seed().as_ref()), v["seed"].as_str().unwrap());
            let public =
                chartsafe_core::sign::PublicSigningKey::parse(v["public"].as_str().unwrap())
                    .unwrap();
            assert_eq!(public, root.public(), "{name}");
            let sig: [u8; 64] = ids::unhex(v["signature"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let (domain, message) = (
                v["domain"].as_str().unwrap(),
                v["message"].as_str().unwrap(),
            );
            assert!(
                public.verify(domain.as_bytes(), message.as_bytes(), &sig),
                "{name}"
            );
            assert!(!public.verify(b"chartsafe/v2 record\n", message.as_bytes(), &sig));
        }
        "recovery_identity" => {
            let phrase = RecoveryPhrase::parse(v["phrase"].as_str().unwrap()).unwrap();
            let id = phrase.identity();
            assert_eq!(
                id.to_secret_text().expose_secret(),
                v["identity"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                id.recipient().to_string(),
                v["recipient"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                ids::hex(&mac_bytes(&id)),
                v["mac_key"].as_str().unwrap(),
                "{name}"
            );
        }
        "device_identity" => {
            let device = DeviceSecret::from_stored(SecretString::from(
                v["device_secret"].as_str().unwrap().to_owned(),
            ));
            let kdf = KdfParams {
                log_n: v["log_n"].as_u64().unwrap() as u8,
                salt: v["salt"].as_str().unwrap().into(),
            };
            let pass = SecretString::from(v["passphrase"].as_str().unwrap().to_owned());
            let id = device.device_identity(&pass, &kdf).unwrap();
            assert_eq!(
                id.recipient().to_string(),
                v["recipient"].as_str().unwrap(),
                "{name}"
            );
        }
        "team_log" => {
            let root =
                chartsafe_core::sign::PublicSigningKey::parse(v["root"].as_str().unwrap()).unwrap();
            let entries: Vec<_> = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| team_format::open(p.as_str().unwrap().as_bytes()).unwrap())
                .collect();
            let t = team::evaluate(v["vault"].as_str().unwrap(), &root, entries).unwrap();
            assert_eq!(team_summary(&t), v["expect"], "{name}");
        }
        "join_request" => {
            let root =
                chartsafe_core::sign::PublicSigningKey::parse(v["root"].as_str().unwrap()).unwrap();
            let invite = Invite::parse(v["invite"].as_str().unwrap()).unwrap();
            assert!(invite.matches_root(&root), "{name}");
            assert_eq!(invite.id(), v["invite_id"].as_str().unwrap(), "{name}");
            assert_eq!(
                invite.identity().recipient().to_string(),
                v["invite_recipient"].as_str().unwrap(),
                "{name}"
            );
            let opened = join::open(
                v["plaintext"].as_str().unwrap().as_bytes(),
                v["vault"].as_str().unwrap(),
                &invite,
            )
            .unwrap();
            assert_eq!(opened.hash, v["request_hash"].as_str().unwrap(), "{name}");
            assert_eq!(
                join::join_code(&invite, &opened.hash),
                v["code"].as_str().unwrap(),
                "{name}"
            );
        }
        other => panic!("{name}: unknown kind {other}"),
    }
}

/// One test per vector file, so a failure names the file (FORMAT.md §9).
macro_rules! vectors {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($file);
            }
        )*

        /// Every generated vector is on disk and has its test above;
        /// `CHARTSAFE_WRITE_VECTORS=1` writes them first.
        #[test]
        fn every_generated_vector_is_on_disk_with_its_test() {
            if std::env::var_os("CHARTSAFE_WRITE_VECTORS").is_some() {
                std::fs::create_dir_all(dir()).unwrap();
                for (name, v) in generated() {
                    std::fs::write(
                        dir().join(name),
                        serde_json::to_string_pretty(v).unwrap() + "\n",
                    )
                    .unwrap();
                }
            }
            let mut on_disk: Vec<String> = std::fs::read_dir(dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            let tested: Vec<&str> = vec![$($file),*];
            let made: Vec<&str> = generated().keys().map(String::as_str).collect();
            assert_eq!(on_disk, made, "one file per generated vector");
            assert_eq!(tested, made, "one test per vector file");
        }
    };
}

vectors! {
    audit_body_altered => "audit-body-altered.json",
    audit_body_format_2 => "audit-body-format-2.json",
    audit_entry_id_traversal => "audit-entry-id-traversal.json",
    audit_is_a_record => "audit-is-a-record.json",
    audit_record_renamed => "audit-record-renamed.json",
    audit_valid => "audit-valid.json",
    header_bad_id => "header-bad-id.json",
    header_valid => "header-valid.json",
    header_version_0 => "header-version-0.json",
    header_version_1 => "header-version-1.json",
    header_version_3 => "header-version-3.json",
    join_request => "join-request.json",
    keys_device_identity => "keys-device-identity.json",
    keys_recovery_identity => "keys-recovery-identity.json",
    keys_root_signing => "keys-root-signing.json",
    record_bad_mac => "record-bad-mac.json",
    record_blob_id_traversal => "record-blob-id-traversal.json",
    record_body_altered => "record-body-altered.json",
    record_body_format_2_with_mac => "record-body-format-2-with-mac.json",
    record_body_format_3 => "record-body-format-3.json",
    record_not_json => "record-not-json.json",
    record_signed_body_altered => "record-signed-body-altered.json",
    record_signed_valid => "record-signed-valid.json",
    record_unknown_envelope_version => "record-unknown-envelope-version.json",
    record_valid => "record-valid.json",
    team_log => "team-log.json",
}
