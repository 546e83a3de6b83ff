//! The domain objects the services return and the APIs render.

use crate::catalog::{ResourceType, SystemRole};
use crate::ids::{KeyId, OrgId, ProjectId, RoleId, UserId};
use crate::keys::KeyKind;

/// The principal a request acts as, decided by its key.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The organization the key belongs to.
    pub org_id: OrgId,
    /// The member the key acts as.
    pub user_id: UserId,
    /// That member's email (for the audit log).
    pub email: String,
    /// The key used.
    pub key_id: KeyId,
    /// Admin or user key.
    pub key_kind: KeyKind,
    /// For a user key minted by another member, that member: the key acts with the
    /// intersection of both users' current permissions.
    pub minted_by: Option<UserId>,
}

/// An organization.
#[derive(Debug, Clone)]
pub struct Organization {
    /// `org_…`
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A role with its permissions.
#[derive(Debug, Clone)]
pub struct Role {
    /// `role_…`
    pub id: RoleId,
    /// `None` for system roles.
    pub org_id: Option<OrgId>,
    /// Set for project custom roles.
    pub project_id: Option<ProjectId>,
    /// Where the role applies.
    pub resource_type: ResourceType,
    /// Unique (case-insensitively) in its scope.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Permission names, sorted.
    pub permissions: Vec<String>,
    /// Optional JSON object (text).
    pub metadata: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Role {
    /// Whether this is a predefined, read-only system role.
    pub fn is_system(&self) -> bool {
        self.org_id.is_none()
    }
}

/// A user as a member of one organization.
#[derive(Debug, Clone)]
pub struct Member {
    /// `user_…`
    pub user_id: UserId,
    /// The global identity's email.
    pub email: String,
    /// The display name in this organization.
    pub name: Option<String>,
    /// The base role.
    pub role: SystemRole,
    /// When the membership was made.
    pub added_at: i64,
    /// When the identity was created.
    pub created_at: i64,
    /// Suspended through SCIM (`active: false`): still a member, holding nothing.
    pub suspended: bool,
    /// Created by the organization's identity provider through SCIM.
    pub scim_managed: bool,
}

/// Where an assignment comes from: the user directly, or a group the user is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentSource {
    /// `user` or `group`.
    pub principal_type: &'static str,
    /// The user's or group's id.
    pub principal_id: String,
}

/// A role as held by one principal, with how it was granted.
#[derive(Debug, Clone)]
pub struct HeldRole {
    /// The role.
    pub role: Role,
    /// When the (earliest) assignment was made.
    pub assigned_at: i64,
    /// Who made it (a user id).
    pub assigned_by: Option<String>,
    /// That user's email and name, if still known.
    pub assigned_by_user: Option<(String, String, Option<String>)>,
    /// When the assignment stops granting, if ever.
    pub expires_at: Option<i64>,
    /// The assignment's metadata (JSON text).
    pub metadata: Option<String>,
    /// Every path by which the principal holds the role.
    pub sources: Vec<AssignmentSource>,
}

/// A stored API key (never the secret).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// `key_…`
    pub id: KeyId,
    /// The organization.
    pub org_id: OrgId,
    /// Admin or user key.
    pub kind: KeyKind,
    /// Display name.
    pub name: String,
    /// `sk-admin-AbCd…wxyz`
    pub redacted_value: String,
    /// The member it acts as.
    pub user_id: UserId,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, written lazily.
    pub last_used_at: Option<i64>,
    /// Unix seconds, if it expires.
    pub expires_at: Option<i64>,
}
