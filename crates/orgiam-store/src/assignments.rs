//! Role assignments at organization scope, for users and for groups: grant (idempotent, with
//! an optional expiry), list with where each role comes from, retrieve, revoke.
//!
//! A user holds a role directly or through any group they are in; a group holds only what is
//! assigned to the group itself. Both share the held-role rows and the grant and revoke steps
//! below, which run inside the caller's write transaction and record its one audit event.

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
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// The assignments a user holds at organization scope (direct or through groups), live now.
const USER_HELD_WHERE: &str = "ra.org_id = $1 AND ra.project_id IS NULL \
     AND (ra.user_id = $2 OR ra.group_id IN \
          (SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $2)) \
     AND (ra.expires_at IS NULL OR ra.expires_at > $3)";

/// The assignments a group itself holds at organization scope, live now.
const GROUP_HELD_WHERE: &str = "ra.org_id = $1 AND ra.project_id IS NULL \
     AND ra.group_id = $2 AND (ra.expires_at IS NULL OR ra.expires_at > $3)";

/// The principal whose organization-scope roles are read or changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Holder<'a> {
    /// A member of the organization (`user_…`).
    User(&'a str),
    /// A group of the organization (`group_…`).
    Group(&'a str),
}

impl Holder<'_> {
    /// The principal's id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Holder::User(id) | Holder::Group(id) => id,
        }
    }

    /// `user` or `group`, as stored in `principal_type`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Holder::User(_) => "user",
            Holder::Group(_) => "group",
        }
    }

    fn held_where(&self) -> &'static str {
        match self {
            Holder::User(_) => USER_HELD_WHERE,
            Holder::Group(_) => GROUP_HELD_WHERE,
        }
    }

    /// 404: the principal holds no role `role_id` (at organization scope).
    pub(crate) fn not_assigned(&self, role_id: &str) -> Error {
        Error {
            kind: orgiam_core::ErrorKind::NotFound,
            code: "not_found",
            message: format!(
                "{} '{}' holds no role with id '{}'",
                self.kind(),
                quote(self.id()),
                quote(role_id)
            ),
            param: None,
        }
    }
}

/// Builds the held-role rows for `role_ids` (in that order) of `holder`.
pub(crate) async fn held_roles(
    conn: &mut AnyConnection,
    org: &OrgId,
    holder: Holder<'_>,
    role_ids: &[String],
) -> Result<Vec<HeldRole>> {
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT ra.role_id, ra.principal_type, ra.principal_id, ra.created_at, ra.created_by, \
         ra.expires_at, ra.metadata FROM role_assignments ra WHERE {} \
         AND ra.role_id IN ({}) ORDER BY ra.principal_type DESC, ra.id",
        holder.held_where(),
        placeholders(4, role_ids.len())
    );
    let mut q = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(holder.id())
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

/// One page of the roles `holder` holds at organization scope, by role id.
pub(crate) async fn list_held(
    conn: &mut AnyConnection,
    org: &OrgId,
    holder: Holder<'_>,
    page: &PageRequest,
) -> Result<Page<HeldRole>> {
    let (cond, order) = keyset("ra.role_id", page, 4);
    let sql = format!(
        "SELECT DISTINCT ra.role_id FROM role_assignments ra WHERE {}{cond}{order} LIMIT {}",
        holder.held_where(),
        page.limit + 1
    );
    let mut q = sqlx::query_scalar::<_, String>(&sql)
        .bind(org.as_str())
        .bind(holder.id())
        .bind(now_unix());
    if let Some(after) = &page.after {
        q = q.bind(after.clone());
    }
    let ids = q.fetch_all(&mut *conn).await.map_err(db)?;
    let page_ids = Page::from_overfetch(ids, page.limit);
    let items = held_roles(conn, org, holder, &page_ids.items).await?;
    Ok(Page {
        items,
        has_more: page_ids.has_more,
    })
}

/// Validates a grant's optional `expires_at` (in the future) and `metadata` (a JSON object of
/// at most 16 KiB, returned as its text), before any write begins.
pub(crate) fn check_grant(
    expires_at: Option<i64>,
    metadata: Option<&serde_json::Value>,
) -> Result<Option<String>> {
    if let Some(t) = expires_at {
        if t <= now_unix() {
            return Err(Error::invalid(
                "expires_at",
                format!("expires_at {t} is in the past; give a future Unix time in seconds"),
            ));
        }
    }
    validate::metadata("metadata", metadata)
}

/// Grants `role` to `holder` at organization scope inside `w`, recording the write's audit
/// event: `role.assignment.created`, or `role.assignment.updated` when the assignment exists
/// (its expiry is then replaced and its metadata replaced if given). The actor must hold every
/// permission of the role.
pub(crate) async fn grant_org_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    holder: Holder<'_>,
    role: &Role,
    expires_at: Option<i64>,
    metadata: Option<String>,
) -> Result<()> {
    actor.ensure_holds(&role.permissions)?;
    let org = w.org_id.clone();
    let role_id = role.id.as_str();
    let existing = sqlx::query(
        "SELECT id, is_base, expires_at FROM role_assignments WHERE org_id = $1 \
         AND principal_id = $2 AND role_id = $3 AND project_id IS NULL",
    )
    .bind(org.as_str())
    .bind(holder.id())
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
            let (user_id, group_id) = match holder {
                Holder::User(u) => (Some(u.to_owned()), None),
                Holder::Group(g) => (None, Some(g.to_owned())),
            };
            sqlx::query(
                "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, \
                 user_id, group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8, $9, $10, $11)",
            )
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(role_id)
            .bind(holder.kind())
            .bind(holder.id())
            .bind(user_id)
            .bind(group_id)
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
                "principal_id": holder.id(),
                "principal_type": holder.kind(),
                "role_id": role_id,
                "resource_id": org.as_str(),
                "resource_type": "api.organization",
                "before": before,
                "after": { "expires_at": expires_at },
            }),
        },
    )
    .await
}

/// Revokes `holder`'s own grant of `role_id` at organization scope inside `w`, recording the
/// write's `role.assignment.deleted` event. A user's base role is changed with the user update
/// instead (409); a role a user holds only through a group is not found here (404).
pub(crate) async fn revoke_org_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    holder: Holder<'_>,
    role_id: &str,
) -> Result<()> {
    let org = w.org_id.clone();
    let row = sqlx::query(
        "SELECT id, is_base FROM role_assignments WHERE org_id = $1 AND principal_id = $2 \
         AND role_id = $3 AND project_id IS NULL",
    )
    .bind(org.as_str())
    .bind(holder.id())
    .bind(role_id)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(db)?
    .ok_or_else(|| holder.not_assigned(role_id))?;
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
                "principal_id": holder.id(),
                "principal_type": holder.kind(),
                "role_id": role_id,
                "resource_id": org.as_str(),
                "resource_type": "api.organization",
            }),
        },
    )
    .await
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
        list_held(&mut conn, org, Holder::User(user_id), page).await
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
        let holder = Holder::User(user_id);
        held_roles(&mut conn, org, holder, &[role_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| holder.not_assigned(role_id))
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
        let metadata = check_grant(expires_at, metadata.as_ref())?;
        let mut w = self.begin_write(org).await?;
        let m = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        let role = org_role(&mut w.tx, org, role_id)
            .await?
            .ok_or_else(|| Error::not_found("role", role_id))?;
        grant_org_role(
            &mut w,
            actor,
            Holder::User(user_id),
            &role,
            expires_at,
            metadata,
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
        revoke_org_role(&mut w, actor, Holder::User(user_id), role_id).await?;
        w.commit().await
    }
}
