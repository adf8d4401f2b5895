//! Attacks from outside, through the `chartsafe` command only, organised by
//! attacker (issue 12, docs/THREAT_MODEL.md §8). Each person has their own
//! keychain and state; what an insider knows is what their own computer
//! gives them (their keychain entry, their passphrase, their keyslot). Each
//! test asserts that the attack is refused and reported, and that the
//! honest data is intact afterwards.

use std::path::{Path, PathBuf};

use chartsafe_core::format::audit::{Action, AuditBody, Event};
use chartsafe_core::keys::{DeviceSecret, KdfParams, MacKey};
use chartsafe_core::sign::SigningKey;
use secrecy::SecretString;

use crate::common::*;

/// The vault id, from the public header.
fn vault_id(vault: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vault.join("chartsafe-vault.json")).unwrap())
            .unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// What a member's own computer holds: the keyslot its keychain entry and
/// passphrase open (FORMAT.md §2.4, §4), read with stock tools.
struct Insider {
    device: String,
    member: String,
    mac: [u8; 32],
    signing: SigningKey,
    /// The collection keys: (collection id, AGE-SECRET-KEY-1…).
    keys: Vec<(String, String)>,
    recovery_recipient: String,
    dir: PathBuf,
}

impl Insider {
    fn of(d: &Device) -> Self {
        let id = vault_id(&d.vault);
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.state.join(&id).join("device.json")).unwrap())
                .unwrap();
        let secret = sh(&format!(
            "secret-tool lookup service '{}' username 'vault-{id}'",
            d.service
        ));
        let kdf = KdfParams {
            log_n: state["kdf"]["log_n"].as_u64().unwrap() as u8,
            salt: state["kdf"]["salt"].as_str().unwrap().to_owned(),
        };
        let pass = std::fs::read_to_string(&d.pass).unwrap();
        let identity = DeviceSecret::from_stored(SecretString::from(secret.trim().to_owned()))
            .device_identity(
                &SecretString::from(pass.trim_end_matches('\n').to_owned()),
                &kdf,
            )
            .expect("the insider's own keys");
        let dir = d.state.parent().unwrap().join("insider");
        std::fs::create_dir_all(&dir).unwrap();
        let id_file = dir.join("device-identity.txt");
        use secrecy::ExposeSecret;
        std::fs::write(&id_file, identity.to_secret_text().expose_secret()).unwrap();
        let slot = state["slot"].as_str().unwrap();
        let plain = sh(&format!(
            "age -d -i '{}' '{}'",
            id_file.display(),
            d.vault.join("k").join(slot).display()
        ));
        let ks: serde_json::Value = serde_json::from_str(&plain).unwrap();
        let hex = |s: &str| -> [u8; 32] {
            (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
        };
        Self {
            device: state["device"].as_str().unwrap().to_owned(),
            member: ks["member"].as_str().unwrap().to_owned(),
            mac: hex(ks["mac_key"].as_str().unwrap()),
            signing: SigningKey::from_seed(&hex(ks["signing_key"].as_str().unwrap())),
            keys: ks["collections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_owned(),
                        c["identity"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            recovery_recipient: ks["recovery_recipient"].as_str().unwrap().to_owned(),
            dir,
        }
    }

    /// The public recipient of the insider's first collection key.
    fn recipient(&self) -> String {
        let f = self.dir.join("key.txt");
        std::fs::write(&f, &self.keys[0].1).unwrap();
        sh(&format!("age-keygen -y '{}'", f.display()))
            .trim()
            .to_owned()
    }

    /// Encrypts `plain` to `recipients` with stock age into `dest`.
    fn encrypt(&self, plain: &[u8], recipients: &[String], dest: &Path) {
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let src = self.dir.join("plain");
        std::fs::write(&src, plain).unwrap();
        let r: String = recipients.iter().map(|r| format!(" -r {r}")).collect();
        sh(&format!(
            "age{r} -o '{}' '{}'",
            dest.display(),
            src.display()
        ));
    }

    /// An audit batch of one `exported` event, as `device` and `member`.
    fn batch(&self, vault: &str, device: &str, member: &str, seq: u64, time: i64) -> AuditBody {
        AuditBody {
            format: 1,
            vault: vault.to_owned(),
            device: device.to_owned(),
            device_name: "front desk".into(),
            member: member.to_owned(),
            seq,
            prev: None,
            time,
            app: "chartsafe 0.1.0".into(),
            events: vec![Event::new(time, Action::Exported)
                .on("abcdefghijklmnopqrstuvwxyz", "Billing/claims 2026.xlsx")],
            seen: Default::default(),
            team: Vec::new(),
            legacy: Default::default(),
        }
    }
}

/// A person joins with `name` and `role`, approved by `admin` with the code.
fn join(w: &World, admin: &Device, device: &str, name: &str, role: &str) -> Device {
    let d = w.device(device, &admin.vault);
    let invite = admin.ok(&["invite"]);
    let code = d.ok(&["--name", name, "join", "--invite", invite.trim()]);
    let listed = admin.ok(&["requests"]);
    let line = listed
        .lines()
        .find(|l| l.contains(&chartsafe_core::names::printable(name)))
        .unwrap_or_else(|| panic!("{listed}"));
    let id = line.split_whitespace().next().unwrap().to_owned();
    admin.ok(&["approve", &id, "--code", code.trim(), "--role", role]);
    d.ok(&["ls"]);
    d
}

fn members(d: &Device) -> serde_json::Value {
    let out = d.run_raw(&["members", "--json"], None);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn member_named(m: &serde_json::Value, name: &str) -> serde_json::Value {
    m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {m}"))
}

fn stderr_of(d: &Device, args: &[&str]) -> (Option<i32>, String) {
    let out = d.run_raw(args, None);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Attack (a staff member outside a collection): the audit log names every
/// file of every collection, so reading it would tell the billing clerk
/// which patients the clinical collection holds. The log has its own key,
/// held by admins' computers only (FORMAT.md §14.4): the clerk's `audit`,
/// `audit verify` and CSV export are refused, and writes nothing out.
#[test]
fn staff_member_reads_the_audit_log_for_a_collections_file_names() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    admin.ok(&["collections", "add", "Clinical"]);
    write_tree(&w.path("src"), &[("Doe, Jane - biopsy.pdf", b"pathology")]);
    admin.ok(&[
        "add",
        "--to",
        "Clinical",
        w.path("src/Doe, Jane - biopsy.pdf").to_str().unwrap(),
    ]);
    let clerk = join(&w, &admin, "clerk", "Front Desk", "staff");
    for args in [
        &["audit"][..],
        &["audit", "verify"],
        &["audit", "--format", "csv"],
    ] {
        let out = clerk.run_raw(args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains("only admins read the audit log"), "{err}");
        assert!(out.stdout.is_empty(), "{args:?} wrote {:?}", out.stdout);
    }
    // The admin reads it, and it names the file.
    let csv = admin.ok(&["audit", "--format", "csv"]);
    assert!(csv.contains("biopsy"), "{csv}");
}

/// Attack 1 (a staff member): a keyslot for the public recovery recipient,
/// carrying the shared MAC key, naming himself and a key of his own. The
/// owner's `recover` on a new laptop used to make the laptop his, and him
/// an admin.
#[test]
fn staff_plants_a_recovery_keyslot_naming_himself() {
    let w = World::new();
    let (owner, phrase) = w.init("owner", "vault");
    write_tree(&w.path("src"), &[("chart.txt", b"honest")]);
    owner.ok(&["add", w.path("src/chart.txt").to_str().unwrap()]);
    let staff = join(&w, &owner, "mallory", "Mallory", "staff");
    let mallory = Insider::of(&staff);
    let own_key = sh("age-keygen 2>/dev/null | grep AGE-SECRET");
    let planted = serde_json::json!({
        "chartsafe_keyslot": 1,
        "vault": vault_id(&owner.vault),
        "member": mallory.member,
        "collections": [{"id": mallory.keys[0].0, "identity": own_key.trim(), "created": 1}],
        "mac_key": mallory.mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "recovery_recipient": mallory.recovery_recipient,
    });
    let slot = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    mallory.encrypt(
        planted.to_string().as_bytes(),
        std::slice::from_ref(&mallory.recovery_recipient),
        &owner.vault.join("k").join(slot),
    );

    let laptop = w.device("new-laptop", &owner.vault);
    let out = laptop.run_raw(&["recover"], Some(&phrase));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("keyslot k/{slot}")), "named: {err}");
    let m = members(&owner);
    let founder = member_named(&m, "Administrator");
    let devices: Vec<&str> = founder["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(devices.contains(&"new-laptop"), "{m}");
    assert_eq!(member_named(&m, "Mallory")["role"], "staff", "{m}");
    // The laptop reads everything honest, and the event is in the log.
    assert_eq!(laptop.get("chart.txt"), b"honest");
    let log = owner.ok(&["audit", "--format", "json"]);
    assert!(
        log.lines()
            .any(|l| l.contains("change_refused") && l.contains(slot)),
        "{log}"
    );
}

/// Attack 2 (the storage provider, or any staff member): a restricted
/// collection's record files copied into the vault-wide area.
#[test]
fn provider_copies_a_collections_records_into_the_vault_wide_area() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    admin.ok(&["collections", "add", "Billing"]);
    write_tree(
        &w.path("src"),
        &[("invoice.txt", b"claim 42"), ("later.txt", b"claim 43")],
    );
    admin.ok(&[
        "add",
        "--to",
        "Billing",
        w.path("src/invoice.txt").to_str().unwrap(),
    ]);
    let clerk = join(&w, &admin, "clerk", "Front Desk", "staff");
    let dev = Insider::of(&admin).device;
    let c = admin.vault.join("c");
    let coll = std::fs::read_dir(&c)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("r").join(&dev).is_dir())
        .unwrap()
        .path();
    let mut copied = Vec::new();
    for f in std::fs::read_dir(coll.join("r").join(&dev))
        .unwrap()
        .flatten()
    {
        let dest = admin.vault.join("r").join(&dev).join(f.file_name());
        if !dest.exists() {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(f.path(), &dest).unwrap();
            copied.push(format!("r/{dev}/{}", f.file_name().to_str().unwrap()));
        }
    }
    assert!(!copied.is_empty());
    let (code, err) = stderr_of(&admin, &["ls"]);
    assert_eq!(code, Some(3), "{err}");
    for file in &copied {
        assert!(err.contains(file.as_str()), "{file} named: {err}");
    }
    // Adds to Billing still go to Billing's key: the clerk sees nothing.
    admin.ok(&[
        "add",
        "--to",
        "Billing",
        w.path("src/later.txt").to_str().unwrap(),
    ]);
    let out = admin.run_raw(&["ls"], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    let paths: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(
        paths,
        ["Billing/", "Billing/invoice.txt", "Billing/later.txt"],
        "{listing}"
    );
    let seen = clerk.run_raw(&["ls"], None);
    let seen = String::from_utf8_lossy(&seen.stdout);
    assert!(!seen.contains("Billing"), "{seen}");
    assert!(!seen.contains("invoice"), "{seen}");
    assert_eq!(admin.get("Billing/invoice.txt"), b"claim 42");
}

