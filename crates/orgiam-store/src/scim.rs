//! SCIM provisioning: the SCIM attributes of the members and groups an identity provider
//! manages, suspension, and the filtered, offset-paged lists SCIM asks for (the tokens are in
//! `scim_tokens.rs`, the filters' SQL in `scim_filter.rs`). Membership and group changes
//! themselves go through the same operations as the native API (members.rs, groups.rs); this
//! module adds only what SCIM has and the API has not.
//!
//! Guarantees: a suspended member keeps every row (assignments, groups, keys) but holds
//! nothing: the engine loads them without grants (engine_data.rs) and their keys do not
//! authenticate (keys.rs), until they are restored. Suspending needs every permission of the
//! member's base role, and the last active owner cannot be suspended.

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::OrgId;
use orgiam_core::model::Member;
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::Row as _;

use crate::db::{Store, db};
use crate::members::{insert_membership, member, member_from_row, member_json, upsert_user};
use crate::scim_filter::{Compiler, ScimFilter, bind_all};
use crate::sql::placeholders;
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// A member as SCIM sees them.
#[derive(Debug, Clone)]
pub struct ScimUser {
    /// The membership.
    pub member: Member,
    /// The identity provider's id for the user.
    pub external_id: Option<String>,
    /// The rest of the SCIM resource the provider sent (a JSON object).
    pub attributes: serde_json::Value,
    /// Unix seconds of the last SCIM change (the membership's creation if none).
    pub updated_at: i64,
    /// The groups the member is in: (id, name).
    pub groups: Vec<(String, String)>,
}

/// A group as SCIM sees it.
#[derive(Debug, Clone)]
pub struct ScimGroup {
    /// `group_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// The identity provider's id for the group.
    pub external_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Members: (user id, display name or email); empty when not asked for.
    pub members: Vec<(String, String)>,
}

/// What a SCIM change asks of a member; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ScimUserChange {
    /// New display name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// `false` suspends, `true` restores.
    pub active: Option<bool>,
    /// New external id (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// The new rest of the resource.
    pub attributes: Option<serde_json::Value>,
}

/// A new SCIM member.
#[derive(Debug, Clone)]
pub struct ScimNewUser {
    /// `userName`, an email.
    pub email: String,
    /// `displayName`.
    pub name: Option<String>,
    /// Base role.
    pub role: SystemRole,
    /// `active`.
    pub active: bool,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The rest of the resource.
    pub attributes: serde_json::Value,
}

const SCIM_USER_SELECT: &str = "SELECT m.user_id, u.email, m.name, m.created_at AS added_at, \
     u.created_at AS user_created_at, ra.role_id, m.suspended_at, m.scim_managed, \
     s.external_id, s.attributes, s.updated_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     LEFT JOIN role_assignments ra ON ra.org_id = m.org_id AND ra.principal_id = m.user_id \
     AND ra.project_id IS NULL AND ra.is_base = 1 \
     LEFT JOIN scim_users s ON s.org_id = m.org_id AND s.user_id = m.user_id \
     WHERE m.org_id = $1";

const SCIM_USER_FROM: &str = "FROM memberships m JOIN users u ON u.id = m.user_id \
     LEFT JOIN scim_users s ON s.org_id = m.org_id AND s.user_id = m.user_id \
     WHERE m.org_id = $1";

fn scim_user_from_row(row: &sqlx::any::AnyRow) -> Result<ScimUser> {
    let member = member_from_row(row)?;
    let attributes: Option<String> = row.try_get("attributes").map_err(db)?;
    let updated_at: Option<i64> = row.try_get("updated_at").map_err(db)?;
    Ok(ScimUser {
        updated_at: updated_at.unwrap_or(member.added_at),
        external_id: row.try_get("external_id").map_err(db)?,
        attributes: attributes
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_else(|| json!({})),
        groups: Vec::new(),
        member,
    })
}

const SCIM_GROUP_FROM: &str = "FROM org_groups g LEFT JOIN scim_groups sg \
     ON sg.org_id = g.org_id AND sg.group_id = g.id WHERE g.org_id = $1";

const SCIM_GROUP_SELECT: &str = "SELECT g.id, g.name, g.created_at, \
     COALESCE(sg.updated_at, g.updated_at) AS updated_at, sg.external_id \
     FROM org_groups g LEFT JOIN scim_groups sg ON sg.org_id = g.org_id AND sg.group_id = g.id \
     WHERE g.org_id = $1";

