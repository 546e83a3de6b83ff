//! The orgiam server: configuration, start-up (migrations, first-start bootstrap), the HTTP
//! router and graceful shutdown. The `orgiam` binary is a thin CLI over [`start`].

pub mod api;
pub mod auth;
pub mod config;
pub mod console;
pub mod dialects;
pub mod engine;
pub mod error;
pub mod extract;
pub mod generate;
pub mod limits;
pub mod listener;
pub mod scim;
pub mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use orgiam_core::{Result, keys};
use orgiam_store::{CreatedOrganization, SqliteSync, Store, StoreOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::KeyUsage;
use crate::state::{AppState, Inner};

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Everything `serve` needs.
#[derive(Clone)]
pub struct ServeConfig {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: String,
    /// `sqlite://…` or `postgres://…`.
    pub database: String,
    /// The platform root key, enabling `POST /v1/organizations`.
    pub root_key: Option<String>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// SQLite durability.
    pub sqlite_sync: SqliteSync,
    /// Email of the owner created on first start.
    pub bootstrap_owner_email: String,
    /// Name of the organization created on first start.
    pub bootstrap_org_name: String,
    /// Requests per second per key on average; 0 disables the rate limit.
    pub rate_limit_per_second: u32,
    /// Requests per key admitted at once before the rate applies.
    pub rate_limit_burst: u32,
    /// How long a request may run before it is answered with a 503; `None` for no limit.
    pub request_timeout: Option<Duration>,
    /// Memory budget for the engine's loaded snapshots (estimated bytes); the least recently
    /// used organizations are evicted past it and rebuilt on next use.
    pub engine_memory_budget: u64,
    /// Emit every SQL statement as a `tracing` debug event (for tests of query plans).
    pub log_statements: bool,
    /// Failed authentications (401s) per client address per minute on average; 0 disables.
    pub auth_failures_per_minute: u32,
    /// Failed authentications per client address admitted at once before the 429s start.
    pub auth_failure_burst: u32,
    /// Most connections open at once (0: no cap).
    pub max_connections: usize,
    /// The URL people reach this server at (`https://iam.example.com`): links (invitation
    /// `accept_url`s) are built from it only, never from request headers; without it they are
    /// paths.
    pub public_url: Option<String>,
    /// Webhook delivery: address policy, retry schedule.
    pub webhooks: webhooks::WebhookConfig,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("database", &redact_url(&self.database))
            .field("root_key", &self.root_key.as_ref().map(|_| "<redacted>"))
            .field("body_limit", &self.body_limit)
            .field("sqlite_sync", &self.sqlite_sync)
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("request_timeout", &self.request_timeout)
            .field("engine_memory_budget", &self.engine_memory_budget)
            .field("auth_failures_per_minute", &self.auth_failures_per_minute)
            .field("auth_failure_burst", &self.auth_failure_burst)
            .field("max_connections", &self.max_connections)
            .field("public_url", &self.public_url)
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

impl ServeConfig {
    /// Defaults for a database URL.
    pub fn new(database: impl Into<String>) -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".into(),
            database: database.into(),
            root_key: None,
            body_limit: DEFAULT_BODY_LIMIT,
            sqlite_sync: SqliteSync::Full,
            bootstrap_owner_email: "owner@example.com".into(),
            bootstrap_org_name: "Default organization".into(),
            rate_limit_per_second: limits::DEFAULT_RATE_PER_SECOND,
            rate_limit_burst: limits::DEFAULT_BURST,
            request_timeout: Some(Duration::from_secs(limits::DEFAULT_REQUEST_TIMEOUT_SECONDS)),
            engine_memory_budget: engine::DEFAULT_MEMORY_BUDGET,
            log_statements: false,
            auth_failures_per_minute: limits::DEFAULT_AUTH_FAILURES_PER_MINUTE,
            auth_failure_burst: limits::DEFAULT_AUTH_FAILURE_BURST,
            max_connections: listener::DEFAULT_MAX_CONNECTIONS,
            public_url: None,
            webhooks: webhooks::WebhookConfig::default(),
        }
    }
}