/// Attack 3 (the storage provider or the removed member): the team log,
/// records and contents restored from before a removal, after the removed
/// member's late change arrived.
#[test]
fn provider_restores_the_team_log_from_before_a_removal() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    write_tree(
        &w.path("src"),
        &[("chart.txt", b"honest"), ("late.txt", b"late")],
    );
    admin.ok(&["add", w.path("src/chart.txt").to_str().unwrap()]);
    let nurse = join(&w, &admin, "nurse", "Nurse Joy", "staff");
    // The nurse's laptop works on its own copy of the folder (offline).
    let offline = w.path("nurse-copy");
    sh(&format!(
        "cp -a '{}' '{}'",
        admin.vault.display(),
        offline.display()
    ));
    let before = w.path("t-before");
    sh(&format!(
        "cp -a '{}' '{}'",
        admin.vault.join("t").display(),
        before.display()
    ));
    let nurse_offline = Device {
        vault: offline.clone(),
        ..nurse
    };
    nurse_offline.ok(&["add", w.path("src/late.txt").to_str().unwrap()]);
    admin.ok(&["remove", "Nurse Joy"]);
    // Her late change syncs in: it does not count (exit 3: refused).
    sh(&format!(
        "rsync -a --ignore-existing '{}/' '{}/'",
        offline.display(),
        admin.vault.display()
    ));
    let out = admin.run_raw(&["ls"], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("chart.txt"), "{listing}");
    assert!(!listing.contains("late.txt"), "{listing}");

    // The attack: t/ as it was before the removal.
    std::fs::remove_dir_all(admin.vault.join("t")).unwrap();
    sh(&format!(
        "cp -a '{}' '{}'",
        before.display(),
        admin.vault.join("t").display()
    ));
    let out = admin.run_raw(&["ls"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!shown.contains("late.txt"), "{shown}");
    assert!(shown.contains("chart.txt"), "{shown}");
    assert!(
        err.contains("went back to an older state") && err.contains("the removal of \"Nurse Joy\""),
        "{err}"
    );
    // Written back: the folder holds the removal again, and a computer
    // that never saw it (enrolled now) counts it.
    let m = members(&admin);
    assert_eq!(member_named(&m, "Nurse Joy")["removed"], true, "{m}");
    let again = admin.run_raw(&["ls"], None);
    assert_eq!(
        again.status.code(),
        Some(3),
        "the late change stays refused"
    );
    assert!(!String::from_utf8_lossy(&again.stderr).contains("went back"));
}

