//! The README's walkthrough of the `chartsafe` command, run as written
//! (tests/cmd/README.md says how the files are laid out).

use crate::common::*;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    // A keychain namespace of its own, so runs never meet (the key of
    // each vault is named by its random id anyway).
    let service = format!("chartsafe-readme-{}", std::process::id());
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("chartsafe", bin())
        .env("CHARTSAFE_KEYCHAIN_SERVICE", service)
        .env("CHARTSAFE_STATE_DIR", "state")
        .env("CHARTSAFE_DEVICE_NAME", "front-desk")
        .env("CHARTSAFE_VAULT", "Dropbox/Clinic")
        .env("CHARTSAFE_PASSPHRASE_FILE", "pass.txt")
        .env("CHARTSAFE_KDF_LOG_N", "10")
        .env("TZ", "UTC")
        .case("cmd/*.trycmd");
}

// The README's blocks that need a second computer, or the recovery phrase
// from a terminal, cannot be trycmd files: their commands take what an
// earlier one printed (an invitation, a code, a request id, the phrase).
// These tests read each such block from README.md and run its commands as
// written, in order, on the computers the block's comments name, putting
// in for the placeholders (`3fq…`, `"0836 4760"`) what the earlier commands
// printed. A command changed in the README is a command changed here.

/// The `$ chartsafe …` commands of the README's code block holding
/// `marker`, each split into words as a shell would (double quotes only),
/// without its comment and without the leading `chartsafe`.
fn readme_block(marker: &str) -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(crate::common::root().join("README.md")).unwrap();
    let block = readme
        .split("```")
        .find(|b| b.starts_with("sh\n") && b.contains(marker))
        .unwrap_or_else(|| panic!("no README block holds {marker:?}"));
    block
        .lines()
        .filter_map(|l| l.strip_prefix("$ chartsafe "))
        .map(shell_words)
        .collect()
}

