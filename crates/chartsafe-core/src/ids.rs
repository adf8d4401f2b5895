//! Random identifiers used in file names and metadata (docs/FORMAT.md §1).
//!
//! Every name that ChartSafe writes into the vault folder is an identifier drawn
//! from the OS random generator: it says nothing about the patient file behind it.

use rand::RngCore;

/// Lowercase RFC 4648 base32 alphabet, without padding.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh 128-bit random identifier, 26 lowercase base32 characters.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base32(&bytes)
}

/// Lowercase unpadded base32 of `bytes`.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes lowercase unpadded base32 (the inverse of [`base32`]); `None`
/// for a character outside the alphabet. Trailing bits that do not fill a
/// byte are dropped, so callers that need a canonical text re-encode and
/// compare.
pub fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// Whether `s` has the shape of an identifier made by [`random_id`].
pub fn is_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Whether `s` is lowercase hex (the only hex this format writes or reads).
pub fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses lowercase hex; `None` when malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !is_hex(s) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_base32_chars_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fo"), "mzxq");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001abff").unwrap(), bytes);
        assert!(unhex("0001ABff").is_none());
        assert!(unhex("+f").is_none());
        assert!(unhex("0g").is_none());
        assert!(unhex("abc").is_none());
    }
}

/// Defines a typed identifier: a [`random_id`] that says what it names, so
/// that a member's id cannot be passed where a device's is meant. It reads
/// as a `&str` (`Deref`) and serialises as the plain string.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `text` as this id, if it has the shape of one ([`is_id`]).
            pub fn parse(text: &str) -> Option<Self> {
                is_id(text).then(|| Self(text.to_owned()))
            }

            /// An id read from a checked file of the vault (each parser
            /// checks the shape with [`is_id`]) or made by [`random_id`].
            pub(crate) fn checked(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Ids name folders and files of the vault (docs/FORMAT.md §1).
        impl AsRef<std::path::Path> for $name {
            fn as_ref(&self) -> &std::path::Path {
                self.0.as_ref()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type! {
    /// A member of the team: a person, with one or more computers
    /// (docs/FORMAT.md §11.3).
    MemberId
}

id_type! {
    /// A computer (device) of a member: its chains of records and audit
    /// batches are named by it (docs/FORMAT.md §5, §10).
    DeviceId
}

id_type! {
    /// A file or folder of the vault, the same under every name and folder
    /// it has had (docs/FORMAT.md §5.2).
    EntryId
}

id_type! {
    /// A collection: a top-level folder with its own key (docs/FORMAT.md §14).
    CollectionId
}

id_type! {
    /// A request to join the vault, made with an invitation
    /// (docs/FORMAT.md §12).
    RequestId
}

#[cfg(test)]
mod id_type_tests {
    use super::*;

    #[test]
    fn a_typed_id_takes_only_the_shape_of_an_id_and_reads_as_text() {
        let text = random_id();
        let id = MemberId::parse(&text).unwrap();
        assert_eq!(id, text);
        assert_eq!(id, text.as_str());
        assert_eq!(&id[..4], &text[..4]);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert!(MemberId::parse("Dr Ana").is_none());
        assert!(DeviceId::parse(&text.to_uppercase()).is_none());
    }
}
