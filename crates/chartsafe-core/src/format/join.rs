//! Invitations and join requests (docs/FORMAT.md §12; issue 5, step 4,
//! format part).
//!
//! Enrolment has no server: an admin makes an [`Invite`] and passes its text
//! to the person out of band; the person's new device writes a join request
//! into the vault folder, encrypted to a key derived from the invite, signed
//! with the device's new signing key, and shows a [`join_code`]. The admin's
//! app computes the same code from the request it decrypted, and the admin
//! types the code the person reads out before approving. A request planted
//! by someone who controls the folder but lacks the invite does not even
//! decrypt; one made with a leaked invite has other keys and so another code.

use hkdf::Hkdf;
use hmac::Mac;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ids;
use crate::keys::AgeIdentity;
use crate::sign::{PublicSigningKey, SigningKey};

/// Version of the join-request plaintext and body.
pub const JOIN_VERSION: u32 = 2;
/// Signature domain of join requests (§12.2).
const DOMAIN: &[u8] = b"chartsafe/v2 join\n";
/// Hash domain of the verification code (§12.3).
const CODE_DOMAIN: &[u8] = b"chartsafe/v2 join code\n";

/// An invitation: 16 secret bytes and the first 16 bytes of SHA-256 of the
/// vault's root public key (§12.1). The secret part is wiped on drop.
#[derive(Clone)]
pub struct Invite {
    secret: Zeroizing<[u8; 16]>,
    root_fingerprint: [u8; 16],
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invite({})", self.id())
    }
}

/// Why an invitation's text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ChartSafe invitation (52 letters and digits, in groups of 4)")]
pub struct InviteError;

fn root_fingerprint(root: &PublicSigningKey) -> [u8; 16] {
    let digest = Sha256::digest(root.to_bytes());
    digest[..16].try_into().expect("16 of 32 bytes")
}

impl Invite {
    /// A new invitation to the vault whose root key is `root`.
    pub fn new(root: &PublicSigningKey) -> Self {
        let mut secret = Zeroizing::new([0u8; 16]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, secret.as_mut());
        Self {
            secret,
            root_fingerprint: root_fingerprint(root),
        }
    }

    /// The text given to the person: lowercase base32 (§1's alphabet) of
    /// secret ‖ fingerprint, 52 characters, in groups of four joined by `-`.
    pub fn to_text(&self) -> SecretString {
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes[..16].copy_from_slice(self.secret.as_ref());
        bytes[16..].copy_from_slice(&self.root_fingerprint);
        let plain = Zeroizing::new(ids::base32(bytes.as_ref()));
        let grouped: Vec<&str> = plain
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("ASCII"))
            .collect();
        SecretString::from(grouped.join("-"))
    }

    /// Parses the text: case, spaces and dashes do not matter, and the
    /// digits 0, 1 and 8 are read as the letters o, l and b they resemble.
    pub fn parse(text: &str) -> Result<Self, InviteError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| match c.to_ascii_lowercase() {
                    '0' => 'o',
                    '1' => 'l',
                    '8' => 'b',
                    c => c,
                })
                .collect(),
        );
        if cleaned.len() != 52 {
            return Err(InviteError);
        }
        let bytes = Zeroizing::new(ids::unbase32(&cleaned).ok_or(InviteError)?);
        if bytes.len() != 32 || ids::base32(&bytes) != *cleaned {
            return Err(InviteError);
        }
        let mut secret = Zeroizing::new([0u8; 16]);
        secret.copy_from_slice(&bytes[..16]);
        Ok(Self {
            secret,
            root_fingerprint: bytes[16..].try_into().expect("16 bytes"),
        })
    }

    /// Whether this invitation is to the vault whose root key is `root`
    /// (a joiner refuses a vault folder whose team log has another root).
    pub fn matches_root(&self, root: &PublicSigningKey) -> bool {
        root_fingerprint(root) == self.root_fingerprint
    }

    /// The invitation's public id (§12.1): 32 hex digits of
    /// HMAC-SHA-256(key = secret, "chartsafe/v2 invite id"). A request names
    /// it, so an admin's app knows which invitation to open it with.
    pub fn id(&self) -> String {
        let mut m = <hmac::Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_ref())
            .expect("HMAC takes any key length");
        m.update(b"chartsafe/v2 invite id");
        ids::hex(&m.finalize().into_bytes()[..16])
    }

    /// The age identity join requests for this invitation are encrypted to:
    /// X25519 secret = HKDF(salt = "chartsafe/v2", IKM = secret, info = "invite key").
    pub fn identity(&self) -> AgeIdentity {
        let mut sk = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(b"chartsafe/v2"), self.secret.as_ref())
            .expand(b"invite key", sk.as_mut())
            .expect("32 bytes is a valid HKDF output length");
        AgeIdentity::from_secret_bytes(&sk)
    }
}

