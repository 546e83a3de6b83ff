//! Webhook endpoints and their outbox.
//!
//! Guarantees:
//! - at least once: a change's deliveries are written by [`enqueue`] inside the change's own
//!   transaction, beside its audit event, so a change acknowledged to its client has its
//!   deliveries on disk whatever happens to the process afterwards;
//! - one sender per attempt: a delivery is claimed by setting a lease (on PostgreSQL with
//!   `FOR UPDATE SKIP LOCKED`, so concurrent processes never claim the same row); a lease that
//!   expires, because its process died, makes the row claimable again; a result is recorded
//!   only by the holder of the current lease;
//! - per endpoint order: a delivery of an ordered endpoint is claimable only while no older
//!   delivery of that endpoint is still pending, so deliveries go out in revision order.

use orgiam_core::ids::{DeliveryId, OrgId, WebhookId};
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::{Error, Result, now_unix};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::db::{Backend, Store, db};
use crate::write::{ActorRef, AuditEvent, WriteConn};

/// A webhook endpoint as stored (never its secrets).
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    /// `webhook_…`
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// Only these event types (None: every type).
    pub event_types: Option<Vec<String>>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Whether deliveries go out one at a time in revision order.
    pub ordered: bool,
    /// `active`, `failing` or `disabled`.
    pub state: String,
    /// Since when deliveries fail (Unix seconds), while failing.
    pub failing_since: Option<i64>,
    /// Until when the previous secret signs too (Unix seconds), after a rotation.
    pub previous_secret_until: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Checked by the caller (scheme and address policy).
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// Only these event types.
    pub event_types: Option<Vec<String>>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Whether deliveries keep revision order.
    pub ordered: bool,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// A new URL (checked by the caller).
    pub url: Option<String>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New event types (`Some(None)`: every type).
    pub event_types: Option<Option<Vec<String>>>,
    /// Enable (also clears a failing or disabled state) or disable.
    pub enabled: Option<bool>,
    /// Ordered or not.
    pub ordered: Option<bool>,
}

/// One delivery (a message to one endpoint) and its latest attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `msg_…`, sent as `webhook-id`.
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event type (`role.created`, `webhook.ping`, …).
    pub event_type: String,
    /// The organization revision of the change (None for pings).
    pub revision: Option<i64>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the change was written (Unix milliseconds).
    pub created_at_ms: i64,
    /// When the next attempt is due (Unix milliseconds), while pending.
    pub next_attempt_at_ms: Option<i64>,
    /// When the latest attempt was made (Unix milliseconds).
    pub last_attempt_at_ms: Option<i64>,
    /// The latest attempt's HTTP status.
    pub response_status: Option<i64>,
    /// The latest attempt's round trip in milliseconds.
    pub latency_ms: Option<i64>,
    /// The first KiB of the latest response body.
    pub response_body: Option<String>,
    /// Why the latest attempt failed, if it did without a response.
    pub error: Option<String>,
    /// When it was delivered (Unix milliseconds).
    pub delivered_at_ms: Option<i64>,
}

/// A claimed delivery with what is needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// `msg_…`
    pub id: String,
    /// The organization.
    pub org_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where to send it.
    pub url: String,
    /// The event type.
    pub event_type: String,
    /// The event (the `data` of the message).
    pub data: String,
    /// When the change was written (Unix milliseconds).
    pub created_at_ms: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When retries started (Unix milliseconds): the retry window counts from here.
    pub retry_from_ms: i64,
    /// The lease this claim holds (its expiry, Unix milliseconds): results need it.
    pub lease_until_ms: i64,
    /// The signing secret.
    pub secret: String,
    /// The previous secret, while it still signs.
    pub previous_secret: Option<String>,
    /// Whether the endpoint was failing when the delivery was claimed.
    pub endpoint_failing: bool,
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The HTTP status, if a response came.
    pub status: Option<u16>,
    /// The round trip in milliseconds.
    pub latency_ms: i64,
    /// At most the first KiB of the response body.
    pub body: Option<String>,
    /// Why no (successful) response came.
    pub error: Option<String>,
}

