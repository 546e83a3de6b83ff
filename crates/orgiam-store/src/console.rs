//! Console sessions: the server-side record behind the console's cookie.
//!
//! Guarantees: rows are keyed by the SHA-256 of the cookie's value (the value itself is never
//! stored); a session whose last use is older than the idle timeout is gone (deleted when it
//! is next asked for, and swept at each sign-in); every process reads the same rows, so a
//! session works on any process sharing the database and sign-out ends it everywhere.

use orgiam_core::{Result, now_unix};
use sqlx::Row as _;

use crate::db::{Store, db};

/// A live console session.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The signed-in key's secret, sealed with a key derived from the cookie's value.
    pub sealed_key: String,
    /// The token every state-changing form of the session carries.
    pub csrf: String,
}

/// Last-use times are written at most this often (seconds), not on every page.
const TOUCH_EVERY: i64 = 30;

impl Store {
    /// Records a new session under `id` (the cookie value's digest); sweeps idle ones.
    pub async fn create_console_session(
        &self,
        id: &str,
        sealed_key: &str,
        csrf: &str,
        idle_seconds: i64,
    ) -> Result<()> {
        let now = now_unix();
        sqlx::query("DELETE FROM console_sessions WHERE last_seen_at < $1")
            .bind(now - idle_seconds)
            .execute(&self.write)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO console_sessions (id, sealed_key, csrf, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(sealed_key)
        .bind(csrf)
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The session under `id` if it was used within `idle_seconds`, noting this use.
    pub async fn console_session(
        &self,
        id: &str,
        idle_seconds: i64,
    ) -> Result<Option<ConsoleSession>> {
        let Some(row) = sqlx::query(
            "SELECT sealed_key, csrf, last_seen_at FROM console_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let seen: i64 = row.try_get("last_seen_at").map_err(db)?;
        let now = now_unix();
        if seen < now - idle_seconds {
            self.end_console_session(id).await?;
            return Ok(None);
        }
        if now - seen >= TOUCH_EVERY {
            sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.write)
                .await
                .map_err(db)?;
        }
        Ok(Some(ConsoleSession {
            sealed_key: row.try_get("sealed_key").map_err(db)?,
            csrf: row.try_get("csrf").map_err(db)?,
        }))
    }

    /// Ends the session under `id` (sign-out, or its key no longer authenticates).
    pub async fn end_console_session(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }
}
