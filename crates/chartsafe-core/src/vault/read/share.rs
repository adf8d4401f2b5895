//! Sending a file to someone without ChartSafe: one standard age file,
//! encrypted to a passphrase (`age -p`) or to their age public key
//! (`age -r`), which any age tool opens (docs/FORMAT.md §15,
//! docs/THREAT_MODEL.md §6.3).
//!
//! The plaintext never touches the disk: the vault's copy is decrypted,
//! hashed and re-encrypted in one stream into a temporary file beside the
//! destination, which appears only after the hash matched the record and
//! the share was recorded in the audit log (§10.4).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use secrecy::SecretString;

use crate::crypt;
use crate::errors::GetError;
use crate::format::audit::{Action, Event, Outcome};
use crate::traits::NoProgress;
use crate::vault::Vault;

/// The scrypt work factor of a passphrase share, `N = 2^18`: what the `age`
/// command writes, so every age tool opens it within its limits.
pub const SHARE_SCRYPT_LOG_N: u8 = 18;

/// Words in a generated share passphrase: 6 of the 2,048 BIP39 words, 66
/// bits, behind scrypt at 2^18 (docs/THREAT_MODEL.md §6.3).
pub const SHARE_PASSPHRASE_WORDS: usize = 6;

/// Whom a shared copy opens for.
pub enum ShareKey {
    /// Anyone who has this passphrase (`age -d` asks for it).
    Passphrase(SecretString),
    /// Whoever holds the identity of this age public key (`age1…`).
    Recipient(age::x25519::Recipient),
}

impl ShareKey {
    /// The key of an age public key as people paste it (`age1…`, spaces
    /// around it ignored); `None` if it is not one.
    pub fn recipient(text: &str) -> Option<Self> {
        text.trim().parse().ok().map(Self::Recipient)
    }

    /// Whether the share opens with a passphrase.
    pub fn is_passphrase(&self) -> bool {
        matches!(self, Self::Passphrase(_))
    }

    /// "a passphrase" or "age key age1…", for the audit log.
    fn describe(&self) -> String {
        match self {
            Self::Passphrase(_) => "a passphrase".to_owned(),
            Self::Recipient(r) => format!("age key {r}"),
        }
    }
}

/// A new passphrase for a share: six words of the BIP39 English list
/// joined by hyphens, easy to read out over the phone.
pub fn share_passphrase() -> SecretString {
    let words = bip39::Language::English.word_list();
    let chosen: Vec<&str> = (0..SHARE_PASSPHRASE_WORDS)
        .map(|_| {
            *words
                .choose(&mut rand::rngs::OsRng)
                .expect("the word list is not empty")
        })
        .collect();
    SecretString::from(chosen.join("-"))
}

