//! Wire types of the native API, shaped as the `openai` SDK's `admin.organization` types.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use orgiam_core::model::{HeldRole, Member, Role};
use orgiam_core::page::Page;
use serde::Serialize;
use utoipa::ToSchema;

/// A JSON response to a write, with the organization's revision after it.
pub struct Written<T>(pub T, pub i64);

impl<T: Serialize> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        let mut res = axum::Json(self.0).into_response();
        if let Ok(v) = HeaderValue::from_str(&self.1.to_string()) {
            res.headers_mut().insert("orgiam-revision", v);
        }
        res
    }
}

/// A page of a list, in the envelope every SDK page type reads (`next`, `last_id` or the last
/// item's id, and `has_more`).
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    /// Always `list`.
    #[schema(example = "list")]
    pub object: &'static str,
    /// The items.
    pub data: Vec<T>,
    /// The first item's cursor.
    pub first_id: Option<String>,
    /// The last item's cursor.
    pub last_id: Option<String>,
    /// Whether more items follow.
    pub has_more: bool,
    /// The cursor of the next page (`after=`), present whenever `has_more` is true.
    pub next: Option<String>,
}

impl<T> List<T> {
    /// Renders a page, with `key` giving each item's cursor.
    pub fn of<U>(page: Page<U>, key: impl Fn(&U) -> String, render: impl Fn(U) -> T) -> Self {
        let first_id = page.items.first().map(&key);
        let last_id = page.items.last().map(&key);
        let next = if page.has_more { last_id.clone() } else { None };
        List {
            object: "list",
            first_id,
            last_id,
            has_more: page.has_more,
            next,
            data: page.items.into_iter().map(render).collect(),
        }
    }
}

/// A role (`object: "role"`).
#[derive(Serialize, ToSchema)]
pub struct RoleObject {
    /// Always `role`.
    pub object: &'static str,
    /// `role_…`
    pub id: String,
    /// Unique in its scope.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Whether the role is a read-only system role.
    pub predefined_role: bool,
    /// `api.organization` or `api.project`.
    pub resource_type: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<Role> for RoleObject {
    fn from(r: Role) -> Self {
        RoleObject {
            object: "role",
            predefined_role: r.is_system(),
            resource_type: r.resource_type.as_str(),
            id: r.id.into_string(),
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A member of the organization (`object: "organization.user"`).
#[derive(Serialize, ToSchema)]
pub struct OrganizationUser {
    /// Always `organization.user`.
    pub object: &'static str,
    /// `user_…`
    pub id: String,
    /// Display name in this organization.
    pub name: Option<String>,
    /// Email.
    pub email: String,
    /// Base role: `owner`, `admin`, `member` or `reader`.
    pub role: &'static str,
    /// When the user joined the organization (Unix seconds).
    pub added_at: i64,
    /// When the user joined the organization (Unix seconds), like `added_at`: timestamps on
    /// the wire are per membership, so that an organization learns nothing about the
    /// identity's life elsewhere.
    pub created: i64,
    /// Whether the organization's identity provider manages the user through SCIM.
    pub is_scim_managed: bool,
    /// Accepted for SDK compatibility; always null.
    pub developer_persona: Option<String>,
    /// Accepted for SDK compatibility; always null.
    pub technical_level: Option<String>,
}

impl From<Member> for OrganizationUser {
    fn from(m: Member) -> Self {
        OrganizationUser {
            object: "organization.user",
            id: m.user_id.into_string(),
            name: m.name,
            email: m.email,
            role: m.role.name(),
            added_at: m.added_at,
            created: m.added_at,
            is_scim_managed: m.scim_managed,
            developer_persona: None,
            technical_level: None,
        }
    }
}

/// Where an assignment comes from.
#[derive(Serialize, ToSchema)]
pub struct AssignmentSourceObject {
    /// `user` or `group`.
    pub principal_type: &'static str,
    /// The user's or group's id.
    pub principal_id: String,
}

/// A user (who made an assignment).
#[derive(Serialize, ToSchema)]
pub struct UserRef {
    /// `user_…`
    pub id: String,
    /// Email.
    pub email: String,
    /// Display name in this organization.
    pub name: Option<String>,
}

/// A role as held by a principal: the role's fields plus the assignment's.
#[derive(Serialize, ToSchema)]
pub struct AssignedRole {
    /// The role's id.
    pub id: String,
    /// The role's name.
    pub name: String,
    /// The role's description.
    pub description: Option<String>,
    /// The role's permissions.
    pub permissions: Vec<String>,
    /// Whether the role is a system role.
    pub predefined_role: bool,
    /// `api.organization` or `api.project`.
    pub resource_type: &'static str,
    /// Every path by which the principal holds the role.
    pub assignment_sources: Vec<AssignmentSourceObject>,
    /// When the assignment was made (Unix seconds).
    pub created_at: i64,
    /// Who made it (user id), if known.
    pub created_by: Option<String>,
    /// That user, if still known.
    pub created_by_user_obj: Option<UserRef>,
    /// The assignment's metadata.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// When the role was last changed (Unix seconds).
    pub updated_at: i64,
    /// When the assignment stops granting (Unix seconds), if ever.
    pub expires_at: Option<i64>,
}

impl From<HeldRole> for AssignedRole {
    fn from(h: HeldRole) -> Self {
        AssignedRole {
            predefined_role: h.role.is_system(),
            resource_type: h.role.resource_type.as_str(),
            id: h.role.id.into_string(),
            name: h.role.name,
            description: h.role.description,
            permissions: h.role.permissions,
            updated_at: h.role.updated_at,
            assignment_sources: h
                .sources
                .into_iter()
                .map(|s| AssignmentSourceObject {
                    principal_type: s.principal_type,
                    principal_id: s.principal_id,
                })
                .collect(),
            created_at: h.assigned_at,
            created_by: h.assigned_by,
            created_by_user_obj: h.assigned_by_user.map(|(id, email, name)| UserRef {
                id,
                email,
                name,
            }),
            metadata: h.metadata.and_then(|m| serde_json::from_str(&m).ok()),
            expires_at: h.expires_at,
        }
    }
}

/// The answer to a role grant (`object: "user.role"`).
#[derive(Serialize, ToSchema)]
pub struct UserRoleObject {
    /// Always `user.role`.
    pub object: &'static str,
    /// The role.
    pub role: RoleObject,
    /// The user.
    pub user: OrganizationUser,
}

/// A deletion with an id (`role.deleted`, `organization.user.deleted`).
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// `role.deleted`, `organization.user.deleted`, …
    pub object: &'static str,
    /// The deleted object's id.
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

/// A deletion of an assignment (`user.role.deleted`): no id, as in the SDK.
#[derive(Serialize, ToSchema)]
pub struct AssignmentDeleted {
    /// `user.role.deleted`, `group.role.deleted`, …
    pub object: &'static str,
    /// Always true.
    pub deleted: bool,
}
