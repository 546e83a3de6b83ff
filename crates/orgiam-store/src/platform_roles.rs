//! Global roles: organization-level roles the platform defines for every organization,
//! listed in each as predefined (read-only there) and assignable there like any role; and the
//! app permissions the platform gives the system roles `reader` and `member`.
//!
//! Guarantees: a global role holds only permissions of no organization (built-in or global);
//! its name is unique among the shared roles and never a system role's; it cannot be deleted
//! while any organization assigns it (409), so no organization loses a grant without its own
//! audit event; every change moves the platform revision, which every process's snapshots
//! follow.

use std::collections::BTreeSet;

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::RoleId;
use orgiam_core::model::Role;
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::platform::PlatformActor;
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db, is_unique_violation};
use crate::platform::{bump_platform, platform_event};
use crate::roles::{NewRole, ROLE_COLUMNS, RoleChanges, check_custom_name, with_permissions};
use crate::sql::{keyset, placeholders};
use crate::write::AuditEvent;

/// The condition selecting global roles of the table aliased `t` (its parameters: the system
/// role ids, bound first by [`bind_system`]).
fn global_condition(t: &str) -> String {
    format!(
        "{t}org_id IS NULL AND {t}project_id IS NULL AND {t}resource_type = 'api.organization' \
         AND {t}id NOT IN ({})",
        placeholders(1, SystemRole::ALL.len())
    )
}

fn bind_system<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for r in SystemRole::ALL {
        q = q.bind(r.id_str());
    }
    q
}

/// One global role, read on `conn`.
async fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Role>> {
    let n = SystemRole::ALL.len();
    let sql = format!(
        "SELECT {ROLE_COLUMNS} FROM roles WHERE {} AND id = ${}",
        global_condition(""),
        n + 1
    );
    let rows = bind_system(sqlx::query(&sql))
        .bind(id.to_owned())
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(with_permissions(conn, rows).await?.pop())
}

/// Resolves a global role's permissions: each a permission of no organization.
async fn resolve(conn: &mut AnyConnection, names: &[String]) -> Result<Vec<(String, String)>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let param = format!("permissions[{i}]");
        validate::permission_name(&param, name)?;
        if !seen.insert(name.clone()) {
            continue;
        }
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM permissions WHERE name = $1 AND org_id IS NULL AND \
             resource_type = 'api.organization'",
        )
        .bind(name.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        let Some(id) = id else {
            return Err(Error::invalid_code(
                "unknown_permission",
                param,
                format!(
                    "permission '{}' is neither built-in nor a platform permission of the \
                     organization level",
                    quote(name)
                ),
            ));
        };
        out.push((id, name.clone()));
    }
    Ok(out)
}

/// A system role with its stored permissions (built-in and app ones).
async fn system_role(conn: &mut AnyConnection, id: &str) -> Result<Role> {
    let rows = sqlx::query(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1"))
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut role = with_permissions(conn, rows)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("role", id))?;
    role.permissions.sort_unstable();
    Ok(role)
}

/// Records a global or system role's change in the platform audit log and commits.
async fn updated(
    mut tx: crate::write::WriteConn,
    actor: &PlatformActor,
    id: &str,
    before: &Role,
    after: &Role,
) -> Result<()> {
    platform_event(
        &mut tx,
        actor,
        None,
        AuditEvent {
            event_type: "role.updated",
            resource_id: id.to_owned(),
            project_id: None,
            payload: json!({ "id": id, "before": role_json(before), "after": role_json(after) }),
        },
    )
    .await?;
    tx.commit_platform().await
}

fn role_json(r: &Role) -> serde_json::Value {
    json!({ "id": r.id.as_str(), "name": r.name, "description": r.description, "permissions": r.permissions })
}

async fn set_permissions(
    conn: &mut AnyConnection,
    id: &str,
    perms: &[(String, String)],
) -> Result<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    insert_permissions(conn, id, perms).await
}

