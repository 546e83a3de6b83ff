//! Shared server state.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use orgiam_store::Store;

use crate::auth::KeyUsage;
use crate::extract::BodyLimit;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The authorization engine.
    pub engine: std::sync::Arc<crate::engine::Engine>,
    /// SHA-256 of the platform root key, if one is configured.
    pub root_key_hash: Option<String>,
    /// The largest accepted body, in bytes.
    pub body_limit: usize,
    /// Key use times waiting to be written.
    pub key_usage: KeyUsage,
    /// The Prometheus registry's renderer.
    pub metrics: Option<PrometheusHandle>,
    /// The per-key rate limit.
    pub limiter: crate::limits::RateLimiter,
    /// The limit on failed authentications per client address.
    pub auth_failures: crate::limits::RateLimiter,
    /// How long a request may run; `None` for no limit.
    pub request_timeout: Option<std::time::Duration>,
    /// `--public-url` (no trailing slash): the only source of absolute links.
    pub public_url: Option<String>,
    /// How webhooks are delivered (the URL policy handlers check).
    pub webhooks: crate::webhooks::WebhookConfig,
}

impl Inner {
    /// An absolute link to `path` (which starts with `/`) when a public URL is configured,
    /// else the path itself. Never built from the request's `Host` or `X-Forwarded-*`.
    pub fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => path.to_owned(),
        }
    }
}

impl AppState {
    /// Wraps the state.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for BodyLimit {
    fn from_ref(s: &AppState) -> BodyLimit {
        BodyLimit(s.body_limit)
    }
}
