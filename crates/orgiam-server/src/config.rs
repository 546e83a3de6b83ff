//! `orgiam serve --config FILE`: every serve setting from a TOML file, layered as defaults <
//! file < `ORGIAM_…` environment < flags; and `--print-config`, the effective settings with
//! secrets redacted.
//!
//! Guarantees: a key the file does not know is an error naming it (a typo never silently
//! leaves a default in force); the root key and database credentials never appear in the
//! printed configuration.

use std::time::Duration;

use orgiam_core::Error;
use orgiam_store::SqliteSync;
use serde::{Deserialize, Serialize};

use crate::{ServeConfig, redact_url};

/// The settings a configuration file may hold: the `serve` flags, named as the flags with
/// underscores (`--body-limit` is `body_limit`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `--listen`
    pub listen: Option<String>,
    /// `--database`
    pub database: Option<String>,
    /// `--root-key`
    pub root_key: Option<String>,
    /// `--body-limit`
    pub body_limit: Option<usize>,
    /// `--sqlite-synchronous`: `full` or `normal`.
    pub sqlite_synchronous: Option<String>,
    /// `--bootstrap-owner-email`
    pub bootstrap_owner_email: Option<String>,
    /// `--rate-limit-per-second`
    pub rate_limit_per_second: Option<u32>,
    /// `--rate-limit-burst`
    pub rate_limit_burst: Option<u32>,
    /// `--request-timeout-seconds` (0: no limit)
    pub request_timeout_seconds: Option<u64>,
    /// `--engine-memory-budget-bytes`
    pub engine_memory_budget_bytes: Option<u64>,
    /// `--public-url`
    pub public_url: Option<String>,
    /// `--log-format`: `text` or `json`.
    pub log_format: Option<String>,
    /// `--auth-failures-per-minute` (0: no limit)
    pub auth_failures_per_minute: Option<u32>,
    /// `--auth-failure-burst`
    pub auth_failure_burst: Option<u32>,
    /// `--max-connections` (0: no cap)
    pub max_connections: Option<usize>,
    /// `--webhooks-allow-private`
    pub webhooks_allow_private: Option<bool>,
    /// `--webhooks-retry-base-seconds`
    pub webhooks_retry_base_seconds: Option<u64>,
    /// `--webhooks-retry-window-seconds`
    pub webhooks_retry_window_seconds: Option<u64>,
    /// `--webhooks-disable-after-seconds`
    pub webhooks_disable_after_seconds: Option<u64>,
}

/// Reads and parses a configuration file (400-class errors name the file and the key).
pub fn load(path: &std::path::Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(
            "config",
            format!("cannot read the configuration file {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        Error::invalid(
            "config",
            format!("configuration file {}: {e}", path.display()),
        )
    })
}

/// Parses a SQLite durability name.
pub fn sqlite_sync(s: &str) -> Result<SqliteSync, Error> {
    match s {
        "full" => Ok(SqliteSync::Full),
        "normal" => Ok(SqliteSync::Normal),
        other => Err(Error::invalid(
            "sqlite_synchronous",
            format!("sqlite_synchronous must be 'full' or 'normal', not '{other}'"),
        )),
    }
}

