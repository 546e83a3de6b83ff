//! Groups: named sets of an organization's members, and the organization roles given to them.
//!
//! Guarantees: a group's name is unique in its organization case-insensitively (409); only
//! members of the organization join its groups (404 otherwise); what a group holds reaches
//! its members at once (the user role lists and the permission checks read group
//! assignments live); deleting a group removes its memberships, its project access and its
//! role assignments in the same transaction, summarised in the one `group.deleted` event.
//! Adding a user to a group hands them the group's roles, so the actor must hold every
//! permission those roles carry (no privilege escalation through groups).

use std::collections::BTreeMap;

use orgiam_core::ids::{GroupId, OrgId, UserId};
use orgiam_core::model::{HeldRole, Role};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::assignments::{
    Holder, Principal, check_grant, grant_org_role, held_roles, list_held, not_assigned,
    revoke_org_role,
};
use crate::db::{Store, db, is_unique_violation};
use crate::members::member;
use crate::roles::org_role;
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// A group of users in one organization.
#[derive(Debug, Clone)]
pub struct Group {
    /// `group_…`
    pub id: GroupId,
    /// Display name, unique in the organization case-insensitively.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Created or updated by the organization's identity provider through SCIM.
    pub scim_managed: bool,
}

/// A member of a group, as the organization knows them.
#[derive(Debug, Clone)]
pub struct GroupMember {
    /// `user_…`
    pub user_id: UserId,
    /// The identity's email.
    pub email: String,
    /// The display name in this organization.
    pub name: Option<String>,
    /// When the user joined the group (Unix seconds).
    pub added_at: i64,
}

const GROUP_COLUMNS: &str = "id, name, created_at, updated_at, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM scim_groups sg WHERE sg.org_id = org_groups.org_id \
     AND sg.group_id = org_groups.id) THEN 1 ELSE 0 END AS BIGINT) AS scim_managed";

const GROUP_MEMBER_SELECT: &str = "SELECT gm.user_id, u.email, m.name, gm.created_at \
     FROM group_members gm \
     JOIN memberships m ON m.org_id = gm.org_id AND m.user_id = gm.user_id \
     JOIN users u ON u.id = gm.user_id \
     WHERE gm.org_id = $1 AND gm.group_id = $2";

fn group_from_row(row: &sqlx::any::AnyRow) -> Result<Group> {
    Ok(Group {
        id: GroupId::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
        scim_managed: row.try_get::<i64, _>("scim_managed").map_err(db)? != 0,
    })
}

fn group_member_from_row(row: &sqlx::any::AnyRow) -> Result<GroupMember> {
    Ok(GroupMember {
        user_id: UserId::from_trusted(row.try_get("user_id").map_err(db)?),
        email: row.try_get("email").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        added_at: row.try_get("created_at").map_err(db)?,
    })
}

/// The group `id` of `org`, if it exists there.
async fn group(conn: &mut AnyConnection, org: &OrgId, id: &str) -> Result<Option<Group>> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM org_groups WHERE org_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(group_from_row).transpose()
}

/// The group `id` of `org`, or 404.
async fn existing_group(conn: &mut AnyConnection, org: &OrgId, id: &str) -> Result<Group> {
    group(conn, org, id)
        .await?
        .ok_or_else(|| Error::not_found("group", id))
}

