//! The permission catalog: the built-in `api.*` permissions (shared, read-only) and each
//! organization's own, which its roles may hold.

use orgiam_core::catalog::{ResourceType, builtin_permission};
use orgiam_core::ids::{OrgId, PermissionId};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db, is_unique_violation};
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// One permission of the catalog.
#[derive(Debug, Clone)]
pub struct Permission {
    /// `perm_…`
    pub id: String,
    /// `documents.write`, `api.users.read`, …
    pub name: String,
    /// What it allows.
    pub description: Option<String>,
    /// `api.organization` or `api.project`.
    pub resource_type: String,
    /// Whether it is one of orgiam's own (`api.*`).
    pub builtin: bool,
    /// Whether it is a global one, defined by the platform for every organization (read-only
    /// to organizations).
    pub platform: bool,
    /// Unix seconds (0 for built-in ones).
    pub created_at: i64,
}

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Permission> {
    let org: Option<String> = row.try_get("org_id").map_err(db)?;
    let name: String = row.try_get("name").map_err(db)?;
    let builtin = org.is_none() && builtin_permission(&name).is_some();
    Ok(Permission {
        id: row.try_get("id").map_err(db)?,
        description: row.try_get("description").map_err(db)?,
        resource_type: row.try_get("resource_type").map_err(db)?,
        builtin,
        platform: org.is_none() && !builtin,
        name,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

pub(crate) const COLUMNS: &str = "id, org_id, name, description, resource_type, created_at";

/// Names a route of this API already uses under `/permissions/`.
const RESERVED: [&str; 2] = ["check", "check_batch"];

pub(crate) fn permission_json(p: &Permission) -> serde_json::Value {
    json!({ "id": p.id, "name": p.name, "description": p.description, "resource_type": p.resource_type })
}

/// A new permission's name, description and resource type, checked (400 naming the field):
/// not `api.*`, not a route name, a valid name.
pub(crate) fn check_new(
    name: &str,
    description: Option<&str>,
    resource_type: Option<&str>,
) -> Result<(Option<String>, ResourceType)> {
    validate::permission_name("name", name)?;
    if name.starts_with("api.") {
        return Err(Error::invalid(
            "name",
            format!(
                "'{}': names starting with 'api.' are reserved for orgiam's own permissions",
                quote(name)
            ),
        ));
    }
    if RESERVED.contains(&name) {
        return Err(Error::invalid("name", format!("'{name}' is reserved")));
    }
    let description = validate::description("description", description)?;
    let rt = match resource_type {
        None => ResourceType::Organization,
        Some(s) => ResourceType::parse(s).ok_or_else(|| {
            Error::invalid(
                "resource_type",
                format!(
                    "resource_type must be 'api.organization' or 'api.project', not '{}'",
                    quote(s)
                ),
            )
        })?,
    };
    Ok((description, rt))
}

/// 409 if a global permission named `name` exists, or (`anywhere`) any permission of that
/// name, an organization's own too: a name means one permission in every catalog it is in.
pub(crate) async fn name_taken(
    conn: &mut AnyConnection,
    name: &str,
    anywhere: bool,
) -> Result<Option<Error>> {
    let sql = if anywhere {
        "SELECT org_id FROM permissions WHERE name = $1 LIMIT 1"
    } else {
        "SELECT org_id FROM permissions WHERE name = $1 AND org_id IS NULL"
    };
    let found: Option<Option<String>> = sqlx::query_scalar(sql)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(found.map(|org| {
        let whose = if org.is_some() {
            "an organization's own"
        } else {
            "a platform one"
        };
        Error::conflict(
            "permission_exists",
            format!(
                "a permission named '{}' already exists ({whose})",
                quote(name)
            ),
        )
    }))
}

/// Registers one of the organization's own permissions inside the open write `w`.
pub(crate) async fn insert_permission(
    w: &mut WriteTx,
    org: &OrgId,
    name: &str,
    description: Option<&str>,
    resource_type: Option<&str>,
) -> Result<Permission> {
    let (description, rt) = check_new(name, description, resource_type)?;
    if let Some(taken) = name_taken(&mut w.tx, name, false).await? {
        return Err(taken);
    }

    let id = PermissionId::generate().into_string();
    let now = now_unix();
    let r = sqlx::query(
        "INSERT INTO permissions (id, org_id, name, description, resource_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(name)
    .bind(description.clone())
    .bind(rt.as_str())
    .bind(now)
    .execute(&mut *w.tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "permission_exists",
                format!("a permission named '{}' already exists", quote(name)),
            ));
        }
        other => other.map_err(db)?,
    };
    Ok(Permission {
        id: id.clone(),
        name: name.to_owned(),
        description,
        resource_type: rt.as_str().to_owned(),
        builtin: false,
        platform: false,
        created_at: now,
    })
}

/// Deletes one of the organization's own permissions inside the open write `w`: 409 while a
/// role holds it; returns it.
pub(crate) async fn remove_permission(
    w: &mut WriteTx,
    org: &OrgId,
    name: &str,
) -> Result<Permission> {
    let sql = format!(
        "SELECT {COLUMNS} FROM permissions WHERE name = $1 AND (org_id IS NULL OR org_id = $2)"
    );
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(org.as_str())
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::not_found("permission", name))?;
    let p = from_row(&row)?;
    if p.platform {
        return Err(Error::forbidden(
            "platform_permission",
            format!(
                "'{}' is a platform permission; only the platform may delete it",
                quote(name)
            ),
        ));
    }
    if p.builtin {
        return Err(Error::forbidden(
            "builtin_permission",
            format!(
                "'{}' is a built-in permission and cannot be deleted",
                quote(name)
            ),
        ));
    }
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id \
         WHERE rp.permission_id = $1 ORDER BY r.name LIMIT 5",
    )
    .bind(p.id.as_str())
    .fetch_all(&mut *w.tx)
    .await
    .map_err(db)?;
    if !holders.is_empty() {
        return Err(Error::conflict(
            "permission_in_use",
            format!(
                "permission '{}' is held by roles ({}); remove it from them first",
                quote(name),
                holders
                    .iter()
                    .map(|h| format!("'{}'", quote(h)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    sqlx::query("DELETE FROM permissions WHERE id = $1")
        .bind(p.id.as_str())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    Ok(p)
}

impl Store {
    /// The catalog `org` sees, by name.
    pub async fn list_permissions(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<Permission>> {
        let (cond, order) = keyset("name", page, 2);
        let sql = format!(
            "SELECT {COLUMNS} FROM permissions WHERE (org_id IS NULL OR org_id = $1){cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit))
    }

    /// Registers one of the organization's own permissions.
    pub async fn create_permission(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
        description: Option<&str>,
        resource_type: Option<&str>,
    ) -> Result<(Permission, i64)> {
        let mut w = self.begin_write(org).await?;
        let p = insert_permission(&mut w, org, name, description, resource_type).await?;
        let id = p.id.clone();
        w.audit(
            actor,
            AuditEvent {
                event_type: "permission.created",
                resource_id: id,
                project_id: None,
                payload: json!({ "id": p.id, "data": permission_json(&p), "after": permission_json(&p) }),
            },
        )
        .await?;
        let rev = w.commit().await?;
        Ok((p, rev))
    }

    /// Deletes one of the organization's own permissions: 409 while a role holds it.
    pub async fn delete_permission(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let p = remove_permission(&mut w, org, name).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "permission.deleted",
                resource_id: p.id.clone(),
                project_id: None,
                payload: json!({ "id": p.id, "before": permission_json(&p) }),
            },
        )
        .await?;
        w.commit().await
    }
}
