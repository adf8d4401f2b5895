//! Ed25519 signing keys: one per device, and the vault's root key derived
//! from the recovery phrase (docs/design/team.md §2 and §10, step 1 of
//! issue 5; not yet used by the format).
//!
//! Every signature is over a domain string followed by the message, so a
//! signature made for one kind of object (a record, a team entry, an audit
//! batch) never verifies for another.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey as DalekSigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Human-readable part of a public signing key's text form (`cssign1…`).
const HRP: &str = "cssign";

/// A signing key (a device's, or the vault root's). The secret half is
/// wiped when it is dropped.
pub struct SigningKey(DalekSigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public())
    }
}

/// A public signing key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicSigningKey(VerifyingKey);

impl fmt::Debug for PublicSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicSigningKey({self})")
    }
}

/// Why a public key's text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ChartSafe public signing key (cssign1…)")]
pub struct PublicKeyError;

impl SigningKey {
    /// A new random key (a device's, made at enrolment).
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// The key whose RFC 8032 secret seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(DalekSigningKey::from_bytes(seed))
    }

    /// The seed, for storing in the device's own keyslot.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicSigningKey {
        PublicSigningKey(self.0.verifying_key())
    }

    /// Signs `message` for `domain` (an ASCII string naming the kind of
    /// object, ending in a line feed).
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; 64] {
        let mut data = Vec::with_capacity(domain.len() + message.len());
        data.extend_from_slice(domain);
        data.extend_from_slice(message);
        self.0.sign(&data).to_bytes()
    }
}

impl PublicSigningKey {
    /// Whether `signature` is this key's over `domain` ‖ `message`
    /// (strict verification: no malleable or small-order forms).
    pub fn verify(&self, domain: &[u8], message: &[u8], signature: &[u8; 64]) -> bool {
        let mut data = Vec::with_capacity(domain.len() + message.len());
        data.extend_from_slice(domain);
        data.extend_from_slice(message);
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(&data, &sig).is_ok()
    }

    /// Parses the text form (`cssign1…`, lower case).
    pub fn parse(text: &str) -> Result<Self, PublicKeyError> {
        // Bech32 (BIP 173) only: `bech32::decode` would also take Bech32m.
        let checked = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32>(text)
            .map_err(|_| PublicKeyError)?;
        if checked.hrp().as_str() != HRP || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(PublicKeyError);
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 32] = data.try_into().map_err(|_| PublicKeyError)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| PublicKeyError)?;
        // A small-order key verifies signatures nobody made (FORMAT.md §11.1).
        if key.is_weak() {
            return Err(PublicKeyError);
        }
        Ok(Self(key))
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl fmt::Display for PublicSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = bech32::Hrp::parse(HRP).expect("valid human-readable part");
        let text = bech32::encode::<bech32::Bech32>(hrp, &self.0.to_bytes())
            .expect("32 bytes fit in a Bech32 string");
        f.write_str(&text)
    }
}

/// The vault's root signing key from the recovery phrase's entropy:
/// `seed = HKDF(salt = "chartsafe/v2", IKM = entropy, info = "team root")`.
pub(crate) fn root_key(entropy: &[u8; 32]) -> SigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(b"chartsafe/v2"), entropy)
        .expand(b"team root", seed.as_mut())
        .expect("32 bytes is a valid HKDF output length");
    SigningKey::from_seed(&seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_key_domain_and_message() {
        let k = SigningKey::generate();
        let sig = k.sign(b"chartsafe/v2 record\n", b"body");
        let p = k.public();
        assert!(p.verify(b"chartsafe/v2 record\n", b"body", &sig));
        assert!(!p.verify(b"chartsafe/v2 team\n", b"body", &sig));
        assert!(!p.verify(b"chartsafe/v2 record\n", b"bodz", &sig));
        assert!(!SigningKey::generate()
            .public()
            .verify(b"chartsafe/v2 record\n", b"body", &sig));
    }

    #[test]
    fn public_keys_round_trip_as_text_and_refuse_others() {
        let p = SigningKey::generate().public();
        let text = p.to_string();
        assert!(text.starts_with("cssign1"), "{text}");
        assert_eq!(PublicSigningKey::parse(&text), Ok(p));
        assert_eq!(
            PublicSigningKey::parse(&text.to_uppercase()),
            Err(PublicKeyError)
        );
        let age = "age1ehwvyz7tauhr2um4apa682cux90qhs6lk59z9z9auwnfvv2vp4ls7j4gvq";
        assert_eq!(PublicSigningKey::parse(age), Err(PublicKeyError));
        // The same bytes with a Bech32m checksum, and a small-order point
        // (the identity, encoded as 1 followed by zeros).
        let hrp = bech32::Hrp::parse(HRP).unwrap();
        let m = bech32::encode::<bech32::Bech32m>(hrp, &p.to_bytes()).unwrap();
        assert_eq!(PublicSigningKey::parse(&m), Err(PublicKeyError));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = bech32::encode::<bech32::Bech32>(hrp, &identity).unwrap();
        assert_eq!(PublicSigningKey::parse(&weak), Err(PublicKeyError));
    }

    #[test]
    fn the_seed_gives_the_same_key_back() {
        let k = SigningKey::generate();
        assert_eq!(SigningKey::from_seed(&k.seed()).public(), k.public());
    }
}
