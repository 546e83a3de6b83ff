//! The delivery worker: claims due deliveries from the outbox, signs and sends them, and
//! records each attempt.
//!
//! Guarantees:
//! - every process runs one; on PostgreSQL they share the outbox through `FOR UPDATE SKIP
//!   LOCKED` claims with leases (see the store's `webhooks.rs`), so under normal operation
//!   each delivery is sent by exactly one process, and one whose process died mid-attempt is
//!   sent again once its lease expires (at least once);
//! - it wakes at once for a change committed in this process, and through PostgreSQL
//!   `NOTIFY` for one committed in another; it also polls twice a second, so nothing waits on
//!   a lost notification;
//! - a failed attempt is retried after the base delay, doubled at each attempt (with ±20 %
//!   jitter, at most one hour), until the retry window has passed since the delivery was
//!   written (or retried by hand); then it fails for good and its endpoint is marked failing,
//!   and an endpoint failing for longer than the configured time is disabled.

use std::sync::Arc;
use std::time::Duration;

use orgiam_core::ids::OrgId;
use orgiam_core::now_unix;
use orgiam_store::{Claimed, OUTBOX_CHANNEL, Store, now_ms};
use rand::Rng as _;
use tokio::sync::watch;

use super::WebhookConfig;
use super::client::Sender;
use super::sign;

/// How long a claim holds a delivery: well past the longest attempt (10 s) and its
/// recording; a process that dies mid-attempt delays that delivery (and, for an ordered
/// endpoint, the ones after it) by at most this long.
pub const LEASE: Duration = Duration::from_secs(30);
/// Most deliveries claimed at once.
const BATCH: u32 = 64;
/// Polling interval when nothing signals.
const POLL: Duration = Duration::from_millis(500);
/// The longest delay between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The message body: the Standard Webhooks envelope around the stored event.
pub fn envelope(claim: &Claimed) -> String {
    let data: serde_json::Value =
        serde_json::from_str(&claim.data).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "type": claim.event_type,
        "timestamp": crate::dialects::rfc3339(claim.created_at_ms.div_euclid(1000)),
        "data": data,
    })
    .to_string()
}

/// The delay before attempt number `attempts + 1` (so after `attempts` failures): the base
/// doubled per earlier failure, capped, times a jitter in [0.8, 1.2).
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let delay = base
        .checked_mul(1u32 << doublings)
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY.max(base));
    delay.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// Starts the worker (and, on PostgreSQL, the listener that relays other processes'
/// commits to this process's signals). Both end when `stop` turns true.
pub fn spawn(
    store: Store,
    config: WebhookConfig,
    database_url: &str,
    stop: watch::Receiver<bool>,
) -> orgiam_core::Result<()> {
    let sender = Sender::new(config.allow_private)?;
    if store.backend_is_postgres() {
        spawn_listener(store.clone(), database_url.to_owned(), stop.clone());
    }
    tokio::spawn(run(store, config, sender, stop));
    Ok(())
}

async fn run(store: Store, config: WebhookConfig, sender: Sender, mut stop: watch::Receiver<bool>) {
    let config = Arc::new(config);
    let mut outbox = store.signals().outbox();
    loop {
        if *stop.borrow() {
            return;
        }
        outbox.borrow_and_update();
        let claimed = match store
            .claim_deliveries(LEASE.as_millis() as i64, BATCH)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not claim webhook deliveries");
                Vec::new()
            }
        };
        if !claimed.is_empty() {
            let mut sends = tokio::task::JoinSet::new();
            for claim in claimed {
                let (store, sender, config) = (store.clone(), sender.clone(), config.clone());
                sends.spawn(async move { attempt(&store, &sender, &config, claim).await });
            }
            while sends.join_next().await.is_some() {}
            // more may be due right away (the next of an ordered endpoint)
            continue;
        }
        tokio::select! {
            _ = outbox.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Signs, sends and records one attempt.
async fn attempt(store: &Store, sender: &Sender, config: &WebhookConfig, claim: Claimed) {
    let body = envelope(&claim);
    let timestamp = now_unix();
    let mut secrets = vec![claim.secret.as_str()];
    if let Some(previous) = &claim.previous_secret {
        secrets.push(previous);
    }
    let signature = match sign::header(&secrets, &claim.id, timestamp, body.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e.message, webhook = %claim.endpoint_id, "cannot sign");
            return;
        }
    };
    let headers = [
        ("webhook-id", claim.id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    let result = sender.send(&claim.url, &headers, body).await;
    let succeeded = result.succeeded();
    let retry_at = if succeeded {
        None
    } else {
        let delay = backoff(config.retry_base, claim.attempts + 1);
        let at = now_ms() + delay.as_millis() as i64;
        let window_end = claim.retry_from_ms + config.retry_window.as_millis() as i64;
        (at <= window_end).then_some(at)
    };
    metrics::counter!("orgiam_webhook_attempts_total", "outcome" => if succeeded { "delivered" } else { "failed" }).increment(1);
    if succeeded {
        let latency = (now_ms() - claim.created_at_ms).max(0) as f64 / 1e3;
        metrics::histogram!("orgiam_webhook_commit_to_delivery_seconds").record(latency);
    }
    match store.finish_attempt(&claim, &result, retry_at).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(delivery = %claim.id, "lease lost before the attempt was recorded");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e.message, delivery = %claim.id, "could not record an attempt");
            return;
        }
    }
    tracing::debug!(delivery = %claim.id, status = ?result.status, error = ?result.error, "webhook attempt");
    let outcome = if succeeded {
        if claim.endpoint_failing {
            store.webhook_recovered(&claim.endpoint_id).await
        } else {
            Ok(())
        }
    } else if retry_at.is_none() {
        tracing::warn!(delivery = %claim.id, webhook = %claim.endpoint_id, "delivery failed for good");
        store
            .webhook_gave_up(
                &OrgId::from_trusted(claim.org_id.clone()),
                &claim.endpoint_id,
                config.disable_after.as_secs() as i64,
            )
            .await
    } else {
        Ok(())
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e.message, webhook = %claim.endpoint_id, "could not update the endpoint's state");
    }
}

/// Relays PostgreSQL notifications (other processes' commits and outbox writes) to this
/// process's signals; after a lost connection both are signalled, as something may have been
/// missed.
fn spawn_listener(store: Store, url: String, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if listener
                        .listen_all(["orgiam_changes", OUTBOX_CHANNEL])
                        .await
                        .is_err()
                    {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    store.signals().changed();
                    store.signals().outbox_written();
                    loop {
                        tokio::select! {
                            n = listener.recv() => match n {
                                Ok(n) if n.channel() == OUTBOX_CHANNEL => store.signals().outbox_written(),
                                Ok(_) => store.signals().changed(),
                                Err(_) => break,
                            },
                            _ = stop.changed() => return,
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for webhook and feed signals; polling only");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {},
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(5);
        for (attempts, nominal) in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0)] {
            let d = backoff(base, attempts).as_secs_f64();
            assert!(d >= nominal * 0.8 && d < nominal * 1.2, "{attempts}: {d}");
        }
        assert!(backoff(base, 40) <= MAX_DELAY.mul_f64(1.2));
    }
}