/// Words of a command line: spaces separate, double quotes group (and may
/// sit inside a word), `#` after a space starts a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            '#' if !quoted && word.is_none() => break,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// A README command on `d`: `~/Dropbox/Clinic` is `d`'s vault folder, which
/// is also `CHARTSAFE_VAULT` (the README exports it); `swap` replaces
/// placeholder words. Expects success; returns standard output.
fn run_as_written(
    d: &Device,
    words: &[String],
    swap: &[(&str, &str)],
    stdin: Option<&str>,
) -> String {
    let vault = d.vault.to_str().unwrap();
    let args: Vec<String> = words
        .iter()
        .map(|w| {
            let w = w.replace("~/Dropbox/Clinic", vault);
            swap.iter()
                .find(|(from, _)| *from == w)
                .map_or(w, |(_, to)| (*to).to_owned())
        })
        .collect();
    let mut c = d.command();
    c.env("CHARTSAFE_VAULT", &d.vault).args(&args);
    let out = output_with(c, stdin);
    assert!(
        out.status.success(),
        "README command `chartsafe {}` on {} failed ({:?}): {}",
        words.join(" "),
        d.name,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The id of the join request from `name`, as `chartsafe requests` lists it.
fn request_of(listing: &str, name: &str) -> String {
    let line = listing
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("no request from {name}: {listing}"));
    line.split_whitespace().next().unwrap().to_owned()
}

/// `person` joins on `computer` with an invitation of `admin`'s; returns
/// the request id and the code.
fn ask_to_join(admin: &Device, computer: &Device, person: &str) -> (String, String) {
    let invitation = admin.ok(&["invite"]);
    let code = computer.ok(&["--name", person, "join", "--invite", invitation.trim()]);
    let request = request_of(&admin.ok(&["requests"]), person);
    (request, code.trim().to_owned())
}

/// Makes `person` a member with their computer `computer`.
fn add_member(admin: &Device, computer: &Device, person: &str, role: &str) {
    let (request, code) = ask_to_join(admin, computer, person);
    admin.ok(&["approve", &request, "--code", &code, "--role", role]);
}

#[test]
fn the_readme_team_block_runs_as_written() {
    let w = World::new();
    let (admin, _) = w.init("front-desk", "Dropbox/Clinic");
    let nurse = w.device("nurse-laptop", &admin.vault);
    let block = readme_block("chartsafe invite");
    let (mut invitation, mut code, mut request) = (String::new(), String::new(), String::new());
    for words in &block {
        let says = |word: &str| words.iter().any(|w| w == word);
        let swap = [("3fq…", request.as_str()), ("0836 4760", code.as_str())];
        if says("join") {
            // "on their computer": the invitation typed in, the code shown.
            code = run_as_written(&nurse, words, &[], Some(&invitation))
                .trim()
                .to_owned();
        } else if says("invite") {
            invitation = run_as_written(&admin, words, &[], None).trim().to_owned();
        } else if says("requests") {
            request = request_of(&run_as_written(&admin, words, &[], None), "Nurse Joy");
        } else {
            run_as_written(&admin, words, &swap, None);
        }
    }
    assert!(block.len() >= 9, "{block:?}");
    // What the block says it did: Nurse Joy joined, and is removed.
    let members: serde_json::Value =
        serde_json::from_str(&admin.ok(&["members", "--json"])).unwrap();
    let joy = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Nurse Joy")
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(joy["removed"], true, "{joy}");
    // Her computer, removed before it first opened the vault, is told so
    // (it was once told the folder was not the vault it was invited to).
    let err = nurse.fails(&["ls"], 4);
    assert!(err.contains("removed from the team"), "{err}");
}

#[test]
fn the_readme_collections_block_runs_as_written() {
    let w = World::new();
    let (admin, _) = w.init("front-desk", "Dropbox/Clinic");
    let clerk = w.device("billing-pc", &admin.vault);
    let auditor = w.device("auditor-laptop", &admin.vault);
    add_member(&admin, &clerk, "Bill Clerk", "staff");
    add_member(&admin, &auditor, "External Auditor", "viewer");
    // Her second computer has asked to join; the block approves it.
    let second = w.device("billing-laptop", &admin.vault);
    let (request, code) = ask_to_join(&admin, &second, "Bill Clerk");
    let swap = [("7kq…", request.as_str()), ("5120 9983", code.as_str())];
    let block = readme_block("chartsafe collections add");
    for words in &block {
        run_as_written(&admin, words, &swap, None);
    }
    assert!(block.len() >= 6, "{block:?}");
    // Billing exists, the auditor reads it, the clerk no longer does, and
    // her second computer is hers.
    assert!(admin.ok(&["collections"]).contains("Billing"));
    assert!(auditor.ok(&["collections"]).contains("Billing"));
    assert!(!clerk.ok(&["collections"]).contains("Billing"));
    second.ok(&["ls"]);
}

#[test]
fn the_readme_recovery_block_runs_as_written() {
    let w = World::new();
    let (admin, phrase) = w.init("front-desk", "Dropbox/Clinic");
    write_tree(&w.path("src"), &[("referral.pdf", b"referral")]);
    admin.ok(&["add", w.path("src/referral.pdf").to_str().unwrap()]);
    let joy = w.device("nurse-laptop", &admin.vault);
    add_member(&admin, &joy, "Nurse Joy", "staff");
    let block = readme_block("chartsafe recover");
    let identity = w.path("recovery.txt");
    for (i, words) in block.iter().enumerate() {
        // Each recovery on a computer of its own, as after a lost laptop.
        let fresh = w.device(&format!("new-laptop-{i}"), &admin.vault);
        let identity_path = identity.to_str().unwrap();
        let swap = [("recovery.txt", identity_path)];
        if words.iter().any(|x| x == ">") {
            // `recovery identity > recovery.txt`
            let (cmd, file) = words.split_at(words.iter().position(|x| x == ">").unwrap());
            assert_eq!(file, [">", "recovery.txt"]);
            let text = run_as_written(&fresh, cmd, &[], Some(&phrase));
            std::fs::write(&identity, text).unwrap();
        } else if words.iter().any(|x| x == "recover") {
            run_as_written(&fresh, words, &[], Some(&phrase));
            assert!(fresh.ok(&["ls"]).contains("referral.pdf"));
        } else {
            let listing = run_as_written(&fresh, words, &swap, None);
            assert!(listing.contains("referral.pdf"), "{listing}");
        }
    }
    assert_eq!(block.len(), 4, "{block:?}");
}

#[test]
fn commands_are_split_as_a_shell_would() {
    assert_eq!(
        shell_words(r#"--vault ~/Dropbox/Clinic --name "Nurse Joy" join   # on their computer"#),
        ["--vault", "~/Dropbox/Clinic", "--name", "Nurse Joy", "join"]
    );
    assert_eq!(
        shell_words(r#"versions Archive/2026/"Jane Doe referral.pdf"  # a comment"#),
        ["versions", "Archive/2026/Jane Doe referral.pdf"]
    );
}
