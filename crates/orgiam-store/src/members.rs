//! Users and memberships: a global identity (unique email, case-insensitively) joins
//! organizations through memberships; each membership has exactly one base role, a system
//! organization role stored as an ordinary assignment with `is_base = 1`.

use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{AssignmentId, OrgId, UserId};
use orgiam_core::model::Member;
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::sql::{keyset, placeholders};
use crate::write::{ActorRef, AuditEvent, WriteTx};

const MEMBER_SELECT: &str = "SELECT m.user_id, u.email, m.name, m.created_at AS added_at, \
     u.created_at AS user_created_at, ra.role_id, \
     m.suspended_at, m.scim_managed \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     LEFT JOIN role_assignments ra ON ra.org_id = m.org_id AND ra.principal_id = m.user_id \
     AND ra.project_id IS NULL AND ra.is_base = 1 \
     WHERE m.org_id = $1";

pub(crate) fn member_from_row(row: &sqlx::any::AnyRow) -> Result<Member> {
    let role_id: Option<String> = row.try_get("role_id").map_err(db)?;
    Ok(Member {
        user_id: UserId::from_trusted(row.try_get("user_id").map_err(db)?),
        email: row.try_get("email").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        role: role_id
            .as_deref()
            .and_then(SystemRole::from_id)
            .unwrap_or(SystemRole::OrgMember),
        added_at: row.try_get("added_at").map_err(db)?,
        created_at: row.try_get("user_created_at").map_err(db)?,
        suspended: row
            .try_get::<Option<i64>, _>("suspended_at")
            .map_err(db)?
            .is_some(),
        scim_managed: row.try_get::<i64, _>("scim_managed").map_err(db)? != 0,
    })
}

/// The member `user_id` of `org`, if they are one.
pub(crate) async fn member(
    conn: &mut AnyConnection,
    org: &OrgId,
    user_id: &str,
) -> Result<Option<Member>> {
    let sql = format!("{MEMBER_SELECT} AND m.user_id = $2");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(member_from_row).transpose()
}

/// Finds or creates the identity for `email`; returns its id.
pub(crate) async fn upsert_user(tx: &mut WriteTx, email: &str) -> Result<UserId> {
    let key = validate::fold_case(email);
    sqlx::query(
        "INSERT INTO users (id, email, email_key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email_key) DO NOTHING",
    )
    .bind(UserId::generate().into_string())
    .bind(email)
    .bind(key.as_str())
    .bind(now_unix())
    .execute(&mut *tx.tx)
    .await
    .map_err(db)?;
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
        .bind(key.as_str())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(db)?;
    Ok(UserId::from_trusted(id))
}

