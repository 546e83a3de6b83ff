//! API key secrets.
//!
//! Guarantees: a secret has 32 bytes (256 bits) from the operating system's CSPRNG; only its
//! SHA-256 digest is ever stored; comparisons of digests are constant-time. The plain secret
//! exists only in the response that creates it.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The kind of principal a key acts as; decides its visible prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An organization admin key (`sk-admin-…`), acting as the owner who created it.
    Admin,
    /// A key acting as one user with exactly that user's permissions (`sk-user-…`).
    User,
    /// A root key for platform routes; never stored.
    Root,
    /// A SCIM token (`sk-scim-…`): reaches only its organization's `/scim/v2` routes.
    Scim,
    /// A platform key (`sk-platform-…`): serves only the platform routes, with the platform
    /// permissions it was minted with; stored apart from every organization's keys.
    Platform,
}

impl KeyKind {
    /// The visible prefix of secrets of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Admin => "sk-admin-",
            Self::User => "sk-user-",
            Self::Root => "sk-root-",
            Self::Scim => "sk-scim-",
            Self::Platform => "sk-platform-",
        }
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::Root => "root",
            Self::Scim => "scim",
            Self::Platform => "platform",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// A freshly minted secret: the plain value (shown once), its digest and its redaction.
pub struct NewSecret {
    /// The secret itself; returned to the client once and never stored.
    pub value: String,
    /// SHA-256 of `value`, hex-encoded: what the database keeps.
    pub hash: String,
    /// A display form such as `sk-admin-AbCd…wxyz`.
    pub redacted: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("redacted", &self.redacted)
            .finish_non_exhaustive()
    }
}

/// Mints a new secret of `kind`.
pub fn mint(kind: KeyKind) -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let value = format!("{}{body}", kind.prefix());
    let hash = hash(&value);
    let redacted = redact(&value);
    NewSecret {
        value,
        hash,
        redacted,
    }
}

/// The SHA-256 digest of a secret, hex-encoded.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// The redacted display form: the prefix, four characters, an ellipsis, the last four.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let prefix_len = [
        KeyKind::Admin,
        KeyKind::User,
        KeyKind::Root,
        KeyKind::Scim,
        KeyKind::Platform,
    ]
    .iter()
    .map(|k| k.prefix())
    .find(|p| secret.starts_with(p))
    .map_or(0, str::len);
    if chars.len() < prefix_len + 8 {
        return "****".to_owned();
    }
    let head: String = chars[..prefix_len + 4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Compares two byte strings in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A random single-use token (invites), URL-safe, 32 bytes of entropy.
pub fn token() -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&value);
    NewSecret {
        redacted: "****".to_owned(),
        value,
        hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_long_unique_and_hashed() {
        let a = mint(KeyKind::Admin);
        let b = mint(KeyKind::Admin);
        assert!(a.value.starts_with("sk-admin-"));
        assert!(a.value.len() >= "sk-admin-".len() + 43);
        assert_ne!(a.value, b.value);
        assert_eq!(a.hash, hash(&a.value));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.redacted.contains(&a.value[12..30]));
        assert!(constant_time_eq(
            a.hash.as_bytes(),
            hash(&a.value).as_bytes()
        ));
        assert!(!constant_time_eq(a.hash.as_bytes(), b.hash.as_bytes()));
        assert!(!format!("{a:?}").contains(&a.value));
    }
}
