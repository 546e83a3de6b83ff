//! Projects: sub-resources of an organization that roles can be scoped to. A project is
//! created and archived, never deleted. An archived project refuses every write under it
//! (409 `project_archived`) and grants nothing (grants.rs skips its assignments); its members,
//! groups and assignments stay readable as they were.

mod assignments;
mod groups;
mod members;
mod roles;

use orgiam_core::ids::{OrgId, ProjectId};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

pub use assignments::RoleGrant;
pub use groups::{GroupSummary, ProjectGroup};
pub(crate) use members::project_user;
pub use members::{ProjectUser, ProjectUserRef};

use crate::db::{Store, db};
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent};

/// A project of an organization.
#[derive(Debug, Clone)]
pub struct Project {
    /// `proj_…`
    pub id: ProjectId,
    /// Display name (not unique).
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once archived.
    pub archived_at: Option<i64>,
}

impl Project {
    /// Whether the project is archived (read-only, grants nothing).
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

const PROJECT_COLUMNS: &str = "id, name, created_at, archived_at";

fn project_from_row(row: &sqlx::any::AnyRow) -> Result<Project> {
    Ok(Project {
        id: ProjectId::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        archived_at: row.try_get("archived_at").map_err(db)?,
    })
}

/// The project `id` of `org`, if it exists there.
pub(crate) async fn project(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> Result<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(project_from_row).transpose()
}

/// The project `id` of `org`; 404 if there is none.
pub(crate) async fn existing_project(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> Result<Project> {
    project(conn, org, id)
        .await?
        .ok_or_else(|| Error::not_found("project", id))
}

/// The project `id` of `org`, for a change under it: 404 if there is none, 409
/// `project_archived` if it is archived.
pub(crate) async fn writable_project(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> Result<Project> {
    let p = existing_project(conn, org, id).await?;
    if p.is_archived() {
        return Err(Error::conflict(
            "project_archived",
            format!(
                "project '{}' is archived; an archived project cannot be changed",
                quote(id)
            ),
        ));
    }
    Ok(p)
}

/// The audit rendering of a project.
fn project_json(p: &Project) -> serde_json::Value {
    json!({
        "id": p.id.as_str(),
        "name": p.name,
        "archived_at": p.archived_at,
        "status": if p.is_archived() { "archived" } else { "active" },
    })
}

impl Store {
    /// Projects of `org` by id; archived ones only if `include_archived`.
    pub async fn list_projects(
        &self,
        org: &OrgId,
        page: &PageRequest,
        include_archived: bool,
    ) -> Result<Page<Project>> {
        let (cond, order) = keyset("id", page, 2);
        let archived = if include_archived {
            ""
        } else {
            " AND archived_at IS NULL"
        };
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = $1{archived}{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let projects = rows
            .iter()
            .map(project_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(projects, page.limit))
    }

    /// One project (archived or not); 404 if `org` has no such project.
    pub async fn get_project(&self, org: &OrgId, id: &str) -> Result<Project> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_project(&mut conn, org, id).await
    }

    /// Creates a project.
    pub async fn create_project(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
    ) -> Result<(Project, i64)> {
        let name = validate::name("name", name)?;
        let mut w = self.begin_write(org).await?;
        let id = ProjectId::generate();
        sqlx::query(
            "INSERT INTO projects (id, org_id, name, created_at, archived_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(name.as_str())
        .bind(now_unix())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let p = existing_project(&mut w.tx, org, id.as_str()).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.created",
                resource_id: id.as_str().to_owned(),
                project_id: Some(id.as_str().to_owned()),
                payload: json!({
                    "id": id.as_str(),
                    "data": { "name": p.name, "title": p.name },
                    "after": project_json(&p),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((p, revision))
    }

    /// Renames a project; `None` changes nothing (but is still a recorded write). 409 if the
    /// project is archived.
    pub async fn update_project(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
        name: Option<&str>,
    ) -> Result<(Project, i64)> {
        let name = name.map(|n| validate::name("name", n)).transpose()?;
        let mut w = self.begin_write(org).await?;
        let before = writable_project(&mut w.tx, org, id).await?;
        if let Some(name) = &name {
            sqlx::query("UPDATE projects SET name = $1 WHERE org_id = $2 AND id = $3")
                .bind(name.as_str())
                .bind(org.as_str())
                .bind(id)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
        let after = existing_project(&mut w.tx, org, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.updated",
                resource_id: id.to_owned(),
                project_id: Some(id.to_owned()),
                payload: json!({
                    "id": id,
                    "changes_requested": { "title": name, "name": name },
                    "before": project_json(&before),
                    "after": project_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// Archives a project: from now on it refuses changes and its assignments grant nothing
    /// (they are kept, and summarised in the event). 409 if it is already archived.
    pub async fn archive_project(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
    ) -> Result<(Project, i64)> {
        let mut w = self.begin_write(org).await?;
        let before = writable_project(&mut w.tx, org, id).await?;
        let mut ended = serde_json::Map::new();
        for table in ["project_members", "project_groups", "role_assignments"] {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE org_id = $1 AND project_id = $2"
            ))
            .bind(org.as_str())
            .bind(id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db)?;
            ended.insert(table.to_owned(), json!(n));
        }
        sqlx::query("UPDATE projects SET archived_at = $1 WHERE org_id = $2 AND id = $3")
            .bind(now_unix())
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        let after = existing_project(&mut w.tx, org, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "project.archived",
                resource_id: id.to_owned(),
                project_id: Some(id.to_owned()),
                payload: json!({
                    "id": id,
                    "grants_ended": ended,
                    "before": project_json(&before),
                    "after": project_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }
}
