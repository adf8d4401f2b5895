//! Keys: the recovery phrase, the identities derived from it, device unlock
//! and the vault secrets carried in keyslots (docs/FORMAT.md §2).

use std::fmt;

use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::ids;

/// HKDF salt shared by every derivation of format version 1.
const KDF_SALT: &[u8] = b"chartsafe/v1";

/// The 24-word BIP39 recovery phrase (256 bits of entropy).
///
/// Zeroized on drop; `Debug` prints a redaction. It is shown once at vault
/// creation and never stored (docs/THREAT_MODEL.md §5).
pub struct RecoveryPhrase {
    words: SecretString,
    entropy: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for RecoveryPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryPhrase([redacted])")
    }
}

/// Why a recovery phrase was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhraseError {
    /// The phrase does not have exactly 24 words.
    #[error("a recovery phrase has 24 words; this one has {0}")]
    WordCount(usize),
    /// A word is not in the BIP39 English list (the word itself is not repeated).
    #[error("word {0} of the recovery phrase is not a BIP39 English word")]
    UnknownWord(usize),
    /// The words are valid but their checksum does not match: a word is wrong or misplaced.
    #[error("the recovery phrase's checksum does not match: a word is wrong or out of order")]
    Checksum,
}

impl RecoveryPhrase {
    /// A new phrase from the OS random generator.
    pub fn generate() -> Self {
        let mut entropy = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(entropy.as_mut());
        Self::from_entropy(entropy)
    }

    /// The phrase for given entropy (test vectors).
    pub fn from_entropy(entropy: Zeroizing<[u8; 32]>) -> Self {
        let mnemonic = bip39::Mnemonic::from_entropy(entropy.as_ref())
            .expect("32 bytes is a valid BIP39 entropy length");
        let words = SecretString::from(mnemonic.to_string());
        Self { words, entropy }
    }

    /// Parses a phrase typed by a person: case and white space do not matter.
    pub fn parse(text: &str) -> Result<Self, PhraseError> {
        // Built in one zeroizing buffer: no stray copies of the words.
        let mut normalised = Zeroizing::new(String::with_capacity(text.len()));
        for word in text.split_whitespace() {
            if !normalised.is_empty() {
                normalised.push(' ');
            }
            normalised.extend(word.chars().flat_map(char::to_lowercase));
        }
        let count = normalised.split(' ').filter(|w| !w.is_empty()).count();
        if count != 24 {
            return Err(PhraseError::WordCount(count));
        }
        let list = bip39::Language::English.word_list();
        if let Some(i) = normalised.split(' ').position(|w| !list.contains(&w)) {
            return Err(PhraseError::UnknownWord(i + 1));
        }
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalised)
            .map_err(|_| PhraseError::Checksum)?;
        let (bytes, len) = mnemonic.to_entropy_array();
        let bytes = Zeroizing::new(bytes);
        let mut entropy = Zeroizing::new([0u8; 32]);
        entropy.copy_from_slice(&bytes[..len.min(32)]);
        Ok(Self::from_entropy(entropy))
    }

    /// The 24 words, separated by single spaces.
    pub fn words(&self) -> &SecretString {
        &self.words
    }

    /// The recovery identity: the age X25519 identity derived from the phrase
    /// (docs/FORMAT.md §2.1). It decrypts every blob and record of the vault.
    pub fn identity(&self) -> AgeIdentity {
        let mut sk = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(KDF_SALT), self.entropy.as_ref())
            .expand(b"recovery identity", sk.as_mut())
            .expect("32 bytes is a valid HKDF output length");
        AgeIdentity::from_secret_bytes(&sk)
    }

    /// The vault's root signing key (docs/design/team.md §2): the anchor of
    /// the team log, so the phrase can always re-establish an admin.
    pub fn root_signing_key(&self) -> crate::sign::SigningKey {
        crate::sign::root_key(&self.entropy)
    }
}

/// An age X25519 identity together with its `AGE-SECRET-KEY-1…` text.
///
/// Zeroized on drop (the text through `secrecy`, the age identity by the age crate).
pub struct AgeIdentity {
    identity: age::x25519::Identity,
    text: SecretString,
    /// The public half, computed once: comparing keys by recipient is
    /// frequent (every read of the team log and of each collection), and
    /// each computation is a scalar multiplication.
    public: age::x25519::Recipient,
}