/// Attack 4 (any member, here a viewer, and a removed member): audit
/// batches under another computer's name.
#[test]
fn members_write_audit_events_under_the_admins_name() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    write_tree(&w.path("src"), &[("chart.txt", b"honest")]);
    admin.ok(&["add", w.path("src/chart.txt").to_str().unwrap()]);
    let viewer = join(&w, &admin, "lobby", "Vic Viewer", "viewer");
    let leaver = join(&w, &admin, "temp", "Temp Staff", "staff");
    admin.ok(&["audit", "verify"]);
    let vic = Insider::of(&viewer);
    let temp = Insider::of(&leaver);
    let boss = Insider::of(&admin);
    admin.ok(&["remove", "Temp Staff"]);
    let vault = vault_id(&admin.vault);
    // Anyone can encrypt to the first collection's public key (the admin
    // reads batches with every key it holds).
    let to = vec![vic.recipient()];
    let a = admin.vault.join("a");
    let next = std::fs::read_dir(a.join(&boss.device)).unwrap().count() as u64 + 1;
    let now = 4_102_444_800_000; // 2100-01-01: after every removal
                                 // 1. MAC only, in the admin's chain, naming the admin.
    let (plain, _) = vic
        .batch(&vault, &boss.device, &boss.member, next, now)
        .seal(&MacKey::from_bytes(vic.mac));
    vic.encrypt(
        &plain,
        &to,
        &a.join(&boss.device).join(format!("{next:010}")),
    );
    // 2. Signed with the viewer's key, in the admin's chain.
    let (plain, _) = vic
        .batch(&vault, &boss.device, &boss.member, next + 1, now)
        .seal_signed(&MacKey::from_bytes(vic.mac), &vic.signing);
    vic.encrypt(
        &plain,
        &to,
        &a.join(&boss.device).join(format!("{:010}", next + 1)),
    );
    // 3. In the viewer's own chain, naming the admin as the member.
    let (plain, _) = vic
        .batch(&vault, &vic.device, &boss.member, 500, now)
        .seal_signed(&MacKey::from_bytes(vic.mac), &vic.signing);
    vic.encrypt(&plain, &to, &a.join(&vic.device).join("0000000500"));
    // 4. The removed member, with the keys kept, after the removal.
    let (plain, _) = temp
        .batch(&vault, &temp.device, &temp.member, 500, now)
        .seal_signed(&MacKey::from_bytes(temp.mac), &temp.signing);
    temp.encrypt(&plain, &to, &a.join(&temp.device).join("0000000500"));

    let out = admin.run_raw(&["audit", "verify"], None);
    let err = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(6), "{err}");
    for (dev, pos) in [
        (&boss.device, next),
        (&boss.device, next + 1),
        (&vic.device, 500),
        (&temp.device, 500),
    ] {
        assert!(
            err.contains(&format!("(a/{dev})")) && err.contains(&format!("{pos}")),
            "a/{dev} #{pos}: {err}"
        );
    }
    assert!(err.contains("was removed from the team"), "{err}");
    // No forged event passes for the admin's.
    let log = admin.run_raw(&["audit", "--format", "json"], None);
    for line in String::from_utf8_lossy(&log.stdout).lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["action"] == "exported" {
            assert_eq!(e["unverified"], true, "{e}");
        }
    }
}

