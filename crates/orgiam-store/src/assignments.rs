//! Role assignments: grant (idempotent, with an optional expiry), list with where each role
//! comes from, retrieve, revoke. The routes here are those of users at organization scope; the
//! helpers ([`Holder`], [`held_roles`], [`upsert_assignment`], [`delete_assignment`]) take the
//! principal (user or group) and the scope (organization or one project), so project and group
//! assignments reuse them.

use orgiam_authz::{Grant, Holder as _, Via};
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

/// Who holds an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal<'a> {
    /// A user (by id).
    User(&'a str),
    /// A group (by id).
    Group(&'a str),
}

impl<'a> Principal<'a> {
    /// `user` or `group`, as stored in `principal_type`.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Group(_) => "group",
        }
    }

    /// The user's or group's id.
    pub(crate) fn id(self) -> &'a str {
        match self {
            Principal::User(id) | Principal::Group(id) => id,
        }
    }
}

/// Whose live assignments a listing shows, at which scope: a user's (direct and through their
/// groups) or a group's, at organization scope (`project: None`) or on one project.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder<'a> {
    /// The user or group.
    pub principal: Principal<'a>,
    /// `None`: organization scope; `Some`: that project only.
    pub project: Option<&'a str>,
}

impl Holder<'_> {
    /// The condition on `ra` with the organization as `$1`, the principal as `$2`, now as `$3`
    /// and the project (if any) as `$4`; returns it with the number of parameters it takes.
    fn condition(self) -> (String, usize) {
        let who = match self.principal {
            Principal::User(_) => {
                // one IN list on principal_id (the user and their groups; the ids' prefixes
                // differ), so that it is a search of (org_id, principal_id): an OR of user_id
                // and group_id read every assignment of the organization
                "ra.principal_id IN (SELECT $2 UNION ALL \
                 SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $2)"
            }
            Principal::Group(_) => "ra.principal_id = $2",
        };
        let (scope, n) = match self.project {
            None => ("ra.project_id IS NULL", 3),
            Some(_) => ("ra.project_id = $4", 4),
        };
        (
            format!(
                "ra.org_id = $1 AND {scope} AND {who} \
                 AND (ra.expires_at IS NULL OR ra.expires_at > $3)"
            ),
            n,
        )
    }

    /// Binds the parameters of [`condition`](Self::condition).
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        org: &OrgId,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let q = q
            .bind(org.as_str().to_owned())
            .bind(self.principal.id().to_owned())
            .bind(now_unix());
        match self.project {
            None => q,
            Some(p) => q.bind(p.to_owned()),
        }
    }
}