impl AttemptResult {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, ordered, state, \
     failing_since, previous_secret_until, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_type, revision, status, attempts, created_at, \
     next_attempt_at, last_attempt_at, response_status, latency_ms, response_body, error, delivered_at";

fn endpoint_from_row(row: &AnyRow) -> Result<WebhookEndpoint> {
    let types: Option<String> = row.try_get("event_types").map_err(db)?;
    let event_types = match types {
        None => None,
        Some(t) => Some(
            serde_json::from_str(&t)
                .map_err(|e| Error::internal(format!("webhook event types: {e}")))?,
        ),
    };
    Ok(WebhookEndpoint {
        id: row.try_get("id").map_err(db)?,
        url: row.try_get("url").map_err(db)?,
        description: row.try_get("description").map_err(db)?,
        event_types,
        enabled: row.try_get::<i64, _>("enabled").map_err(db)? != 0,
        ordered: row.try_get::<i64, _>("ordered").map_err(db)? != 0,
        state: row.try_get("state").map_err(db)?,
        failing_since: row.try_get("failing_since").map_err(db)?,
        previous_secret_until: row.try_get("previous_secret_until").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery> {
    let status: String = row.try_get("status").map_err(db)?;
    let next: i64 = row.try_get("next_attempt_at").map_err(db)?;
    Ok(Delivery {
        id: row.try_get("id").map_err(db)?,
        endpoint_id: row.try_get("endpoint_id").map_err(db)?,
        event_type: row.try_get("event_type").map_err(db)?,
        revision: row.try_get("revision").map_err(db)?,
        next_attempt_at_ms: (status == "pending").then_some(next),
        status,
        attempts: row.try_get("attempts").map_err(db)?,
        created_at_ms: row.try_get("created_at").map_err(db)?,
        last_attempt_at_ms: row.try_get("last_attempt_at").map_err(db)?,
        response_status: row.try_get("response_status").map_err(db)?,
        latency_ms: row.try_get("latency_ms").map_err(db)?,
        response_body: row.try_get("response_body").map_err(db)?,
        error: row.try_get("error").map_err(db)?,
        delivered_at_ms: row.try_get("delivered_at").map_err(db)?,
    })
}

fn types_json(types: &Option<Vec<String>>) -> Result<Option<String>> {
    types
        .as_ref()
        .map(|t| serde_json::to_string(t).map_err(Error::internal))
        .transpose()
}

/// The audit payload describing an endpoint (never a secret).
fn described(e: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "url": e.url,
        "event_types": e.event_types,
        "enabled": e.enabled,
        "ordered": e.ordered,
        "state": e.state,
    })
}

/// Writes the deliveries of the change `event` (audit id `audit_id`, organization revision
/// `revision`) to every enabled endpoint of `org` subscribed to its type, in the change's
/// transaction. Returns how many were written.
pub(crate) async fn enqueue(
    tx: &mut WriteConn,
    backend: Backend,
    org: &OrgId,
    revision: i64,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<usize> {
    let rows = sqlx::query(
        "SELECT id, event_types FROM webhook_endpoints WHERE org_id = $1 AND enabled = 1",
    )
    .bind(org.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let body = data.to_string();
    let now = now_ms();
    let mut written = 0;
    for row in rows {
        let endpoint: String = row.try_get("id").map_err(db)?;
        let types: Option<String> = row.try_get("event_types").map_err(db)?;
        if let Some(types) = types {
            let types: Vec<String> = serde_json::from_str(&types).unwrap_or_default();
            if !types.iter().any(|t| t == event_type) {
                continue;
            }
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_type, revision, body, \
             status, attempts, created_at, next_attempt_at, retry_from) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)",
        )
        .bind(DeliveryId::generate().into_string())
        .bind(org.as_str())
        .bind(endpoint)
        .bind(event_type)
        .bind(revision)
        .bind(&body)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        written += 1;
    }
    if written > 0 && backend == Backend::Postgres {
        // delivered to every listening process when the change commits
        let notify = format!("SELECT pg_notify('{}', '')", crate::signals::OUTBOX_CHANNEL);
        sqlx::query(&notify).execute(&mut **tx).await.map_err(db)?;
    }
    Ok(written)
}

impl Store {
    /// Tells this process's worker, and on PostgreSQL every other process's, that deliveries
    /// became due outside a write transaction (a ping, a retry).
    async fn announce_outbox(&self) {
        self.signals.outbox_written();
        if self.backend() == Backend::Postgres {
            let notify = format!("SELECT pg_notify('{}', '')", crate::signals::OUTBOX_CHANNEL);
            if let Err(e) = sqlx::query(&notify).execute(&self.write).await {
                tracing::warn!(error = %e, "could not announce a delivery");
            }
        }
    }

    async fn endpoint_in(
        &self,
        conn: &mut WriteConn,
        org: &OrgId,
        id: &str,
    ) -> Result<WebhookEndpoint> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("webhook", id))?;
        endpoint_from_row(&row)
    }