/// The member `user_id` of group `group_id`, if they are in it.
async fn group_member(
    conn: &mut AnyConnection,
    org: &OrgId,
    group_id: &str,
    user_id: &str,
) -> Result<Option<GroupMember>> {
    let sql = format!("{GROUP_MEMBER_SELECT} AND gm.user_id = $3");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(group_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(group_member_from_row).transpose()
}

fn not_in_group(group_id: &str, user_id: &str) -> Error {
    Error {
        kind: orgiam_core::ErrorKind::NotFound,
        code: "not_found",
        message: format!(
            "user '{}' is not a member of group '{}'",
            quote(user_id),
            quote(group_id)
        ),
        param: None,
    }
}

fn name_taken(name: &str) -> Error {
    Error::conflict(
        "group_name_taken",
        format!("a group named '{}' already exists", quote(name)),
    )
}

/// The audit rendering of a group.
fn group_json(g: &Group) -> serde_json::Value {
    json!({ "id": g.id.as_str(), "name": g.name, "created_at": g.created_at })
}

/// The permissions the group's live assignments carry, by project (`None`: organization
/// scope): what a new member of the group would receive.
async fn group_permissions(
    conn: &mut AnyConnection,
    org: &OrgId,
    group_id: &str,
) -> Result<BTreeMap<Option<String>, Vec<String>>> {
    let rows = sqlx::query(
        "SELECT DISTINCT ra.project_id, p.name FROM role_assignments ra \
         JOIN role_permissions rp ON rp.role_id = ra.role_id \
         JOIN permissions p ON p.id = rp.permission_id \
         WHERE ra.org_id = $1 AND ra.group_id = $2 \
         AND (ra.expires_at IS NULL OR ra.expires_at > $3)",
    )
    .bind(org.as_str())
    .bind(group_id)
    .bind(now_unix())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut by_scope: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for row in rows {
        let project: Option<String> = row.try_get(0).map_err(db)?;
        by_scope
            .entry(project)
            .or_default()
            .push(row.try_get(1).map_err(db)?);
    }
    for perms in by_scope.values_mut() {
        perms.sort();
    }
    Ok(by_scope)
}

/// No escalation through a group: the actor must hold, at each scope, every permission the
/// group's roles give there.
fn ensure_holds_all(
    actor: &ActorRef<'_>,
    group_id: &str,
    by_scope: &BTreeMap<Option<String>, Vec<String>>,
) -> Result<()> {
    for (project, perms) in by_scope {
        match project {
            None => actor.ensure_holds(perms)?,
            Some(project) => actor.ensure_holds_in(Some(project), perms).map_err(|_| {
                let now = now_unix();
                let missing = match actor {
                    ActorRef::Key { grants, .. } => perms
                        .iter()
                        .find(|p| !grants.holds(p, Some(project), now))
                        .cloned(),
                    ActorRef::System | ActorRef::Platform(_) => None,
                };
                Error::forbidden(
                    "privilege_escalation",
                    format!(
                        "group '{}' grants '{}' in project '{}', which you do not hold there; \
                         you can only grant permissions you hold yourself",
                        quote(group_id),
                        missing.unwrap_or_default(),
                        quote(project)
                    ),
                )
            })?,
        }
    }
    Ok(())
}

/// The outcome of adding a user to a group.
#[derive(Debug, Clone)]
pub struct GroupMemberAdded {
    /// The membership.
    pub member: GroupMember,
    /// `false` when the user was already in the group (nothing was written).
    pub added: bool,
    /// The organization's revision after the request.
    pub revision: i64,
}

/// Creates a group inside the open write `w`; 409 if the name is taken.
pub(crate) async fn insert_group(w: &mut WriteTx, org: &OrgId, name: &str) -> Result<Group> {
    let name = validate::name("name", name)?;
    let id = GroupId::generate();
    let now = now_unix();
    let inserted = sqlx::query(
        "INSERT INTO org_groups (id, org_id, name, name_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(name.as_str())
    .bind(validate::fold_case(&name))
    .bind(now)
    .execute(&mut *w.tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&name)),
        other => other.map_err(db)?,
    };
    Ok(Group {
        id,
        name,
        created_at: now,
        updated_at: now,
        scim_managed: false,
    })
}

/// Renames a group inside the open write `w`; 409 if another group has the name. Returns it
/// before and after.
pub(crate) async fn change_group_name(
    w: &mut WriteTx,
    org: &OrgId,
    id: &str,
    name: &str,
) -> Result<(Group, Group)> {
    let name = validate::name("name", name)?;
    let before = existing_group(&mut w.tx, org, id).await?;
    let now = now_unix();
    let updated = sqlx::query(
        "UPDATE org_groups SET name = $1, name_key = $2, updated_at = $3 \
         WHERE org_id = $4 AND id = $5",
    )
    .bind(name.as_str())
    .bind(validate::fold_case(&name))
    .bind(now)
    .bind(org.as_str())
    .bind(id)
    .execute(&mut *w.tx)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&name)),
        other => other.map_err(db)?,
    };
    let after = Group {
        name,
        updated_at: now,
        ..before.clone()
    };
    Ok((before, after))
}

