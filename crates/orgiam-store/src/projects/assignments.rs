//! Role assignments on a project, of users and of groups: the role is a system project role or
//! one of the project's own; a grant needs project membership (the user in `project_members`,
//! the group in `project_groups`); the actor must hold every permission it hands out there.

use orgiam_core::ids::OrgId;
use orgiam_core::model::{HeldRole, Member, Role};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result};
use serde_json::json;
use sqlx::AnyConnection;

use super::groups::{GroupSummary, no_access, org_group, project_group};
use super::members::{not_in_project, project_user};
use super::{existing_project, writable_project};
use crate::assignments::{
    Holder, Principal, check_expiry, delete_assignment, held_roles, list_held, not_assigned,
    upsert_assignment,
};
use crate::db::{Store, db};
use crate::members::member;
use crate::roles::{RoleScope, scoped_role};
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// Checks for a read that `principal` exists in the organization and the project exists.
async fn check_read(
    conn: &mut AnyConnection,
    org: &OrgId,
    project: &str,
    principal: Principal<'_>,
) -> Result<()> {
    existing_project(conn, org, project).await?;
    match principal {
        Principal::User(u) => member(conn, org, u)
            .await?
            .map(drop)
            .ok_or_else(|| Error::not_found("user", u)),
        Principal::Group(g) => org_group(conn, org, g)
            .await?
            .map(drop)
            .ok_or_else(|| Error::not_found("group", g)),
    }
}

/// Checks for a change that the project is writable and `principal` is in it (404 naming
/// what is missing).
async fn check_write(
    conn: &mut AnyConnection,
    org: &OrgId,
    project: &str,
    principal: Principal<'_>,
) -> Result<()> {
    writable_project(conn, org, project).await?;
    check_read(conn, org, project, principal).await?;
    match principal {
        Principal::User(u) => project_user(conn, org, project, u)
            .await?
            .map(drop)
            .ok_or_else(|| not_in_project(u, project)),
        Principal::Group(g) => project_group(conn, org, project, g)
            .await?
            .map(drop)
            .ok_or_else(|| no_access(g, project)),
    }
}

/// The role `role_id` of `project` (a system project role or the project's own), 404 if not.
async fn project_role(
    conn: &mut AnyConnection,
    org: &OrgId,
    project: &str,
    role_id: &str,
) -> Result<Role> {
    scoped_role(conn, org, RoleScope::Project(project), role_id)
        .await?
        .ok_or_else(|| {
            let mut e = Error::not_found("role", role_id);
            e.message = format!(
                "role '{}' is not a role of project '{}'",
                quote(role_id),
                quote(project)
            );
            e
        })
}

/// A grant to make: the role, when it stops granting (if ever) and optional JSON metadata.
#[derive(Debug, Clone)]
pub struct RoleGrant {
    /// The role's id.
    pub role_id: String,
    /// When the assignment stops granting (Unix seconds); `None`: never.
    pub expires_at: Option<i64>,
    /// An optional JSON object kept on the assignment.
    pub metadata: Option<serde_json::Value>,
}

fn holder<'a>(project: &'a str, principal: Principal<'a>) -> Holder<'a> {
    Holder {
        principal,
        project: Some(project),
    }
}