    /// Creates an endpoint signing with `secret`; one `webhook.created` event.
    pub async fn create_webhook(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        new: NewEndpoint,
        secret: &str,
    ) -> Result<(WebhookEndpoint, i64)> {
        let mut w = self.begin_write(org).await?;
        let id = WebhookId::generate().into_string();
        let now = now_unix();
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, org_id, url, description, event_types, enabled, \
             ordered, state, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $9)",
        )
        .bind(&id)
        .bind(org.as_str())
        .bind(&new.url)
        .bind(&new.description)
        .bind(types_json(&new.event_types)?)
        .bind(i64::from(new.enabled))
        .bind(i64::from(new.ordered))
        .bind(secret)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let endpoint = self.endpoint_in(&mut w.tx, org, &id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "webhook.created",
                resource_id: id,
                project_id: None,
                payload: serde_json::json!({ "data": described(&endpoint) }),
            },
        )
        .await?;
        let rev = w.commit().await?;
        Ok((endpoint, rev))
    }

    /// One endpoint of `org`.
    pub async fn get_webhook(&self, org: &OrgId, id: &str) -> Result<WebhookEndpoint> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("webhook", id))?;
        endpoint_from_row(&row)
    }

    /// `org`'s endpoints by id, keyset-paged.
    pub async fn list_webhooks(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        let after = page.after.clone().unwrap_or_default();
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id > $2 \
             ORDER BY id LIMIT {}",
            page.limit + 1
        );
        let rows = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(after)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let items = rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit))
    }

    /// Changes an endpoint; enabling it clears a failing or disabled state. One
    /// `webhook.updated` event with before and after.
    pub async fn update_webhook(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
        patch: EndpointPatch,
    ) -> Result<(WebhookEndpoint, i64)> {
        let mut w = self.begin_write(org).await?;
        let before = self.endpoint_in(&mut w.tx, org, id).await?;
        let url = patch.url.clone().unwrap_or_else(|| before.url.clone());
        let description = patch
            .description
            .clone()
            .unwrap_or_else(|| before.description.clone());
        let event_types = patch
            .event_types
            .clone()
            .unwrap_or_else(|| before.event_types.clone());
        let enabled = patch.enabled.unwrap_or(before.enabled);
        let ordered = patch.ordered.unwrap_or(before.ordered);
        let (state, failing_since) = match patch.enabled {
            Some(true) => ("active".to_owned(), None),
            Some(false) => ("disabled".to_owned(), before.failing_since),
            None => (before.state.clone(), before.failing_since),
        };
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, \
             enabled = $4, ordered = $5, state = $6, failing_since = $7, updated_at = $8 \
             WHERE org_id = $9 AND id = $10",
        )
        .bind(&url)
        .bind(&description)
        .bind(types_json(&event_types)?)
        .bind(i64::from(enabled))
        .bind(i64::from(ordered))
        .bind(&state)
        .bind(failing_since)
        .bind(now_unix())
        .bind(org.as_str())
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let after = self.endpoint_in(&mut w.tx, org, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "webhook.updated",
                resource_id: id.to_owned(),
                project_id: None,
                payload: serde_json::json!({
                    "id": id, "before": described(&before), "after": described(&after)
                }),
            },
        )
        .await?;
        let rev = w.commit().await?;
        Ok((after, rev))
    }

    /// Deletes an endpoint and its deliveries; one `webhook.deleted` event.
    pub async fn delete_webhook(&self, actor: &ActorRef<'_>, org: &OrgId, id: &str) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let before = self.endpoint_in(&mut w.tx, org, id).await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE org_id = $1 AND endpoint_id = $2")
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "webhook.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: serde_json::json!({ "id": id, "before": described(&before) }),
            },
        )
        .await?;
        w.commit().await
    }

    /// Replaces the signing secret; the current one keeps signing beside it until
    /// `previous_until` (Unix seconds). One `webhook.secret_rotated` event.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(WebhookEndpoint, i64)> {
        let mut w = self.begin_write(org).await?;
        self.endpoint_in(&mut w.tx, org, id).await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $1, \
             secret = $2, updated_at = $3 WHERE org_id = $4 AND id = $5",
        )
        .bind(previous_until)
        .bind(secret)
        .bind(now_unix())
        .bind(org.as_str())
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let after = self.endpoint_in(&mut w.tx, org, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "webhook.secret_rotated",
                resource_id: id.to_owned(),
                project_id: None,
                payload: serde_json::json!({ "id": id, "previous_secret_until": previous_until }),
            },
        )
        .await?;
        let rev = w.commit().await?;
        Ok((after, rev))
    }

    /// Queues a `webhook.ping` to one endpoint (whatever its event types; not while it is
    /// disabled). Changes nothing else, so it records no audit event.
    pub async fn ping_webhook(&self, org: &OrgId, id: &str) -> Result<Delivery> {
        let endpoint = self.get_webhook(org, id).await?;
        if !endpoint.enabled {
            return Err(Error::conflict(
                "webhook_disabled",
                format!("webhook '{id}' is disabled: enable it first"),
            ));
        }
        let msg = DeliveryId::generate().into_string();
        let now = now_ms();
        let data = serde_json::json!({ "webhook_id": id, "ping": true });
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_type, revision, body, \
             status, attempts, created_at, next_attempt_at, retry_from) \
             VALUES ($1, $2, $3, 'webhook.ping', NULL, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(&msg)
        .bind(org.as_str())
        .bind(id)
        .bind(data.to_string())
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db)?;
        self.announce_outbox().await;
        self.get_delivery(org, id, &msg).await
    }

    /// One delivery of one endpoint of `org`.
    pub async fn get_delivery(&self, org: &OrgId, endpoint: &str, id: &str) -> Result<Delivery> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE org_id = $1 AND endpoint_id = $2 AND id = $3"
        );
        let row = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(endpoint)
            .bind(id)
            .fetch_optional(&self.write)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("delivery", id))?;
        delivery_from_row(&row)
    }

    /// An endpoint's deliveries, newest first, keyset-paged by id.
    pub async fn list_deliveries(
        &self,
        org: &OrgId,
        endpoint: &str,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Delivery>> {
        self.get_webhook(org, endpoint).await?;
        let mut sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE org_id = $1 AND endpoint_id = $2"
        );
        let mut args = vec![org.as_str().to_owned(), endpoint.to_owned()];
        if let Some(after) = &page.after {
            args.push(after.clone());
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        if let Some(s) = status {
            args.push(s.to_owned());
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.limit + 1));
        let mut q = sqlx::query(&sql);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let items = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit))
    }

    /// Sends a delivery again, now, with a fresh retry window (whatever its status).
    pub async fn retry_delivery(&self, org: &OrgId, endpoint: &str, id: &str) -> Result<Delivery> {
        self.get_webhook(org, endpoint).await?;
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
             retry_from = $1, lease_until = NULL WHERE org_id = $2 AND endpoint_id = $3 AND id = $4",
        )
        .bind(now)
        .bind(org.as_str())
        .bind(endpoint)
        .bind(id)
        .execute(&self.write)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("delivery", id));
        }
        self.announce_outbox().await;
        self.get_delivery(org, endpoint, id).await
    }

    /// Claims up to `limit` due deliveries for `lease_ms` milliseconds: the oldest first, and
    /// for an ordered endpoint only its oldest pending one. On PostgreSQL rows locked by
    /// another claimer are skipped; on SQLite the single writer serializes claims.
    pub async fn claim_deliveries(&self, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>> {
        let now = now_ms();
        let lease_until = now + lease_ms;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE id IN (\
               SELECT d.id FROM webhook_deliveries d \
               JOIN webhook_endpoints e ON e.id = d.endpoint_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $2 \
                 AND (d.lease_until IS NULL OR d.lease_until < $2) AND e.enabled = 1 \
                 AND (e.ordered = 0 OR NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
                      WHERE o.endpoint_id = d.endpoint_id AND o.status = 'pending' AND o.seq < d.seq)) \
               ORDER BY d.seq LIMIT {limit}{lock}) \
             RETURNING id"
        );
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(lease_until)
            .bind(now)
            .fetch_all(&self.write)
            .await
            .map_err(db)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = crate::sql::placeholders(2, ids.len());
        let sql = format!(
            "SELECT d.id, d.org_id, d.endpoint_id, d.event_type, d.body, d.created_at, d.attempts, \
             d.retry_from, d.lease_until, e.url, e.secret, e.previous_secret, e.previous_secret_until, \
             e.state \
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.lease_until = $1 AND d.id IN ({list}) ORDER BY d.seq"
        );
        let mut q = sqlx::query(&sql).bind(lease_until);
        for id in &ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.write).await.map_err(db)?;
        let now_s = now_unix();
        rows.iter()
            .map(|row| {
                let until: Option<i64> = row.try_get("previous_secret_until").map_err(db)?;
                let previous: Option<String> = row.try_get("previous_secret").map_err(db)?;
                Ok(Claimed {
                    id: row.try_get("id").map_err(db)?,
                    org_id: row.try_get("org_id").map_err(db)?,
                    endpoint_id: row.try_get("endpoint_id").map_err(db)?,
                    url: row.try_get("url").map_err(db)?,
                    event_type: row.try_get("event_type").map_err(db)?,
                    data: row.try_get("body").map_err(db)?,
                    created_at_ms: row.try_get("created_at").map_err(db)?,
                    attempts: row.try_get("attempts").map_err(db)?,
                    retry_from_ms: row.try_get("retry_from").map_err(db)?,
                    lease_until_ms: row.try_get("lease_until").map_err(db)?,
                    secret: row.try_get("secret").map_err(db)?,
                    previous_secret: previous.filter(|_| until.is_some_and(|u| u > now_s)),
                    endpoint_failing: row.try_get::<String, _>("state").map_err(db)? == "failing",
                })
            })
            .collect()
    }

    /// Records an attempt of a claimed delivery: delivered, retried at `retry_at_ms`, or
    /// failed for good when `retry_at_ms` is None. Ignored (false) if the lease was lost.
    pub async fn finish_attempt(
        &self,
        claim: &Claimed,
        result: &AttemptResult,
        retry_at_ms: Option<i64>,
    ) -> Result<bool> {
        let now = now_ms();
        let (status, next) = if result.succeeded() {
            ("delivered", now)
        } else {
            match retry_at_ms {
                Some(at) => ("pending", at),
                None => ("failed", now),
            }
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, lease_until = NULL, \
             attempts = attempts + 1, last_attempt_at = $3, response_status = $4, latency_ms = $5, \
             response_body = $6, error = $7, delivered_at = $8 \
             WHERE id = $9 AND lease_until = $10",
        )
        .bind(status)
        .bind(next)
        .bind(now)
        .bind(result.status.map(i64::from))
        .bind(result.latency_ms)
        .bind(&result.body)
        .bind(&result.error)
        .bind(result.succeeded().then_some(now))
        .bind(&claim.id)
        .bind(claim.lease_until_ms)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    /// After a delivery to `endpoint` succeeded: a failing endpoint is active again.
    pub async fn webhook_recovered(&self, endpoint: &str) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET state = 'active', failing_since = NULL \
             WHERE id = $1 AND state = 'failing'",
        )
        .bind(endpoint)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// After a delivery to `endpoint` ran out of retries: an active endpoint becomes
    /// `failing` (one `webhook.endpoint.failing` event); one failing for longer than
    /// `disable_after_s` seconds is disabled (one `webhook.endpoint.disabled` event).
    pub async fn webhook_gave_up(
        &self,
        org: &OrgId,
        endpoint: &str,
        disable_after_s: i64,
    ) -> Result<()> {
        let mut w = self.begin_write(org).await?;
        let before = match self.endpoint_in(&mut w.tx, org, endpoint).await {
            Ok(e) => e,
            Err(_) => return w.settle().await,
        };
        let now = now_unix();
        let (event_type, state, enabled, since) =
            match (before.state.as_str(), before.failing_since) {
                ("active", _) => ("webhook.endpoint.failing", "failing", true, Some(now)),
                ("failing", Some(since)) if now - since >= disable_after_s => {
                    ("webhook.endpoint.disabled", "disabled", false, Some(since))
                }
                _ => return w.settle().await,
            };
        sqlx::query(
            "UPDATE webhook_endpoints SET state = $1, enabled = $2, failing_since = $3, \
             updated_at = $4 WHERE id = $5",
        )
        .bind(state)
        .bind(i64::from(enabled))
        .bind(since)
        .bind(now)
        .bind(endpoint)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        let after = self.endpoint_in(&mut w.tx, org, endpoint).await?;
        w.audit(
            &ActorRef::System,
            AuditEvent {
                event_type,
                resource_id: endpoint.to_owned(),
                project_id: None,
                payload: serde_json::json!({
                    "id": endpoint, "before": described(&before), "after": described(&after)
                }),
            },
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
