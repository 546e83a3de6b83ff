//! API keys: minting (the secret leaves only in the response) and authentication.
//!
//! Guarantees: the database holds only SHA-256 digests; a presented secret is hashed, looked up
//! by digest and the stored digest is compared in constant time; an expired key, or one whose
//! row is gone (deleted, or its member removed), or whose member is suspended, does not
//! authenticate.

use orgiam_core::ids::{KeyId, OrgId, UserId};
use orgiam_core::keys::{self, KeyKind};
use orgiam_core::model::{Actor, ApiKey};
use orgiam_core::{Error, Result, now_unix};
use sqlx::Row as _;

use crate::db::{Store, db};
use crate::write::WriteTx;

const KEY_COLUMNS: &str = "k.id, k.org_id, k.kind, k.name, k.redacted_value, k.user_id, \
     k.created_at, k.last_used_at, k.expires_at";

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKey> {
    let kind: String = row.try_get("kind").map_err(db)?;
    Ok(ApiKey {
        id: KeyId::from_trusted(row.try_get("id").map_err(db)?),
        org_id: OrgId::from_trusted(row.try_get("org_id").map_err(db)?),
        kind: KeyKind::parse(&kind).ok_or_else(|| Error::internal("unknown key kind"))?,
        name: row.try_get("name").map_err(db)?,
        redacted_value: row.try_get("redacted_value").map_err(db)?,
        user_id: UserId::from_trusted(row.try_get("user_id").map_err(db)?),
        created_at: row.try_get("created_at").map_err(db)?,
        last_used_at: row.try_get("last_used_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
    })
}

/// A key found by its secret: who it acts as, and until when.
#[derive(Debug, Clone)]
pub struct KeyHit {
    /// The principal.
    pub actor: Actor,
    /// Expiry (Unix seconds), if any.
    pub expires_at: Option<i64>,
}

/// Mints and stores a key acting as `user_id`; returns the key and its secret.
pub(crate) async fn insert_key(
    tx: &mut WriteTx,
    kind: KeyKind,
    name: &str,
    user_id: &UserId,
    created_by: Option<&str>,
    expires_at: Option<i64>,
) -> Result<(ApiKey, String)> {
    let secret = keys::mint(kind);
    let id = KeyId::generate();
    let now = now_unix();
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, kind, name, secret_hash, redacted_value, user_id, \
         created_by, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)",
    )
    .bind(id.as_str())
    .bind(tx.org_id.as_str())
    .bind(kind.as_str())
    .bind(name)
    .bind(secret.hash.as_str())
    .bind(secret.redacted.as_str())
    .bind(user_id.as_str())
    .bind(created_by.map(str::to_owned))
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx.tx)
    .await
    .map_err(db)?;
    let key = ApiKey {
        id,
        org_id: tx.org_id.clone(),
        kind,
        name: name.to_owned(),
        redacted_value: secret.redacted.clone(),
        user_id: user_id.clone(),
        created_at: now,
        last_used_at: None,
        expires_at,
    };
    Ok((key, secret.value))
}

impl Store {
    /// The principal a presented secret acts as, or `None` if it is unknown or expired.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Actor>> {
        Ok(self.lookup_key(secret).await?.map(|k| k.actor))
    }

    /// As [`Store::authenticate`], with the key's expiry (for caching).
    pub async fn lookup_key(&self, secret: &str) -> Result<Option<KeyHit>> {
        let digest = keys::hash(secret);
        let sql = format!(
            "SELECT {KEY_COLUMNS}, k.secret_hash, k.created_by, u.email FROM api_keys k \
             JOIN users u ON u.id = k.user_id \
             JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id \
             WHERE k.secret_hash = $1 AND m.suspended_at IS NULL"
        );
        let Some(row) = sqlx::query(&sql)
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
        let key = key_from_row(&row)?;
        if key.expires_at.is_some_and(|t| t <= now_unix()) {
            return Ok(None);
        }
        let expires_at = key.expires_at;
        let created_by: Option<String> = row.try_get("created_by").map_err(db)?;
        let minted_by = match key.kind {
            KeyKind::User => created_by
                .filter(|c| c != key.user_id.as_str())
                .map(UserId::from_trusted),
            KeyKind::Admin | KeyKind::Root | KeyKind::Scim | KeyKind::Platform => None,
        };
        let actor = Actor {
            org_id: key.org_id,
            user_id: key.user_id,
            email: row.try_get("email").map_err(db)?,
            key_id: key.id,
            key_kind: key.kind,
            minted_by,
        };
        Ok(Some(KeyHit { actor, expires_at }))
    }

    /// Records that keys were used (written lazily, in batches, off the request path).
    pub async fn touch_keys(&self, used: &[(KeyId, i64)]) -> Result<()> {
        for (id, at) in used {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(*at)
                .bind(id.as_str())
                .execute(&self.write)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
}
