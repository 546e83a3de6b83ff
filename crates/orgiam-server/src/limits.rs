//! Per-key rate limits and the request timeout, applied to every route before its handler.
//!
//! Guarantees: a key (the SHA-256 digest of the presented secret, computed here once and
//! reused by authentication) may make at most `burst` requests at once and `per_second` on
//! average; above that it gets a 429 in its route family's error shape with `Retry-After`
//! (whole seconds until the next request would be admitted). The decision is a GCRA token
//! bucket (one `u64` per key) in one of [`SHARDS`] small maps, so requests of different keys
//! almost never meet on a lock and no lock is held across an `.await`. Memory is bounded by
//! the keys seen in the last `burst / per_second` seconds: a bucket that has refilled is
//! equal to a missing one and is pruned. A request that runs longer than the timeout is
//! answered with a 503 in its family's shape (the handler's future is dropped, which rolls
//! back any open transaction). The body is read whole (within the body limit) before the
//! handler runs, so a request refused before its handler reads it never leaves an unread body
//! that would make the server close a kept-alive connection.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use orgiam_core::{Error, keys};
use rustc_hash::FxHashMap;

use crate::auth::KeyDigest;
use crate::error::ApiError;
use crate::state::AppState;

/// Default sustained rate per key: above what one server answers, so neither bulk admin work
/// nor a service checking permissions with one key is throttled unless an operator asks.
pub const DEFAULT_RATE_PER_SECOND: u32 = 100_000;
/// Default burst per key.
pub const DEFAULT_BURST: u32 = 200_000;
/// Default request timeout in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;

/// Number of independently locked maps; a power of two.
pub const SHARDS: usize = 64;
/// Buckets a shard holds before it prunes the refilled ones.
const SHARD_PRUNE_AT: usize = 1024;

struct Shard {
    /// Key → theoretical arrival time (ns since `epoch`) of its next conforming request.
    tat: FxHashMap<u64, u64>,
    /// Size at which the next prune runs.
    prune_at: usize,
}

/// A sharded GCRA token bucket per key.
pub struct RateLimiter {
    /// Nanoseconds per token; 0 disables the limiter.
    interval: u64,
    /// How far ahead of now a key's arrival time may run: `burst × interval`.
    tolerance: u64,
    epoch: Instant,
    shards: Box<[Mutex<Shard>]>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests per key on average and `burst` at once; a
    /// `per_second` of 0 admits everything.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval = if per_second == 0 {
            0
        } else {
            (1_000_000_000 / u64::from(per_second)).max(1)
        };
        RateLimiter {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst.max(1))),
            epoch: Instant::now(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        tat: FxHashMap::default(),
                        prune_at: SHARD_PRUNE_AT,
                    })
                })
                .collect(),
        }
    }

    /// Whether the limiter is on.
    pub fn enabled(&self) -> bool {
        self.interval != 0
    }

    /// Admits one request of `key` arriving at `now` (the clock reading the request's
    /// middleware already took), or says how long until it would be admitted.
    pub fn admit(&self, key: u64, now: Instant) -> Result<(), Duration> {
        if self.interval == 0 {
            return Ok(());
        }
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.admit_at(key, now)
    }

    fn admit_at(&self, key: u64, now: u64) -> Result<(), Duration> {
        let shard = &self.shards[(key as usize) & (SHARDS - 1)];
        // A poisoned shard (a panic elsewhere while holding it) admits rather than fails.
        let Ok(mut shard) = shard.lock() else {
            return Ok(());
        };
        // one hash lookup; a new key starts at 0 (a full bucket) and is always admitted, so
        // a refusal never leaves a fresh entry behind
        let slot = shard.tat.entry(key).or_insert(0);
        let next = (*slot).max(now).saturating_add(self.interval);
        if next - now > self.tolerance {
            return Err(Duration::from_nanos(next - now - self.tolerance));
        }
        *slot = next;
        if shard.tat.len() >= shard.prune_at {
            // a bucket whose arrival time has passed is full again: the same as no bucket
            shard.tat.retain(|_, t| *t > now);
            shard.prune_at = (shard.tat.len() * 2).max(SHARD_PRUNE_AT);
        }
        Ok(())
    }

    /// Buckets held (for tests of the memory bound).
    pub fn buckets(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.tat.len()))
            .sum()
    }
}

