//! The platform level: platform keys, the platform audit log and the organization lifecycle
//! (list, rename, delete, recovery admin keys).
//!
//! Guarantees: a platform key's secret leaves the store only in the return value of the call
//! that mints it (rows hold its SHA-256, compared in constant time); every platform write
//! records one platform audit event in the same transaction; a change to an organization is an
//! ordinary write on it (its revision moves, so every process's snapshot and key cache follow)
//! and is also recorded in the organization's own audit log as a platform action, unless the
//! organization itself is gone.

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::{AuditId, KeyId, OrgId, PermissionId};
use orgiam_core::keys::{self, KeyKind};
use orgiam_core::model::Organization;
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::platform::{self, PlatformActor};
use orgiam_core::validate;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::apikeys::KeyRecord;
use crate::db::{Store, db, is_unique_violation};
use crate::keys::insert_key;
use crate::members::member;
use crate::permissions::{COLUMNS, Permission, check_new, from_row, name_taken, permission_json};
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent, WriteConn};

/// A platform key (never its secret).
#[derive(Debug, Clone)]
pub struct PlatformKey {
    /// `key_…`
    pub id: KeyId,
    /// Display name.
    pub name: String,
    /// `sk-platform-AbCd…wxyz`
    pub redacted_value: String,
    /// Its platform permissions, in catalog order.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

fn platform_key_from_row(row: &sqlx::any::AnyRow) -> Result<PlatformKey> {
    let perms: String = row.try_get("permissions").map_err(db)?;
    Ok(PlatformKey {
        id: KeyId::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        redacted_value: row.try_get("redacted_value").map_err(db)?,
        permissions: perms.split_whitespace().map(str::to_owned).collect(),
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

fn org_from_row(row: &sqlx::any::AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: OrgId::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

/// Records one platform audit event (about `org`, if any) on `conn`.
pub(crate) async fn platform_event(
    conn: &mut AnyConnection,
    actor: &PlatformActor,
    org: Option<&OrgId>,
    event: AuditEvent,
) -> Result<()> {
    let details = json!({ "actor": actor.audit_json(), "payload": event.payload });
    sqlx::query(
        "INSERT INTO platform_audit_events (id, org_id, type, effective_at, actor_type, \
         actor_user_id, actor_email, actor_key_id, project_id, resource_id, details) \
         VALUES ($1, $2, $3, $4, 'platform', NULL, NULL, $5, $6, $7, $8)",
    )
    .bind(AuditId::generate().into_string())
    .bind(org.map(|o| o.as_str().to_owned()))
    .bind(event.event_type)
    .bind(now_unix())
    .bind(actor.key_id.as_ref().map(|k| k.as_str().to_owned()))
    .bind(event.project_id)
    .bind(event.resource_id)
    .bind(details.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

impl WriteConn {
    /// Commits a platform write that changed no organization (nothing for the engine to learn).
    pub(crate) async fn commit_platform(self) -> Result<()> {
        match self {
            WriteConn::Tx(tx) => tx.commit().await.map_err(db),
            WriteConn::Lane(w) => w.commit(|| {}).await,
        }
    }
}

/// The organization's earliest owner (by membership, then id), if any.
async fn earliest_owner(conn: &mut AnyConnection, org: &OrgId) -> Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT m.user_id FROM memberships m JOIN role_assignments ra \
         ON ra.org_id = m.org_id AND ra.principal_id = m.user_id \
         AND ra.project_id IS NULL AND ra.is_base = 1 \
         WHERE m.org_id = $1 AND ra.role_id = $2 ORDER BY m.created_at, m.user_id LIMIT 1",
    )
    .bind(org.as_str())
    .bind(SystemRole::OrgOwner.id_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)
}

impl Store {
    /// Mints a platform key with `permissions` (platform ones only); returns it and its secret,
    /// shown once.
    pub async fn create_platform_key(
        &self,
        actor: &PlatformActor,
        name: &str,
        permissions: &[String],
    ) -> Result<(PlatformKey, String)> {
        let name = validate::name("name", name)?;
        let permissions = platform::permissions("permissions", permissions)?;
        let secret = keys::mint(KeyKind::Platform);
        let key = PlatformKey {
            id: KeyId::generate(),
            name,
            redacted_value: secret.redacted.clone(),
            permissions,
            created_at: now_unix(),
        };
        let mut tx = self.begin_tx().await?;
        sqlx::query(
            "INSERT INTO platform_api_keys (id, name, secret_hash, redacted_value, permissions, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.as_str())
        .bind(key.name.as_str())
        .bind(secret.hash.as_str())
        .bind(key.redacted_value.as_str())
        .bind(key.permissions.join(" "))
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "platform_api_key.created",
                resource_id: key.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": key.id.as_str(),
                    "data": { "name": key.name, "permissions": key.permissions },
                    "after": { "id": key.id.as_str(), "name": key.name, "redacted_value": key.redacted_value, "permissions": key.permissions },
                }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok((key, secret.value))
    }

    /// The platform keys, by id.
    pub async fn list_platform_keys(&self, page: &PageRequest) -> Result<Page<PlatformKey>> {
        let (cond, order) = keyset("id", page, 1);
        let sql = format!(
            "SELECT id, name, redacted_value, permissions, created_at FROM platform_api_keys \
             WHERE 1 = 1{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql);
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let keys = rows
            .iter()
            .map(platform_key_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(keys, page.limit))
    }

    /// One platform key; 404 if there is none with `id`.
    pub async fn get_platform_key(&self, id: &str) -> Result<PlatformKey> {
        let row = sqlx::query(
            "SELECT id, name, redacted_value, permissions, created_at FROM platform_api_keys \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::not_found("platform api key", id))?;
        platform_key_from_row(&row)
    }

    /// Revokes a platform key: it fails from its next request on, in every process (platform
    /// keys are read from the database on every request).
    pub async fn delete_platform_key(&self, actor: &PlatformActor, id: &str) -> Result<()> {
        let before = self.get_platform_key(id).await?;
        let mut tx = self.begin_tx().await?;
        let gone = sqlx::query("DELETE FROM platform_api_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone == 0 {
            return Err(Error::not_found("platform api key", id));
        }
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "platform_api_key.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": id,
                    "before": { "id": id, "name": before.name, "redacted_value": before.redacted_value, "permissions": before.permissions },
                }),
            },
        )
        .await?;
        tx.commit_platform().await
    }

    /// The platform actor a presented secret is, if it is a platform key.
    pub async fn lookup_platform_key(&self, secret: &str) -> Result<Option<PlatformActor>> {
        if !secret.starts_with(KeyKind::Platform.prefix()) {
            return Ok(None);
        }
        let digest = keys::hash(secret);
        let Some(row) = sqlx::query(
            "SELECT id, name, redacted_value, permissions, created_at, secret_hash \
             FROM platform_api_keys WHERE secret_hash = $1",
        )
        .bind(digest.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let stored: String = row.try_get("secret_hash").map_err(db)?;
        if !keys::constant_time_eq(stored.as_bytes(), digest.as_bytes()) {
            return Ok(None);
        }
        let key = platform_key_from_row(&row)?;
        Ok(Some(PlatformActor {
            key_id: Some(key.id),
            name: key.name,
            permissions: key.permissions,
        }))
    }

    /// Organizations by id, optionally only those whose name starts with `name_prefix`
    /// (case-sensitively, on both engines).
    pub async fn list_organizations(
        &self,
        name_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Organization>> {
        let (cond, order) = keyset("id", page, 2);
        let sql = format!(
            "SELECT id, name, created_at FROM organizations \
             WHERE ($1 = '' OR substr(name, 1, length($1)) = $1){cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(name_prefix.unwrap_or("").to_owned());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let orgs = rows.iter().map(org_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(orgs, page.limit))
    }

    /// Renames an organization; recorded in its audit log and the platform's.
    pub async fn rename_organization(
        &self,
        actor: &PlatformActor,
        org: &OrgId,
        name: &str,
    ) -> Result<(Organization, i64)> {
        let name = validate::name("name", name)?;
        let before = self.get_organization(org).await?;
        let mut w = self.begin_write(org).await?;
        sqlx::query("UPDATE organizations SET name = $1 WHERE id = $2")
            .bind(name.as_str())
            .bind(org.as_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        let event = AuditEvent {
            event_type: "organization.updated",
            resource_id: org.as_str().to_owned(),
            project_id: None,
            payload: json!({
                "id": org.as_str(),
                "changes_requested": { "name": name },
                "before": { "name": before.name },
                "after": { "name": name },
            }),
        };
        platform_event(&mut w.tx, actor, Some(org), event.clone()).await?;
        w.audit(&ActorRef::Platform(actor), event).await?;
        let revision = w.commit().await?;
        Ok((
            Organization {
                id: org.clone(),
                name,
                created_at: before.created_at,
            },
            revision,
        ))
    }

    /// Deletes an organization and everything of it (members, groups, projects, roles,
    /// permissions, assignments, invitations, keys, its audit log). The revision moves first,
    /// so every process learns of the change, finds the organization gone and drops its
    /// snapshot and cached keys. Recorded in the platform audit log.
    pub async fn delete_organization(&self, actor: &PlatformActor, org: &OrgId) -> Result<()> {
        let before = self.get_organization(org).await?;
        let mut w = self.begin_write(org).await?;
        let event = AuditEvent {
            event_type: "organization.deleted",
            resource_id: org.as_str().to_owned(),
            project_id: None,
            payload: json!({
                "id": org.as_str(),
                "before": { "name": before.name, "created_at": before.created_at },
            }),
        };
        // the organization's own log goes with it; the platform's keeps the event
        w.audit(&ActorRef::Platform(actor), event.clone()).await?;
        // rows that reference the organization's roles and permissions without a cascade go
        // first; the organization's row then takes everything else with it
        for sql in [
            "DELETE FROM invitations WHERE org_id = $1",
            "DELETE FROM role_permissions WHERE role_id IN (SELECT id FROM roles WHERE org_id = $1)",
            "DELETE FROM organizations WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(org.as_str())
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
        platform_event(&mut w.tx, actor, Some(org), event).await?;
        w.commit().await?;
        Ok(())
    }

    /// Mints a recovery admin key acting as owner `owner_user_id` (the earliest owner if
    /// `None`); recorded in the organization's audit log as a platform action and in the
    /// platform's. 400 if the named user is not an owner of the organization.
    pub async fn create_recovery_key(
        &self,
        actor: &PlatformActor,
        org: &OrgId,
        owner_user_id: Option<&str>,
    ) -> Result<(KeyRecord, String, i64)> {
        self.get_organization(org).await?;
        let mut w = self.begin_write(org).await?;
        let user_id = match owner_user_id {
            Some(u) => u.to_owned(),
            None => earliest_owner(&mut w.tx, org).await?.ok_or_else(|| {
                Error::conflict("no_owner", "the organization has no owner to act as")
            })?,
        };
        let owner = member(&mut w.tx, org, &user_id)
            .await?
            .filter(|m| m.role == SystemRole::OrgOwner)
            .ok_or_else(|| {
                Error::invalid(
                    "owner_user_id",
                    format!(
                        "user '{}' is not an owner of organization '{}'",
                        validate::quote(&user_id),
                        org.as_str()
                    ),
                )
            })?;
        let (key, secret) = insert_key(
            &mut w,
            KeyKind::Admin,
            "Recovery admin key",
            &owner.user_id,
            None,
            None,
        )
        .await?;
        let record = KeyRecord { key, owner };
        let after = json!({
            "id": record.key.id.as_str(),
            "name": record.key.name,
            "redacted_value": record.key.redacted_value,
            "user_id": record.key.user_id.as_str(),
            "created_at": record.key.created_at,
        });
        let event = AuditEvent {
            event_type: "api_key.created",
            resource_id: record.key.id.as_str().to_owned(),
            project_id: None,
            payload: json!({
                "id": record.key.id.as_str(),
                "data": { "name": record.key.name, "recovery": true },
                "after": after,
            }),
        };
        platform_event(&mut w.tx, actor, Some(org), event.clone()).await?;
        w.audit(&ActorRef::Platform(actor), event).await?;
        let revision = w.commit().await?;
        Ok((record, secret, revision))
    }
}

/// Moves the platform's change counter inside a platform write; returns the new value.
pub(crate) async fn bump_platform(conn: &mut AnyConnection) -> Result<i64> {
    sqlx::query_scalar(
        "UPDATE platform_state SET revision = revision + 1 WHERE id = 1 RETURNING revision",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

impl Store {
    /// The global permissions (no organization, not built-in), by name.
    pub async fn list_global_permissions(&self, page: &PageRequest) -> Result<Page<Permission>> {
        let (cond, order) = keyset("name", page, 1);
        let sql = format!(
            "SELECT {COLUMNS} FROM permissions WHERE org_id IS NULL AND name NOT LIKE 'api.%'\
             {cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql);
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit))
    }

    /// Defines a global permission: in every organization's catalog, usable in any role.
    /// 409 if any catalog already has the name. Returns it and the platform revision.
    pub async fn create_global_permission(
        &self,
        actor: &PlatformActor,
        name: &str,
        description: Option<&str>,
        resource_type: Option<&str>,
    ) -> Result<(Permission, i64)> {
        let (description, rt) = check_new(name, description, resource_type)?;
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        if let Some(taken) = name_taken(&mut tx, name, true).await? {
            return Err(taken);
        }
        let p = Permission {
            id: PermissionId::generate().into_string(),
            name: name.to_owned(),
            description,
            resource_type: rt.as_str().to_owned(),
            builtin: false,
            platform: true,
            created_at: now_unix(),
        };
        let r = sqlx::query(
            "INSERT INTO permissions (id, org_id, name, description, resource_type, created_at) \
             VALUES ($1, NULL, $2, $3, $4, $5)",
        )
        .bind(p.id.as_str())
        .bind(p.name.as_str())
        .bind(p.description.clone())
        .bind(rt.as_str())
        .bind(p.created_at)
        .execute(&mut *tx)
        .await;
        match r {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    "permission_exists",
                    format!(
                        "a permission named '{}' already exists",
                        validate::quote(name)
                    ),
                ));
            }
            other => other.map_err(db)?,
        };
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "permission.created",
                resource_id: p.id.clone(),
                project_id: None,
                payload: json!({ "id": p.id, "data": permission_json(&p), "after": permission_json(&p) }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok((p, revision))
    }

    /// Deletes a global permission: 409 while any role (of any organization) holds it.
    /// Returns the platform revision.
    pub async fn delete_global_permission(&self, actor: &PlatformActor, name: &str) -> Result<i64> {
        let mut tx = self.begin_tx().await?;
        let revision = bump_platform(&mut tx).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM permissions WHERE name = $1 AND org_id IS NULL \
             AND name NOT LIKE 'api.%'"
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("permission", name))?;
        let p = from_row(&row)?;
        let held: Option<i64> =
            sqlx::query_scalar("SELECT COUNT(*) FROM role_permissions WHERE permission_id = $1")
                .bind(p.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if let Some(n) = held.filter(|n| *n > 0) {
            return Err(Error::conflict(
                "permission_in_use",
                format!(
                    "permission '{}' is held by {n} role(s); remove it from them first",
                    validate::quote(name)
                ),
            ));
        }
        sqlx::query("DELETE FROM permissions WHERE id = $1")
            .bind(p.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        platform_event(
            &mut tx,
            actor,
            None,
            AuditEvent {
                event_type: "permission.deleted",
                resource_id: p.id.clone(),
                project_id: None,
                payload: json!({ "id": p.id, "before": permission_json(&p) }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok(revision)
    }
}
