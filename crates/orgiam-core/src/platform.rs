//! The platform level: who acts across every organization, and with which permissions.
//!
//! Guarantees: a platform actor is either the root key (every platform permission) or a
//! platform key holding exactly the permissions it was minted with, each one of
//! [`PLATFORM_PERMISSIONS`]; a platform key never acts inside an organization as a member.

use crate::ids::KeyId;
use crate::{Error, Result};

/// Every platform permission, in the order the documentation lists them.
pub const PLATFORM_PERMISSIONS: &[(&str, &str)] = &[
    ("platform.organizations.read", "list and read organizations"),
    (
        "platform.organizations.write",
        "create, rename and delete organizations; mint recovery admin keys",
    ),
    (
        "platform.catalog.write",
        "manage the global permissions and roles",
    ),
    (
        "platform.check",
        "ask permission checks in any organization",
    ),
    ("platform.audit_logs.read", "read the platform audit log"),
];

/// Validates a platform key's permission list: at least one, each a platform permission,
/// without repeats; returns them in catalog order.
pub fn permissions(param: &str, asked: &[String]) -> Result<Vec<String>> {
    if asked.is_empty() {
        return Err(Error::invalid(
            param,
            "a platform key needs at least one permission",
        ));
    }
    for (i, p) in asked.iter().enumerate() {
        if !PLATFORM_PERMISSIONS.iter().any(|(n, _)| n == p) {
            let known: Vec<&str> = PLATFORM_PERMISSIONS.iter().map(|(n, _)| *n).collect();
            return Err(Error::invalid_code(
                "unknown_permission",
                format!("{param}[{i}]"),
                format!(
                    "'{}' is not a platform permission; they are {}",
                    crate::validate::quote(p),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(PLATFORM_PERMISSIONS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| asked.iter().any(|a| a == n))
        .map(str::to_owned)
        .collect())
}

/// Who acts at platform level.
#[derive(Debug, Clone)]
pub struct PlatformActor {
    /// The platform key used; `None` for the root key.
    pub key_id: Option<KeyId>,
    /// The key's name (`root` for the root key).
    pub name: String,
    /// The platform permissions held (all of them for the root key).
    pub permissions: Vec<String>,
}

impl PlatformActor {
    /// The root key: every platform permission.
    pub fn root() -> Self {
        PlatformActor {
            key_id: None,
            name: "root".to_owned(),
            permissions: PLATFORM_PERMISSIONS
                .iter()
                .map(|(n, _)| (*n).to_owned())
                .collect(),
        }
    }

    /// Whether the actor holds the platform permission `p`.
    pub fn holds(&self, p: &str) -> bool {
        self.permissions.iter().any(|h| h == p)
    }

    /// The actor in the audit log's `actor` shape: `{"type": "platform", "platform": {...}}`.
    pub fn audit_json(&self) -> serde_json::Value {
        match &self.key_id {
            Some(id) => serde_json::json!({
                "type": "platform",
                "platform": { "type": "platform_api_key", "id": id.as_str(), "name": self.name },
            }),
            None => serde_json::json!({
                "type": "platform",
                "platform": { "type": "root_key" },
            }),
        }
    }
}