/// Applies the file's settings to `config` where `explicit(flag)` says neither a flag nor the
/// environment set that setting (those override the file).
pub fn apply(
    file: FileConfig,
    explicit: impl Fn(&str) -> bool,
    config: &mut ServeConfig,
) -> Result<(), Error> {
    let take = |name: &str| !explicit(name);
    if let Some(v) = file.listen.filter(|_| take("listen")) {
        config.listen = v;
    }
    if let Some(v) = file.database.filter(|_| take("database")) {
        config.database = v;
    }
    if let Some(v) = file.root_key.filter(|_| take("root_key")) {
        config.root_key = Some(v);
    }
    if let Some(v) = file.body_limit.filter(|_| take("body_limit")) {
        config.body_limit = v;
    }
    if let Some(v) = file
        .sqlite_synchronous
        .filter(|_| take("sqlite_synchronous"))
    {
        config.sqlite_sync = sqlite_sync(&v)?;
    }
    if let Some(v) = file
        .bootstrap_owner_email
        .filter(|_| take("bootstrap_owner_email"))
    {
        config.bootstrap_owner_email = v;
    }
    if let Some(v) = file
        .rate_limit_per_second
        .filter(|_| take("rate_limit_per_second"))
    {
        config.rate_limit_per_second = v;
    }
    if let Some(v) = file.rate_limit_burst.filter(|_| take("rate_limit_burst")) {
        config.rate_limit_burst = v;
    }
    if let Some(v) = file
        .request_timeout_seconds
        .filter(|_| take("request_timeout_seconds"))
    {
        config.request_timeout = (v > 0).then(|| Duration::from_secs(v));
    }
    if let Some(v) = file
        .engine_memory_budget_bytes
        .filter(|_| take("engine_memory_budget_bytes"))
    {
        config.engine_memory_budget = v;
    }
    if let Some(v) = file.public_url.filter(|_| take("public_url")) {
        config.public_url = Some(v);
    }
    if let Some(v) = file
        .auth_failures_per_minute
        .filter(|_| take("auth_failures_per_minute"))
    {
        config.auth_failures_per_minute = v;
    }
    if let Some(v) = file
        .auth_failure_burst
        .filter(|_| take("auth_failure_burst"))
    {
        config.auth_failure_burst = v;
    }
    if let Some(v) = file.max_connections.filter(|_| take("max_connections")) {
        config.max_connections = v;
    }
    if let Some(v) = file
        .webhooks_allow_private
        .filter(|_| take("webhooks_allow_private"))
    {
        config.webhooks.allow_private = v;
    }
    if let Some(v) = file
        .webhooks_retry_base_seconds
        .filter(|_| take("webhooks_retry_base_seconds"))
    {
        config.webhooks.retry_base = Duration::from_secs(v.max(1));
    }
    if let Some(v) = file
        .webhooks_retry_window_seconds
        .filter(|_| take("webhooks_retry_window_seconds"))
    {
        config.webhooks.retry_window = Duration::from_secs(v);
    }
    if let Some(v) = file
        .webhooks_disable_after_seconds
        .filter(|_| take("webhooks_disable_after_seconds"))
    {
        config.webhooks.disable_after = Duration::from_secs(v);
    }
    Ok(())
}

/// The effective configuration as a TOML file would say it, secrets redacted: the root key
/// as `"<redacted>"`, the database URL without its password.
pub fn render(config: &ServeConfig, log_format: &str) -> String {
    let effective = FileConfig {
        listen: Some(config.listen.clone()),
        database: Some(redact_url(&config.database)),
        root_key: config.root_key.as_ref().map(|_| "<redacted>".to_owned()),
        body_limit: Some(config.body_limit),
        sqlite_synchronous: Some(
            match config.sqlite_sync {
                SqliteSync::Full => "full",
                SqliteSync::Normal => "normal",
            }
            .to_owned(),
        ),
        bootstrap_owner_email: Some(config.bootstrap_owner_email.clone()),
        rate_limit_per_second: Some(config.rate_limit_per_second),
        rate_limit_burst: Some(config.rate_limit_burst),
        request_timeout_seconds: Some(config.request_timeout.map_or(0, |d| d.as_secs())),
        engine_memory_budget_bytes: Some(config.engine_memory_budget),
        public_url: config.public_url.clone(),
        log_format: Some(log_format.to_owned()),
        auth_failures_per_minute: Some(config.auth_failures_per_minute),
        auth_failure_burst: Some(config.auth_failure_burst),
        max_connections: Some(config.max_connections),
        webhooks_allow_private: Some(config.webhooks.allow_private),
        webhooks_retry_base_seconds: Some(config.webhooks.retry_base.as_secs()),
        webhooks_retry_window_seconds: Some(config.webhooks.retry_window.as_secs()),
        webhooks_disable_after_seconds: Some(config.webhooks.disable_after.as_secs()),
    };
    toml::to_string(&effective).unwrap_or_default()
}
