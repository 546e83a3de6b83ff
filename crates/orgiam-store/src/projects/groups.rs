//! Project groups: a group's access to a project (`project_groups`), granted together with a
//! project role for the group. Removing the access removes, by cascade, every assignment the
//! group holds on the project.

use orgiam_core::ids::{GroupId, OrgId, ProjectId};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::quote;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use super::{existing_project, writable_project};
use crate::assignments::{Principal, upsert_assignment};
use crate::db::{Store, db, is_unique_violation};
use crate::roles::{RoleScope, scoped_role};
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent};

/// A group's access to a project.
#[derive(Debug, Clone)]
pub struct ProjectGroup {
    /// The project.
    pub project_id: ProjectId,
    /// `group_…`
    pub group_id: GroupId,
    /// The group's name.
    pub group_name: String,
    /// When the group was given access (Unix seconds).
    pub created_at: i64,
}

/// A group of the organization, as role grants describe it.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    /// `group_…`
    pub id: GroupId,
    /// The group's name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The group `id` of `org`, if it exists.
pub(crate) async fn org_group(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> Result<Option<GroupSummary>> {
    let row =
        sqlx::query("SELECT id, name, created_at FROM org_groups WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    row.map(|r| {
        Ok(GroupSummary {
            id: GroupId::from_trusted(r.try_get("id").map_err(db)?),
            name: r.try_get("name").map_err(db)?,
            created_at: r.try_get("created_at").map_err(db)?,
        })
    })
    .transpose()
}

const PROJECT_GROUP_SELECT: &str = "SELECT pg.project_id, pg.group_id, g.name AS group_name, \
     pg.created_at FROM project_groups pg \
     JOIN org_groups g ON g.org_id = pg.org_id AND g.id = pg.group_id \
     WHERE pg.org_id = $1 AND pg.project_id = $2";

fn project_group_from_row(row: &sqlx::any::AnyRow) -> Result<ProjectGroup> {
    Ok(ProjectGroup {
        project_id: ProjectId::from_trusted(row.try_get("project_id").map_err(db)?),
        group_id: GroupId::from_trusted(row.try_get("group_id").map_err(db)?),
        group_name: row.try_get("group_name").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

/// The access of group `group_id` to `project`, if it has one.
pub(crate) async fn project_group(
    conn: &mut AnyConnection,
    org: &OrgId,
    project: &str,
    group_id: &str,
) -> Result<Option<ProjectGroup>> {
    let sql = format!("{PROJECT_GROUP_SELECT} AND pg.group_id = $3");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(project)
        .bind(group_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(project_group_from_row).transpose()
}

/// 404: `group_id` has no access to `project`.
pub(crate) fn no_access(group_id: &str, project: &str) -> Error {
    Error {
        kind: orgiam_core::ErrorKind::NotFound,
        code: "not_project_group",
        message: format!(
            "group '{}' has no access to project '{}'; add the group to the project first",
            quote(group_id),
            quote(project)
        ),
        param: None,
    }
}

impl Store {
    /// The groups with access to `project`, by group id.
    pub async fn list_project_groups(
        &self,
        org: &OrgId,
        project: &str,
        page: &PageRequest,
    ) -> Result<Page<ProjectGroup>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_project(&mut conn, org, project).await?;
        let (cond, order) = keyset("pg.group_id", page, 3);
        let sql = format!(
            "{PROJECT_GROUP_SELECT}{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str()).bind(project);
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
        let groups = rows
            .iter()
            .map(project_group_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(groups, page.limit))
    }

    /// One group's access to a project; 404 if it has none.
    pub async fn get_project_group(
        &self,
        org: &OrgId,
        project: &str,
        group_id: &str,
    ) -> Result<ProjectGroup> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_project(&mut conn, org, project).await?;
        project_group(&mut conn, org, project, group_id)
            .await?
            .ok_or_else(|| no_access(group_id, project))
    }

    /// Gives a group access to a project, granting it the project role `role_id` (a system
    /// project role or one of the project's own). 404 for an unknown group or role, 409 if the
    /// group already has access or the project is archived, 403 if the actor does not hold
    /// every permission of the role.
    pub async fn add_project_group(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        group_id: &str,
        role_id: &str,
    ) -> Result<(ProjectGroup, i64)> {
        let mut w = self.begin_write(org).await?;
        writable_project(&mut w.tx, org, project).await?;
        let group = org_group(&mut w.tx, org, group_id)
            .await?
            .ok_or_else(|| Error::not_found("group", group_id))?;
        let role = scoped_role(&mut w.tx, org, RoleScope::Project(project), role_id)
            .await?
            .ok_or_else(|| {
                let mut e = Error::not_found("role", role_id);
                e.message = format!(
                    "role '{}' is not a role of project '{}'",
                    quote(role_id),
                    quote(project)
                );
                e.with_param("role")
            })?;
        actor.ensure_holds_in(Some(project), &role.permissions)?;
        let already = || {
            Error::conflict(
                "already_project_group",
                format!(
                    "group '{}' already has access to project '{}'",
                    quote(group_id),
                    quote(project)
                ),
            )
        };
        if project_group(&mut w.tx, org, project, group_id)
            .await?
            .is_some()
        {
            return Err(already());
        }
        let inserted = sqlx::query(
            "INSERT INTO project_groups (org_id, project_id, group_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(group_id)
        .bind(now_unix())
        .execute(&mut *w.tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(already()),
            other => other.map_err(db)?,
        };
        let granted = upsert_assignment(
            &mut w,
            actor,
            Principal::Group(group_id),
            Some(project),
            role_id,
            None,
            None,
        )
        .await?;
        let pg = project_group(&mut w.tx, org, project, group_id)
            .await?
            .ok_or_else(|| Error::internal("new project group vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.group.added",
                resource_id: group_id.to_owned(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": group_id,
                    "data": { "group_name": group.name, "role": role_id, "role_name": role.name },
                    "assignment_id": granted.id,
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((pg, revision))
    }

    /// Ends a group's access to a project, with every assignment it holds on it.
    pub async fn remove_project_group(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        group_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        writable_project(&mut w.tx, org, project).await?;
        let before = project_group(&mut w.tx, org, project, group_id)
            .await?
            .ok_or_else(|| no_access(group_id, project))?;
        let assignments: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM role_assignments WHERE org_id = $1 AND project_id = $2 \
             AND group_id = $3",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(group_id)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "DELETE FROM project_groups WHERE org_id = $1 AND project_id = $2 AND group_id = $3",
        )
        .bind(org.as_str())
        .bind(project)
        .bind(group_id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.group.removed",
                resource_id: group_id.to_owned(),
                project_id: Some(project.to_owned()),
                payload: json!({
                    "id": group_id,
                    "removed": { "role_assignments": assignments },
                    "before": { "group_id": group_id, "group_name": before.group_name },
                }),
            },
        )
        .await?;
        w.commit().await
    }
}
