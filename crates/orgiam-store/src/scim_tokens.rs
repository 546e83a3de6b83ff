//! SCIM tokens: what an identity provider presents on `/scim/v2`.
//!
//! Guarantees: a token's secret leaves the store only in the return value of the call that
//! mints it; rows hold its SHA-256, compared in constant time. A token acts with the authority
//! of the member who made it (a suspended maker's tokens do not authenticate), and dies with
//! that membership (foreign-key cascade). Each request reads the token's row, so a revoked
//! token fails on its next request in every process.

use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{KeyId, OrgId, UserId};
use orgiam_core::keys::{self, KeyKind};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::Row as _;

use crate::db::{Store, db};
use crate::sql::keyset;
use crate::write::{ActorRef, AuditEvent};

/// A SCIM token (never its secret).
#[derive(Debug, Clone)]
pub struct ScimToken {
    /// `key_…`
    pub id: KeyId,
    /// A label for people.
    pub name: String,
    /// `sk-scim-AbCd…wxyz`
    pub redacted_value: String,
    /// The base role of members the token creates.
    pub default_role: SystemRole,
    /// The member whose authority the token acts with.
    pub created_by: UserId,
    /// Unix seconds.
    pub created_at: i64,
}

/// A token found by its secret: the organization and the authority it acts with.
#[derive(Debug, Clone)]
pub struct ScimTokenHit {
    /// The token.
    pub token_id: KeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// The member who made it.
    pub created_by: UserId,
    /// That member's email.
    pub email: String,
    /// The base role of members it creates.
    pub default_role: SystemRole,
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<ScimToken> {
    let role: String = row.try_get("default_role_id").map_err(db)?;
    Ok(ScimToken {
        id: KeyId::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        redacted_value: row.try_get("redacted_value").map_err(db)?,
        default_role: SystemRole::from_id(&role).unwrap_or(SystemRole::OrgMember),
        created_by: UserId::from_trusted(row.try_get("created_by").map_err(db)?),
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

fn token_json(t: &ScimToken) -> serde_json::Value {
    json!({
        "id": t.id.as_str(),
        "name": t.name,
        "redacted_value": t.redacted_value,
        "default_role": t.default_role.name(),
        "created_by": t.created_by.as_str(),
        "created_at": t.created_at,
    })
}

const TOKEN_COLUMNS: &str =
    "id, name, redacted_value, default_role_id, created_by, created_at FROM scim_tokens";

impl Store {
    /// Mints a SCIM token acting with the actor's authority; members it creates get
    /// `default_role`, which the actor must hold all of (403 `privilege_escalation`).
    pub async fn create_scim_token(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        name: &str,
        default_role: SystemRole,
    ) -> Result<(ScimToken, String, i64)> {
        let name = validate::name("name", name)?;
        if default_role.resource_type() != ResourceType::Organization {
            return Err(Error::invalid(
                "default_role",
                "default_role must be an organization role",
            ));
        }
        let perms: Vec<String> = default_role
            .permissions()
            .map(|p| p.name.to_owned())
            .collect();
        actor.ensure_holds(&perms)?;
        let user_id = actor
            .user_id()
            .ok_or_else(|| {
                Error::forbidden(
                    "member_required",
                    "a SCIM token acts as the member who makes it: use a key of a member",
                )
            })?
            .to_owned();
        let secret = keys::mint(KeyKind::Scim);
        let token = ScimToken {
            id: KeyId::generate(),
            name,
            redacted_value: secret.redacted.clone(),
            default_role,
            created_by: UserId::from_trusted(user_id),
            created_at: now_unix(),
        };
        let mut w = self.begin_write(org).await?;
        sqlx::query(
            "INSERT INTO scim_tokens (id, org_id, name, secret_hash, redacted_value, \
             default_role_id, created_by, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(token.id.as_str())
        .bind(org.as_str())
        .bind(token.name.as_str())
        .bind(secret.hash.as_str())
        .bind(token.redacted_value.as_str())
        .bind(default_role.id_str())
        .bind(token.created_by.as_str())
        .bind(token.created_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "scim_token.created",
                resource_id: token.id.as_str().to_owned(),
                project_id: None,
                payload: json!({ "id": token.id.as_str(), "after": token_json(&token) }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((token, secret.value, revision))
    }

    /// The organization's SCIM tokens, by id.
    pub async fn list_scim_tokens(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<ScimToken>> {
        let (cond, order) = keyset("id", page, 2);
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} WHERE org_id = $1{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let tokens = rows
            .iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(tokens, page.limit))
    }

    /// Revokes a SCIM token: it fails from the next request on, in every process.
    pub async fn delete_scim_token(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} WHERE org_id = $1 AND id = $2");
        let before = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db)?
            .as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or_else(|| Error::not_found("scim token", id))?;
        sqlx::query("DELETE FROM scim_tokens WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "scim_token.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({ "id": id, "before": token_json(&before) }),
            },
        )
        .await?;
        w.commit().await
    }

    /// The token a presented secret is, if any (and if its maker is still an active member).
    pub async fn lookup_scim_token(&self, secret: &str) -> Result<Option<ScimTokenHit>> {
        let digest = keys::hash(secret);
        let Some(row) = sqlx::query(
            "SELECT t.id, t.org_id, t.secret_hash, t.default_role_id, t.created_by, u.email \
             FROM scim_tokens t JOIN users u ON u.id = t.created_by \
             JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.created_by \
             WHERE t.secret_hash = $1 AND m.suspended_at IS NULL",
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
        let role: String = row.try_get("default_role_id").map_err(db)?;
        Ok(Some(ScimTokenHit {
            token_id: KeyId::from_trusted(row.try_get("id").map_err(db)?),
            org_id: OrgId::from_trusted(row.try_get("org_id").map_err(db)?),
            created_by: UserId::from_trusted(row.try_get("created_by").map_err(db)?),
            email: row.try_get("email").map_err(db)?,
            default_role: SystemRole::from_id(&role).unwrap_or(SystemRole::OrgMember),
        }))
    }
}
