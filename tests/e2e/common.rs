//! A small world of simulated devices, each with its own keychain service,
//! local state folder and copy of the vault folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use tempfile::TempDir;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The `chartsafe` binary under test.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CHARTSAFE_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    root.join("target/release/chartsafe")
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests use the real Secret Service: run them with `make test` \
         (or scripts/with-keyring.sh cargo test)"
    );
    assert!(
        bin().exists(),
        "build the binary first: cargo build --release --bin chartsafe"
    );
}

/// One test's scratch folder.
pub struct World {
    pub dir: TempDir,
}

impl World {
    pub fn new() -> Self {
        require_keyring();
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A device with its own keychain service and state, using vault folder `vault`.
    pub fn device(&self, name: &str, vault: &Path) -> Device {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = self.path(&format!("device-{name}"));
        std::fs::create_dir_all(&base).unwrap();
        let pass = base.join("passphrase");
        std::fs::write(&pass, format!("passphrase of {name}\n")).unwrap();
        Device {
            name: name.to_owned(),
            service: format!("chartsafe-e2e-{}-{n}-{name}", std::process::id()),
            state: base.join("state"),
            vault: vault.to_owned(),
            pass,
        }
    }

    /// A new vault at `vault` created by device `name`; returns it and the phrase.
    pub fn init(&self, name: &str, vault: &str) -> (Device, String) {
        let d = self.device(name, &self.path(vault));
        let out = d.run_raw(&["init", d.vault.to_str().unwrap()], None);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let phrase = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(
            phrase.split(' ').count(),
            24,
            "the phrase is printed on stdout"
        );
        (d, phrase)
    }
}

/// A simulated device.
pub struct Device {
    pub name: String,
    pub service: String,
    pub state: PathBuf,
    pub vault: PathBuf,
    pub pass: PathBuf,
}

impl Device {
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("CHARTSAFE_KEYCHAIN_SERVICE", &self.service)
            .env("CHARTSAFE_STATE_DIR", &self.state)
            .env("CHARTSAFE_DEVICE_NAME", &self.name)
            .env("CHARTSAFE_KDF_LOG_N", "10")
            .env_remove("CHARTSAFE_VAULT")
            .arg("--passphrase-file")
            .arg(&self.pass)
            .stdin(Stdio::null());
        c
    }

    pub fn run_raw(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command();
        c.arg("--vault").arg(&self.vault).args(args);
        output_with(c, stdin)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run_raw(args, None);
        assert!(
            out.status.success(),
            "{} {:?} failed ({:?}): {}",
            self.name,
            args,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs and expects exit `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run_raw(args, None);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{} {:?}: expected exit {code}, stderr: {stderr}",
            self.name,
            args
        );
        stderr
    }

    /// `ls --json` as path → object; expects exit 0.
    pub fn listing(&self) -> BTreeMap<String, serde_json::Value> {
        parse_listing(&self.ok(&["ls", "--json"]))
    }

    /// Decrypts a vault file to memory (through a temporary output file).
    pub fn get(&self, path: &str) -> Vec<u8> {
        let out = self.state.parent().unwrap().join("got");
        let _ = std::fs::remove_file(&out);
        self.ok(&["get", path, "-o", out.to_str().unwrap()]);
        let bytes = std::fs::read(&out).unwrap();
        std::fs::remove_file(&out).unwrap();
        bytes
    }

    /// The recovery identity file made from `phrase` with `chartsafe recovery identity`.
    pub fn identity_file(&self, phrase: &str) -> PathBuf {
        let out = self.run_raw(&["recovery", "identity"], Some(phrase));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = self.state.parent().unwrap().join("identity.txt");
        std::fs::write(&path, &out.stdout).unwrap();
        path
    }
}

pub fn parse_listing(text: &str) -> BTreeMap<String, serde_json::Value> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            (v["path"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// Every regular file below `dir`, relative path → bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Writes files (relative path → content) below `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &[u8])]) {
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// Blob files in a vault folder.
pub fn blobs(vault: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(vault.join("b")) else {
        return out;
    };
    for s in shards {
        let s = s.unwrap().path();
        if !s.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(s).unwrap() {
            let p = f.unwrap().path();
            if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Record files of a vault folder, sorted.
pub fn records(vault: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(vault.join("r")).unwrap() {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Runs `c` to the end, giving it `stdin` (else nothing), and collects
/// its output.
pub fn output_with(mut c: Command, stdin: Option<&str>) -> Output {
    match stdin {
        None => c.stdin(Stdio::null()).output().expect("run the command"),
        Some(text) => {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().expect("run the command");
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        }
    }
}

/// Runs a shell command and expects success.
pub fn sh(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small tmpfs mounted at `dir`, unmounted on drop.
pub struct Mount(pub PathBuf);

impl Mount {
    pub fn tmpfs(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        sh(&format!(
            "mount -t tmpfs -o size={size} tmpfs '{}'",
            dir.display()
        ));
        Self(dir.to_owned())
    }
    pub fn read_only(&self) {
        sh(&format!("mount -o remount,ro '{}'", self.0.display()));
    }
    pub fn read_write(&self) {
        sh(&format!("mount -o remount,rw '{}'", self.0.display()));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Copies of the vault folder and the device's state, to start every trial
/// from the same place (the keychain entry does not change).
pub struct Snapshot {
    dir: PathBuf,
}

impl Snapshot {
    pub fn take(w: &World, d: &Device, name: &str) -> Self {
        let dir = w.path(&format!("snapshot-{name}"));
        sh(&format!(
            "mkdir -p '{s}' && cp -a '{v}' '{s}/vault' && cp -a '{t}' '{s}/state'",
            s = dir.display(),
            v = d.vault.display(),
            t = d.state.display()
        ));
        Self { dir }
    }

    pub fn restore(&self, d: &Device) {
        sh(&format!(
            "rm -rf '{v}' '{t}' && cp -a '{s}/vault' '{v}' && cp -a '{s}/state' '{t}'",
            s = self.dir.display(),
            v = d.vault.display(),
            t = d.state.display()
        ));
    }
}
