//! Screenshots of a clinic's vault for the README, and the app's figures
//! for `make bench`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{App, Setup};
use crate::support::*;

/// Screenshots of a vault as a clinic would have it, light and dark, for
/// the README (target/screenshots/tour-*.png).
#[tokio::test(flavor = "current_thread")]
async fn tour_of_a_clinic_vault_in_light_and_dark() {
    for dark in [false, true] {
        let scratch = tempfile::tempdir().unwrap();
        let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
        let keychain = service(if dark { "tour-dark" } else { "tour" });
        let app = App::start(Setup {
            dark,
            ..Setup::new(scratch.path(), &keychain)
        })
        .await;
        let pass = scratch.path().join("pass");
        std::fs::write(&pass, PASS).unwrap();
        let env = app.cli_env();
        let v = vault.to_str().unwrap();
        cli_ok(&env, &pass, &["init", v]);
        let src = scratch.path().join("src/Patients");
        let patients = [
            (
                "Álvarez, José",
                &[
                    "CBC 2026-11-02.pdf",
                    "Referral – cardiology.pdf",
                    "Visit note 2026-11-28.txt",
                ][..],
            ),
            (
                "Chen, Mei",
                &["Insurance claim 4471.pdf", "Lipid panel.pdf"][..],
            ),
            (
                "Okafor, Ada",
                &[
                    "Chest X-ray report.pdf",
                    "Consent form signed.pdf",
                    "Visit note 2026-11-30.txt",
                ][..],
            ),
            ("Schmidt, Karl", &["HbA1c 2026-10.pdf"][..]),
        ];
        for (name, files) in patients {
            let d = src.join(name);
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                let body = if f.ends_with(".txt") {
                    format!("{name}\nVisit note\n\nS: Follow-up after lab results. Feeling better, sleeping well.\nO: BP 128/82, HR 72, afebrile.\nA: Improving.\nP: Repeat labs in 3 months; continue current medication.\n")
                } else {
                    "%PDF-1.4\n".repeat(3000)
                };
                std::fs::write(d.join(f), body).unwrap();
            }
        }
        cli_ok(&env, &pass, &["--vault", v, "add", src.to_str().unwrap()]);
        app.open_existing(v, PASS).await;
        app.open_row("Patients").await;
        app.open_row("Patients/Okafor, Ada").await;
        app.select_row("Patients/Okafor, Ada/Visit note 2026-11-30.txt")
            .await;
        app.wait_js("return !!document.querySelector('#preview pre')", 20)
            .await;
        app.screenshot(if dark { "tour-main-dark" } else { "tour-main" })
            .await;
        // Who opened the visit note, then the whole activity, then a check.
        app.click("#who-opened").await;
        app.wait_js(
            "return document.querySelectorAll('#activity-list .activity-row').length > 0",
            20,
        )
        .await;
        app.click("#activity-entry .chip-clear").await;
        app.wait_js(
            "return !!document.querySelector('#activity-list .activity-row[data-action=\"added\"]')",
            20,
        )
        .await;
        app.screenshot(if dark {
            "tour-activity-dark"
        } else {
            "tour-activity"
        })
        .await;
        check_finds_nothing(&app).await;
        app.screenshot(if dark {
            "tour-check-dark"
        } else {
            "tour-check"
        })
        .await;
        app.quit().await;
    }
}