impl fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeIdentity({}, [redacted])", self.recipient())
    }
}

impl Clone for AgeIdentity {
    fn clone(&self) -> Self {
        Self::parse(self.text.expose_secret()).expect("an identity's own text parses")
    }
}

impl AgeIdentity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        let mut sk = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(sk.as_mut());
        Self::from_secret_bytes(&sk)
    }

    /// Builds the identity whose X25519 secret scalar is `sk`.
    ///
    /// The age crate has no constructor from bytes, so the bytes are Bech32
    /// encoded with the `age-secret-key-` prefix and parsed, exactly as
    /// `age-keygen` writes them (docs/FORMAT.md §2.1).
    pub fn from_secret_bytes(sk: &[u8; 32]) -> Self {
        let hrp = bech32::Hrp::parse("age-secret-key-").expect("valid human-readable part");
        let mut text = Zeroizing::new(
            bech32::encode::<bech32::Bech32>(hrp, sk).expect("32 bytes fit in a Bech32 string"),
        );
        text.make_ascii_uppercase();
        Self::parse(&text).expect("a Bech32 age secret key parses")
    }

    /// Parses an `AGE-SECRET-KEY-1…` line.
    pub fn parse(text: &str) -> Option<Self> {
        let identity: age::x25519::Identity = text.trim().parse().ok()?;
        Some(Self {
            public: identity.to_public(),
            identity,
            text: SecretString::from(text.trim().to_owned()),
        })
    }

    /// The 32 secret bytes, for key derivation.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let lower = Zeroizing::new(self.text.expose_secret().to_lowercase());
        let (_, data) = bech32::decode(&lower).expect("an identity's own text decodes");
        let data = Zeroizing::new(data);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&data[..32]);
        out
    }

    /// The `AGE-SECRET-KEY-1…` text, for `age -i`.
    pub fn to_secret_text(&self) -> &SecretString {
        &self.text
    }

    /// The public recipient (`age1…`).
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.public.clone()
    }

    /// The age identity, for decryption.
    pub fn as_age(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The key that authenticates metadata records, derived from this identity
    /// when it is the recovery identity (docs/FORMAT.md §2.3).
    pub fn derive_mac_key(&self) -> MacKey {
        let sk = self.secret_bytes();
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(KDF_SALT), sk.as_ref())
            .expand(b"record mac", key.as_mut())
            .expect("32 bytes is a valid HKDF output length");
        MacKey(key)
    }
}

/// The HMAC-SHA-256 key that authenticates metadata records. Zeroized on drop.
#[derive(Clone)]
pub struct MacKey(pub(crate) Zeroizing<[u8; 32]>);

impl MacKey {
    /// A key from its 32 bytes (test vectors, second implementations).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

/// scrypt work factor and salt of a device's passphrase (docs/FORMAT.md §2.4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KdfParams {
    /// log2 of scrypt's N (r = 8, p = 1).
    pub log_n: u8,
    /// 16 random bytes, hex.
    pub salt: String,
}

impl KdfParams {
    /// The default work factor: N = 2^17 (128 MiB, about half a second here).
    pub const DEFAULT_LOG_N: u8 = 17;

    /// Fresh parameters with a random salt.
    pub fn new(log_n: u8) -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self {
            log_n,
            salt: ids::hex(&salt),
        }
    }
}

/// The device's half of the unlock secret, kept in the OS keychain: 32 random
/// bytes, hex. Zeroized on drop.
pub struct DeviceSecret(SecretString);

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret([redacted])")
    }
}