/// Attack 5 (the storage provider): hundreds of planted files with
/// hundreds of recipient stanzas each, to make every listing slow.
#[test]
fn provider_plants_files_with_hundreds_of_stanzas() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    write_tree(&w.path("src"), &[("chart.txt", b"honest")]);
    admin.ok(&["add", w.path("src/chart.txt").to_str().unwrap()]);
    let keys = w.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let recipients: Vec<String> = (0..165)
        .map(|i| {
            let f = keys.join(format!("{i}.txt"));
            sh(&format!("age-keygen -o '{}' 2>/dev/null", f.display()));
            sh(&format!("age-keygen -y '{}'", f.display()))
                .trim()
                .to_owned()
        })
        .collect();
    let planted = w.path("planted.age");
    let r: String = recipients.iter().map(|r| format!(" -r {r}")).collect();
    sh(&format!("echo junk | age{r} -o '{}'", planted.display()));
    let chain = admin.vault.join("r").join("abcdefghijklmnopqrstuvwxyz");
    std::fs::create_dir_all(&chain).unwrap();
    for i in 1..=300 {
        std::fs::copy(&planted, chain.join(format!("{i:010}"))).unwrap();
    }
    let (code, err) = stderr_of(&admin, &["ls"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("r/abcdefghijklmnopqrstuvwxyz/0000000300"),
        "each named: {}",
        &err[..err.len().min(2000)]
    );
    assert_eq!(admin.get("chart.txt"), b"honest");
}

