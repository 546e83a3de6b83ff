//! Admin API keys and user keys: minting, listing, revoking.
//!
//! Guarantees: only an owner (base organization role `owner`) mints admin keys, and an admin key
//! acts as the owner who minted it; a user key acts as its user, and minting one requires the
//! actor to hold every permission that user holds, at the same scope (no escalation). A key's
//! secret leaves the store only in the return value of the call that mints it; rows hold its
//! SHA-256. Removing a membership removes its keys (foreign-key cascade), and since every
//! request re-reads the key's row, a deleted, expired or orphaned key fails on its next use.

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::{KeyId, OrgId, UserId};
use orgiam_core::keys::KeyKind;
use orgiam_core::model::{ApiKey, Member};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::keys::insert_key;
use crate::members::member;
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent};

/// The longest lifetime a key may be given: ten years, in seconds.
pub const MAX_KEY_LIFETIME_SECONDS: i64 = 10 * 365 * 24 * 3600;

/// A stored key with the member it acts as.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The key (never its secret).
    pub key: ApiKey,
    /// The member the key acts as.
    pub owner: Member,
}

const KEY_SELECT: &str = "SELECT k.id, k.org_id, k.kind, k.name, k.redacted_value, k.user_id, \
     k.created_at, k.last_used_at, k.expires_at, u.email, m.name AS owner_name, \
     m.created_at AS added_at, u.created_at AS user_created_at, ra.role_id, \
     m.suspended_at, m.scim_managed \
     FROM api_keys k \
     JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id \
     JOIN users u ON u.id = k.user_id \
     LEFT JOIN role_assignments ra ON ra.org_id = k.org_id AND ra.principal_id = k.user_id \
     AND ra.project_id IS NULL AND ra.is_base = 1 \
     WHERE k.org_id = $1 AND k.kind = $2";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<KeyRecord> {
    let kind: String = row.try_get("kind").map_err(db)?;
    let user_id = UserId::from_trusted(row.try_get("user_id").map_err(db)?);
    let role_id: Option<String> = row.try_get("role_id").map_err(db)?;
    Ok(KeyRecord {
        key: ApiKey {
            id: KeyId::from_trusted(row.try_get("id").map_err(db)?),
            org_id: OrgId::from_trusted(row.try_get("org_id").map_err(db)?),
            kind: KeyKind::parse(&kind).ok_or_else(|| Error::internal("unknown key kind"))?,
            name: row.try_get("name").map_err(db)?,
            redacted_value: row.try_get("redacted_value").map_err(db)?,
            user_id: user_id.clone(),
            created_at: row.try_get("created_at").map_err(db)?,
            last_used_at: row.try_get("last_used_at").map_err(db)?,
            expires_at: row.try_get("expires_at").map_err(db)?,
        },
        owner: Member {
            user_id,
            email: row.try_get("email").map_err(db)?,
            name: row.try_get("owner_name").map_err(db)?,
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
        },
    })
}

/// One key of `kind` in `org` (and of `user_id`, if given).
async fn find_key(
    conn: &mut AnyConnection,
    org: &OrgId,
    kind: KeyKind,
    user_id: Option<&str>,
    id: &str,
) -> Result<Option<KeyRecord>> {
    let sql = format!("{KEY_SELECT} AND k.id = $3 AND ($4 = '' OR k.user_id = $4)");
    let row = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(kind.as_str())
        .bind(id)
        .bind(user_id.unwrap_or(""))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(record_from_row).transpose()
}

/// The key's name and lifetime, checked: name 1..=256 characters, lifetime 1 s to ten years.
fn check_new_key(name: &str, expires_in_seconds: Option<i64>) -> Result<(String, Option<i64>)> {
    let name = validate::name("name", name)?;
    let expires_at = match expires_in_seconds {
        None => None,
        Some(s) if (1..=MAX_KEY_LIFETIME_SECONDS).contains(&s) => Some(now_unix() + s),
        Some(s) => {
            return Err(Error::invalid(
                "expires_in_seconds",
                format!(
                    "expires_in_seconds must be between 1 and {MAX_KEY_LIFETIME_SECONDS} (ten years), not {s}; omit it for a key that does not expire"
                ),
            ));
        }
    };
    Ok((name, expires_at))
}

/// How a key of `kind` is named in messages.
fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Admin => "admin api key",
        _ => "user api key",
    }
}

/// The audit form of a key (never its secret or digest).
fn key_json(k: &KeyRecord) -> serde_json::Value {
    json!({
        "id": k.key.id.as_str(),
        "kind": k.key.kind.as_str(),
        "name": k.key.name,
        "redacted_value": k.key.redacted_value,
        "user_id": k.key.user_id.as_str(),
        "created_at": k.key.created_at,
        "expires_at": k.key.expires_at,
    })
}

