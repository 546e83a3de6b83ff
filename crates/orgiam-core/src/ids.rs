//! Prefixed, ULID-based identifiers.
//!
//! Every object id is a type prefix plus a 26-character ULID (`role_01J1F8…`): sortable by
//! creation time, opaque to clients. Each kind of id is its own newtype so that a group id can
//! never be passed where a role id is expected. Parsing never panics and accepts only the exact
//! shape (prefix, 26 Crockford base32 characters), so an id from a request is either valid or a
//! clear 4xx.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 26-character length of a ULID in Crockford base32.
const ULID_LEN: usize = 26;

/// Ids made by this process increase strictly, even within one millisecond, so that lists
/// ordered by id (the audit log, keyset pages) follow creation order.
static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

fn next_ulid() -> ulid::Ulid {
    match GENERATOR.lock() {
        Ok(mut g) => g.generate().unwrap_or_else(|_| ulid::Ulid::new()),
        Err(_) => ulid::Ulid::new(),
    }
}

/// `true` when `s` is a ULID in canonical (upper-case) Crockford base32.
fn is_ulid(s: &str) -> bool {
    s.len() == ULID_LEN
        // the first character encodes the top 3 bits of a 128-bit value: at most '7'
        && s.as_bytes()[0] <= b'7'
        && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'H' | b'J' | b'K' | b'M' | b'N' | b'P'..=b'T' | b'V'..=b'Z'))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The type prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id for an object created now.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, next_ulid()))
            }

            /// Parses an id from a client, accepting only `prefix` + a canonical ULID.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                is_ulid(rest).then(|| Self(s.to_owned()))
            }

            /// Wraps an id read back from the database, which only ever stores valid ids.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as it appears on the wire and in the database.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the id into its string form.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(
    /// An organization (tenant).
    OrgId, "org_");
prefixed_id!(
    /// A global user identity.
    UserId, "user_");
prefixed_id!(
    /// An invitation into an organization.
    InviteId, "invite_");
prefixed_id!(
    /// A group of users in one organization.
    GroupId, "group_");
prefixed_id!(
    /// A project inside an organization.
    ProjectId, "proj_");
prefixed_id!(
    /// A system or custom role.
    RoleId, "role_");
prefixed_id!(
    /// One audit log event.
    AuditId, "audit_");
prefixed_id!(
    /// An API key (admin or user key); the id is public, the secret is not.
    KeyId, "key_");
prefixed_id!(
    /// One role assignment row.
    AssignmentId, "ra_");
prefixed_id!(
    /// A permission of the catalog (built-in or an organization's own).
    PermissionId, "perm_");
prefixed_id!(
    /// A webhook endpoint of an organization.
    WebhookId, "webhook_");
prefixed_id!(
    /// One webhook message to one endpoint (its `webhook-id` header).
    DeliveryId, "msg_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = RoleId::generate();
        assert!(id.as_str().starts_with("role_"));
        assert_eq!(RoleId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn rejects_wrong_prefix_and_shape() {
        let good = GroupId::generate();
        assert_eq!(RoleId::parse(good.as_str()), None);
        assert_eq!(RoleId::parse("role_"), None);
        assert_eq!(RoleId::parse("role_01J1F8ZZZZZZZZZZZZZZZZZZZZ0"), None);
        assert_eq!(RoleId::parse("role_01j1f8zzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(RoleId::parse("role_81J1F8ZZZZZZZZZZZZZZZZZZZZ"), None);
        assert_eq!(RoleId::parse("role_01J1F8ZZZZZZZZZZZZZZZZZZZI"), None);
        assert!(RoleId::parse("role_01J1F8ZZZZZZZZZZZZZZZZZZZZ").is_some());
        assert_eq!(RoleId::parse("role_01J1F8ZZZZZZZZZZZZZZZZZZ\u{e9}"), None);
    }
}