/// What a joining device asks for (§12.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// Format version, 2.
    pub format: u32,
    /// The vault id (from the folder's header).
    pub vault: String,
    /// The invitation's id ([`Invite::id`]).
    pub invite: String,
    /// The member id: a new one the device picked for a new person, or the
    /// person's existing id when they add a device.
    pub member: String,
    /// Whether `member` is a new person.
    pub new_member: bool,
    /// The person's name.
    pub name: String,
    /// The new device's id, picked by the device.
    pub device: String,
    /// The device's name.
    pub device_name: String,
    /// The device's age recipient.
    pub recipient: String,
    /// The device's public signing key; it signs the request.
    pub signing: String,
    /// The keyslot id the approving admin writes the vault keys under
    /// (`k/<slot>`, §4.1), picked by the device.
    pub slot: String,
    /// When it was made, ms.
    pub time: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    chartsafe_join: u32,
    sig: String,
    body: String,
}

/// Why a decrypted join request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Not a join request.
    #[error("not a join request")]
    Malformed,
    /// Written by a newer ChartSafe.
    #[error("written by a newer ChartSafe (join format {0})")]
    NewerFormat(u32),
    /// An id, name or key has the wrong shape, or it names another vault or
    /// invitation.
    #[error("the request's content is malformed, or is for another vault or invitation")]
    BadBody,
    /// Not signed by the key it names.
    #[error("the request is not signed by the device it names")]
    BadSignature,
}

/// A join request that decrypted, parsed and verified.
#[derive(Debug, Clone)]
pub struct OpenedJoin {
    /// The body.
    pub body: JoinBody,
    /// SHA-256 (hex) of the body text: named by the `device_add` entry
    /// that approves it (§11.3).
    pub hash: String,
}

impl JoinBody {
    /// Serialises and signs with the device's new key: the plaintext.
    pub fn seal(&self, key: &SigningKey) -> (Vec<u8>, String) {
        let body = serde_json::to_string(self).expect("a join body serialises");
        let hash = ids::hex(&Sha256::digest(body.as_bytes()));
        let envelope = Envelope {
            chartsafe_join: JOIN_VERSION,
            sig: ids::hex(&key.sign(DOMAIN, body.as_bytes())),
            body,
        };
        (
            serde_json::to_vec(&envelope).expect("an envelope serialises"),
            hash,
        )
    }

    fn is_well_formed(&self) -> bool {
        let name = |s: &str| !s.is_empty() && crate::names::clean_device_name(s) == s;
        ids::is_id(&self.vault)
            && self.invite.len() == 32
            && ids::is_hex(&self.invite)
            && ids::is_id(&self.member)
            && name(&self.name)
            && ids::is_id(&self.device)
            && ids::is_id(&self.slot)
            && name(&self.device_name)
            && self.recipient.parse::<age::x25519::Recipient>().is_ok()
            && PublicSigningKey::parse(&self.signing).is_ok()
    }
}

/// Checks a decrypted join request: its shape, that it is for `vault` and
/// `invite`, and that the key it names signed it.
pub fn open(plaintext: &[u8], vault: &str, invite: &Invite) -> Result<OpenedJoin, JoinError> {
    let envelope: Envelope = serde_json::from_slice(plaintext).map_err(|_| JoinError::Malformed)?;
    if envelope.chartsafe_join > JOIN_VERSION {
        return Err(JoinError::NewerFormat(envelope.chartsafe_join));
    }
    if envelope.chartsafe_join != JOIN_VERSION {
        return Err(JoinError::Malformed);
    }
    let body: JoinBody = serde_json::from_str(&envelope.body).map_err(|_| JoinError::BadBody)?;
    if body.format > JOIN_VERSION {
        return Err(JoinError::NewerFormat(body.format));
    }
    if body.format != JOIN_VERSION
        || !body.is_well_formed()
        || body.vault != vault
        || body.invite != invite.id()
    {
        return Err(JoinError::BadBody);
    }
    let sig: [u8; 64] = ids::unhex(&envelope.sig)
        .and_then(|s| s.try_into().ok())
        .ok_or(JoinError::BadSignature)?;
    let key = PublicSigningKey::parse(&body.signing).map_err(|_| JoinError::BadBody)?;
    if !key.verify(DOMAIN, envelope.body.as_bytes(), &sig) {
        return Err(JoinError::BadSignature);
    }
    let hash = ids::hex(&Sha256::digest(envelope.body.as_bytes()));
    Ok(OpenedJoin { body, hash })
}