/// Figures for the closing note of the app issue; run by `make bench`.
/// Not a pass/fail test: it prints what it measures.
#[allow(clippy::print_stdout)]
#[tokio::test(flavor = "current_thread")]
#[ignore = "measurement, run by make bench"]
async fn measure_app_figures() {
    use std::time::Instant;
    let scratch = tempfile::tempdir().unwrap();
    let app = App::start(Setup::new(scratch.path(), &service("measure"))).await;
    let cold = app.startup;
    let in_page = app.js("return performance.now()").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let first_kib = app_pid(scratch.path()).map_or(0, rss_tree_kib);
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();

    // 10,000 entries, added with the command line as this computer.
    let vault = scratch.path().join("home/Big");
    let v = vault.to_str().unwrap();
    cli_ok(&env, &pass, &["init", v]);
    let many = scratch.path().join("Patients");
    for d in 0..100 {
        let dir = many.join(format!("Patient {d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..99 {
            std::fs::write(dir.join(format!("note {f:02}.txt")), format!("{d}-{f}")).unwrap();
        }
    }
    cli_ok(&env, &pass, &["--vault", v, "add", many.to_str().unwrap()]);
    app.wait_screen("welcome").await;
    app.click("#go-open").await;
    app.fill("#open-path", v).await;
    app.click("#open-submit").await;
    app.wait_screen("unlock").await;
    app.fill("#unlock-pass", PASS).await;
    let t = Instant::now();
    app.click("#unlock-submit").await;
    app.wait_js(
        "return document.querySelector('#rows .tr')?.dataset.path === 'Patients'",
        60,
    )
    .await;
    let show_10k = t.elapsed();
    // 10,000 files in one folder, then a jump to the bottom of the list.
    let flat = scratch.path().join("Scans");
    std::fs::create_dir_all(&flat).unwrap();
    for f in 0..10_000 {
        std::fs::write(flat.join(format!("scan {f:05}.txt")), f.to_string()).unwrap();
    }
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    cli_ok(&env, &pass, &["--vault", v, "add", flat.to_str().unwrap()]);
    app.fill("#unlock-pass", PASS).await;
    app.click("#unlock-submit").await;
    app.wait_screen("main").await;
    app.wait_row("Scans").await;
    let t = Instant::now();
    app.open_row("Scans").await;
    app.wait_js(
        "return document.getElementById('grid').getAttribute('aria-rowcount') === '10000'",
        30,
    )
    .await;
    let open_flat = t.elapsed();
    let t = Instant::now();
    app.js(
        "const v = document.getElementById('viewport'); v.scrollTop = v.scrollHeight; return true",
    )
    .await;
    app.wait_row("Scans/scan 09999.txt").await;
    let jump = t.elapsed();
    let rows_drawn = app
        .js("return document.querySelectorAll('#rows .tr').length")
        .await;
    app.screenshot("15-ten-thousand").await;
    let t = Instant::now();
    app.fill("#search", "note 42.txt").await;
    app.wait_js(
        "return document.getElementById('count').textContent === '100 found'",
        30,
    )
    .await;
    let search = t.elapsed();
    // The Activity view over the whole log (about 20,000 entries: every
    // file above was recorded as added), then filtering it as one types.
    let t = Instant::now();
    app.click("#activity-button").await;
    app.wait_js(
        "return document.getElementById('activity-view').dataset.state === 'ready'",
        60,
    )
    .await;
    let activity_open = t.elapsed();
    let activity_rows = app
        .js("return document.getElementById('activity-count').textContent")
        .await;
    let t = Instant::now();
    app.fill("#activity-search", "scan 09999").await;
    app.wait_js(
        "return /^1 of /.test(document.getElementById('activity-count').textContent)",
        30,
    )
    .await;
    let activity_filter = t.elapsed();
    app.screenshot("19-activity-20000").await;
    app.click("#activity-close").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let pid = app_pid(scratch.path()).expect("the app's process");
    let idle_kib = rss_tree_kib(pid);
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;

    // 1 GiB through the app and through the command line into the same
    // 10,000-entry vault, five rounds each, interleaved (on this machine a
    // big write into the page cache is sometimes several times slower than
    // the one before); medians and ranges are reported. The app is locked
    // while the command line works (one process at a time may open a
    // vault).
    let (mut cli_times, mut app_times, mut backend_times) = (vec![], vec![], vec![]);
    let settle = || {
        // Each timed run starts with no dirty pages waiting to be written.
        let _ = Command::new("sync").status();
    };
    let make = |name: &str, salt: u32| {
        use std::io::Write;
        let big = scratch.path().join(name);
        let mut f = std::fs::File::create(&big).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for i in 0..1024u32 {
            block[..4].copy_from_slice(&i.to_le_bytes());
            block[4096..4100].copy_from_slice(&(i ^ salt).to_be_bytes());
            f.write_all(&block).unwrap();
        }
        big
    };
    for round in 0..10u32 {
        // Alternate which goes first.
        let app_turn = round % 2 == 1;
        if !app_turn {
            let by_cli = make(&format!("cli {round}.bin"), round);
            settle();
            let t = Instant::now();
            cli_ok(
                &env,
                &pass,
                &["--vault", v, "add", by_cli.to_str().unwrap()],
            );
            cli_times.push(t.elapsed().as_secs_f64());
            std::fs::remove_file(&by_cli).unwrap();
            continue;
        }
        let by_app = make(&format!("app {round}.bin"), round + 100);
        app.fill("#unlock-pass", PASS).await;
        app.click("#unlock-submit").await;
        app.wait_screen("main").await;
        app.wait_js(
            "return document.querySelectorAll('#rows .tr').length > 0",
            30,
        )
        .await;
        app.js("document.getElementById('import-panel').dataset.state = ''; return true")
            .await;
        settle();
        let t = Instant::now();
        app.drop_files(std::slice::from_ref(&by_app)).await;
        // Every 100 ms: each WebDriver round trip costs CPU the import
        // needs, and the poll's period is the measurement's resolution.
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let state = app
                .js("return document.getElementById('import-panel').dataset.state")
                .await;
            if state == json!("done") {
                break;
            }
        }
        app_times.push(t.elapsed().as_secs_f64());
        let ms = app
            .js("return document.getElementById('import-panel').dataset.elapsed")
            .await;
        backend_times.push(
            ms.as_str()
                .and_then(|m| m.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / 1000.0,
        );
        app.click("#import-close").await;
        std::fs::remove_file(&by_app).unwrap();
        app.click("#btn-lock").await;
        app.wait_screen("unlock").await;
    }
    let app_only = rss_tree_kib_self(pid);
    let gib = 1024.0 * 1024.0 * 1024.0;
    println!("\n| figure | value |\n|---|---|");
    println!(
        "| cold start to interactive window, release build (includes starting Xvfb and the WebDriver) | {:.2} s |",
        cold.as_secs_f64()
    );
    println!(
        "| of which in the page (navigation to ready) | {:.0} ms |",
        in_page.as_f64().unwrap_or(0.0)
    );
    println!(
        "| unlock and show a 10,000-entry vault | {:.2} s |",
        show_10k.as_secs_f64()
    );
    println!(
        "| open a folder of 10,000 files (double-click to list drawn) | {:.2} s |",
        open_flat.as_secs_f64()
    );
    println!(
        "| jump to the end of those 10,000 rows (rows in the page: {}) | {:.0} ms |",
        rows_drawn,
        jump.as_secs_f64() * 1000.0
    );
    println!(
        "| search 20,000 entries as you type (to 100 hits drawn) | {:.2} s |",
        search.as_secs_f64()
    );
    println!(
        "| open Activity: read, verify and show the whole audit log ({}) | {:.2} s |",
        activity_rows.as_str().unwrap_or("?"),
        activity_open.as_secs_f64()
    );
    println!(
        "| filter that log as you type (\"scan 09999\", to 1 row drawn) | {:.2} s |",
        activity_filter.as_secs_f64()
    );
    println!(
        "| memory at idle, 20,000-entry vault, 10,000-file folder shown (app + web view processes) | {} MiB |",
        idle_kib / 1024
    );
    println!(
        "| of which the app process itself (after the imports) | {} MiB |",
        app_only / 1024
    );
    println!(
        "| memory at idle on the first screen (app + web view processes) | {} MiB |",
        first_kib / 1024
    );
    let (app_med, app_lo, app_hi) = median_range(&mut app_times);
    let (cli_med, cli_lo, cli_hi) = median_range(&mut cli_times);
    let (be_med, be_lo, be_hi) = median_range(&mut backend_times);
    println!(
        "| import 1 GiB: app (drop to summary, median of {}, range) | {app_med:.2} s ({app_lo:.2}–{app_hi:.2}; {:.0} MiB/s) |",
        app_times.len(),
        gib / 1048576.0 / app_med
    );
    println!(
        "| import 1 GiB: chartsafe add (median of {}, range) | {cli_med:.2} s ({cli_lo:.2}–{cli_hi:.2}; {:.0} MiB/s) |",
        cli_times.len(),
        gib / 1048576.0 / cli_med
    );
    println!(
        "| of which the import command itself (in the app process) | {be_med:.2} s ({be_lo:.2}–{be_hi:.2}) |"
    );
    println!(
        "| app vs command line (ratio of medians, >1 = app faster) | {:.2}x |",
        cli_med / app_med
    );
    app.quit().await;
}

/// Proportional memory (PSS, KiB: shared libraries split between the
/// processes using them) of a process and its children (the web view's).
fn rss_tree_kib(pid: u32) -> u64 {
    let mut total = rss_tree_kib_self(pid);
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for c in children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            total += rss_tree_kib(c);
        }
    }
    total
}

/// Proportional memory (PSS, KiB) of one process.
fn rss_tree_kib_self(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The app's process id (started by WebKitWebDriver with our scratch HOME).
fn app_pid(scratch: &Path) -> Option<u32> {
    let want = format!("HOME={}", scratch.join("home").display());
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        if !exe.ends_with("chartsafe-app") {
            return None;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        env.split(|b| *b == 0)
            .any(|kv| kv == want.as_bytes())
            .then_some(pid)
    })
}

/// The median, smallest and largest of `v` (sorted in place).
fn median_range(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    match v {
        [] => (f64::NAN, f64::NAN, f64::NAN),
        _ => (v[(v.len() - 1) / 2], v[0], v[v.len() - 1]),
    }
}
