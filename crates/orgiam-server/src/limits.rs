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

    /// A limiter of one request per `interval` on average and `burst` at once; a zero
    /// interval admits everything.
    pub fn per_interval(interval: Duration, burst: u32) -> Self {
        let mut l = RateLimiter::new(0, burst);
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        l.interval = nanos;
        l.tolerance = nanos.saturating_mul(u64::from(burst.max(1)));
        l
    }

    /// Whether `key` would be admitted at `now`, without spending anything; how long until
    /// it would be otherwise.
    pub fn peek(&self, key: u64, now: Instant) -> Result<(), Duration> {
        if self.interval == 0 {
            return Ok(());
        }
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let shard = &self.shards[(key as usize) & (SHARDS - 1)];
        let Ok(shard) = shard.lock() else {
            return Ok(());
        };
        let tat = shard.tat.get(&key).copied().unwrap_or(0);
        let next = tat.max(now).saturating_add(self.interval);
        if next - now > self.tolerance {
            return Err(Duration::from_nanos(next - now - self.tolerance));
        }
        Ok(())
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

/// Default failed authentications per client address per minute, on average.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 60;
/// Default failed authentications per client address admitted at once.
pub const DEFAULT_AUTH_FAILURE_BURST: u32 = 100;

/// A 429 in `path`'s family shape, with `Retry-After` in whole seconds (at least 1).
fn too_many(path: &str, wait: Duration) -> Response {
    let mut res = error_response(path, Error::rate_limited());
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        res.headers_mut().insert("retry-after", v);
    }
    res
}

/// The failed-authentication limiter's key for a client address (its IP, not its port).
fn address_key(addr: std::net::IpAddr) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = rustc_hash::FxHasher::default();
    addr.hash(&mut h);
    h.finish()
}

/// Whether a route authenticates (and so can fail to): the native and dialect routes.
fn authenticates(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/compat/")
}

/// What runs before every handler (called by the router's one middleware, which read the
/// clock at `start`): the limit on failed authentications by client address (an address
/// past its budget of 401s to a presented key gets a 429 on every authenticating route until
/// the budget refills), the rate limit by key, a path and query that decode cleanly, then, under the
/// timeout, the body read whole and the handler.
pub async fn guard(state: &AppState, start: Instant, mut req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<crate::listener::ClientAddr>>()
        .map(|c| address_key(c.0.0.ip()))
        .filter(|_| authenticates(req.uri().path()));
    if let Some(client) = client {
        if let Err(wait) = state.auth_failures.peek(client, start) {
            tracing::debug!("too many failed authentications from this address");
            return too_many(req.uri().path(), wait);
        }
    }
    let digest = crate::auth::secret_in(req.headers()).map(keys::hash);
    let presented = digest.is_some();
    if let Some(digest) = digest {
        if let Err(wait) = state.limiter.admit(bucket_key(&digest), start) {
            return too_many(req.uri().path(), wait);
        }
        req.extensions_mut().insert(KeyDigest(digest));
    }
    if let Err(e) = crate::extract::check_uri(req.uri()) {
        return error_response(req.uri().path(), e);
    }
    let path = req.uri().path().to_owned();
    let run = async {
        match buffered(req, state.body_limit).await {
            Ok(req) => conflicts_when_durable(state, &path, next.run(req)).await,
            Err(e) => {
                let too_large = e.kind == orgiam_core::ErrorKind::PayloadTooLarge;
                let mut res = error_response(&path, e);
                if too_large {
                    // the rest of the body is being drained; the connection ends with it
                    res.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        HeaderValue::from_static("close"),
                    );
                }
                res
            }
        }
    };
    let res = match state.request_timeout {
        None => run.await,
        Some(timeout) => timed(timeout, &path, run).await,
    };
    if let Some(client) = client {
        // a wrong key (or token) is a failure; no key at all guesses nothing
        if presented && res.status() == axum::http::StatusCode::UNAUTHORIZED {
            // spends one of the address's failures (the answer is already decided)
            let _ = state.auth_failures.admit(client, Instant::now());
        }
    }
    res
}

/// Runs the handler noting the write batch it wrote in; a 409 is answered only once that
/// batch is durable (on SQLite a write can conflict with a batch-mate's row that is not yet
/// committed), or as a 503 if that batch failed.
async fn conflicts_when_durable(
    state: &AppState,
    path: &str,
    handler: impl std::future::Future<Output = Response>,
) -> Response {
    orgiam_store::remember_batches(async {
        let res = handler.await;
        if res.status() != axum::http::StatusCode::CONFLICT {
            return res;
        }
        match state.store.settle_seen().await {
            Ok(()) => res,
            Err(e) => error_response(path, e),
        }
    })
    .await
}

/// `run` under the request timeout: a 503 in `path`'s family shape when it is cut off.
async fn timed(
    timeout: Duration,
    path: &str,
    run: impl std::future::Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(timeout, run).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(route = %path, seconds = timeout.as_secs_f64(), "request timed out");
            let mut e = Error::unavailable(format!(
                "the request did not finish within {} seconds",
                timeout.as_secs_f64()
            ));
            e.code = "request_timeout";
            error_response(path, e)
        }
    }
}

/// Most bytes of a too-large body read and discarded after its 413 was sent, so that a
/// client that writes its whole body before reading (Python's urllib, curl without `Expect`)
/// reads the 413 instead of a connection reset (nginx's lingering close).
pub const DRAIN_BOUND: u64 = 64 * 1024 * 1024;
/// How long the rest of a refused body is read for, at most.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// How long the drain waits for the client's next bytes before closing.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// Reads and discards the rest of a refused body (bounded by [`DRAIN_BOUND`], [`DRAIN_TIME`]
/// and [`DRAIN_IDLE`]) beside the connection, while the 413 is written; the connection
/// closes once it ends (the 413 says `Connection: close`).
fn drain(mut body: axum::body::Body, mut seen: u64) {
    use http_body_util::BodyExt as _;
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + DRAIN_TIME;
        while seen <= DRAIN_BOUND && tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                _ => break,
            }
        }
    });
}

/// The request with its whole body read (at most `limit` bytes, else a 413), so that a
/// handler refusing it before reading (a 401 or 403) still leaves the connection clean for
/// the client's next request instead of closing it under an unread body. A body over the
/// limit is refused at once and its rest read and dropped beside the answer ([`drain`]).
async fn buffered(req: Request, limit: usize) -> Result<Request, Error> {
    use axum::http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
    use http_body_util::BodyExt as _;
    let headers = req.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none_or(|n| n == 0) && !headers.contains_key(TRANSFER_ENCODING) {
        return Ok(req);
    }
    if declared.is_some_and(|n| n > limit as u64) {
        // a client that waits for `100 Continue` never sends the body: nothing to drain
        let waits = headers
            .get(EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if !waits {
            drain(req.into_body(), 0);
        }
        return Err(Error::payload_too_large(limit));
    }
    let (parts, mut body) = req.into_parts();
    let mut kept: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Error::invalid("body", "the request body could not be read"));
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if kept.len() + data.len() > limit {
            drain(body, (kept.len() + data.len()) as u64);
            return Err(Error::payload_too_large(limit));
        }
        kept.extend_from_slice(&data);
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(kept)))
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
