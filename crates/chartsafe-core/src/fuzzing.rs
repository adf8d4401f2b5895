//! Entry points for the fuzz targets in `fuzz/` (docs/THREAT_MODEL.md §9.1).
//!
//! One function per decoder of bytes that come from the vault folder or from
//! a person. Each takes whatever the fuzzer made, feeds it to the decoder the
//! vault uses, and checks what the decoder promises: it may refuse, but it
//! must not panic, hang or grow without bound, and what it accepts must
//! keep its documented shape. A broken promise panics, which the fuzzer
//! reports as a crash.
//!
//! Only built for the fuzzer (`--features fuzzing`) and for this crate's
//! own tests, which replay every committed corpus and crash file through
//! [`run`] on the stable toolchain, so a fixed crash stays fixed.

use std::collections::BTreeSet;

use arbitrary::{Result as ArbResult, Unstructured};
use sha2::{Digest, Sha256};

use crate::format::record::{
    self, Content, EntryState, Kind, Op, OpenedRecord, RecordBody, Status,
};
use crate::format::team::{self as team_format, Cutoff, Entry, Role, TeamBody};
use crate::keys::{AgeIdentity, KeyslotPlain, MacKey, VaultKeys};
use crate::sign::SigningKey;
use crate::tree::Tree;
use crate::{ids, names};

/// Every target, by the name of its folder under `fuzz/corpus/`.
pub const TARGETS: &[&str] = &[
    "header",
    "keyslot",
    "age_envelope",
    "record",
    "team_entry",
    "audit_batch",
    "join_request",
    "invitation",
    "names",
    "sync_names",
    "phrase",
    "tree",
    "signed",
];