/// A page of the roles `holder` holds, by role id, with their sources.
pub(crate) async fn list_held(
    conn: &mut AnyConnection,
    org: &OrgId,
    holder: Holder<'_>,
    page: &PageRequest,
) -> Result<Page<HeldRole>> {
    let (cond, n) = holder.condition();
    let (after, order) = keyset("ra.role_id", page, n + 1);
    let sql = format!(
        "SELECT DISTINCT ra.role_id FROM role_assignments ra WHERE {cond}{after}{order} LIMIT {}",
        page.limit + 1
    );
    let mut q = holder.bind(sqlx::query(&sql), org);
    if let Some(after) = &page.after {
        q = q.bind(after.clone());
    }
    let mut ids = Vec::new();
    for row in q.fetch_all(&mut *conn).await.map_err(db)? {
        ids.push(row.try_get::<String, _>(0).map_err(db)?);
    }
    let page_ids = Page::from_overfetch(ids, page.limit);
    let items = held_roles(conn, org, holder, &page_ids.items).await?;
    Ok(Page {
        items,
        has_more: page_ids.has_more,
    })
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
    let (cond, n) = holder.condition();
    let sql = format!(
        "SELECT ra.role_id, ra.principal_type, ra.principal_id, ra.created_at, ra.created_by, \
         ra.expires_at, ra.metadata FROM role_assignments ra WHERE {cond} \
         AND ra.role_id IN ({}) ORDER BY ra.principal_type DESC, ra.id",
        placeholders(n + 1, role_ids.len())
    );
    let mut q = holder.bind(sqlx::query(&sql), org);
    for id in role_ids {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
    let roles: HashMap<String, Role> = roles_by_ids(conn, org, role_ids)
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

/// 400 if `expires_at` is not in the future.
pub(crate) fn check_expiry(expires_at: Option<i64>) -> Result<()> {
    match expires_at {
        Some(t) if t <= now_unix() => Err(Error::invalid(
            "expires_at",
            format!("expires_at {t} is in the past; give a future Unix time in seconds"),
        )),
        _ => Ok(()),
    }
}

/// What a grant did: the assignment's id, the event type (`role.assignment.created`, or
/// `role.assignment.updated` when it existed) and, when it existed, its previous state.
pub(crate) struct Granted {
    /// The assignment row's id.
    pub id: String,
    /// The audit event type.
    pub event_type: &'static str,
    /// The previous state of an existing assignment.
    pub before: Option<serde_json::Value>,
}

/// Grants `role_id` to `principal` at `project` (organization scope if `None`) in the open
/// write. Granting it again keeps the assignment and updates its expiry (a base role keeps
/// none). The caller has checked the principal, the role and the actor's right to grant it.
pub(crate) async fn upsert_assignment(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    principal: Principal<'_>,
    project: Option<&str>,
    role_id: &str,
    expires_at: Option<i64>,
    metadata: Option<String>,
) -> Result<Granted> {
    let existing = sqlx::query(
        "SELECT id, is_base, expires_at FROM role_assignments WHERE org_id = $1 \
         AND principal_id = $2 AND role_id = $3 AND COALESCE(project_id, '') = $4",
    )
    .bind(w.org_id.as_str().to_owned())
    .bind(principal.id())
    .bind(role_id)
    .bind(project.unwrap_or(""))
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(db)?;
    if let Some(row) = existing {
        let id: String = row.try_get("id").map_err(db)?;
        let is_base: i64 = row.try_get("is_base").map_err(db)?;
        let old: Option<i64> = row.try_get("expires_at").map_err(db)?;
        let lengthens = old.is_some_and(|o| expires_at.is_none_or(|n| n > o));
        if is_base == 0 && lengthens {
            ensure_grantable_without(w, actor, principal, project, role_id).await?;
        }
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
        return Ok(Granted {
            id,
            event_type: "role.assignment.updated",
            before: Some(json!({ "expires_at": old })),
        });
    }
    let id = AssignmentId::generate().into_string();
    let (user_id, group_id) = match principal {
        Principal::User(u) => (Some(u.to_owned()), None),
        Principal::Group(g) => (None, Some(g.to_owned())),
    };
    sqlx::query(
        "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, \
         user_id, group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12)",
    )
    .bind(id.as_str())
    .bind(w.org_id.as_str().to_owned())
    .bind(role_id)
    .bind(principal.kind())
    .bind(principal.id())
    .bind(user_id)
    .bind(group_id)
    .bind(project.map(str::to_owned))
    .bind(now_unix())
    .bind(actor.user_id().map(str::to_owned))
    .bind(expires_at)
    .bind(metadata)
    .execute(&mut *w.tx)
    .await
    .map_err(db)?;
    Ok(Granted {
        id,
        event_type: "role.assignment.created",
        before: None,
    })
}

/// Renewing or lengthening an assignment is a new grant: if the actor holds this very
/// assignment (directly, or through the group it is given to), it must hold every permission
/// of the role without it (403 `privilege_escalation`).
async fn ensure_grantable_without(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    principal: Principal<'_>,
    project: Option<&str>,
    role_id: &str,
) -> Result<()> {
    let ActorRef::Key { actor: a, .. } = actor else {
        return Ok(());
    };
    let org = w.org_id.clone();
    let mine = crate::grants::grants_in(&mut w.tx, &org, a.user_id.as_str()).await?;
    let this = |g: &Grant| {
        g.role_id == role_id
            && g.project_id.as_deref() == project
            && match (&g.via, principal) {
                (Via::Direct, Principal::User(u)) => u == a.user_id.as_str(),
                (Via::Group(gid), Principal::Group(pg)) => gid == pg,
                _ => false,
            }
    };
    let Some(held) = mine.iter().find(|g| this(g)) else {
        return Ok(());
    };
    let rest: Vec<Grant> = mine.iter().filter(|g| !this(g)).cloned().collect();
    let now = now_unix();
    match held
        .permissions
        .iter()
        .find(|p| !rest.holds(p, project, now))
    {
        None => Ok(()),
        Some(p) => Err(Error::forbidden(
            "privilege_escalation",
            format!(
                "renewing or lengthening an assignment is a new grant, and without this very \
                 assignment you lack '{p}'"
            ),
        )),
    }
}

/// Deletes the direct grant of `role_id` to `principal` at `project` in the open write;
/// returns the assignment's id. 404 if there is none; 409 for a base role (changed by
/// updating the membership instead).
pub(crate) async fn delete_assignment(
    w: &mut WriteTx,
    principal: Principal<'_>,
    project: Option<&str>,
    role_id: &str,
) -> Result<String> {
    let row = sqlx::query(
        "SELECT id, is_base FROM role_assignments WHERE org_id = $1 AND principal_id = $2 \
         AND role_id = $3 AND COALESCE(project_id, '') = $4",
    )
    .bind(w.org_id.as_str().to_owned())
    .bind(principal.id())
    .bind(role_id)
    .bind(project.unwrap_or(""))
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(db)?
    .ok_or_else(|| not_assigned(principal, role_id))?;
    let id: String = row.try_get("id").map_err(db)?;
    let is_base: i64 = row.try_get("is_base").map_err(db)?;
    if is_base == 1 {
        let whose = match (principal, project) {
            (Principal::User(_), None) => {
                "the user's base role; change it by updating the user's role"
            }
            (Principal::User(_), Some(_)) => {
                "the user's base project role; change it by updating the project user's role"
            }
            (Principal::Group(_), _) => "the group's base role",
        };
        return Err(Error::conflict(
            "base_role",
            format!("role '{}' is {whose}", quote(role_id)),
        ));
    }
    sqlx::query("DELETE FROM role_assignments WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    Ok(id)
}

/// Validates a grant's optional `expires_at` (in the future) and `metadata` (a JSON object of
/// at most 16 KiB, returned as its text), before any write begins.
pub(crate) fn check_grant(
    expires_at: Option<i64>,
    metadata: Option<&serde_json::Value>,
) -> Result<Option<String>> {
    check_expiry(expires_at)?;
    validate::metadata("metadata", metadata)
}

/// Grants `role` to `principal` at organization scope inside `w`, recording the write's audit
/// event (`role.assignment.created`, or `.updated` when it existed). The actor must hold every
/// permission of the role.
pub(crate) async fn grant_org_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    principal: Principal<'_>,
    role: &Role,
    expires_at: Option<i64>,
    metadata: Option<String>,
) -> Result<()> {
    actor.ensure_holds(&role.permissions)?;
    let org = w.org_id.clone();
    let role_id = role.id.as_str();
    let granted =
        upsert_assignment(w, actor, principal, None, role_id, expires_at, metadata).await?;
    w.audit(
        actor,
        AuditEvent {
            event_type: granted.event_type,
            resource_id: granted.id.clone(),
            project_id: None,
            payload: json!({
                "id": granted.id,
                "principal_id": principal.id(),
                "principal_type": principal.kind(),
                "role_id": role_id,
                "resource_id": org.as_str(),
                "resource_type": "api.organization",
                "before": granted.before,
                "after": { "expires_at": expires_at },
            }),
        },
    )
    .await
}

/// Revokes `principal`'s own grant of `role_id` at organization scope inside `w`, recording
/// the write's `role.assignment.deleted` event.
pub(crate) async fn revoke_org_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    principal: Principal<'_>,
    role_id: &str,
) -> Result<()> {
    let org = w.org_id.clone();
    let id = delete_assignment(w, principal, None, role_id).await?;
    w.audit(
        actor,
        AuditEvent {
            event_type: "role.assignment.deleted",
            resource_id: id.clone(),
            project_id: None,
            payload: json!({
                "id": id,
                "principal_id": principal.id(),
                "principal_type": principal.kind(),
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
        let holder = Holder {
            principal: Principal::User(user_id),
            project: None,
        };
        list_held(&mut conn, org, holder, page).await
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
        let holder = Holder {
            principal: Principal::User(user_id),
            project: None,
        };
        held_roles(&mut conn, org, holder, &[role_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| not_assigned(holder.principal, role_id))
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
        w.ensure_covers(actor, user_id).await?;
        let role = org_role(&mut w.tx, org, role_id)
            .await?
            .ok_or_else(|| Error::not_found("role", role_id))?;
        actor.ensure_holds(&role.permissions)?;
        let principal = Principal::User(user_id);
        let granted = upsert_assignment(
            &mut w, actor, principal, None, role_id, expires_at, metadata,
        )
        .await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: granted.event_type,
                resource_id: granted.id.clone(),
                project_id: None,
                payload: json!({
                    "id": granted.id,
                    "principal_id": user_id,
                    "principal_type": "user",
                    "role_id": role_id,
                    "resource_id": org.as_str(),
                    "resource_type": "api.organization",
                    "before": granted.before,
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
        w.ensure_covers(actor, user_id).await?;
        let id = delete_assignment(&mut w, Principal::User(user_id), None, role_id).await?;
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

/// 404: `principal` holds no role `role_id` (here).
pub(crate) fn not_assigned(principal: Principal<'_>, role_id: &str) -> Error {
    Error {
        kind: orgiam_core::ErrorKind::NotFound,
        code: "not_found",
        message: format!(
            "{} '{}' holds no role with id '{}'",
            principal.kind(),
            quote(principal.id()),
            quote(role_id)
        ),
        param: None,
    }
}