/// The limiter's key for a secret's hex digest: its first 64 bits.
fn bucket_key(digest: &str) -> u64 {
    digest
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// Renders an error raised outside a handler in the error shape of the route family `path`
/// belongs to (a dialect's own envelope under its prefix, OpenAI's elsewhere).
pub fn error_response(path: &str, e: Error) -> Response {
    use crate::dialects::{aitronos, fiddler, timbal};
    if path.starts_with("/compat/timbal/") {
        timbal::TimbalError::from(e).into_response()
    } else if path.starts_with("/compat/aitronos/") {
        aitronos::AitronosError::from(e).into_response()
    } else if path.starts_with("/compat/fiddler/") {
        fiddler::FiddlerError::from(e).into_response()
    } else if path == crate::scim::BASE || path.starts_with("/scim/v2/") {
        crate::scim::errors::ScimError::from(e).into_response()
    } else {
        ApiError(e).into_response()
    }
}

/// What runs before every handler (called by the router's one middleware, which read the
/// clock at `start`): the rate limit by key, a path and query that decode cleanly, then,
/// under the timeout, the body read whole and the handler.
pub async fn guard(state: &AppState, start: Instant, mut req: Request, next: Next) -> Response {
    let digest = crate::auth::secret_in(req.headers()).map(keys::hash);
    if let Some(digest) = digest {
        if let Err(wait) = state.limiter.admit(bucket_key(&digest), start) {
            let mut res = error_response(req.uri().path(), Error::rate_limited());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                res.headers_mut().insert("retry-after", v);
            }
            return res;
        }
        req.extensions_mut().insert(KeyDigest(digest));
    }
    if let Err(e) = crate::extract::check_uri(req.uri()) {
        return error_response(req.uri().path(), e);
    }
    let path = req.uri().path().to_owned();
    let run = async {
        match buffered(req, state.body_limit).await {
            Ok(req) => next.run(req).await,
            Err(e) => error_response(&path, e),
        }
    };
    let Some(timeout) = state.request_timeout else {
        return run.await;
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(route = %path, seconds = timeout.as_secs_f64(), "request timed out");
            let mut e = Error::unavailable(format!(
                "the request did not finish within {} seconds",
                timeout.as_secs_f64()
            ));
            e.code = "request_timeout";
            error_response(&path, e)
        }
    }
}

/// The request with its whole body read (at most `limit` bytes, else a 413), so that a
/// handler refusing it before reading (a 401 or 403) still leaves the connection clean for
/// the client's next request instead of closing it under an unread body.
async fn buffered(req: Request, limit: usize) -> Result<Request, Error> {
    use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    let headers = req.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none_or(|n| n == 0) && !headers.contains_key(TRANSFER_ENCODING) {
        return Ok(req);
    }
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::payload_too_large(limit));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::payload_too_large(limit))?;
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn admits_the_burst_then_the_rate() {
        let l = RateLimiter::new(100, 5); // one token per 10 ms
        for _ in 0..5 {
            assert!(l.admit_at(7, 1000 * MS).is_ok());
        }
        let wait = l.admit_at(7, 1000 * MS).unwrap_err();
        assert_eq!(wait, Duration::from_millis(10));
        // another key is untouched
        assert!(l.admit_at(8, 1000 * MS).is_ok());
        // 10 ms later exactly one more
        assert!(l.admit_at(7, 1010 * MS).is_ok());
        assert!(l.admit_at(7, 1010 * MS).is_err());
        // after a long pause the whole burst is back, no more
        for _ in 0..5 {
            assert!(l.admit_at(7, 5000 * MS).is_ok());
        }
        assert!(l.admit_at(7, 5000 * MS).is_err());
    }

    #[test]
    fn zero_disables() {
        let l = RateLimiter::new(0, 0);
        assert!(!l.enabled());
        for _ in 0..100_000 {
            assert!(l.admit(1, Instant::now()).is_ok());
        }
        assert_eq!(l.buckets(), 0);
    }

    #[test]
    fn refilled_buckets_are_pruned() {
        let l = RateLimiter::new(1000, 10);
        // 200k distinct keys, one request each, 1 ms apart: each bucket refills in 1 ms
        for i in 0..200_000u64 {
            assert!(
                l.admit_at(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i * MS)
                    .is_ok()
            );
        }
        assert!(
            l.buckets() <= SHARDS * SHARD_PRUNE_AT,
            "{} buckets",
            l.buckets()
        );
    }

    #[tokio::test]
    async fn errors_outside_handlers_take_the_family_shape() {
        let shape = |path: &'static str| async move {
            let mut e = Error::unavailable("slow");
            e.code = "request_timeout";
            let res = error_response(path, e);
            let status = res.status().as_u16();
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        };
        let (st, b) = shape("/v1/organization/roles").await;
        assert_eq!(
            (st, b["error"]["code"].as_str()),
            (503, Some("request_timeout"))
        );
        let (st, b) = shape("/compat/timbal/orgs/x/iam/roles").await;
        assert_eq!((st, b["code"].as_str()), (503, Some("unavailable")));
        let (st, b) = shape("/compat/aitronos/v1/organizations/x/roles").await;
        assert_eq!((st, b["success"].as_bool()), (503, Some(false)));
        assert_eq!(b["error"]["code"], "SERVICE_UNAVAILABLE");
        let (st, b) = shape("/compat/fiddler/roles/x").await;
        assert_eq!((st, b["status"].as_str()), (503, Some("FAILURE")));
    }

    #[test]
    fn bucket_keys_come_from_the_digest() {
        let d = keys::hash("sk-admin-x");
        assert_eq!(bucket_key(&d), u64::from_str_radix(&d[..16], 16).unwrap());
        assert_eq!(bucket_key("short"), 0);
    }
}
