//! kill -9 at random moments during `chartsafe add`: the vault always opens,
//! lists only complete entries, and a rerun completes the work.

use std::time::Duration;

use rand::Rng;

use crate::common::*;

#[test]
fn killed_adds_never_leave_a_broken_vault() {
    let w = World::new();
    let (d, _phrase) = w.init("desk", "vault");
    // The killed processes unlock with the keychain and passphrase (an
    // identity-file session may not change a vault with a team log). Each is
    // killed only once it has unlocked, which its first audit batch shows:
    // gnome-keyring-daemon aborts when a client dies in the middle of opening
    // a Secret Service session (an upstream race), which would take the
    // keychain down for the other tests running at the same time.
    let audit_files = || {
        std::fs::read_dir(d.vault.join("a"))
            .unwrap()
            .map(|e| std::fs::read_dir(e.unwrap().path()).unwrap().count())
            .sum::<usize>()
    };
    let src = w.path("Scans");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..400 {
        let content = format!("scan {i} ").repeat(1000 + i % 7 * 300).into_bytes();
        let rel = if i % 3 == 0 {
            format!("sub/s{i:04}.bin")
        } else {
            format!("s{i:04}.bin")
        };
        std::fs::write(src.join(&rel), &content).unwrap();
        expected.insert(format!("Scans/{rel}"), content);
    }
    let big: Vec<u8> = (0..16_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    expected.insert("Scans/big.bin".to_owned(), big);
    // Each round adds into a fresh folder, so that every kill lands in real work.
    let dest = |round: usize| format!("R{round:02}");

    let mut rng = rand::thread_rng();
    let mut killed_mid_work = 0;
    for round in 0..24 {
        let before = audit_files();
        let mut child = d
            .command()
            .arg("--vault")
            .arg(&d.vault)
            .arg("add")
            .arg(&src)
            .arg("--to")
            .arg(dest(round))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while audit_files() == before && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        // SIGKILL: no destructor, no cleanup.
        if child.try_wait().unwrap().is_none() {
            killed_mid_work += 1;
        }
        let _ = child.kill();
        let _ = child.wait();

        // The vault opens with no problem, and everything listed is complete.
        let l = d.listing();
        for (path, v) in &l {
            if v["kind"] == "file" {
                assert_eq!(
                    v["sync"], "available",
                    "round {round}: {path} listed without content"
                );
                let rel = path.split_once('/').unwrap().1;
                if rng.gen_bool(0.02) || rel == "Scans/big.bin" {
                    assert_eq!(&d.get(path), &expected[rel], "round {round}: {path}");
                }
            }
        }
    }
    assert!(
        killed_mid_work >= 20,
        "only {killed_mid_work} kills landed during work"
    );
    // A rerun of each completes the work.
    for round in 0..24 {
        d.ok(&["add", src.to_str().unwrap(), "--to", &dest(round)]);
    }
    let l = d.listing();
    for round in 0..24 {
        let prefix = format!("{}/", dest(round));
        let files: Vec<&str> = l
            .iter()
            .filter(|(p, v)| v["kind"] == "file" && p.starts_with(&prefix))
            .map(|(p, _)| &p[prefix.len()..])
            .collect();
        assert_eq!(
            files,
            expected.keys().map(String::as_str).collect::<Vec<_>>(),
            "round {round}"
        );
        let path = format!("{prefix}Scans/big.bin");
        assert_eq!(&d.get(&path), &expected["Scans/big.bin"]);
    }
}