/// Attack 6 (a person asking to join): names with bidirectional and
/// invisible characters, so that one name reads as another.
#[test]
fn a_joiner_names_himself_with_bidi_controls() {
    let w = World::new();
    let (admin, _) = w.init("admin", "vault");
    let sneaky = "Dr. Lima\u{202e}nimdA";
    let d = w.device("sneaky\u{200b}pc", &admin.vault);
    let invite = admin.ok(&["invite"]);
    d.ok(&["--name", sneaky, "join", "--invite", invite.trim()]);
    let listed = admin.ok(&["requests"]);
    assert!(!listed.contains('\u{202e}'), "{listed:?}");
    assert!(listed.contains("Dr. Lima\\u{202e}nimdA"), "{listed}");
    assert!(!listed.contains('\u{200b}'), "{listed:?}");
}

/// Attack (the storage provider): a keyslot planted for the recovery
/// recipient under a collection id the team never made. Even with the
/// right MAC key it brings no key (FORMAT.md §4.2).
#[test]
fn removed_member_plants_a_recovery_keyslot_for_an_unknown_collection() {
    let w = World::new();
    let (admin, phrase) = w.init("admin", "vault");
    let leaver = join(&w, &admin, "temp", "Temp Staff", "staff");
    let temp = Insider::of(&leaver);
    admin.ok(&["remove", "Temp Staff"]);
    let own_key = sh("age-keygen 2>/dev/null | grep AGE-SECRET");
    let planted = serde_json::json!({
        "chartsafe_keyslot": 1,
        "vault": vault_id(&admin.vault),
        "member": temp.member,
        "collections": [{"id": "zzzzzzzzzzzzzzzzzzzzzzzzzz", "identity": own_key.trim(), "created": 1}],
        "mac_key": temp.mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "recovery_recipient": temp.recovery_recipient,
    });
    let slot = "bbbbbbbbbbbbbbbbbbbbbbbbbb";
    temp.encrypt(
        planted.to_string().as_bytes(),
        std::slice::from_ref(&temp.recovery_recipient),
        &admin.vault.join("k").join(slot),
    );
    let identity = admin.identity_file(&phrase);
    let (_, err) = stderr_of(&admin, &["--identity", identity.to_str().unwrap(), "ls"]);
    assert!(err.contains(&format!("keyslot k/{slot}")), "{err}");
    let m = members(&admin);
    assert_eq!(member_named(&m, "Temp Staff")["removed"], true);
}

/// Attack (a thief with the laptop, its keychain unlocked, but not the
/// passphrase): nothing opens, and the attempt is recorded at the owner's
/// next unlock.
#[test]
fn thief_with_the_laptop_but_not_the_passphrase_reads_nothing() {
    let w = World::new();
    let (owner, _) = w.init("owner", "vault");
    write_tree(&w.path("src"), &[("chart.txt", b"honest")]);
    owner.ok(&["add", w.path("src/chart.txt").to_str().unwrap()]);
    let wrong = w.path("guess");
    std::fs::write(&wrong, "password1\n").unwrap();
    let thief = Device {
        pass: wrong,
        name: owner.name.clone(),
        service: owner.service.clone(),
        state: owner.state.clone(),
        vault: owner.vault.clone(),
    };
    let err = thief.fails(&["ls"], 4);
    assert!(!err.contains("chart.txt"), "{err}");
    let log = owner.ok(&["audit", "--action", "unlock_failed"]);
    assert!(log.contains("DENIED"), "{log}");
    assert_eq!(owner.get("chart.txt"), b"honest");
}
