//! Loading what a user holds, from the database, for decisions that must not trust a snapshot:
//! the permissions a member holds (for "the actor must hold every permission the target
//! holds") and the actor's own permissions re-read inside a write's transaction.
//!
//! Guarantees: the same rules as the engine: live assignments only, direct and through
//! groups, at organization scope and on unarchived projects; each role holds what the
//! organization's listing of it shows (`roles_by_ids`: owner and admin hold the
//! organization's own permissions too).

use std::collections::{BTreeSet, HashMap};

use orgiam_authz::{Grant, Via};
use orgiam_core::ids::OrgId;
use orgiam_core::{Result, now_unix};
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::roles::roles_by_ids;

/// Every live grant of `user_id` in `org`, read on `conn` (a write's transaction sees its own
/// and its batch's changes), each with the permissions its role holds in this organization.
pub(crate) async fn grants_in(
    conn: &mut AnyConnection,
    org: &OrgId,
    user_id: &str,
) -> Result<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT ra.role_id, r.name AS role_name, ra.group_id, \
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
    let mut role_ids: BTreeSet<String> = BTreeSet::new();
    for row in &rows {
        let role_id: String = row.try_get("role_id").map_err(db)?;
        role_ids.insert(role_id.clone());
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
    // each role as this organization lists it: what it lists is what it grants
    let ids: Vec<String> = role_ids.into_iter().collect();
    let held: HashMap<String, Vec<String>> = roles_by_ids(conn, org, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id.into_string(), r.permissions))
        .collect();
    for g in &mut grants {
        g.permissions = held.get(&g.role_id).cloned().unwrap_or_default();
    }
    // a role that holds nothing grants nothing
    grants.retain(|g| !g.permissions.is_empty());
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