/// Adds `user_id` to the organization with `role` as base role; 409 if already a member.
pub(crate) async fn insert_membership(
    tx: &mut WriteTx,
    actor: &ActorRef<'_>,
    user_id: &UserId,
    email: &str,
    name: Option<&str>,
    role: SystemRole,
) -> Result<()> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT user_id FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(tx.org_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx.tx)
            .await
            .map_err(db)?;
    if exists.is_some() {
        return Err(Error::conflict(
            "already_member",
            format!(
                "'{}' is already a member of this organization",
                quote(email)
            ),
        ));
    }
    let now = now_unix();
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, name, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tx.org_id.as_str())
    .bind(user_id.as_str())
    .bind(name.map(str::to_owned))
    .bind(now)
    .execute(&mut *tx.tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, user_id, \
         group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
         VALUES ($1, $2, $3, 'user', $4, $4, NULL, NULL, 1, $5, $6, NULL, NULL)",
    )
    .bind(AssignmentId::generate().into_string())
    .bind(tx.org_id.as_str())
    .bind(role.id_str())
    .bind(user_id.as_str())
    .bind(now)
    .bind(actor.user_id().map(str::to_owned))
    .execute(&mut *tx.tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Every permission the system role `role` holds in `org` (owner and admin hold the
/// organization's own permissions too).
async fn role_permissions(
    conn: &mut AnyConnection,
    org: &OrgId,
    role: SystemRole,
) -> Result<Vec<String>> {
    Ok(crate::roles::org_role(conn, org, role.id_str())
        .await?
        .map(|r| r.permissions)
        .unwrap_or_else(|| role.permissions().map(|p| p.name.to_owned()).collect()))
}

/// How many owners `org` has.
async fn owner_count(conn: &mut AnyConnection, org: &OrgId) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM role_assignments WHERE org_id = $1 AND project_id IS NULL \
         AND is_base = 1 AND role_id = $2",
    )
    .bind(org.as_str())
    .bind(SystemRole::OrgOwner.id_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

fn last_owner(user_id: &str) -> Error {
    Error::conflict(
        "last_owner",
        format!("user '{}' is the organization's last owner", quote(user_id)),
    )
}

/// The wire form of a member for audit payloads.
pub(crate) fn member_json(m: &Member) -> serde_json::Value {
    json!({ "id": m.user_id.as_str(), "email": m.email, "name": m.name, "role": m.role.name() })
}

/// A member as provisioned: email, display name, base role.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Email of the identity (created if new).
    pub email: String,
    /// Display name in this organization.
    pub name: Option<String>,
    /// Base role.
    pub role: SystemRole,
}

impl Store {
    /// Members of `org`, by user id, optionally only those with the given emails.
    pub async fn list_members(
        &self,
        org: &OrgId,
        page: &PageRequest,
        emails: &[String],
    ) -> Result<Page<Member>> {
        let (cond, order) = keyset("m.user_id", page, 2);
        let first_email = if page.after.is_some() { 3 } else { 2 };
        let email_cond = if emails.is_empty() {
            String::new()
        } else {
            format!(
                " AND u.email_key IN ({})",
                placeholders(first_email, emails.len())
            )
        };
        let sql = format!(
            "{MEMBER_SELECT}{cond}{email_cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        for e in emails {
            q = q.bind(validate::fold_case(e));
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let members = rows
            .iter()
            .map(member_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(members, page.limit))
    }

    /// The members of `org` among `user_ids` (others are skipped), by user id.
    pub async fn members_by_ids(&self, org: &OrgId, user_ids: &[String]) -> Result<Vec<Member>> {
        let mut out = Vec::with_capacity(user_ids.len());
        for chunk in user_ids.chunks(500) {
            let sql = format!(
                "{MEMBER_SELECT} AND m.user_id IN ({}) ORDER BY m.user_id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org.as_str());
            for id in chunk {
                q = q.bind(id.as_str());
            }
            let rows = q.fetch_all(&self.read).await.map_err(db)?;
            for row in &rows {
                out.push(member_from_row(row)?);
            }
        }
        out.sort_by(|a, b| a.user_id.as_str().cmp(b.user_id.as_str()));
        Ok(out)
    }

    /// One member; 404 if `user_id` is not a member of `org`.
    pub async fn get_member(&self, org: &OrgId, user_id: &str) -> Result<Member> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        member(&mut conn, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))
    }

    /// Provisions a member directly, attaching an existing identity with that email.
    pub async fn add_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        new: NewMember,
    ) -> Result<(Member, i64)> {
        let email = validate::email("email", &new.email)?;
        let name = new
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        if new.role.resource_type() != ResourceType::Organization {
            return Err(Error::invalid("role", "role must be an organization role"));
        }
        let mut w = self.begin_write(org).await?;
        actor.ensure_holds(&role_permissions(&mut w.tx, org, new.role).await?)?;
        let user_id = upsert_user(&mut w, &email).await?;
        insert_membership(&mut w, actor, &user_id, &email, name.as_deref(), new.role).await?;
        let m = member(&mut w.tx, org, user_id.as_str())
            .await?
            .ok_or_else(|| Error::internal("new member vanished"))?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "user.added",
                resource_id: user_id.as_str().to_owned(),
                project_id: None,
                payload: json!({ "id": user_id.as_str(), "data": { "role": new.role.name() }, "after": member_json(&m) }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((m, revision))
    }

    /// Replaces a member's base role (and, if given, display name); the last owner cannot be
    /// demoted (409).
    pub async fn update_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        role: Option<SystemRole>,
        name: Option<String>,
    ) -> Result<(Member, i64)> {
        let name = name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        let mut w = self.begin_write(org).await?;
        let before = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        // the target rule: only who holds everything the member holds may change them
        w.ensure_covers(actor, user_id).await?;
        if let Some(role) = role {
            if role.resource_type() != ResourceType::Organization {
                return Err(Error::invalid("role", "role must be an organization role"));
            }
            // a base-role change needs every permission of the old and the new role
            actor.ensure_holds(&role_permissions(&mut w.tx, org, before.role).await?)?;
            actor.ensure_holds(&role_permissions(&mut w.tx, org, role).await?)?;
            if before.role == SystemRole::OrgOwner
                && role != SystemRole::OrgOwner
                && owner_count(&mut w.tx, org).await? <= 1
            {
                return Err(last_owner(user_id));
            }
            // a direct grant of the same role would duplicate the base one
            sqlx::query(
                "DELETE FROM role_assignments WHERE org_id = $1 AND principal_id = $2 \
                 AND project_id IS NULL AND role_id = $3 AND is_base = 0",
            )
            .bind(org.as_str())
            .bind(user_id)
            .bind(role.id_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "UPDATE role_assignments SET role_id = $1, created_at = $2, created_by = $3 \
                 WHERE org_id = $4 AND principal_id = $5 AND project_id IS NULL AND is_base = 1",
            )
            .bind(role.id_str())
            .bind(now_unix())
            .bind(actor.user_id().map(str::to_owned))
            .bind(org.as_str())
            .bind(user_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        }
        if let Some(name) = &name {
            sqlx::query("UPDATE memberships SET name = $1 WHERE org_id = $2 AND user_id = $3")
                .bind(name.as_str())
                .bind(org.as_str())
                .bind(user_id)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
        let after = member(&mut w.tx, org, user_id)
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
                    "changes_requested": { "role": role.map(SystemRole::name), "name": name },
                    "before": member_json(&before),
                    "after": member_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// Removes a member and, by cascade, their group and project memberships, assignments and
    /// keys in this organization. The last owner cannot be removed (409).
    pub async fn remove_member(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let before = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        w.ensure_covers(actor, user_id).await?;
        if before.role == SystemRole::OrgOwner && owner_count(&mut w.tx, org).await? <= 1 {
            return Err(last_owner(user_id));
        }
        let count = |table: &'static str| {
            format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1 AND user_id = $2")
        };
        let mut removed = serde_json::Map::new();
        for table in [
            "role_assignments",
            "group_members",
            "project_members",
            "api_keys",
        ] {
            let n: i64 = sqlx::query_scalar(&count(table))
                .bind(org.as_str())
                .bind(user_id)
                .fetch_one(&mut *w.tx)
                .await
                .map_err(db)?;
            removed.insert(table.to_owned(), json!(n));
        }
        // what they handed out on their own authority dies with them: keys they minted for
        // others, and their pending invitations
        for (name, sql) in [
            (
                "minted_keys",
                "DELETE FROM api_keys WHERE org_id = $1 AND created_by = $2 AND kind = 'user' \
                 AND user_id <> $2",
            ),
            (
                "pending_invites",
                "DELETE FROM invitations WHERE org_id = $1 AND invited_by = $2 \
                 AND accepted_at IS NULL",
            ),
        ] {
            let n = sqlx::query(sql)
                .bind(org.as_str())
                .bind(user_id)
                .execute(&mut *w.tx)
                .await
                .map_err(db)?
                .rows_affected();
            removed.insert(name.to_owned(), json!(n));
        }
        sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "user.deleted",
                resource_id: user_id.to_owned(),
                project_id: None,
                payload: json!({ "id": user_id, "removed": removed, "before": member_json(&before) }),
            },
        )
        .await?;
        w.commit().await
    }
}