/// Deletes a group with its memberships, its project access and every role assignment made
/// to it inside the open write `w`; returns it with the count of what went with it, by table.
pub(crate) async fn remove_group(
    w: &mut WriteTx,
    org: &OrgId,
    id: &str,
) -> Result<(Group, serde_json::Map<String, serde_json::Value>)> {
    let before = existing_group(&mut w.tx, org, id).await?;
    let mut removed = serde_json::Map::new();
    for table in ["group_members", "project_groups", "role_assignments"] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE org_id = $1 AND group_id = $2"
        ))
        .bind(org.as_str())
        .bind(id)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(db)?;
        removed.insert(table.to_owned(), json!(n));
    }
    // explicit deletes, children first, rather than relying on cascades alone
    for table in ["role_assignments", "project_groups", "group_members"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE org_id = $1 AND group_id = $2"
        ))
        .bind(org.as_str())
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    }
    sqlx::query("DELETE FROM org_groups WHERE org_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    Ok((before, removed))
}

/// Adds `user_id` (a member of the organization) to the group inside the open write `w`;
/// the actor must hold every permission the group's roles carry. Returns whether it was added
/// (false: already in the group).
pub(crate) async fn insert_group_member(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    org: &OrgId,
    group_id: &str,
    user_id: &str,
) -> Result<bool> {
    let by_scope = group_permissions(&mut w.tx, org, group_id).await?;
    ensure_holds_all(actor, group_id, &by_scope)?;
    let inserted = sqlx::query(
        "INSERT INTO group_members (org_id, group_id, user_id, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(org.as_str())
    .bind(group_id)
    .bind(user_id)
    .bind(now_unix())
    .execute(&mut *w.tx)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(inserted > 0)
}

/// Removes `user_id` from the group inside the open write `w`.
pub(crate) async fn delete_group_member(
    w: &mut WriteTx,
    org: &OrgId,
    group_id: &str,
    user_id: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND user_id = $3")
        .bind(org.as_str())
        .bind(group_id)
        .bind(user_id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    Ok(())
}

impl Store {
    /// The organization's groups, by id.
    pub async fn list_groups(&self, org: &OrgId, page: &PageRequest) -> Result<Page<Group>> {
        let (cond, order) = keyset("id", page, 2);
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM org_groups WHERE org_id = $1{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let groups = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(groups, page.limit))
    }

    /// One group; 404 if `org` has no such group.
    pub async fn get_group(&self, org: &OrgId, id: &str) -> Result<Group> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_group(&mut conn, org, id).await
    }

    /// Creates a group; 409 if the name is taken (case-insensitively).
    pub async fn create_group(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
    ) -> Result<(Group, i64)> {
        let mut w = self.begin_write(org).await?;
        let g = insert_group(&mut w, org, name).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "group.created",
                resource_id: g.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": g.id.as_str(),
                    "data": { "group_name": g.name },
                    "after": group_json(&g),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((g, revision))
    }

    /// Renames a group; 409 if another group has the name (case-insensitively).
    pub async fn rename_group(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
        name: &str,
    ) -> Result<(Group, i64)> {
        let mut w = self.begin_write(org).await?;
        let (before, after) = change_group_name(&mut w, org, id, name).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "group.updated",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": id,
                    "changes_requested": { "group_name": after.name },
                    "before": group_json(&before),
                    "after": group_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// Deletes a group with its memberships, its project access and every role assignment
    /// made to it; the `group.deleted` event counts what went with it.
    pub async fn delete_group(&self, actor: &ActorRef<'_>, org: &OrgId, id: &str) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let (before, removed) = remove_group(&mut w, org, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "group.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": id,
                    "removed": removed,
                    "before": group_json(&before),
                }),
            },
        )
        .await?;
        w.commit().await
    }

    /// The members of a group, by user id; 404 if the group does not exist.
    pub async fn list_group_members(
        &self,
        org: &OrgId,
        group_id: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupMember>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_group(&mut conn, org, group_id).await?;
        let (cond, order) = keyset("gm.user_id", page, 3);
        let sql = format!(
            "{GROUP_MEMBER_SELECT}{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str()).bind(group_id);
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
        let members = rows
            .iter()
            .map(group_member_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(members, page.limit))
    }

    /// One member of a group; 404 if the group does not exist or the user is not in it.
    pub async fn get_group_member(
        &self,
        org: &OrgId,
        group_id: &str,
        user_id: &str,
    ) -> Result<GroupMember> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_group(&mut conn, org, group_id).await?;
        group_member(&mut conn, org, group_id, user_id)
            .await?
            .ok_or_else(|| not_in_group(group_id, user_id))
    }

    /// Adds a member of the organization to a group (404 for anyone else). Adding someone who
    /// is already in the group answers the membership and writes nothing. The actor must hold
    /// every permission the group's roles carry (403 `privilege_escalation`).
    pub async fn add_group_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        group_id: &str,
        user_id: &str,
    ) -> Result<GroupMemberAdded> {
        let mut w = self.begin_write(org).await?;
        let g = existing_group(&mut w.tx, org, group_id).await?;
        let m = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        let inserted = insert_group_member(&mut w, actor, org, group_id, user_id).await?;
        let gm = group_member(&mut w.tx, org, group_id, user_id)
            .await?
            .ok_or_else(|| Error::internal("group member vanished"))?;
        if !inserted {
            // already a member: nothing changed, so nothing is recorded; answered once the
            // membership it saw is durable (on SQLite it may be a batch-mate's, uncommitted)
            w.settle().await?;
            let revision = current_revision(&self.read, org).await?;
            return Ok(GroupMemberAdded {
                member: gm,
                added: false,
                revision,
            });
        }
        w.audit(
            actor,
            AuditEvent {
                event_type: "group.user.added",
                resource_id: group_id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": group_id,
                    "data": { "group_name": g.name, "user_id": user_id, "email": m.email },
                    "after": { "group_id": group_id, "user_id": user_id },
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok(GroupMemberAdded {
            member: gm,
            added: true,
            revision,
        })
    }

    /// Removes a user from a group; 404 if the group does not exist or the user is not in it.
    pub async fn remove_group_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        group_id: &str,
        user_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let g = existing_group(&mut w.tx, org, group_id).await?;
        let gm = group_member(&mut w.tx, org, group_id, user_id)
            .await?
            .ok_or_else(|| not_in_group(group_id, user_id))?;
        delete_group_member(&mut w, org, group_id, user_id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "group.user.removed",
                resource_id: group_id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": group_id,
                    "data": { "group_name": g.name, "user_id": user_id, "email": gm.email },
                    "before": { "group_id": group_id, "user_id": user_id, "added_at": gm.added_at },
                }),
            },
        )
        .await?;
        w.commit().await
    }

    /// The organization roles a group holds, by role id; 404 if the group does not exist.
    pub async fn list_group_roles(
        &self,
        org: &OrgId,
        group_id: &str,
        page: &PageRequest,
    ) -> Result<Page<HeldRole>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_group(&mut conn, org, group_id).await?;
        let holder = Holder {
            principal: Principal::Group(group_id),
            project: None,
        };
        list_held(&mut conn, org, holder, page).await
    }

    /// One organization role as held by a group; 404 if it does not hold it.
    pub async fn get_group_role(
        &self,
        org: &OrgId,
        group_id: &str,
        role_id: &str,
    ) -> Result<HeldRole> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        existing_group(&mut conn, org, group_id).await?;
        let holder = Holder {
            principal: Principal::Group(group_id),
            project: None,
        };
        held_roles(&mut conn, org, holder, &[role_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| not_assigned(holder.principal, role_id))
    }

    /// Grants an organization role to a group (again: replaces `expires_at`). The actor must
    /// hold every permission of the role.
    pub async fn assign_group_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        group_id: &str,
        role_id: &str,
        expires_at: Option<i64>,
        metadata: Option<serde_json::Value>,
    ) -> Result<(Role, Group, i64)> {
        let metadata = check_grant(expires_at, metadata.as_ref())?;
        let mut w = self.begin_write(org).await?;
        let g = existing_group(&mut w.tx, org, group_id).await?;
        let role = org_role(&mut w.tx, org, role_id)
            .await?
            .ok_or_else(|| Error::not_found("role", role_id))?;
        grant_org_role(
            &mut w,
            actor,
            Principal::Group(group_id),
            &role,
            expires_at,
            metadata,
        )
        .await?;
        let revision = w.commit().await?;
        Ok((role, g, revision))
    }

    /// Revokes a group's grant of an organization role; 404 if it does not hold it.
    pub async fn unassign_group_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        group_id: &str,
        role_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        existing_group(&mut w.tx, org, group_id).await?;
        revoke_org_role(&mut w, actor, Principal::Group(group_id), role_id).await?;
        w.commit().await
    }
}

/// The organization's current revision (for answers to requests that changed nothing).
async fn current_revision(pool: &sqlx::AnyPool, org: &OrgId) -> Result<i64> {
    sqlx::query_scalar("SELECT revision FROM organizations WHERE id = $1")
        .bind(org.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::not_found("organization", org.as_str()))
}
