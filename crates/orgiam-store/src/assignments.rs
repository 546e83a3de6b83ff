//! Role assignments of users at organization scope: grant (idempotent, with an optional
//! expiry), list with where each role comes from, retrieve, revoke.

use std::collections::{BTreeMap, HashMap};

use orgiam_core::ids::{AssignmentId, OrgId};
use orgiam_core::model::{AssignmentSource, HeldRole, Member, Role};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::members::member;
use crate::roles::{org_role, roles_by_ids};
use crate::sql::{keyset, placeholders};
use crate::write::{ActorRef, AuditEvent};

/// The assignments a user holds at organization scope (direct or through groups), live now.
const HELD_WHERE: &str = "ra.org_id = $1 AND ra.project_id IS NULL \
     AND (ra.user_id = $2 OR ra.group_id IN \
          (SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $2)) \
     AND (ra.expires_at IS NULL OR ra.expires_at > $3)";

/// Builds the held-role rows for `role_ids` (in that order) of `user_id`.
async fn held_roles(
    conn: &mut AnyConnection,
    org: &OrgId,
    user_id: &str,
    role_ids: &[String],
) -> Result<Vec<HeldRole>> {
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT ra.role_id, ra.principal_type, ra.principal_id, ra.created_at, ra.created_by, \
         ra.expires_at, ra.metadata FROM role_assignments ra WHERE {HELD_WHERE} \
         AND ra.role_id IN ({}) ORDER BY ra.principal_type DESC, ra.id",
        placeholders(4, role_ids.len())
    );
    let mut q = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(user_id)
        .bind(now_unix());
    for id in role_ids {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
    let roles: HashMap<String, Role> = roles_by_ids(conn, role_ids)
        .await?
        .into_iter()
        .map(|r| (r.id.as_str().to_owned(), r))
        .collect();
    let mut held: BTreeMap<String, HeldRole> = BTreeMap::new();
    for row in rows {
        let role_id: String = row.try_get("role_id").map_err(db)?;
        let principal_type: String = row.try_get("principal_type").map_err(db)?;
        let source = AssignmentSource {
            principal_type: if principal_type == "group" {
                "group"
            } else {
                "user"
            },
            principal_id: row.try_get("principal_id").map_err(db)?,
        };
        if let Some(h) = held.get_mut(&role_id) {
            h.sources.push(source);
            continue;
        }
        let Some(role) = roles.get(&role_id) else {
            continue;
        };
        held.insert(
            role_id,
            HeldRole {
                role: role.clone(),
                assigned_at: row.try_get("created_at").map_err(db)?,
                assigned_by: row.try_get("created_by").map_err(db)?,
                assigned_by_user: None,
                expires_at: row.try_get("expires_at").map_err(db)?,
                metadata: row.try_get("metadata").map_err(db)?,
                sources: vec![source],
            },
        );
    }
    // who made each assignment, as the organization knows them
    let creators: Vec<String> = held
        .values()
        .filter_map(|h| h.assigned_by.clone())
        .collect();
    if !creators.is_empty() {
        let sql = format!(
            "SELECT u.id, u.email, m.name FROM users u LEFT JOIN memberships m \
             ON m.user_id = u.id AND m.org_id = $1 WHERE u.id IN ({})",
            placeholders(2, creators.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for c in &creators {
            q = q.bind(c.clone());
        }
        let mut users = HashMap::new();
        for row in q.fetch_all(&mut *conn).await.map_err(db)? {
            let id: String = row.try_get(0).map_err(db)?;
            users.insert(
                id.clone(),
                (id, row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?),
            );
        }
        for h in held.values_mut() {
            h.assigned_by_user = h.assigned_by.as_ref().and_then(|c| users.get(c).cloned());
        }
    }
    Ok(role_ids.iter().filter_map(|id| held.remove(id)).collect())
}

fn check_expiry(expires_at: Option<i64>) -> Result<()> {
    match expires_at {
        Some(t) if t <= now_unix() => Err(Error::invalid(
            "expires_at",
            format!("expires_at {t} is in the past; give a future Unix time in seconds"),
        )),
        _ => Ok(()),
    }
}

impl Store {
    /// The organization roles `user_id` holds, by role id, with their sources.
    pub async fn list_user_roles(
        &self,
        org: &OrgId,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<HeldRole>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        if member(&mut conn, org, user_id).await?.is_none() {
            return Err(Error::not_found("user", user_id));
        }
        let (cond, order) = keyset("ra.role_id", page, 4);
        let sql = format!(
            "SELECT DISTINCT ra.role_id FROM role_assignments ra WHERE {HELD_WHERE}{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql)
            .bind(org.as_str())
            .bind(user_id)
            .bind(now_unix());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let ids = q.fetch_all(&mut *conn).await.map_err(db)?;
        let page_ids = Page::from_overfetch(ids, page.limit);
        let items = held_roles(&mut conn, org, user_id, &page_ids.items).await?;
        Ok(Page {
            items,
            has_more: page_ids.has_more,
        })
    }

    /// One organization role as held by `user_id`; 404 if they do not hold it.
    pub async fn get_user_role(
        &self,
        org: &OrgId,
        user_id: &str,
        role_id: &str,
    ) -> Result<HeldRole> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        if member(&mut conn, org, user_id).await?.is_none() {
            return Err(Error::not_found("user", user_id));
        }
        held_roles(&mut conn, org, user_id, &[role_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| not_assigned(user_id, role_id))
    }

    /// Grants `role_id` to `user_id` at organization scope. Granting it again answers the
    /// existing assignment and updates its expiry.
    pub async fn assign_user_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        role_id: &str,
        expires_at: Option<i64>,
        metadata: Option<serde_json::Value>,
    ) -> Result<(Role, Member, i64)> {
        check_expiry(expires_at)?;
        let metadata = validate::metadata("metadata", metadata.as_ref())?;
        let mut w = self.begin_write(org).await?;
        let m = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        let role = org_role(&mut w.tx, org, role_id)
            .await?
            .ok_or_else(|| Error::not_found("role", role_id))?;
        actor.ensure_holds(&role.permissions)?;
        let existing = sqlx::query(
            "SELECT id, is_base, expires_at FROM role_assignments WHERE org_id = $1 \
             AND principal_id = $2 AND role_id = $3 AND project_id IS NULL",
        )
        .bind(org.as_str())
        .bind(user_id)
        .bind(role_id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?;
        let (assignment_id, event_type, before) = match existing {
            Some(row) => {
                let id: String = row.try_get("id").map_err(db)?;
                let is_base: i64 = row.try_get("is_base").map_err(db)?;
                let old: Option<i64> = row.try_get("expires_at").map_err(db)?;
                if is_base == 0 {
                    sqlx::query(
                        "UPDATE role_assignments SET expires_at = $1, \
                         metadata = COALESCE($2, metadata) WHERE id = $3",
                    )
                    .bind(expires_at)
                    .bind(metadata)
                    .bind(id.as_str())
                    .execute(&mut *w.tx)
                    .await
                    .map_err(db)?;
                }
                (
                    id,
                    "role.assignment.updated",
                    Some(json!({ "expires_at": old })),
                )
            }
            None => {
                let id = AssignmentId::generate().into_string();
                sqlx::query(
                    "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, \
                     user_id, group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
                     VALUES ($1, $2, $3, 'user', $4, $4, NULL, NULL, 0, $5, $6, $7, $8)",
                )
                .bind(id.as_str())
                .bind(org.as_str())
                .bind(role_id)
                .bind(user_id)
                .bind(now_unix())
                .bind(actor.user_id().map(str::to_owned))
                .bind(expires_at)
                .bind(metadata)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
                (id, "role.assignment.created", None)
            }
        };
        w.audit(
            actor,
            AuditEvent {
                event_type,
                resource_id: assignment_id.clone(),
                project_id: None,
                payload: json!({
                    "id": assignment_id,
                    "principal_id": user_id,
                    "principal_type": "user",
                    "role_id": role_id,
                    "resource_id": org.as_str(),
                    "resource_type": "api.organization",
                    "before": before,
                    "after": { "expires_at": expires_at },
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((role, m, revision))
    }

    /// Revokes the direct grant of `role_id` to `user_id`. The base role is changed with the
    /// user update instead (409); a role held only through a group is not found here.
    pub async fn unassign_user_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        role_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        if member(&mut w.tx, org, user_id).await?.is_none() {
            return Err(Error::not_found("user", user_id));
        }
        let row = sqlx::query(
            "SELECT id, is_base FROM role_assignments WHERE org_id = $1 AND principal_id = $2 \
             AND role_id = $3 AND project_id IS NULL",
        )
        .bind(org.as_str())
        .bind(user_id)
        .bind(role_id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?
        .ok_or_else(|| not_assigned(user_id, role_id))?;
        let id: String = row.try_get("id").map_err(db)?;
        let is_base: i64 = row.try_get("is_base").map_err(db)?;
        if is_base == 1 {
            return Err(Error::conflict(
                "base_role",
                format!(
                    "role '{}' is the user's base role; change it by updating the user's role",
                    quote(role_id)
                ),
            ));
        }
        sqlx::query("DELETE FROM role_assignments WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "role.assignment.deleted",
                resource_id: id.clone(),
                project_id: None,
                payload: json!({
                    "id": id,
                    "principal_id": user_id,
                    "principal_type": "user",
                    "role_id": role_id,
                    "resource_id": org.as_str(),
                    "resource_type": "api.organization",
                }),
            },
        )
        .await?;
        w.commit().await
    }
}

fn not_assigned(user_id: &str, role_id: &str) -> Error {
    Error {
        kind: orgiam_core::ErrorKind::NotFound,
        code: "not_found",
        message: format!(
            "user '{}' holds no role with id '{}'",
            quote(user_id),
            quote(role_id)
        ),
        param: None,
    }
}
