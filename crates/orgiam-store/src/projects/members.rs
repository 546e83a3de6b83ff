//! Project users: members of the organization added to one of its projects. Each has exactly
//! one base project role (a system project role: `owner`, `member` or `viewer`), stored as an
//! assignment with `is_base = 1` on the project, as the organization's base role is. Removing a
//! project user removes, by cascade, every assignment they hold on the project.

use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{AssignmentId, OrgId, UserId};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use super::{existing_project, writable_project};
use crate::db::{Store, db, is_unique_violation};
use crate::members::member;
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent};

/// A member of a project.
#[derive(Debug, Clone)]
pub struct ProjectUser {
    /// `user_…`
    pub user_id: UserId,
    /// The identity's email.
    pub email: String,
    /// The display name in the organization.
    pub name: Option<String>,
    /// The base project role.
    pub role: SystemRole,
    /// When the user was added to the project (Unix seconds).
    pub added_at: i64,
}

/// Who to add to a project, and with which base role: the user by id or by email (at least
/// one; both must then name the same member).
#[derive(Debug, Clone)]
pub struct ProjectUserRef {
    /// The user's id.
    pub user_id: Option<String>,
    /// The user's email (case-insensitive).
    pub email: Option<String>,
    /// The base project role.
    pub role: SystemRole,
}

const PROJECT_USER_SELECT: &str = "SELECT pm.user_id, u.email, m.name, pm.created_at AS added_at, \
     ra.role_id FROM project_members pm \
     JOIN memberships m ON m.org_id = pm.org_id AND m.user_id = pm.user_id \
     JOIN users u ON u.id = pm.user_id \
     LEFT JOIN role_assignments ra ON ra.org_id = pm.org_id AND ra.project_id = pm.project_id \
     AND ra.principal_id = pm.user_id AND ra.is_base = 1 \
     WHERE pm.org_id = $1 AND pm.project_id = $2";

fn project_user_from_row(row: &sqlx::any::AnyRow) -> Result<ProjectUser> {
    let role_id: Option<String> = row.try_get("role_id").map_err(db)?;
    Ok(ProjectUser {
        user_id: UserId::from_trusted(row.try_get("user_id").map_err(db)?),
        email: row.try_get("email").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        role: role_id
            .as_deref()
            .and_then(SystemRole::from_id)
            .unwrap_or(SystemRole::ProjectViewer),
        added_at: row.try_get("added_at").map_err(db)?,
    })
}

/// The member `user_id` of project `project`, if they are one.
pub(crate) async fn project_user(
    conn: &mut AnyConnection,
    org: &OrgId,
    project: &str,
    user_id: &str,
) -> Result<Option<ProjectUser>> {
    let sql = format!("{PROJECT_USER_SELECT} AND pm.user_id = $3");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(project)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(project_user_from_row).transpose()
}

/// 404: `user_id` is not a member of `project`.
pub(crate) fn not_in_project(user_id: &str, project: &str) -> Error {
    Error {
        kind: orgiam_core::ErrorKind::NotFound,
        code: "not_project_member",
        message: format!(
            "user '{}' is not a member of project '{}'; add them to the project first",
            quote(user_id),
            quote(project)
        ),
        param: None,
    }
}

fn check_project_role(role: SystemRole) -> Result<()> {
    if role.resource_type() != ResourceType::Project {
        return Err(Error::invalid(
            "role",
            "role must be a project role: owner, member or viewer",
        ));
    }
    Ok(())
}

fn role_permissions(role: SystemRole) -> Vec<String> {
    role.permissions().map(|p| p.name.to_owned()).collect()
}

/// The audit rendering of a project user.
fn project_user_json(u: &ProjectUser) -> serde_json::Value {
    json!({ "id": u.user_id.as_str(), "email": u.email, "name": u.name, "role": u.role.name() })
}

/// Resolves who to add: the organization member with this id and/or email (404 otherwise).
async fn resolve_member(
    conn: &mut AnyConnection,
    org: &OrgId,
    who: &ProjectUserRef,
) -> Result<UserId> {
    let by_email = match &who.email {
        None => None,
        Some(e) => {
            let email = validate::email("email", e)?;
            let id: Option<String> = sqlx::query_scalar(
                "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 AND u.email_key = $2",
            )
            .bind(org.as_str())
            .bind(validate::fold_case(&email))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            Some(id.ok_or_else(|| {
                let mut e = Error::not_found("user", &email);
                e.message = format!(
                    "no member of this organization has the email '{}'; users must be members of the organization to be added to a project",
                    quote(&email)
                );
                e
            })?)
        }
    };
    match (&who.user_id, by_email) {
        (None, None) => Err(Error::invalid(
            "user_id",
            "give the user to add as user_id or email",
        )),
        (None, Some(id)) => Ok(UserId::from_trusted(id)),
        (Some(id), by_email) => {
            let m = member(conn, org, id)
                .await?
                .ok_or_else(|| Error::not_found("user", id))?;
            if by_email.is_some_and(|e| e != m.user_id.as_str()) {
                return Err(Error::invalid(
                    "email",
                    format!(
                        "email '{}' is not the email of user '{}'",
                        quote(who.email.as_deref().unwrap_or_default()),
                        quote(id)
                    ),
                ));
            }
            Ok(m.user_id)
        }
    }
}

