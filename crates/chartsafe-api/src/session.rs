//! Setting this computer up for a vault: creating a new one (and checking
//! that its recovery phrase was written down), and recovering with the
//! phrase (docs/FORMAT.md §2.1, §4).

use std::path::Path;

use chartsafe_core::{
    CreateError, Options, RecoverAs, RecoverError, RecoveryPhrase, SecretStore, Vault,
};
use rand::seq::index::sample;
use secrecy::{ExposeSecret, SecretString};

/// How many words of a new phrase are asked back.
const ASKED: usize = 3;

/// The words of a new recovery phrase asked back, to be sure it was written
/// down before the window moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseCheck {
    positions: [usize; ASKED],
}

impl PhraseCheck {
    /// Three different positions of a `words`-word phrase, picked at random,
    /// in order. `words` must be at least three.
    pub fn new(words: usize) -> Self {
        let mut picked = sample(&mut rand::thread_rng(), words, ASKED).into_vec();
        picked.sort_unstable();
        Self {
            positions: [picked[0], picked[1], picked[2]],
        }
    }

    /// The positions asked, counted from zero.
    pub fn positions(&self) -> [usize; ASKED] {
        self.positions
    }

    /// Whether `answers` are the words of `phrase` at [`Self::positions`],
    /// in that order; case and surrounding spaces do not matter.
    pub fn matches(&self, phrase: &RecoveryPhrase, answers: &[String]) -> bool {
        let words: Vec<&str> = phrase.words().expose_secret().split_whitespace().collect();
        answers.len() == ASKED
            && self
                .positions
                .iter()
                .zip(answers)
                .all(|(&i, a)| words.get(i).is_some_and(|w| *w == a.trim().to_lowercase()))
    }
}

/// A vault just created: it is unlocked, and its phrase is to be shown once
/// and then checked.
pub struct NewVault {
    /// The vault, unlocked on this computer.
    pub vault: Vault,
    /// The recovery phrase: shown once, never stored.
    pub phrase: RecoveryPhrase,
    /// The words to ask back.
    pub check: PhraseCheck,
}

/// Creates a vault in the empty (or new) folder `dir`, this computer its
/// first device, its key in `store` under `passphrase`.
///
/// # Errors
///
/// The errors of [`Vault::create`]: a weak passphrase, a folder that is not
/// empty, a keychain or storage failure.
pub fn create(
    dir: &Path,
    store: &dyn SecretStore,
    passphrase: &SecretString,
    options: Options,
) -> Result<NewVault, CreateError> {
    let (vault, phrase) = Vault::create(dir, store, passphrase, options)?;
    let words = phrase.words().expose_secret().split_whitespace().count();
    Ok(NewVault {
        vault,
        phrase,
        check: PhraseCheck::new(words),
    })
}

/// A computer set up again with the recovery phrase.
pub struct Recovered {
    /// The vault, unlocked on this computer.
    pub vault: Vault,
    /// Keyslots that open with the phrase but that the team log does not
    /// vouch for: planted by someone who can write to the vault folder, and
    /// ignored (FORMAT.md §4.2). Each shell must tell the person.
    pub planted: Vec<String>,
}

/// Sets this computer up for the vault in `dir` with the recovery phrase
/// (parsed first with [`RecoveryPhrase::parse`], so that a typo is named
/// before a new passphrase is asked for), as `recover_as`, its new key in
/// `store` under `passphrase`.
///
/// # Errors
///
/// The errors of [`Vault::recover`]: a phrase of another vault, a weak
/// passphrase, a member not found, a keychain or storage failure.
pub fn recover(
    dir: &Path,
    phrase: &RecoveryPhrase,
    recover_as: RecoverAs,
    store: &dyn SecretStore,
    passphrase: &SecretString,
    mut options: Options,
) -> Result<Recovered, RecoverError> {
    options.recover_as = recover_as;
    let vault = Vault::recover(dir, phrase, store, passphrase, options)?;
    let planted = vault.planted_keyslots().to_vec();
    Ok(Recovered { vault, planted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::keychain;
    use chartsafe_core::{Classify, ErrorKind};

    fn options(dir: &Path, device: &str) -> Options {
        let mut o = Options::new(dir.join(device), device);
        o.kdf_log_n = 4;
        o
    }

    fn pass(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn the_words_asked_back_are_three_in_order_and_checked_loosely() {
        let tmp = tempfile::tempdir().unwrap();
        let new = create(
            &tmp.path().join("vault"),
            &keychain(),
            &pass("correct horse battery"),
            options(tmp.path(), "desk"),
        )
        .unwrap();
        let [a, b, c] = new.check.positions();
        assert!(a < b && b < c && c < 24, "{a} {b} {c}");
        let words: Vec<String> = new
            .phrase
            .words()
            .expose_secret()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let right = [&words[a], &words[b], &words[c]];
        let answers = |w: [&str; 3]| w.map(str::to_owned).to_vec();
        assert!(new.check.matches(
            &new.phrase,
            &answers([
                &format!(" {} ", right[0].to_uppercase()),
                right[1],
                right[2]
            ])
        ));
        assert!(!new
            .check
            .matches(&new.phrase, &answers([right[1], right[0], right[2]])));
        assert!(!new
            .check
            .matches(&new.phrase, &answers([right[0], right[1], ""])));
        assert!(!new.check.matches(&new.phrase, &[]));
        // Over many vaults every position gets asked: no word is never checked.
        let mut seen = [false; 24];
        for _ in 0..2000 {
            for p in PhraseCheck::new(24).positions() {
                seen[p] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn a_laptop_recovers_with_the_phrase_and_no_keyslot_is_planted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let new = create(
            &dir,
            &keychain(),
            &pass("correct horse battery"),
            options(tmp.path(), "desk"),
        )
        .unwrap();
        let phrase = RecoveryPhrase::parse(new.phrase.words().expose_secret()).unwrap();
        drop(new);
        let laptop = chartsafe_keychain::Keychain::with_service(&format!(
            "chartsafe-api-tests-laptop-{}",
            std::process::id()
        ));
        let back = recover(
            &dir,
            &phrase,
            RecoverAs::Founder,
            &laptop,
            &pass("new laptop passphrase"),
            options(tmp.path(), "laptop"),
        )
        .unwrap();
        assert!(back.planted.is_empty());
        assert_eq!(back.vault.device_name(), "laptop");
        drop(back);
        // The phrase of another vault is named as such.
        let other = create(
            &tmp.path().join("other"),
            &keychain(),
            &pass("correct horse battery"),
            options(tmp.path(), "other desk"),
        )
        .unwrap();
        let e = recover(
            &dir,
            &other.phrase,
            RecoverAs::Founder,
            &laptop,
            &pass("new laptop passphrase"),
            options(tmp.path(), "laptop 2"),
        )
        .err()
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::WrongPhrase, "{e}");
    }
}