impl Vault {
    /// Writes the current version of `path` (or `version`) as one age file
    /// at `dest` that `key` opens, for someone outside the vault; never over
    /// an existing file ("name (2).age" then). `note` says for whom ("Dr
    /// Lee, Riverside Cardiology") and goes into the audit log with how it
    /// was encrypted. Returns where the file went.
    ///
    /// # Errors
    ///
    /// As [`Vault::get`]: nothing appears at `dest` unless the content
    /// matched its record and the share was recorded.
    pub fn share(
        &mut self,
        path: &str,
        version: Option<usize>,
        key: &ShareKey,
        note: &str,
        dest: &Path,
    ) -> Result<PathBuf, GetError> {
        let (snap, src) = self.source(path, version)?;
        let note = note.trim();
        let mut detail = format!("to {note:?} with {}", key.describe());
        if src.version != 1 {
            detail = format!("version {}, {detail}", src.version);
        }
        let event = Event::new(self.clock.now_ms(), Action::Shared)
            .on(&src.entry, &src.path)
            .detail(detail);
        let output = |e: std::io::Error| GetError::Output(dest.to_owned(), e);
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let encrypted = (|| -> Result<tempfile::NamedTempFile, GetError> {
            let mut temp = tempfile::Builder::new()
                .prefix(".chartsafe-share-")
                .tempfile_in(dir)
                .map_err(output)?;
            let encryptor = match key {
                ShareKey::Passphrase(p) => {
                    let mut r = age::scrypt::Recipient::new(p.clone());
                    r.set_work_factor(self.share_log_n);
                    age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                }
                ShareKey::Recipient(r) => {
                    age::Encryptor::with_recipients(std::iter::once(r as &dyn age::Recipient))
                }
            }
            .expect("one scrypt or X25519 recipient");
            let mut writer = encryptor
                .wrap_output(BufWriter::with_capacity(64 << 10, temp.as_file_mut()))
                .map_err(output)?;
            let identities = self.keys.identities();
            let (file, rel) = self.open_blob(&snap, &src)?;
            let r = crypt::decrypt_stream(
                file,
                &mut writer,
                src.content.size,
                &identities,
                &NoProgress,
            );
            Self::check(&src, &rel, r).map_err(|e| match e {
                GetError::Output(_, io) => output(io),
                e => e,
            })?;
            writer
                .finish()
                .and_then(|mut w| w.flush())
                .map_err(output)?;
            temp.as_file().sync_all().map_err(output)?;
            Ok(temp)
        })();
        let temp = match encrypted {
            Ok(t) => t,
            Err(e) => {
                let failed = event.clone().outcome(Outcome::Failed, e.to_string());
                let _ = self.append_audit(vec![failed]);
                return Err(e);
            }
        };
        // Recorded before the file appears (FORMAT.md §10.4).
        self.append_audit(vec![event])?;
        crate::vault::many::place(temp, dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::tests::World;
    use secrecy::ExposeSecret;
    use std::io::Read;

    fn open_with(file: &Path, identity: &dyn age::Identity) -> Vec<u8> {
        let bytes = std::fs::read(file).unwrap();
        let d = age::Decryptor::new(&bytes[..]).unwrap();
        let mut out = Vec::new();
        d.decrypt(std::iter::once(identity))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn vault_with(w: &World, files: &[(&str, &str)]) -> Vault {
        let (mut v, _) = w.create();
        v.share_log_n = 10;
        for (name, body) in files {
            let p = w.tmp.path().join(name);
            std::fs::write(&p, body).unwrap();
            v.add(&[p], "", &NoProgress).unwrap();
        }
        v
    }

    #[test]
    fn a_share_opens_with_its_passphrase_or_key_and_is_recorded() {
        let w = World::new();
        let mut v = vault_with(&w, &[("labs.pdf", "potassium 4.1")]);
        let out = w.tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();

        let pass = share_passphrase();
        assert_eq!(pass.expose_secret().split('-').count(), 6);
        let key = ShareKey::Passphrase(pass.clone());
        let at = v
            .share("labs.pdf", None, &key, "Dr Lee", &out.join("labs.pdf.age"))
            .unwrap();
        assert_eq!(at, out.join("labs.pdf.age"));
        let opened = open_with(&at, &age::scrypt::Identity::new(pass));
        assert_eq!(opened, b"potassium 4.1");
        // Never over a file: the second share takes the next name.
        let again = v
            .share("labs.pdf", None, &key, "Dr Lee", &out.join("labs.pdf.age"))
            .unwrap();
        assert_ne!(again, at);
        assert!(again.starts_with(&out));

        let id = age::x25519::Identity::generate();
        let key = ShareKey::Recipient(id.to_public());
        let at = v
            .share("labs.pdf", None, &key, "patient", &out.join("k.age"))
            .unwrap();
        assert_eq!(open_with(&at, &id), b"potassium 4.1");

        let log = v.audit_log().unwrap();
        let shared: Vec<_> = log
            .entries
            .iter()
            .filter(|e| e.action == "shared")
            .map(|e| e.detail.clone().unwrap_or_default())
            .collect();
        assert_eq!(shared.len(), 3);
        assert_eq!(shared[0], "to \"Dr Lee\" with a passphrase");
        assert!(shared[2].starts_with("to \"patient\" with age key age1"));
        // No temporary file is left beside the shares.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    }

    /// An insider who holds the key swaps one content file for another:
    /// the share refuses it, writes nothing and records the failure.
    #[test]
    fn a_substituted_blob_shares_nothing_and_the_failure_is_recorded() {
        let w = World::new();
        let mut v = vault_with(&w, &[("a.txt", "alpha"), ("b.txt", "bravo")]);
        let snap = v.load().unwrap();
        let blob = |path: &str| {
            let n = snap.find(path).unwrap();
            let content = snap.tree.versions[n.version]
                .state
                .content
                .as_ref()
                .unwrap();
            v.layout.blob(&content.blob)
        };
        std::fs::copy(blob("b.txt"), blob("a.txt")).unwrap();
        let out = w.tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let key = ShareKey::Passphrase(share_passphrase());
        let e = v
            .share("a.txt", None, &key, "x", &out.join("a.age"))
            .unwrap_err();
        assert!(matches!(e, GetError::BlobSubstituted { .. }), "{e}");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
        let log = v.audit_log().unwrap();
        assert!(log
            .entries
            .iter()
            .any(|e| e.action == "shared" && e.outcome == "failed"));
    }
}