impl Store {
    /// Members of project `project`, by user id; 404 if `org` has no such project.
    pub async fn list_project_users(
        &self,
        org: &OrgId,
        project: &str,
        page: &PageRequest,
    ) -> Result<Page<ProjectUser>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_project(&mut conn, org, project).await?;
        let (cond, order) = keyset("pm.user_id", page, 3);
        let sql = format!(
            "{PROJECT_USER_SELECT}{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str()).bind(project);
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
        let users = rows
            .iter()
            .map(project_user_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(users, page.limit))
    }

    /// One member of a project; 404 if the project or the membership does not exist.
    pub async fn get_project_user(
        &self,
        org: &OrgId,
        project: &str,
        user_id: &str,
    ) -> Result<ProjectUser> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_project(&mut conn, org, project).await?;
        project_user(&mut conn, org, project, user_id)
            .await?
            .ok_or_else(|| not_in_project(user_id, project))
    }

    /// Adds a member of the organization to a project with a base project role. 404 if the
    /// user is not a member of the organization, 409 if already in the project or if the
    /// project is archived, 403 if the actor does not hold every permission of the role.
    pub async fn add_project_user(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        who: ProjectUserRef,
    ) -> Result<(ProjectUser, i64)> {
        check_project_role(who.role)?;
        let mut w = self.begin_write(org).await?;
        writable_project(&mut w.tx, org, project).await?;
        let user_id = resolve_member(&mut w.tx, org, &who).await?;
        actor.ensure_holds_in(Some(project), &role_permissions(who.role))?;
        let already = || {
            Error::conflict(
                "already_project_member",
                format!(
                    "user '{}' is already a member of project '{}'",
                    user_id,
                    quote(project)
                ),
            )
        };
        if project_user(&mut w.tx, org, project, user_id.as_str())
            .await?
            .is_some()
        {
            return Err(already());
        }
        let now = now_unix();
        let inserted = sqlx::query(
            "INSERT INTO project_members (org_id, project_id, user_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(user_id.as_str())
        .bind(now)
        .execute(&mut *w.tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(already()),
            other => other.map_err(db)?,
        };
        sqlx::query(
            "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, user_id, \
             group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
             VALUES ($1, $2, $3, 'user', $4, $4, NULL, $5, 1, $6, $7, NULL, NULL)",
        )
        .bind(AssignmentId::generate().into_string())
        .bind(org.as_str())
        .bind(who.role.id_str())
        .bind(user_id.as_str())
        .bind(project)
        .bind(now)
        .bind(actor.user_id().map(str::to_owned))
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let u = project_user(&mut w.tx, org, project, user_id.as_str())
            .await?
            .ok_or_else(|| Error::internal("new project user vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.user.added",
                resource_id: user_id.as_str().to_owned(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": user_id.as_str(),
                    "data": { "role": who.role.name() },
                    "after": project_user_json(&u),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((u, revision))
    }

    /// Replaces a project user's base project role; `None` changes nothing (but is still a
    /// recorded write).
    pub async fn update_project_user(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        user_id: &str,
        role: Option<SystemRole>,
    ) -> Result<(ProjectUser, i64)> {
        if let Some(role) = role {
            check_project_role(role)?;
        }
        let mut w = self.begin_write(org).await?;
        writable_project(&mut w.tx, org, project).await?;
        let before = project_user(&mut w.tx, org, project, user_id)
            .await?
            .ok_or_else(|| not_in_project(user_id, project))?;
        w.ensure_covers_in(actor, user_id, Some(project)).await?;
        if let Some(role) = role {
            actor.ensure_holds_in(Some(project), &role_permissions(before.role))?;
            actor.ensure_holds_in(Some(project), &role_permissions(role))?;
            // a direct grant of the same role would duplicate the base one
            sqlx::query(
                "DELETE FROM role_assignments WHERE org_id = $1 AND principal_id = $2 \
                 AND project_id = $3 AND role_id = $4 AND is_base = 0",
            )
            .bind(org.as_str())
            .bind(user_id)
            .bind(project)
            .bind(role.id_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "UPDATE role_assignments SET role_id = $1, created_at = $2, created_by = $3 \
                 WHERE org_id = $4 AND principal_id = $5 AND project_id = $6 AND is_base = 1",
            )
            .bind(role.id_str())
            .bind(now_unix())
            .bind(actor.user_id().map(str::to_owned))
            .bind(org.as_str())
            .bind(user_id)
            .bind(project)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        }
        let after = project_user(&mut w.tx, org, project, user_id)
            .await?
            .ok_or_else(|| Error::internal("project user vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.user.updated",
                resource_id: user_id.to_owned(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": user_id,
                    "changes_requested": { "role": role.map(SystemRole::name) },
                    "before": project_user_json(&before),
                    "after": project_user_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// Removes a user from a project with every assignment they hold on it.
    pub async fn remove_project_user(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        user_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        writable_project(&mut w.tx, org, project).await?;
        let before = project_user(&mut w.tx, org, project, user_id)
            .await?
            .ok_or_else(|| not_in_project(user_id, project))?;
        w.ensure_covers_in(actor, user_id, Some(project)).await?;
        let assignments: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM role_assignments WHERE org_id = $1 AND project_id = $2 \
             AND user_id = $3",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(user_id)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "DELETE FROM project_members WHERE org_id = $1 AND project_id = $2 AND user_id = $3",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(user_id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.user.removed",
                resource_id: user_id.to_owned(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": user_id,
                    "removed": { "role_assignments": assignments },
                    "before": project_user_json(&before),
                }),
            },
        )
        .await?;
        w.commit().await
    }
}
