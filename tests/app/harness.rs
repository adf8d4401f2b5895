//! Runs the real ChartSafe window under Xvfb and drives it through
//! tauri-driver and WebKitWebDriver, inside the test run's private D-Bus
//! session with its unlocked gnome-keyring (scripts/with-keyring.sh).
//!
//! Each app gets its own scratch HOME and XDG folders, keychain service,
//! display and driver ports, so tests leave nothing behind.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub use fantoccini::{Client, Locator};
use serde_json::json;

/// App tests run one at a time: each is a browser engine on a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static NEXT: AtomicU16 = AtomicU16::new(0);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The desktop app binary under test.
pub fn app_bin() -> PathBuf {
    std::env::var_os("CHARTSAFE_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/chartsafe-app"))
}

/// The `chartsafe` command (to check what the app wrote).
pub fn cli_bin() -> PathBuf {
    std::env::var_os("CHARTSAFE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/chartsafe"))
}

fn tauri_driver() -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin/tauri-driver"));
    match cargo_bin {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One running app instance with its scratch home.
pub struct App {
    pub client: Client,
    /// From starting the driver to the page's ready flag (cold start).
    pub startup: Duration,
    pub env: Vec<(String, String)>,
    _driver: Option<Killed>,
    _xvfb: Option<Killed>,
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

/// Settings for one app run.
pub struct Setup<'a> {
    /// The scratch folder (HOME and XDG folders go inside).
    pub scratch: &'a Path,
    /// The keychain service (distinct per simulated computer).
    pub keychain: &'a str,
    /// Seconds of idleness before the vault locks.
    pub idle_seconds: Option<u64>,
    /// The stand-in "default application".
    pub opener: Option<&'a Path>,
    /// Use the system's dark theme.
    pub dark: bool,
    /// The answer of the app's save dialog (honoured under WebDriver only).
    pub save_as: Option<&'a Path>,
    /// The window's size, if not the app's own (1280x800).
    pub size: Option<(u32, u32)>,
    /// The passphrase KDF at its real cost (tests use a cheap one).
    pub real_kdf: bool,
}

impl<'a> Setup<'a> {
    /// A plain app: no idle lock override, the system opener, light theme.
    pub fn new(scratch: &'a Path, keychain: &'a str) -> Self {
        Self {
            scratch,
            keychain,
            idle_seconds: None,
            opener: None,
            dark: false,
            save_as: None,
            size: None,
            real_kdf: false,
        }
    }
}

/// The TLS provider for WebDriver clients (see tests/Cargo.toml).
fn tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A WebDriver session through tauri-driver on `port`, retried while the
/// driver is still starting.
async fn session(
    port: u16,
    caps: serde_json::Map<String, serde_json::Value>,
    attempts: u32,
) -> Client {
    tls_provider();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let connected = fantoccini::ClientBuilder::rustls()
            .expect("TLS setup")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match connected {
            Ok(c) => return c,
            Err(e) if attempt < attempts => {
                eprintln!("WebDriver session attempt {attempt} failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("a WebDriver session with the app: {e}"),
        }
    }
}

fn wait_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl App {
    /// Starts Xvfb, tauri-driver and the app; waits until the page is ready.
    pub async fn start(setup: Setup<'_>) -> App {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the app tests use the real Secret Service: run them with `make test`"
        );
        assert!(
            app_bin().exists(),
            "build the app first: cargo build --release -p chartsafe-app"
        );
        let guard = ONE_AT_A_TIME.lock().await;
        let launched = Instant::now();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 14444 + n * 2 + (std::process::id() % 500) as u16 * 20;
        let display = format!(":{}", 90 + (std::process::id() % 500) as u16 * 20 + n);
        let xvfb = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        let xvfb = Killed(xvfb);
        let home = setup.scratch.join("home");
        let dirs = [
            ("HOME", home.clone()),
            ("XDG_DATA_HOME", setup.scratch.join("data")),
            ("XDG_CONFIG_HOME", setup.scratch.join("config")),
            ("XDG_CACHE_HOME", setup.scratch.join("cache")),
            ("XDG_RUNTIME_DIR", setup.scratch.join("run")),
        ];
        for (_, d) in &dirs {
            std::fs::create_dir_all(d).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                setup.scratch.join("run"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        let mut env: Vec<(String, String)> = dirs
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect();
        env.push(("DISPLAY".into(), display.clone()));
        if !setup.real_kdf {
            env.push(("CHARTSAFE_KDF_LOG_N".into(), "10".into()));
        }
        env.push(("CHARTSAFE_KEYCHAIN_SERVICE".into(), setup.keychain.into()));
        env.push(("CHARTSAFE_DEVICE_NAME".into(), "Front desk".into()));
        env.push(("NO_AT_BRIDGE".into(), "1".into()));
        // No update checks on the network from the window tests (IT's
        // policy file, a test-knobs override of its place).
        let policy = setup.scratch.join("policy.json");
        std::fs::write(&policy, r#"{"update_check": false}"#).unwrap();
        env.push(("CHARTSAFE_POLICY_FILE".into(), policy.display().to_string()));
        if let Some(s) = setup.idle_seconds {
            env.push(("CHARTSAFE_IDLE_LOCK_SECONDS".into(), s.to_string()));
        }
        if setup.dark {
            env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
        }
        if let Some(o) = setup.opener {
            env.push(("CHARTSAFE_OPENER".into(), o.display().to_string()));
        }
        if let Some(p) = setup.save_as {
            env.push(("CHARTSAFE_TEST_SAVE_AS".into(), p.display().to_string()));
        }
        // Wait for the X server.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let sock = format!("/tmp/.X11-unix/X{}", &display[1..]);
            if Path::new(&sock).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut cmd = Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &(port + 1).to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let driver = Killed(
            cmd.spawn()
                .expect("tauri-driver (cargo install tauri-driver --locked)"),
        );
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "tauri-driver did not start"
        );
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": app_bin().display().to_string() }),
        );
        // tauri-driver starts WebKitWebDriver on the next port; a session
        // asked for before that one listens fails.
        assert!(
            wait_port(port + 1, Duration::from_secs(20)),
            "WebKitWebDriver did not start"
        );
        let client = session(port, caps, 3).await;
        if let Some((w, h)) = setup.size {
            client
                .set_window_size(w, h)
                .await
                .expect("the window takes the size asked for");
        }
        let mut app = App {
            startup: Duration::ZERO,
            client,

            env,
            _driver: Some(driver),
            _xvfb: Some(xvfb),
            _guard: guard,
        };
        app.wait_js("return document.body.dataset.ready === 'true'", 30)
            .await;
        app.startup = launched.elapsed();
        app
    }

    /// Drives an app started by a tauri-driver already listening on
    /// `port` (the installed app in a clean Debian root, scripts/test-deb.sh).
    pub async fn attach(port: u16, application: &str) -> App {
        let guard = ONE_AT_A_TIME.lock().await;
        let launched = Instant::now();
        assert!(
            wait_port(port, Duration::from_secs(30)),
            "tauri-driver on {port}"
        );
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": application }),
        );
        let client = session(port, caps, 20).await;
        let mut app = App {
            startup: Duration::ZERO,
            client,
            env: Vec::new(),
            _driver: None,
            _xvfb: None,
            _guard: guard,
        };
        app.wait_js("return document.body.dataset.ready === 'true'", 60)
            .await;
        app.startup = launched.elapsed();
        app
    }

    /// Waits until `script` returns true.
    pub async fn wait_js(&self, script: &str, seconds: u64) {
        let start = Instant::now();
        loop {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .expect("script runs");
            if v == json!(true) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(seconds),
                "timed out waiting for: {script}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the screen `name` shows.
    pub async fn wait_screen(&self, name: &str) {
        self.wait_js(
            &format!("return document.body.dataset.screen === '{name}'"),
            30,
        )
        .await;
    }

    /// Runs a script and returns its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// Types into the field `css` (clearing it first).
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.expect(css);
        e.clear().await.expect("clear");
        if !text.is_empty() {
            e.send_keys(text).await.expect("type");
        }
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} is on the page"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .text()
            .await
            .expect("text")
    }

    /// The environment of this app, for the command line to act as the same computer.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter(|(k, _)| k != "DISPLAY")
            .cloned()
            .collect()
    }

    /// From the first screen: opens the existing vault at `vault` and unlocks it.
    pub async fn open_existing(&self, vault: &str, pass: &str) {
        self.wait_screen("welcome").await;
        self.click("#go-open").await;
        self.fill("#open-path", vault).await;
        self.click("#open-submit").await;
        self.wait_screen("unlock").await;
        self.fill("#unlock-pass", pass).await;
        self.click("#unlock-submit").await;
        self.wait_screen("main").await;
    }

    fn row(path: &str) -> String {
        format!("document.querySelector('#rows .tr[data-path=\"{path}\"]')")
    }

    /// Waits until the list shows the entry `path`.
    pub async fn wait_row(&self, path: &str) {
        self.wait_js(&format!("return !!{}", Self::row(path)), 20)
            .await;
    }

    /// Selects the entry `path` in the list (it must be shown).
    pub async fn select_row(&self, path: &str) {
        self.wait_row(path).await;
        self.js(&format!("{}.click(); return true", Self::row(path)))
            .await;
    }

    /// Double-clicks the entry `path` (opens a folder or a file).
    pub async fn open_row(&self, path: &str) {
        self.wait_row(path).await;
        self.js(&format!(
            "{}.dispatchEvent(new MouseEvent('dblclick', {{bubbles: true}})); return true",
            Self::row(path)
        ))
        .await;
    }

    /// Delivers a drop of `paths` as the OS would (tauri://drag-drop).
    pub async fn drop_files(&self, paths: &[PathBuf]) {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.client
            .execute(
                "const T = window.__TAURI__;
                 const p = {paths: arguments[0], position: {x: 400, y: 300}};
                 // In order, as the system sends them: the drop is not
                 // sent before the window has heard the enter.
                 return T.event.emitTo('main', 'tauri://drag-enter', p)
                   .then(() => new Promise((r) => setTimeout(r, 50)))
                   .then(() => T.event.emitTo('main', 'tauri://drag-drop', p))
                   .then(() => true);",
                vec![json!(paths)],
            )
            .await
            .expect("drop delivered");
    }

    /// Saves a screenshot as `file`.
    pub async fn screenshot_to(&self, file: &Path) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, png).unwrap();
    }

    /// The WebDriver client, for what the helpers above do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Saves a screenshot as target/screenshots/NAME.png.
    pub async fn screenshot(&self, name: &str) {
        // Let the window paint what the page already shows.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the session (which quits the app).
    pub async fn quit(self) {
        let _ = self.client.close().await;
        // Give the app a moment to run its exit handler.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