/// Validates `--public-url`: an `http` or `https` URL without query or fragment; returned
/// without its trailing slash, so that a path can follow it.
pub fn public_url(url: Option<&str>) -> orgiam_core::Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty()
            && r.bytes().all(|b| b.is_ascii_graphic())
            && !r.contains(['?', '#', '"', '<', '>', '\\', '\''])
    });
    if !ok {
        return Err(orgiam_core::Error::invalid(
            "public_url",
            format!(
                "public URL '{}' must be an http:// or https:// URL without query or fragment",
                orgiam_core::validate::quote(url)
            ),
        ));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A running server.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The organization created on first start, with its admin key's secret (shown once).
    pub bootstrap: Option<CreatedOrganization>,
    /// The store, for tests that inspect the database.
    pub store: Store,
    /// The authorization engine, for tests that inspect its memory.
    pub engine: std::sync::Arc<engine::Engine>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops accepting, lets in-flight requests finish, flushes key use times.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.store.close().await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(self) -> std::io::Result<()> {
        let r = self.task.await.unwrap_or(Ok(()));
        self.store.close().await;
        r
    }

    /// A sender that triggers graceful shutdown.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Opens the database, bootstraps a first organization if it is empty, binds and serves.
pub async fn start(config: ServeConfig) -> Result<Server> {
    let mut options = StoreOptions::new(config.database.clone());
    options.sqlite_sync = config.sqlite_sync;
    options.log_statements = config.log_statements;
    let store = Store::open(&options).await?;
    let bootstrap = if !store.has_organizations().await? {
        Some(
            store
                .create_organization(
                    &config.bootstrap_org_name,
                    &config.bootstrap_owner_email,
                    Some("Owner"),
                )
                .await?,
        )
    } else {
        None
    };
    let engine = engine::Engine::with_budget(store.clone(), config.engine_memory_budget);
    let state = AppState::new(Inner {
        store: store.clone(),
        engine: engine.clone(),
        root_key_hash: config
            .root_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(keys::hash),
        body_limit: config.body_limit,
        key_usage: KeyUsage::default(),
        metrics: metrics_handle(),
        limiter: limits::RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
        auth_failures: if config.auth_failures_per_minute == 0 {
            limits::RateLimiter::new(0, 0)
        } else {
            limits::RateLimiter::per_interval(
                Duration::from_secs(60) / config.auth_failures_per_minute,
                config.auth_failure_burst,
            )
        },
        request_timeout: config.request_timeout.filter(|t| !t.is_zero()),
        public_url: public_url(config.public_url.as_deref())?,
        webhooks: config.webhooks.clone(),
    });
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| {
            orgiam_core::Error::invalid(
                "listen",
                format!("cannot listen on {}: {e}", config.listen),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(orgiam_core::Error::internal)?;
    let (tx, mut rx) = watch::channel(false);
    engine.spawn_followers(&config.database, rx.clone());
    webhooks::worker::spawn(
        store.clone(),
        config.webhooks.clone(),
        &config.database,
        rx.clone(),
    )?;
    let app = console::with_console(state.clone(), api::router(state.clone()));
    let flusher = {
        let state = state.clone();
        let mut rx = rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => state.key_usage.flush(&state.store).await,
                    _ = rx.changed() => break,
                }
            }
        })
    };
    let task = tokio::spawn(async move {
        let listener = listener::CappedListener::new(listener, config.max_connections);
        let app = app.into_make_service_with_connect_info::<listener::ClientAddr>();
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await;
        let _ = flusher.await;
        state.key_usage.flush(&state.store).await;
        r
    });
    Ok(Server {
        addr,
        bootstrap,
        store,
        engine,
        shutdown: tx,
        task,
    })
}