async fn insert_permissions(
    conn: &mut AnyConnection,
    id: &str,
    perms: &[(String, String)],
) -> Result<()> {
    for (pid, _) in perms {
        sqlx::query("INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)")
            .bind(id)
            .bind(pid.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

fn taken(e: &sqlx::Error, name: &str) -> Option<Error> {
    is_unique_violation(e).then(|| {
        Error::conflict(
            "role_name_taken",
            format!("a role named '{}' already exists", quote(name)),
        )
    })
}

impl Store {
    /// The global roles, by id.
    pub async fn list_global_roles(&self, page: &PageRequest) -> Result<Page<Role>> {
        let n = SystemRole::ALL.len();
        let (cond, order) = keyset("id", page, n + 1);
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE {}{cond}{order} LIMIT {}",
            global_condition(""),
            page.limit + 1
        );
        let mut q = bind_system(sqlx::query(&sql));
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
        let roles = with_permissions(&mut conn, rows).await?;
        Ok(Page::from_overfetch(roles, page.limit))
    }

    /// One global role; 404 if `id` is not one.
    pub async fn get_global_role(&self, id: &str) -> Result<Role> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        find(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))
    }

    /// Defines a global role; returns it and the platform revision.
    pub async fn create_global_role(
        &self,
        actor: &PlatformActor,
        new: NewRole,
    ) -> Result<(Role, i64)> {
        let name = check_custom_name(&new.name)?;
        let description = validate::description("description", new.description.as_deref())?;
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        let perms = resolve(&mut tx, &new.permissions).await?;
        let id = RoleId::generate();
        let now = now_unix();
        let r = sqlx::query(
            "INSERT INTO roles (id, org_id, project_id, resource_type, name, name_key, description, \
             metadata, created_at, updated_at, created_by) \
             VALUES ($1, NULL, NULL, 'api.organization', $2, $3, $4, NULL, $5, $5, NULL)",
        )
        .bind(id.as_str())
        .bind(name.as_str())
        .bind(validate::fold_case(&name))
        .bind(description.clone())
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = r {
            return Err(taken(&e, &name).unwrap_or_else(|| db(e)));
        }
        set_permissions(&mut tx, id.as_str(), &perms).await?;
        let role = find(&mut tx, id.as_str())
            .await?
            .ok_or_else(|| Error::internal("global role vanished"))?;
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "role.created",
                resource_id: id.as_str().to_owned(),
                project_id: None,
                payload: json!({ "id": id.as_str(), "data": role_json(&role), "after": role_json(&role) }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok((role, revision))
    }

    /// Changes a global role; returns it and the platform revision.
    pub async fn update_global_role(
        &self,
        actor: &PlatformActor,
        id: &str,
        changes: RoleChanges,
    ) -> Result<(Role, i64)> {
        if let Some(system) = SystemRole::from_id(id) {
            return self.set_app_permissions(actor, system, changes).await;
        }
        let name = changes.name.as_deref().map(check_custom_name).transpose()?;
        let description = match &changes.description {
            Some(d) => Some(validate::description("description", d.as_deref())?),
            None => None,
        };
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        let before = find(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))?;
        if let Some(names) = &changes.permissions {
            let perms = resolve(&mut tx, names).await?;
            set_permissions(&mut tx, id, &perms).await?;
        }
        let name = name.unwrap_or_else(|| before.name.clone());
        let description = description.unwrap_or_else(|| before.description.clone());
        let r = sqlx::query(
            "UPDATE roles SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(name.as_str())
        .bind(validate::fold_case(&name))
        .bind(description)
        .bind(now_unix())
        .bind(id)
        .execute(&mut *tx)
        .await;
        if let Err(e) = r {
            return Err(taken(&e, &name).unwrap_or_else(|| db(e)));
        }
        let after = find(&mut tx, id)
            .await?
            .ok_or_else(|| Error::internal("global role vanished"))?;
        updated(tx, actor, id, &before, &after).await?;
        Ok((after, revision))
    }

    /// Sets the app permissions (global ones) of the system role `reader` or `member`: the
    /// full `permissions` list, whose built-in part must stay exactly what it is (400
    /// otherwise). Every organization's listings and checks then include them.
    async fn set_app_permissions(
        &self,
        actor: &PlatformActor,
        system: SystemRole,
        changes: RoleChanges,
    ) -> Result<(Role, i64)> {
        if !matches!(system, SystemRole::OrgReader | SystemRole::OrgMember) {
            return Err(Error::invalid(
                "role_id",
                format!(
                    "only the system roles 'reader' and 'member' take app permissions; '{}' \
                     holds what its rule gives it",
                    system.name()
                ),
            ));
        }
        if changes.name.is_some() || changes.description.is_some() {
            return Err(Error::invalid(
                "role_name",
                "a system role's name and description are fixed",
            ));
        }
        let Some(names) = changes.permissions else {
            return Err(Error::invalid(
                "permissions",
                "give the role's full permissions list: its built-in permissions and the app \
                 permissions it should hold",
            ));
        };
        let builtin: BTreeSet<&str> = system.permissions().map(|p| p.name).collect();
        let asked: BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with("api."))
            .collect();
        if asked != builtin {
            return Err(Error::invalid(
                "permissions",
                format!(
                    "the api.* part of '{}' cannot change; it must stay exactly: {}",
                    system.name(),
                    builtin.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let app: Vec<String> = names
            .iter()
            .filter(|n| !n.starts_with("api."))
            .cloned()
            .collect();
        let id = system.id_str();
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        let before = system_role(&mut tx, id).await?;
        let perms = resolve(&mut tx, &app).await?;
        sqlx::query(
            "DELETE FROM role_permissions WHERE role_id = $1 AND permission_id IN \
             (SELECT id FROM permissions WHERE org_id IS NULL AND name NOT LIKE 'api.%')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_permissions(&mut tx, id, &perms).await?;
        let after = system_role(&mut tx, id).await?;
        updated(tx, actor, id, &before, &after).await?;
        Ok((after, revision))
    }

    /// Deletes a global role: 409 while any organization assigns it.
    pub async fn delete_global_role(&self, actor: &PlatformActor, id: &str) -> Result<i64> {
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        let before = find(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM role_assignments WHERE role_id = $1 LIMIT 1) x",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if used > 0 {
            return Err(Error::conflict(
                "role_in_use",
                format!(
                    "role '{}' is assigned in some organization; unassign it there first",
                    quote(id)
                ),
            ));
        }
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "role.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({ "id": id, "before": role_json(&before) }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok(revision)
    }
}

/// The global roles as the engine sees them (for every organization's snapshot).
pub(crate) async fn global_role_defs(
    conn: &mut AnyConnection,
) -> Result<Vec<orgiam_authz::RoleDef>> {
    let sql = format!(
        "SELECT r.id, r.name, p.name AS permission FROM roles r \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id \
         LEFT JOIN permissions p ON p.id = rp.permission_id \
         WHERE {} ORDER BY r.id",
        global_condition("r.")
    );
    let rows = bind_system(sqlx::query(&sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut out: Vec<orgiam_authz::RoleDef> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id").map_err(db)?;
        if out.last().is_none_or(|r| r.id != id) {
            out.push(orgiam_authz::RoleDef {
                id: id.clone(),
                name: row.try_get("name").map_err(db)?,
                permissions: Vec::new(),
            });
        }
        if let (Some(last), Some(p)) = (
            out.last_mut(),
            row.try_get::<Option<String>, _>("permission").map_err(db)?,
        ) {
            last.permissions.push(p);
        }
    }
    Ok(out)
}