impl Store {
    async fn list_keys(
        &self,
        org: &OrgId,
        kind: KeyKind,
        user_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<KeyRecord>> {
        let (cond, order) = keyset("k.id", page, 4);
        let sql = format!(
            "{KEY_SELECT} AND ($3 = '' OR k.user_id = $3){cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(kind.as_str())
            .bind(user_id.unwrap_or(""));
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let keys = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(keys, page.limit))
    }

    /// Deletes one key of `kind` (of `user_id`, if given); 404 if there is none.
    async fn delete_key(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        kind: KeyKind,
        user_id: Option<&str>,
        id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let before = find_key(&mut w.tx, org, kind, user_id, id)
            .await?
            .ok_or_else(|| Error::not_found(kind_name(kind), id))?;
        // the target rule: revoking a member's key needs everything that member holds
        w.ensure_covers(actor, before.key.user_id.as_str()).await?;
        sqlx::query("DELETE FROM api_keys WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        // OpenAI's name for any API key's deletion; the payload's `before` says which kind
        w.audit(
            actor,
            AuditEvent {
                event_type: "api_key.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({ "id": id, "before": key_json(&before) }),
            },
        )
        .await?;
        w.commit().await
    }

    /// Mints an admin key acting as the actor, who must be an owner (base role `owner`);
    /// returns the key, its secret (shown once) and the revision.
    pub async fn create_admin_key(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
        expires_in_seconds: Option<i64>,
    ) -> Result<(KeyRecord, String, i64)> {
        let (name, expires_at) = check_new_key(name, expires_in_seconds)?;
        let owner_only = || {
            Error::forbidden(
                "owner_required",
                "only an organization owner may create admin API keys",
            )
        };
        let user_id = actor.user_id().ok_or_else(owner_only)?.to_owned();
        let mut w = self.begin_write(org).await?;
        let me = member(&mut w.tx, org, &user_id)
            .await?
            .ok_or_else(owner_only)?;
        if me.role != SystemRole::OrgOwner {
            return Err(owner_only());
        }
        let (key, secret) = insert_key(
            &mut w,
            KeyKind::Admin,
            &name,
            &me.user_id,
            Some(&user_id),
            expires_at,
        )
        .await?;
        let record = KeyRecord { key, owner: me };
        w.audit(
            actor,
            AuditEvent {
                event_type: "api_key.created",
                resource_id: record.key.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": record.key.id.as_str(),
                    "data": { "name": record.key.name, "expires_at": record.key.expires_at },
                    "after": key_json(&record),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((record, secret, revision))
    }

    /// The organization's admin keys, by id.
    pub async fn list_admin_keys(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<KeyRecord>> {
        self.list_keys(org, KeyKind::Admin, None, page).await
    }

    /// One admin key; 404 if `id` is not an admin key of `org`.
    pub async fn get_admin_key(&self, org: &OrgId, id: &str) -> Result<KeyRecord> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        find_key(&mut conn, org, KeyKind::Admin, None, id)
            .await?
            .ok_or_else(|| Error::not_found(kind_name(KeyKind::Admin), id))
    }

    /// Revokes an admin key: it fails from the next request on.
    pub async fn delete_admin_key(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
    ) -> Result<i64> {
        self.delete_key(actor, org, KeyKind::Admin, None, id).await
    }

    /// Mints a key acting as member `user_id` with exactly that member's permissions; the
    /// actor must hold all of them (403 `privilege_escalation` otherwise).
    pub async fn create_user_key(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        name: &str,
        expires_in_seconds: Option<i64>,
    ) -> Result<(KeyRecord, String, i64)> {
        let (name, expires_at) = check_new_key(name, expires_in_seconds)?;
        // 404 before anything is said about what the user holds
        self.get_member(org, user_id).await?;
        let mut w = self.begin_write(org).await?;
        let owner = member(&mut w.tx, org, user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", user_id))?;
        // no escalation through a key: the actor holds everything the user holds
        w.ensure_covers(actor, user_id).await?;
        let (key, secret) = insert_key(
            &mut w,
            KeyKind::User,
            &name,
            &owner.user_id,
            actor.minter_for(user_id),
            expires_at,
        )
        .await?;
        let record = KeyRecord { key, owner };
        w.audit(
            actor,
            AuditEvent {
                event_type: "api_key.created",
                resource_id: record.key.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": record.key.id.as_str(),
                    "data": { "name": record.key.name, "user_id": user_id, "expires_at": record.key.expires_at },
                    "after": key_json(&record),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((record, secret, revision))
    }

    /// The user keys of member `user_id`, by id; 404 if they are not a member.
    pub async fn list_user_keys(
        &self,
        org: &OrgId,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<KeyRecord>> {
        self.get_member(org, user_id).await?;
        self.list_keys(org, KeyKind::User, Some(user_id), page)
            .await
    }

    /// Revokes one user key of member `user_id`.
    pub async fn delete_user_key(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        user_id: &str,
        id: &str,
    ) -> Result<i64> {
        self.get_member(org, user_id).await?;
        self.delete_key(actor, org, KeyKind::User, Some(user_id), id)
            .await
    }
}