impl DeviceSecret {
    /// A fresh random device secret.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(SecretString::from(ids::hex(bytes.as_ref())))
    }

    /// Wraps the text read back from the keychain.
    pub fn from_stored(text: SecretString) -> Self {
        Self(text)
    }

    /// The text to store in the keychain.
    pub fn as_stored(&self) -> &SecretString {
        &self.0
    }

    /// The device identity: both factors are needed (docs/THREAT_MODEL.md §3).
    ///
    /// `sk = HKDF-SHA256(salt = kdf.salt, ikm = device secret ‖ scrypt(passphrase),
    /// info = "chartsafe/v1 device identity")`; `None` if the stored secret or
    /// the parameters are malformed.
    pub fn device_identity(
        &self,
        passphrase: &SecretString,
        kdf: &KdfParams,
    ) -> Option<AgeIdentity> {
        let device = Zeroizing::new(ids::unhex(self.0.expose_secret())?);
        let salt = ids::unhex(&kdf.salt)?;
        let params = scrypt::Params::new(kdf.log_n, 8, 1, 32).ok()?;
        let mut stretched = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(
            passphrase.expose_secret().as_bytes(),
            &salt,
            &params,
            stretched.as_mut(),
        )
        .ok()?;
        let mut ikm = Zeroizing::new(Vec::with_capacity(64));
        ikm.extend_from_slice(&device);
        ikm.extend_from_slice(stretched.as_ref());
        let mut sk = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(b"chartsafe/v1 device identity", sk.as_mut())
            .ok()?;
        Some(AgeIdentity::from_secret_bytes(&sk))
    }
}

/// One collection key (docs/FORMAT.md §2.2). Version 1 vaults have one
/// collection; the list leaves room for per-collection keys and rotation.
#[derive(Serialize, Deserialize)]
pub(crate) struct CollectionKey {
    pub id: String,
    pub identity: String,
    pub created: i64,
}

/// The plaintext of a keyslot: everything a member needs to use the vault
/// (docs/FORMAT.md §4). Zeroized on drop.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyslotPlain {
    pub chartsafe_keyslot: u32,
    pub vault: String,
    pub member: String,
    pub collections: Vec<CollectionKey>,
    pub mac_key: String,
    pub recovery_recipient: String,
    /// The device's signing key (RFC 8032 seed, hex): only in a device's own
    /// keyslot, never in the recovery keyslot (FORMAT.md §4, §11.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
}

impl Drop for KeyslotPlain {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.mac_key.zeroize();
        if let Some(k) = &mut self.signing_key {
            k.zeroize();
        }
        for c in &mut self.collections {
            c.identity.zeroize();
        }
    }
}

/// The unlocked vault's keys. Zeroized on drop; never serialised to a caller.
pub struct VaultKeys {
    pub(crate) member: String,
    /// Every collection identity, newest last.
    pub(crate) collections: Vec<(String, AgeIdentity)>,
    pub(crate) mac: MacKey,
    pub(crate) recovery: age::x25519::Recipient,
    /// Present only when unlocked with the recovery identity itself.
    pub(crate) recovery_identity: Option<AgeIdentity>,
    /// This device's signing key, from its own keyslot (FORMAT.md §11.1);
    /// absent when opened with the recovery identity or from a keyslot
    /// written before the team log.
    pub(crate) signing: Option<crate::sign::SigningKey>,
    /// The identity that opened this device's keyslot: it also opens the
    /// keyslots that key rotations write for the device (FORMAT.md §13).
    pub(crate) device_identity: Option<AgeIdentity>,
    /// For each collection whose key the team log names (a rotation, or a
    /// collection made with `collection_add`): the key everything new in
    /// it is encrypted to (FORMAT.md §13.2, §14). A collection not named
    /// uses the first key held for it.
    pub(crate) current: std::collections::BTreeMap<String, age::x25519::Recipient>,
    /// The vault's first collection as the team log's genesis names it
    /// (FORMAT.md §11.3); else the first key's id in the keyslot.
    pub(crate) default: Option<String>,
}

impl fmt::Debug for VaultKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKeys([redacted])")
    }
}

