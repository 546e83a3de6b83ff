//! Loading what a user holds, from the database, for decisions that must not trust a snapshot:
//! the permissions a member holds (for "the actor must hold every permission the target
//! holds") and the actor's own permissions re-read inside a write's transaction.
//!
//! Guarantees: the same rules as the engine: live assignments only, direct and through
//! groups, at organization scope and on unarchived projects; custom roles hold their stored
//! permissions, system roles what `SystemRole::holds_permission` gives them over the
//! organization's catalog (owner and admin hold the organization's own permissions too).

use std::collections::{BTreeSet, HashMap};

use orgiam_authz::{Grant, Via};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::OrgId;
use orgiam_core::{Result, now_unix};
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::sql::placeholders;

/// Every live grant of `user_id` in `org`, read on `conn` (a write's transaction sees its own
/// and its batch's changes), each with the permissions its role holds in this organization.
pub(crate) async fn grants_in(
    conn: &mut AnyConnection,
    org: &OrgId,
    user_id: &str,
) -> Result<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT ra.role_id, r.name AS role_name, r.org_id AS role_org, ra.group_id, \
         ra.project_id, ra.expires_at \
         FROM role_assignments ra \
         JOIN roles r ON r.id = ra.role_id \
         LEFT JOIN projects pr ON pr.id = ra.project_id \
         WHERE ra.org_id = $1 \
         AND ra.principal_id IN (SELECT $2 UNION ALL \
              SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $2) \
         AND (ra.expires_at IS NULL OR ra.expires_at > $3) \
         AND pr.archived_at IS NULL \
         ORDER BY ra.id",
    )
    .bind(org.as_str())
    .bind(user_id)
    .bind(now_unix())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut grants = Vec::with_capacity(rows.len());
    let mut custom: BTreeSet<String> = BTreeSet::new();
    for row in &rows {
        let role_id: String = row.try_get("role_id").map_err(db)?;
        let role_org: Option<String> = row.try_get("role_org").map_err(db)?;
        // custom and global roles hold their stored permissions; system roles by rule
        if role_org.is_some() || SystemRole::from_id(&role_id).is_none() {
            custom.insert(role_id.clone());
        }
        let group: Option<String> = row.try_get("group_id").map_err(db)?;
        grants.push(Grant {
            role_id,
            role_name: row.try_get("role_name").map_err(db)?,
            via: group.map_or(Via::Direct, Via::Group),
            project_id: row.try_get("project_id").map_err(db)?,
            expires_at: row.try_get("expires_at").map_err(db)?,
            permissions: Vec::new(),
        });
    }
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    if !custom.is_empty() {
        let ids: Vec<String> = custom.into_iter().collect();
        let sql = format!(
            "SELECT rp.role_id, p.name FROM role_permissions rp \
             JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await.map_err(db)? {
            held.entry(row.try_get(0).map_err(db)?)
                .or_default()
                .push(row.try_get(1).map_err(db)?);
        }
    }
    let mut systems: Vec<SystemRole> = Vec::new();
    for r in grants
        .iter()
        .filter_map(|g| SystemRole::from_id(&g.role_id))
    {
        if !systems.contains(&r) {
            systems.push(r);
        }
    }
    let own: Vec<(String, String)> = if systems.iter().any(|r| r.holds_custom()) {
        // the organization's own permissions and the platform's global ones
        sqlx::query_as(
            "SELECT name, resource_type FROM permissions \
             WHERE org_id = $1 OR (org_id IS NULL AND name NOT LIKE 'api.%')",
        )
        .bind(org.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
    } else {
        Vec::new()
    };
    let app = if systems
        .iter()
        .any(|r| matches!(r, SystemRole::OrgReader | SystemRole::OrgMember))
    {
        crate::engine_data::system_app_permissions(conn).await?
    } else {
        Vec::new()
    };
    for r in systems {
        let mut perms: Vec<String> = r.permissions().map(|p| p.name.to_owned()).collect();
        // the app permissions the platform gave reader and member
        perms.extend(
            app.iter()
                .filter(|(id, _)| id == r.id_str())
                .map(|(_, p)| p.clone()),
        );
        perms.extend(
            own.iter()
                .filter(|(n, rt)| {
                    r.holds_permission(
                        n,
                        ResourceType::parse(rt).unwrap_or(ResourceType::Organization),
                    )
                })
                .map(|(n, _)| n.clone()),
        );
        held.insert(r.id_str().to_owned(), perms);
    }
    for g in &mut grants {
        g.permissions = held.get(&g.role_id).cloned().unwrap_or_default();
    }
    Ok(grants)
}

impl Store {
    /// Every live grant of `user_id` in `org`: direct and through groups, at organization scope
    /// and on unarchived projects, with each role's permissions.
    pub async fn user_grants(&self, org: &OrgId, user_id: &str) -> Result<Vec<Grant>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        grants_in(&mut conn, org, user_id).await
    }
}