fn scim_group_from_row(row: &sqlx::any::AnyRow) -> Result<ScimGroup> {
    Ok(ScimGroup {
        id: row.try_get("id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        external_id: row.try_get("external_id").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
        members: Vec::new(),
    })
}

/// Writes the SCIM row of a member (insert or replace) and marks the membership SCIM-managed.
async fn upsert_scim_user(
    w: &mut WriteTx,
    user_id: &str,
    external_id: Option<&str>,
    attributes: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_users (org_id, user_id, external_id, attributes, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, user_id) DO UPDATE SET \
         external_id = excluded.external_id, attributes = excluded.attributes, \
         updated_at = excluded.updated_at",
    )
    .bind(w.org_id.as_str())
    .bind(user_id)
    .bind(external_id.map(str::to_owned))
    .bind(attributes.to_string())
    .bind(now_unix())
    .execute(&mut *w.tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn scim_user_in(w: &mut WriteTx, user_id: &str) -> Result<Option<ScimUser>> {
    let sql = format!("{SCIM_USER_SELECT} AND m.user_id = $2");
    let row = sqlx::query(&sql)
        .bind(w.org_id.as_str())
        .bind(user_id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?;
    row.as_ref().map(scim_user_from_row).transpose()
}

fn scim_user_json(u: &ScimUser) -> serde_json::Value {
    let mut v = member_json(&u.member);
    v["active"] = json!(!u.member.suspended);
    v["external_id"] = json!(u.external_id);
    v
}

fn offset_of(start_index: u32) -> u32 {
    start_index.saturating_sub(1)
}

impl Store {
    /// Creates a SCIM-managed member (an existing identity with the email is attached); 409
    /// `already_member` if they are a member already. Writes `user.added`.
    pub async fn scim_add_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        new: ScimNewUser,
    ) -> Result<(ScimUser, i64)> {
        let email = validate::email("userName", &new.email)?;
        let name = new
            .name
            .as_deref()
            .map(|n| validate::name("displayName", n))
            .transpose()?;
        let perms: Vec<String> = new.role.permissions().map(|p| p.name.to_owned()).collect();
        actor.ensure_holds(&perms)?;
        let mut w = self.begin_write(org).await?;
        let user_id = upsert_user(&mut w, &email).await?;
        insert_membership(&mut w, actor, &user_id, &email, name.as_deref(), new.role).await?;
        sqlx::query(
            "UPDATE memberships SET scim_managed = 1, suspended_at = $1 \
             WHERE org_id = $2 AND user_id = $3",
        )
        .bind((!new.active).then(now_unix))
        .bind(org.as_str())
        .bind(user_id.as_str())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        upsert_scim_user(
            &mut w,
            user_id.as_str(),
            new.external_id.as_deref(),
            &new.attributes,
        )
        .await?;
        let u = scim_user_in(&mut w, user_id.as_str())
            .await?
            .ok_or_else(|| Error::internal("new member vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "user.added",
                resource_id: user_id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": user_id.as_str(),
                    "data": { "role": new.role.name(), "via": "scim" },
                    "after": scim_user_json(&u),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((u, revision))
    }

    /// Applies a SCIM change to a member: display name, external id, the rest of the
    /// resource, and suspension (`active`). Suspending needs every permission the member
    /// holds through their base role, and the last active owner cannot be suspended (409).
    /// Writes `user.updated`.
    pub async fn scim_update_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        change: ScimUserChange,
    ) -> Result<(ScimUser, i64)> {
        let name = match &change.name {
            Some(Some(n)) => Some(Some(validate::name("displayName", n)?)),
            other => other.clone(),
        };
        let mut w = self.begin_write(org).await?;
        let before = scim_user_in(&mut w, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        if let Some(active) = change.active {
            if active == before.member.suspended {
                let perms: Vec<String> = before
                    .member
                    .role
                    .permissions()
                    .map(|p| p.name.to_owned())
                    .collect();
                actor.ensure_holds(&perms)?;
            }
            if !active && !before.member.suspended && before.member.role == SystemRole::OrgOwner {
                let owners: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM role_assignments ra JOIN memberships m \
                     ON m.org_id = ra.org_id AND m.user_id = ra.principal_id \
                     WHERE ra.org_id = $1 AND ra.project_id IS NULL AND ra.is_base = 1 \
                     AND ra.role_id = $2 AND m.suspended_at IS NULL",
                )
                .bind(org.as_str())
                .bind(SystemRole::OrgOwner.id_str())
                .fetch_one(&mut *w.tx)
                .await
                .map_err(db)?;
                if owners <= 1 {
                    return Err(Error::conflict(
                        "last_owner",
                        format!(
                            "user '{}' is the organization's last active owner",
                            quote(user_id)
                        ),
                    ));
                }
            }
            if active == before.member.suspended {
                sqlx::query(
                    "UPDATE memberships SET suspended_at = $1 WHERE org_id = $2 AND user_id = $3",
                )
                .bind((!active).then(now_unix))
                .bind(org.as_str())
                .bind(user_id)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
            }
        }
        if let Some(n) = &name {
            sqlx::query("UPDATE memberships SET name = $1 WHERE org_id = $2 AND user_id = $3")
                .bind(n.clone())
                .bind(org.as_str())
                .bind(user_id)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
        let external_id = match &change.external_id {
            Some(e) => e.clone(),
            None => before.external_id.clone(),
        };
        let attributes = change
            .attributes
            .clone()
            .unwrap_or_else(|| before.attributes.clone());
        upsert_scim_user(&mut w, user_id, external_id.as_deref(), &attributes).await?;
        let after = scim_user_in(&mut w, user_id)
            .await?
            .ok_or_else(|| Error::internal("member vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "user.updated",
                resource_id: user_id.to_owned(),
                project_id: None,
                payload: json!({
                    "id": user_id,
                    "changes_requested": {
                        "name": name,
                        "active": change.active,
                        "external_id": change.external_id,
                        "via": "scim",
                    },
                    "before": scim_user_json(&before),
                    "after": scim_user_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// One member as SCIM sees them, with their groups; 404 if not a member of `org`.
    pub async fn scim_get_member(&self, org: &OrgId, user_id: &str) -> Result<ScimUser> {
        let sql = format!("{SCIM_USER_SELECT} AND m.user_id = $2");
        let row = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(user_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        let mut u = scim_user_from_row(&row)?;
        self.fill_user_groups(org, std::slice::from_mut(&mut u))
            .await?;
        Ok(u)
    }

    async fn fill_user_groups(&self, org: &OrgId, users: &mut [ScimUser]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT gm.user_id, g.id, g.name FROM group_members gm \
             JOIN org_groups g ON g.org_id = gm.org_id AND g.id = gm.group_id \
             WHERE gm.org_id = $1 AND gm.user_id IN ({}) ORDER BY g.id",
            placeholders(2, users.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for u in users.iter() {
            q = q.bind(u.member.user_id.as_str().to_owned());
        }
        for row in q.fetch_all(&self.read).await.map_err(db)? {
            let uid: String = row.try_get(0).map_err(db)?;
            if let Some(u) = users.iter_mut().find(|u| u.member.user_id.as_str() == uid) {
                u.groups
                    .push((row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?));
            }
        }
        Ok(())
    }

    /// The rows of `select` matching `filter`, ordered by `order`: `count` of them from the
    /// 1-based `start_index`, with how many rows of `from` match in all. SCIM pages are
    /// offsets (RFC 7644 §3.4.2.4); `count` is bounded by the caller.
    #[allow(clippy::too_many_arguments)]
    async fn offset_page(
        &self,
        org: &OrgId,
        from: &str,
        select: &str,
        order: &str,
        filter: Option<&ScimFilter>,
        start_index: u32,
        count: u32,
    ) -> Result<(i64, Vec<sqlx::any::AnyRow>)> {
        let mut c = Compiler {
            postgres: self.backend_is_postgres(),
            first: 2,
            binds: Vec::new(),
        };
        let cond = filter
            .map(|f| format!(" AND {}", c.compile(f)))
            .unwrap_or_default();
        let sql = format!("SELECT COUNT(*) {from}{cond}");
        let row = bind_all(sqlx::query(&sql).bind(org.as_str()), &c.binds)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        let total: i64 = row.try_get(0).map_err(db)?;
        if count == 0 {
            return Ok((total, Vec::new()));
        }
        let sql = format!(
            "{select}{cond} ORDER BY {order} LIMIT {count} OFFSET {}",
            offset_of(start_index)
        );
        let rows = bind_all(sqlx::query(&sql).bind(org.as_str()), &c.binds)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        Ok((total, rows))
    }

    /// Members matching `filter`, ordered by id: `count` of them from the 1-based
    /// `start_index`, with how many match in all.
    pub async fn scim_list_members(
        &self,
        org: &OrgId,
        filter: Option<&ScimFilter>,
        start_index: u32,
        count: u32,
    ) -> Result<(i64, Vec<ScimUser>)> {
        let (total, rows) = self
            .offset_page(
                org,
                SCIM_USER_FROM,
                SCIM_USER_SELECT,
                "m.user_id",
                filter,
                start_index,
                count,
            )
            .await?;
        let mut users = rows
            .iter()
            .map(scim_user_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.fill_user_groups(org, &mut users).await?;
        Ok((total, users))
    }

    /// One group as SCIM sees it (with its members if `with_members`); 404 if not in `org`.
    pub async fn scim_get_group(
        &self,
        org: &OrgId,
        group_id: &str,
        with_members: bool,
    ) -> Result<ScimGroup> {
        let sql = format!("{SCIM_GROUP_SELECT} AND g.id = $2");
        let row = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(group_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("group", group_id))?;
        let mut g = scim_group_from_row(&row)?;
        if with_members {
            self.fill_group_members(org, std::slice::from_mut(&mut g))
                .await?;
        }
        Ok(g)
    }

    async fn fill_group_members(&self, org: &OrgId, groups: &mut [ScimGroup]) -> Result<()> {
        if groups.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT gm.group_id, gm.user_id, COALESCE(m.name, u.email) FROM group_members gm \
             JOIN memberships m ON m.org_id = gm.org_id AND m.user_id = gm.user_id \
             JOIN users u ON u.id = gm.user_id \
             WHERE gm.org_id = $1 AND gm.group_id IN ({}) ORDER BY gm.user_id",
            placeholders(2, groups.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for g in groups.iter() {
            q = q.bind(g.id.clone());
        }
        for row in q.fetch_all(&self.read).await.map_err(db)? {
            let gid: String = row.try_get(0).map_err(db)?;
            if let Some(g) = groups.iter_mut().find(|g| g.id == gid) {
                g.members
                    .push((row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?));
            }
        }
        Ok(())
    }

    /// Groups matching `filter`, ordered by id, offset-paged as [`Store::scim_list_members`].
    pub async fn scim_list_groups(
        &self,
        org: &OrgId,
        filter: Option<&ScimFilter>,
        start_index: u32,
        count: u32,
        with_members: bool,
    ) -> Result<(i64, Vec<ScimGroup>)> {
        let (total, rows) = self
            .offset_page(
                org,
                SCIM_GROUP_FROM,
                SCIM_GROUP_SELECT,
                "g.id",
                filter,
                start_index,
                count,
            )
            .await?;
        let mut groups = rows
            .iter()
            .map(scim_group_from_row)
            .collect::<Result<Vec<_>>>()?;
        if with_members {
            self.fill_group_members(org, &mut groups).await?;
        }
        Ok((total, groups))
    }

    /// Records a group's SCIM external id (no effect on what anyone holds, so it is written
    /// beside the change that made or renamed the group, outside the revision sequence).
    pub async fn scim_set_group_external_id(
        &self,
        org: &OrgId,
        group_id: &str,
        external_id: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO scim_groups (org_id, group_id, external_id, updated_at) \
             SELECT $1, $2, $3, $4 WHERE EXISTS \
             (SELECT 1 FROM org_groups WHERE org_id = $1 AND id = $2) \
             ON CONFLICT (org_id, group_id) DO UPDATE SET \
             external_id = excluded.external_id, updated_at = excluded.updated_at",
        )
        .bind(org.as_str())
        .bind(group_id)
        .bind(external_id.map(str::to_owned))
        .bind(now_unix())
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Whether `user_id` is a member of `org` (for SCIM's `invalidValue` on unknown members).
    pub async fn is_member(&self, org: &OrgId, user_id: &str) -> Result<bool> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        Ok(member(&mut conn, org, user_id).await?.is_some())
    }
}