/// Runs target `name` on `data`. Panics on an unknown name.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "header" => header(data),
        "keyslot" => keyslot(data),
        "age_envelope" => age_envelope(data),
        "record" => record(data),
        "team_entry" => team_entry(data),
        "audit_batch" => audit_batch(data),
        "join_request" => join_request(data),
        "invitation" => invitation(data),
        "names" => name_encoding(data),
        "sync_names" => sync_names(data),
        "phrase" => phrase(data),
        "tree" => tree(data),
        "signed" => signed(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// The fixed keys every target decodes under: a fuzzer cannot guess a
/// MAC or a signature, so inputs that should authenticate are made by the
/// structure-aware targets, which hold these keys.
fn mac() -> MacKey {
    MacKey::from_bytes([7; 32])
}

fn identity() -> AgeIdentity {
    AgeIdentity::from_secret_bytes(&[9; 32])
}

/// The vault id of the test vectors the corpora are seeded from.
const VAULT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The public header `chartsafe-vault.json` (FORMAT.md §1.1).
pub fn header(data: &[u8]) {
    if let Ok(h) = crate::format::header::Header::parse(data) {
        assert!(ids::is_id(&h.id));
        let again = crate::format::header::Header::parse(&h.to_bytes()).expect("re-reads");
        assert_eq!(again, h);
    }
}

/// A keyslot's plaintext (FORMAT.md §4) and the age header checks every
/// keyslot goes through before age sees it.
pub fn keyslot(data: &[u8]) {
    let _ = crate::crypt::header_acceptable(&data[..data.len().min(crate::crypt::HEADER_MAX)]);
    if let Ok(slot) = serde_json::from_slice::<KeyslotPlain>(data) {
        if let Some(keys) = VaultKeys::from_plain(&slot) {
            assert!(!keys.collections.is_empty());
        }
    }
}

/// An age file as read from the folder: a record, audit batch, team entry
/// or join request before decryption (FORMAT.md §3, the stanza bounds).
pub fn age_envelope(data: &[u8]) {
    let id = identity();
    let ids: [&dyn age::Identity; 1] = [id.as_age()];
    let _ = crate::crypt::decrypt_bytes(data, &ids);
}

/// A record's decrypted envelope and body (FORMAT.md §5.1, §5.6).
pub fn record(data: &[u8]) {
    if let Ok(r) = record::open(data, &mac()) {
        check_body(&r.body);
        assert_eq!(r.hash.len(), 64);
    }
}

fn check_body(b: &RecordBody) {
    assert!(b.seq > 0);
    for op in &b.ops {
        assert!(ids::is_id(&op.entry));
        let n = &op.state.name;
        assert_eq!(names::normalise_name(n).as_deref(), Ok(n.as_str()));
        if let Some(c) = &op.state.content {
            // Blob ids become paths: nothing but an id gets through.
            assert!(ids::is_id(&c.blob), "blob id {:?}", c.blob);
        }
    }
}

/// A team-log entry (FORMAT.md §11.2), then the team it would make alone.
pub fn team_entry(data: &[u8]) {
    if let Ok(e) = team_format::open(data) {
        let root = SigningKey::from_seed(&[1; 32]).public();
        let _ = crate::team::evaluate(&e.body.vault.clone(), &root, vec![e]);
    }
}

/// An audit batch's decrypted envelope and body (FORMAT.md §10.1, §10.6).
pub fn audit_batch(data: &[u8]) {
    if let Ok(b) = crate::format::audit::open(data, &mac()) {
        assert!(b.body.seq > 0);
        let root = SigningKey::from_seed(&[1; 32]).public();
        let _ = b.signed_by(&root);
    }
}

/// The invitation of the join-request test vector (its seed opens).
fn invite() -> crate::format::join::Invite {
    crate::format::join::Invite::parse(
        "aeba-gbaf-aydq-qcik-bmga-2dqp-cdpp-74kv-tmci-w6gw-fttw-zl7z-vfjq",
    )
    .expect("a valid invitation")
}

/// A join request's decrypted envelope and body (FORMAT.md §12.2).
pub fn join_request(data: &[u8]) {
    if let Ok(j) = crate::format::join::open(data, VAULT, &invite()) {
        assert_eq!(j.body.vault, VAULT);
        let code = crate::format::join::join_code(&invite(), &j.hash);
        assert!(crate::format::join::code_matches(&code, &code));
    }
}

/// Invitation text and the verification code a person types (FORMAT.md §12.1, §12.3).
pub fn invitation(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(inv) = crate::format::join::Invite::parse(text) {
        use secrecy::ExposeSecret;
        let again = crate::format::join::Invite::parse(inv.to_text().expose_secret())
            .expect("its own text parses");
        assert_eq!(again.id(), inv.id());
    }
    let expected = crate::format::join::join_code(&invite(), text);
    let typed = text.get(..text.len().min(64)).unwrap_or("");
    if crate::format::join::code_matches(typed, &expected) {
        assert!(typed.bytes().filter(u8::is_ascii_digit).count() == 8);
    }
}

/// Names as people type them and as records hold them (FORMAT.md §5.5),
/// and the local names they are written out under.
pub fn name_encoding(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = names::normalise_name(text) {
        assert!(!n.is_empty() && n != "." && n != ".." && !n.contains('/'));
        assert_eq!(names::normalise_name(&n).as_deref(), Ok(n.as_str()));
        let local = names::local_file_name(&n);
        assert!(!local.is_empty() && !local.contains('/') && !local.contains('\0'));
        assert!(local != "." && local != "..");
    }
    if let Ok(parts) = names::split_path(text) {
        for p in &parts {
            assert_eq!(names::normalise_name(p).as_deref(), Ok(p.as_str()));
        }
    }
    let shown = names::printable(text);
    assert!(!shown.chars().any(names::is_deceptive), "{shown:?}");
    assert!(!names::needs_escaping(&shown));
    let local = names::local_relative_path(text);
    for c in local.components() {
        assert!(
            matches!(c, std::path::Component::Normal(_)),
            "{text:?} gives {local:?}"
        );
    }
    let device = names::clean_device_name(text);
    assert_eq!(names::clean_device_name(&device), device);
}

/// Names of files and folders a sync client made: conflict copies of
/// chain files and device folders, temporary files (FORMAT.md §6.3).
pub fn sync_names(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for len in [10, 26] {
        if let Some(base) = crate::format::strip_copy_marker(text, len) {
            assert_eq!(base.len(), len);
            assert!(text.starts_with(base));
        }
    }
    if let Some(seq) = crate::format::chain_position(text) {
        assert!(text.starts_with(&format!("{seq:010}")));
    }
}

/// The recovery phrase as a person types it (FORMAT.md §2.2).
pub fn phrase(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = crate::keys::RecoveryPhrase::parse(text) {
        use secrecy::ExposeSecret;
        let again =
            crate::keys::RecoveryPhrase::parse(p.words().expose_secret()).expect("re-reads");
        assert_eq!(
            again.identity().recipient().to_string(),
            p.identity().recipient().to_string()
        );
    }
}

/// Any set of authentic records merged into a tree (FORMAT.md §6): the
/// records are well formed (the decoder sees to that) but say anything,
/// including concurrent moves into each other, parents of other entries,
/// and the same names everywhere.
pub fn tree(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(records) = hostile_records(&mut u, None) else {
        return;
    };
    check_merge(&records);
}

const ENTRIES: usize = 6;

/// Ids have their documented shape (26 base32 letters, FORMAT.md §1.2):
/// anything else is refused before it could reach the merge.
fn id(kind: u8, i: usize) -> String {
    ids::base32(&[kind, i as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
}

fn entry_id(i: usize) -> String {
    id(1, i)
}

fn device_id(i: usize) -> String {
    id(2, i)
}

/// Records from three devices over a pool of six entries. With `key`,
/// each is sealed, signed and re-opened through the real decoder.
fn hostile_records(
    u: &mut Unstructured,
    key: Option<&SigningKey>,
) -> ArbResult<Vec<(String, OpenedRecord)>> {
    const NAMES: &[&str] = &["a.txt", "A.txt", "Labs", "b", "x (2).txt", "e\u{301}"];
    let mut out: Vec<(String, OpenedRecord)> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    let count = u.int_in_range(0..=24)?;
    for i in 0..count {
        let device = u.int_in_range(0..=2usize)?;
        let mut ops = Vec::new();
        for _ in 0..u.int_in_range(1..=3)? {
            let e = u.int_in_range(0..=ENTRIES - 1)?;
            let mut parents = Vec::new();
            for _ in 0..u.int_in_range(0..=2)? {
                if versions.is_empty() {
                    break;
                }
                parents.push(u.choose(&versions)?.clone());
            }
            let kind = if u.arbitrary()? {
                Kind::Dir
            } else {
                Kind::File
            };
            let name = names::normalise_name(u.choose(NAMES)?).expect("valid names");
            let byte: u8 = u.arbitrary()?;
            ops.push(Op {
                entry: entry_id(e),
                parents,
                state: EntryState {
                    parent: if u.arbitrary()? {
                        Some(entry_id(u.int_in_range(0..=ENTRIES - 1)?))
                    } else {
                        None
                    },
                    name,
                    kind,
                    status: *u.choose(&[
                        Status::Live,
                        Status::Live,
                        Status::Trash,
                        Status::Gone,
                    ])?,
                    content: (kind == Kind::File).then(|| Content {
                        blob: id(3, usize::from(byte)),
                        size: u64::from(byte),
                        sha256: ids::hex(&Sha256::digest([byte])),
                        mtime: None,
                    }),
                    collection: None,
                },
            });
        }
        let body = RecordBody {
            format: if key.is_some() { 2 } else { 1 },
            vault: VAULT.into(),
            device: device_id(device),
            device_name: format!("desk {device}"),
            author: "m".repeat(26),
            seq: i as u64 + 1,
            prev: None,
            time: i64::from(u.int_in_range(0..=3u8)?) * 1000,
            ops,
            place: key.map(|_| "r".to_owned()),
            sig: None,
        };
        let opened = match key {
            Some(k) => {
                let (plain, _) = body.seal_signed(k);
                record::open(&plain, &mac()).expect("a signed record opens")
            }
            None => {
                let (plain, _) = body.seal(&mac());
                record::open(&plain, &mac()).expect("a sealed record opens")
            }
        };
        for j in 0..opened.body.ops.len() {
            versions.push(RecordBody::version_id(&opened.hash, j));
        }
        out.push((format!("r/{i}"), opened));
    }
    // A sync client's duplicate of some record.
    if !out.is_empty() && u.arbitrary()? {
        let dup = out[u.choose_index(out.len())?].clone();
        out.push(dup);
    }
    Ok(out)
}

/// What every device must agree on: the merge is a function of the set of
/// records, paths are unique, and every item's folder is shown as a folder.
fn check_merge(records: &[(String, OpenedRecord)]) {
    let tree = Tree::build(records);
    let mut reversed = records.to_vec();
    reversed.reverse();
    let again = Tree::build(&reversed);
    assert_eq!(
        tree.shape(),
        again.shape(),
        "merge depends on arrival order"
    );
    let mut paths = BTreeSet::new();
    for n in &tree.nodes {
        assert!(paths.insert(n.path.as_str()), "two items at {:?}", n.path);
    }
    for n in &tree.nodes {
        if let Some((parent, _)) = n.path.rsplit_once('/') {
            let p = tree
                .node(parent)
                .unwrap_or_else(|| panic!("no folder {parent:?}"));
            assert_eq!(tree.versions[p.version].state.kind, Kind::Dir);
        }
        assert!(n
            .path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".."));
    }
}

/// Validly signed but hostile: a team log written with real keys by the
/// owner, two other devices and a stranger, whose entries say anything the
/// format allows (unknown members, removals of the last admin, cutoffs and
/// dependencies naming any entry, forked chains, backdating), and signed
/// records merged into a tree. The team must not depend on arrival order
/// (FORMAT.md §11.4), and no entry may come from a device it does not list.
pub fn signed(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = signed_team(&mut u);
    if let Ok(records) = hostile_records(&mut u, Some(&SigningKey::from_seed(&[3; 32]))) {
        check_merge(&records);
    }
}

fn signed_team(u: &mut Unstructured) -> ArbResult<()> {
    let root = SigningKey::from_seed(&[1; 32]);
    let keys: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_seed(&[10 + i; 32]))
        .collect();
    let member = |i: usize| id(4, i);
    let recipient = |i: usize| {
        AgeIdentity::from_secret_bytes(&[20 + i as u8; 32])
            .recipient()
            .to_string()
    };
    let mut entries: Vec<team_format::OpenedTeamEntry> = Vec::new();
    let mut chains: Vec<(u64, Option<String>)> = vec![(1, None); keys.len()];
    let mut time = 1_000i64;
    let genesis = Entry::Genesis {
        root: root.public().to_string(),
        member: member(0),
        name: "Owner".into(),
        device_name: "owner laptop".into(),
        recipient: recipient(0),
        signing: keys[0].public().to_string(),
        legacy: Default::default(),
        key: None,
    };
    let mut write = |dev: usize,
                     entry: Entry,
                     deps: Vec<String>,
                     seq_prev: Option<(u64, Option<String>)>,
                     t: i64,
                     entries: &mut Vec<team_format::OpenedTeamEntry>| {
        let (seq, prev) = seq_prev.unwrap_or_else(|| chains[dev].clone());
        let body = TeamBody {
            format: 2,
            vault: VAULT.into(),
            device: device_id(dev),
            seq,
            prev,
            deps,
            time: t,
            entry,
        };
        let root_key = body.entry.needs_root().then_some(&root);
        let (plain, hash) = body.seal(&keys[dev], root_key);
        if let Ok(e) = team_format::open(&plain) {
            entries.push(e);
            chains[dev] = (seq + 1, Some(hash));
        }
    };
    write(0, genesis, vec![], None, time, &mut entries);
    let steps = u.int_in_range(0..=16)?;
    for _ in 0..steps {
        let dev = u.int_in_range(0..=keys.len() - 1)?;
        let m = member(u.int_in_range(0..=3)?);
        let role = *u.choose(&[Role::Admin, Role::Staff, Role::Viewer])?;
        let mut cutoffs = std::collections::BTreeMap::new();
        if u.arbitrary()? && !entries.is_empty() {
            let e = &entries[u.choose_index(entries.len())?];
            cutoffs.insert(
                e.body.device.clone(),
                Cutoff {
                    seq: u.int_in_range(0..=e.body.seq + 1)?,
                    hash: e.hash.clone(),
                },
            );
        }
        let target = u.int_in_range(0..=keys.len() - 1)?;
        let entry = match u.int_in_range(0..=6)? {
            0 => Entry::MemberAdd {
                member: m,
                name: "Nurse".into(),
                role,
            },
            1 => Entry::DeviceAdd {
                member: m,
                device: device_id(target),
                name: "desk".into(),
                recipient: recipient(target),
                signing: keys[target].public().to_string(),
                request: None,
            },
            2 => Entry::RoleSet {
                member: m,
                role,
                cutoffs,
            },
            3 => Entry::MemberRemove { member: m, cutoffs },
            4 => Entry::DeviceRemove {
                device: device_id(target),
                cutoffs,
            },
            5 => Entry::RecoveryAdmin {
                member: m,
                name: "Recovered".into(),
                device_name: "new laptop".into(),
                recipient: recipient(target),
                signing: keys[target].public().to_string(),
            },
            _ => Entry::Revoke {
                collection: "c".repeat(26),
                member: m,
                cutoffs,
            },
        };
        let mut deps = Vec::new();
        for _ in 0..u.int_in_range(0..=2)? {
            if !entries.is_empty() {
                deps.push(entries[u.choose_index(entries.len())?].hash.clone());
            }
        }
        deps.sort();
        deps.dedup();
        // Sometimes a forged chain position: a fork, a gap or a stale `prev`.
        let seq_prev = if u.ratio(1, 4)? {
            let prev = if entries.is_empty() || u.arbitrary()? {
                None
            } else {
                Some(entries[u.choose_index(entries.len())?].hash.clone())
            };
            Some((u.int_in_range(1..=4)?, prev))
        } else {
            None
        };
        time += i64::from(u.int_in_range(-2000..=2000i16)?);
        write(dev, entry, deps, seq_prev, time, &mut entries);
    }
    let pubroot = root.public();
    let Ok(team) = crate::team::evaluate(VAULT, &pubroot, entries.clone()) else {
        return Ok(());
    };
    let mut reversed = entries.clone();
    reversed.reverse();
    let again = crate::team::evaluate(VAULT, &pubroot, reversed).expect("evaluates both ways");
    let summary = |t: &crate::team::Team| {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            t.members, t.devices, t.order, t.heads, t.rejected
        )
    };
    assert_eq!(
        summary(&team),
        summary(&again),
        "team depends on arrival order"
    );
    // Only listed devices wrote what counts.
    for h in &team.order {
        let e = entries
            .iter()
            .find(|e| &e.hash == h)
            .expect("counted entry exists");
        if !matches!(
            e.body.entry,
            Entry::Genesis { .. } | Entry::RecoveryAdmin { .. }
        ) {
            assert!(
                team.devices.contains_key(&e.body.device),
                "an entry of unlisted device {} counts",
                e.body.device
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzz_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
    }

    /// Every committed corpus input and every crash the fuzzer ever found
    /// (`fuzz/regressions/<target>/`) runs through its target: what was
    /// fixed stays fixed, on the stable toolchain, in `make test`.
    #[test]
    fn every_committed_fuzz_input_passes_its_target() {
        let mut ran = 0;
        for target in TARGETS {
            for kind in ["corpus", "regressions"] {
                let dir = fuzz_dir().join(kind).join(target);
                let Ok(list) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for f in list {
                    let path = f.unwrap().path();
                    let data = std::fs::read(&path).unwrap();
                    let result = std::panic::catch_unwind(|| run(target, &data));
                    assert!(result.is_ok(), "{target}: {} fails", path.display());
                    ran += 1;
                }
            }
        }
        // The corpora are committed: an empty run would prove nothing.
        assert!(ran >= TARGETS.len(), "only {ran} fuzz inputs found");
    }

    #[test]
    fn every_target_has_a_seed_corpus() {
        for target in TARGETS {
            let dir = fuzz_dir().join("corpus").join(target);
            let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
            assert!(n > 0, "no seed corpus in {}", dir.display());
        }
    }

    #[test]
    fn long_fixed_inputs_run_through_the_structured_targets() {
        for step in [7u32, 13, 101] {
            let data: Vec<u8> = (0..4096u32).map(|i| (i * step % 251) as u8).collect();
            signed(&data);
            tree(&data);
        }
    }
}