/// The verification code (§12.3): the first 8 bytes of
/// SHA-256("chartsafe/v2 join code\n" ‖ invite secret ‖ root fingerprint ‖
/// request hash), as a big-endian integer modulo 10⁸, written as two groups
/// of four digits (`0482 1937`). The joiner shows it; the admin types what
/// the person reads out. It covers the request (a planted or altered one,
/// or one made with a leaked invitation, shows another code) and the
/// invitation, root fingerprint included.
pub fn join_code(invite: &Invite, request_hash: &str) -> String {
    let hash = ids::unhex(request_hash).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(CODE_DOMAIN);
    h.update(&invite.secret[..]);
    h.update(invite.root_fingerprint);
    h.update(&hash);
    let digest = h.finalize();
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 100_000_000;
    let digits = format!("{n:08}");
    format!("{} {}", &digits[..4], &digits[4..])
}

/// Whether a code typed by an admin is `expected` (spaces and dashes do not
/// matter; the comparison is constant-time).
pub fn code_matches(typed: &str, expected: &str) -> bool {
    let digits = |s: &str| -> Vec<u8> { s.bytes().filter(u8::is_ascii_digit).collect() };
    let (a, b) = (digits(typed), digits(expected));
    let only_digits = typed
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '-');
    only_digits && a.len() == b.len() && subtle::ConstantTimeEq::ct_eq(&a[..], &b[..]).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn request(vault: &str, invite: &Invite, key: &SigningKey) -> JoinBody {
        JoinBody {
            format: 2,
            vault: vault.to_owned(),
            invite: invite.id(),
            member: ids::random_id(),
            new_member: true,
            name: "Nurse Joy".into(),
            device: ids::random_id(),
            device_name: "ward pc".into(),
            recipient: AgeIdentity::generate().recipient().to_string(),
            signing: key.public().to_string(),
            slot: ids::random_id(),
            time: 1,
        }
    }

    #[test]
    fn invitations_round_trip_through_their_text_and_forgive_typing() {
        let root = SigningKey::generate().public();
        let invite = Invite::new(&root);
        let text = invite.to_text();
        assert_eq!(text.expose_secret().len(), 52 + 12);
        let back = Invite::parse(text.expose_secret()).unwrap();
        assert_eq!(back.id(), invite.id());
        assert!(back.matches_root(&root));
        assert!(!back.matches_root(&SigningKey::generate().public()));
        let sloppy = text
            .expose_secret()
            .to_uppercase()
            .replace('-', " ")
            .replace('O', "0")
            .replace('L', "1");
        assert_eq!(Invite::parse(&sloppy).unwrap().id(), invite.id());
        assert!(Invite::parse(&text.expose_secret()[..50]).is_err());
        assert!(Invite::parse(&"9".repeat(52)).is_err());
        assert!(!format!("{invite:?}").contains(&text.expose_secret()[..4]));
    }

    #[test]
    fn requests_open_only_for_their_vault_and_invitation_and_key() {
        let root = SigningKey::generate().public();
        let invite = Invite::new(&root);
        let vault = ids::random_id();
        let key = SigningKey::generate();
        let body = request(&vault, &invite, &key);
        let (plain, hash) = body.seal(&key);
        let opened = open(&plain, &vault, &invite).unwrap();
        assert_eq!(opened.hash, hash);
        assert_eq!(opened.body, body);

        assert_eq!(
            open(&plain, &ids::random_id(), &invite).unwrap_err(),
            JoinError::BadBody
        );
        assert_eq!(
            open(&plain, &vault, &Invite::new(&root)).unwrap_err(),
            JoinError::BadBody
        );
        // Signed by another key than the one it names.
        let (plain, _) = body.seal(&SigningKey::generate());
        assert_eq!(
            open(&plain, &vault, &invite).unwrap_err(),
            JoinError::BadSignature
        );
        // Altered after signing.
        let (plain, _) = body.seal(&key);
        let text = String::from_utf8(plain)
            .unwrap()
            .replace("Nurse Joy", "Mallory");
        assert_eq!(
            open(text.as_bytes(), &vault, &invite).unwrap_err(),
            JoinError::BadSignature
        );
    }

    #[test]
    fn the_code_covers_the_request_and_the_invitation() {
        let root = SigningKey::generate().public();
        let invite = Invite::new(&root);
        let vault = ids::random_id();
        let key = SigningKey::generate();
        let (_, hash) = request(&vault, &invite, &key).seal(&key);
        let code = join_code(&invite, &hash);
        assert_eq!(code.len(), 9);
        let again = Invite::parse(invite.to_text().expose_secret()).unwrap();
        assert_eq!(code, join_code(&again, &hash));
        // A planted request (other keys), another invitation.
        let other = SigningKey::generate();
        let (_, planted) = request(&vault, &invite, &other).seal(&other);
        assert_ne!(join_code(&invite, &planted), code);
        assert_ne!(join_code(&Invite::new(&root), &hash), code);
        assert!(code_matches(&code.replace(' ', "-"), &code));
        assert!(code_matches(&code.replace(' ', ""), &code));
        assert!(!code_matches("0000 0000", &code) || code == "0000 0000");
        assert!(!code_matches(&format!("{code}1"), &code));
        assert!(!code_matches(&code.replace(' ', "x"), &code));
    }
}