impl Store {
    /// The roles `principal` holds on `project` (a user's include those held through groups).
    pub(crate) async fn list_project_roles_of(
        &self,
        org: &OrgId,
        project: &str,
        principal: Principal<'_>,
        page: &PageRequest,
    ) -> Result<Page<HeldRole>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        check_read(&mut conn, org, project, principal).await?;
        list_held(&mut conn, org, holder(project, principal), page).await
    }

    /// One role `principal` holds on `project`; 404 if it holds none with that id.
    pub(crate) async fn get_project_role_of(
        &self,
        org: &OrgId,
        project: &str,
        principal: Principal<'_>,
        role_id: &str,
    ) -> Result<HeldRole> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        check_read(&mut conn, org, project, principal).await?;
        held_roles(
            &mut conn,
            org,
            holder(project, principal),
            &[role_id.to_owned()],
        )
        .await?
        .pop()
        .ok_or_else(|| not_assigned(principal, role_id))
    }

    /// Grants a project role to a principal in the project, recording one event; returns the
    /// role and the open write.
    async fn grant_project_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        principal: Principal<'_>,
        grant: RoleGrant,
    ) -> Result<(Role, WriteTx)> {
        let RoleGrant {
            role_id,
            expires_at,
            metadata,
        } = grant;
        let role_id = role_id.as_str();
        check_expiry(expires_at)?;
        let metadata = validate::metadata("metadata", metadata.as_ref())?;
        let mut w = self.begin_write(org).await?;
        check_write(&mut w.tx, org, project, principal).await?;
        if let Principal::User(u) = principal {
            w.ensure_covers_in(actor, u, Some(project)).await?;
        }
        let role = project_role(&mut w.tx, org, project, role_id).await?;
        actor.ensure_holds_in(Some(project), &role.permissions)?;
        let granted = upsert_assignment(
            &mut w,
            actor,
            principal,
            Some(project),
            role_id,
            expires_at,
            metadata,
        )
        .await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: granted.event_type,
                resource_id: granted.id.clone(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": granted.id,
                    "principal_id": principal.id(),
                    "principal_type": principal.kind(),
                    "role_id": role_id,
                    "resource_id": project,
                    "resource_type": "api.project",
                    "before": granted.before,
                    "after": { "expires_at": expires_at },
                }),
            },
        )
        .await?;
        Ok((role, w))
    }

    /// Revokes the direct grant of a project role from a principal (its base role: 409).
    async fn revoke_project_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        principal: Principal<'_>,
        role_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        check_write(&mut w.tx, org, project, principal).await?;
        if let Principal::User(u) = principal {
            w.ensure_covers_in(actor, u, Some(project)).await?;
        }
        let id = delete_assignment(&mut w, principal, Some(project), role_id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "role.assignment.deleted",
                resource_id: id.clone(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": id,
                    "principal_id": principal.id(),
                    "principal_type": principal.kind(),
                    "role_id": role_id,
                    "resource_id": project,
                    "resource_type": "api.project",
                }),
            },
        )
        .await?;
        w.commit().await
    }

    /// The project roles `user_id` holds on `project`, directly or through groups.
    pub async fn list_project_user_roles(
        &self,
        org: &OrgId,
        project: &str,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<HeldRole>> {
        self.list_project_roles_of(org, project, Principal::User(user_id), page)
            .await
    }

    /// One project role as held by `user_id` on `project`.
    pub async fn get_project_user_role(
        &self,
        org: &OrgId,
        project: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<HeldRole> {
        self.get_project_role_of(org, project, Principal::User(user_id), role_id)
            .await
    }

    /// Grants a project role to a member of the project (again: updates `expires_at`).
    pub async fn assign_project_user_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        user_id: &str,
        grant: RoleGrant,
    ) -> Result<(Role, Member, i64)> {
        let principal = Principal::User(user_id);
        let (role, mut w) = self
            .grant_project_role(actor, org, project, principal, grant)
            .await?;
        let m = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::internal("member vanished"))?;
        let revision = w.commit().await?;
        Ok((role, m, revision))
    }

    /// Revokes a project user's direct grant of a project role.
    pub async fn unassign_project_user_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<i64> {
        self.revoke_project_role(actor, org, project, Principal::User(user_id), role_id)
            .await
    }

    /// The project roles group `group_id` holds on `project`.
    pub async fn list_project_group_roles(
        &self,
        org: &OrgId,
        project: &str,
        group_id: &str,
        page: &PageRequest,
    ) -> Result<Page<HeldRole>> {
        self.list_project_roles_of(org, project, Principal::Group(group_id), page)
            .await
    }

    /// One project role as held by group `group_id` on `project`.
    pub async fn get_project_group_role(
        &self,
        org: &OrgId,
        project: &str,
        group_id: &str,
        role_id: &str,
    ) -> Result<HeldRole> {
        self.get_project_role_of(org, project, Principal::Group(group_id), role_id)
            .await
    }

    /// Grants a project role to a group with access to the project (again: updates
    /// `expires_at`).
    pub async fn assign_project_group_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        group_id: &str,
        grant: RoleGrant,
    ) -> Result<(Role, GroupSummary, i64)> {
        let principal = Principal::Group(group_id);
        let (role, mut w) = self
            .grant_project_role(actor, org, project, principal, grant)
            .await?;
        let g = org_group(&mut w.tx, org, group_id)
            .await?
            .ok_or_else(|| Error::internal("group vanished"))?;
        let revision = w.commit().await?;
        Ok((role, g, revision))
    }

    /// Revokes a group's grant of a project role.
    pub async fn unassign_project_group_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        group_id: &str,
        role_id: &str,
    ) -> Result<i64> {
        self.revoke_project_role(actor, org, project, Principal::Group(group_id), role_id)
            .await
    }
}