impl VaultKeys {
    pub(crate) fn from_plain(plain: &KeyslotPlain) -> Option<Self> {
        let collections = plain
            .collections
            .iter()
            .map(|c| Some((c.id.clone(), AgeIdentity::parse(&c.identity)?)))
            .collect::<Option<Vec<_>>>()?;
        if collections.is_empty() {
            return None;
        }
        let mac_bytes = Zeroizing::new(ids::unhex(&plain.mac_key)?);
        let mut mac = Zeroizing::new([0u8; 32]);
        if mac_bytes.len() != 32 {
            return None;
        }
        mac.copy_from_slice(&mac_bytes);
        let signing = match &plain.signing_key {
            None => None,
            Some(hex) => {
                let bytes = Zeroizing::new(ids::unhex(hex)?);
                let seed: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.as_slice().try_into().ok()?);
                Some(crate::sign::SigningKey::from_seed(&seed))
            }
        };
        Some(Self {
            member: plain.member.clone(),
            collections,
            mac: MacKey(mac),
            recovery: plain.recovery_recipient.parse().ok()?,
            recovery_identity: None,
            signing,
            device_identity: None,
            current: Default::default(),
            default: None,
        })
    }

    /// Whether these keys are the ones `recovery` derives (its recipient and
    /// MAC key), in constant time for the key.
    pub(crate) fn matches_recovery(&self, recovery: &AgeIdentity) -> bool {
        use subtle::ConstantTimeEq;
        let derived = recovery.derive_mac_key();
        let mac: bool = self.mac.0[..].ct_eq(&derived.0[..]).into();
        mac && self.recovery.to_string() == recovery.recipient().to_string()
    }

    pub(crate) fn to_plain(&self, vault: &str, created: i64) -> KeyslotPlain {
        KeyslotPlain {
            chartsafe_keyslot: 1,
            vault: vault.to_owned(),
            member: self.member.clone(),
            collections: self
                .collections
                .iter()
                .map(|(id, identity)| CollectionKey {
                    id: id.clone(),
                    identity: identity.to_secret_text().expose_secret().to_owned(),
                    created,
                })
                .collect(),
            mac_key: ids::hex(self.mac.0.as_ref()),
            recovery_recipient: self.recovery.to_string(),
            signing_key: None,
        }
    }

    /// The vault's first collection: the first key of the keyslot.
    pub(crate) fn default_collection(&self) -> &str {
        // Keyslots always carry a key; with the recovery identity, planted
        // keys may have been dropped (FORMAT.md §4.2) and the team log
        // names the first collection.
        self.default
            .as_deref()
            .or_else(|| self.collections.first().map(|c| c.0.as_str()))
            .unwrap_or("")
    }

    /// Recipients every new blob and record of the vault's first collection
    /// is encrypted to: its current key and the recovery identity
    /// (docs/FORMAT.md §3, §13.2).
    pub(crate) fn recipients(&self) -> [age::x25519::Recipient; 2] {
        self.recipients_for(None)
            .expect("the first collection always has a key")
    }

    /// The recipients of collection `collection` (`None`: the vault's
    /// first): the key the team log names, whether or not this device holds
    /// it yet (it never falls back to a key a removed member may hold); for
    /// a collection the team log does not name, the first key held for it.
    /// `None` if there is none.
    pub(crate) fn recipients_for(
        &self,
        collection: Option<&str>,
    ) -> Option<[age::x25519::Recipient; 2]> {
        let id = collection.unwrap_or_else(|| self.default_collection());
        let current = match self.current.get(id) {
            Some(r) => r.clone(),
            // Never rotated: the collection's original key. (Keys merged
            // from other recovery keyslots come after it: one planted by a
            // key holder must not become the key everyone writes to.)
            None => self
                .collections
                .iter()
                .find(|(c, _)| c == id)?
                .1
                .recipient(),
        };
        Some([current, self.recovery.clone()])
    }

    /// The identity of the current key of `collection`, if held.
    pub(crate) fn current_identity_for(&self, collection: Option<&str>) -> Option<&AgeIdentity> {
        let want = self.recipients_for(collection)?[0].to_string();
        self.collections
            .iter()
            .rev()
            .map(|(_, i)| i)
            .find(|i| i.recipient().to_string() == want)
    }

    /// Identities that may decrypt a blob or record.
    pub(crate) fn identities(&self) -> Vec<&dyn age::Identity> {
        let mut out: Vec<&dyn age::Identity> = self
            .collections
            .iter()
            .rev()
            .map(|(_, i)| i.as_age() as &dyn age::Identity)
            .collect();
        if let Some(r) = &self.recovery_identity {
            out.push(r.as_age());
        }
        out
    }

    /// Identities that may open a record of `collection` (`None`: the
    /// vault's first): that collection's keys and the recovery identity,
    /// nothing else. A record copied from another collection's folder is
    /// encrypted to that collection's key, so it does not open where it was
    /// copied to (FORMAT.md §14.3, THREAT_MODEL.md §4.5).
    pub(crate) fn identities_only(&self, collection: Option<&str>) -> Vec<&dyn age::Identity> {
        let id = collection.unwrap_or_else(|| self.default_collection());
        let mut out: Vec<&dyn age::Identity> = self
            .collections
            .iter()
            .rev()
            .filter(|(c, _)| c == id)
            .map(|(_, i)| i.as_age() as &dyn age::Identity)
            .collect();
        if let Some(r) = &self.recovery_identity {
            out.push(r.as_age());
        }
        out
    }

    /// Identities for files of `collection` (`None`: the vault's first):
    /// that collection's keys first (the current one first), then the
    /// others. age tries every identity on every stanza, so with many
    /// collections the order decides how long opening a file takes.
    pub(crate) fn identities_for(&self, collection: Option<&str>) -> Vec<&dyn age::Identity> {
        let id = collection.unwrap_or_else(|| self.default_collection());
        let current = self.recipients_for(collection).map(|r| r[0].to_string());
        let mut mine: Vec<&AgeIdentity> = self
            .collections
            .iter()
            .rev()
            .filter(|(c, _)| c == id)
            .map(|(_, i)| i)
            .collect();
        if let Some(cur) = current {
            if let Some(pos) = mine.iter().position(|i| i.recipient().to_string() == cur) {
                let first = mine.remove(pos);
                mine.insert(0, first);
            }
        }
        let mut out: Vec<&dyn age::Identity> = mine
            .into_iter()
            .map(|i| i.as_age() as &dyn age::Identity)
            .collect();
        if let Some(r) = &self.recovery_identity {
            out.push(r.as_age());
        }
        out.extend(
            self.collections
                .iter()
                .rev()
                .filter(|(c, _)| c != id)
                .map(|(_, i)| i.as_age() as &dyn age::Identity),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_round_trips_and_gives_the_same_identity() {
        let phrase = RecoveryPhrase::generate();
        let words = phrase.words().expose_secret().to_owned();
        assert_eq!(words.split(' ').count(), 24);
        let again = RecoveryPhrase::parse(&format!("  {}  ", words.to_uppercase())).unwrap();
        assert_eq!(
            phrase.identity().recipient().to_string(),
            again.identity().recipient().to_string()
        );
    }

    #[test]
    fn phrase_errors_are_specific() {
        let phrase = RecoveryPhrase::generate();
        let words: Vec<String> = phrase
            .words()
            .expose_secret()
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert!(matches!(
            RecoveryPhrase::parse(&words[..23].join(" ")),
            Err(PhraseError::WordCount(23))
        ));
        let mut bad = words.clone();
        bad[4] = "notaword".into();
        assert!(matches!(
            RecoveryPhrase::parse(&bad.join(" ")),
            Err(PhraseError::UnknownWord(5))
        ));
        let mut swapped = words.clone();
        // Replace the last word with another list word: the checksum breaks.
        swapped[23] = if words[23] == "abandon" {
            "ability".into()
        } else {
            "abandon".into()
        };
        assert!(matches!(
            RecoveryPhrase::parse(&swapped.join(" ")),
            Err(PhraseError::Checksum)
        ));
    }

    #[test]
    fn known_phrase_gives_known_identity() {
        // Test vector, docs/FORMAT.md §2.1: all-zero entropy.
        let phrase = RecoveryPhrase::from_entropy(Zeroizing::new([0u8; 32]));
        assert!(phrase
            .words()
            .expose_secret()
            .starts_with("abandon abandon"));
        let id = phrase.identity();
        let text = id.to_secret_text().expose_secret().to_owned();
        assert!(text.starts_with("AGE-SECRET-KEY-1"));
        assert_eq!(
            AgeIdentity::parse(&text).unwrap().recipient().to_string(),
            id.recipient().to_string()
        );
    }

    #[test]
    fn device_identity_needs_both_factors() {
        let kdf = KdfParams::new(4);
        let device = DeviceSecret::generate();
        let other = DeviceSecret::generate();
        let pass = SecretString::from("correct horse".to_owned());
        let wrong = SecretString::from("wrong horse".to_owned());
        let a = device
            .device_identity(&pass, &kdf)
            .unwrap()
            .recipient()
            .to_string();
        assert_eq!(
            a,
            device
                .device_identity(&pass, &kdf)
                .unwrap()
                .recipient()
                .to_string()
        );
        assert_ne!(
            a,
            device
                .device_identity(&wrong, &kdf)
                .unwrap()
                .recipient()
                .to_string()
        );
        assert_ne!(
            a,
            other
                .device_identity(&pass, &kdf)
                .unwrap()
                .recipient()
                .to_string()
        );
    }
}
