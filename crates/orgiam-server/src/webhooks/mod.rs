//! Webhooks: Standard Webhooks signatures (`sign`), the HTTP client and the addresses it
//! refuses (`client`), and the delivery worker that drains the outbox (`worker`).

pub mod client;
pub mod sign;
pub mod worker;

use std::time::Duration;

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Allow `http://` and private, loopback and link-local targets (tests, private networks).
    pub allow_private: bool,
    /// The first retry's delay; each further one doubles it (with jitter).
    pub retry_base: Duration,
    /// How long a delivery is retried before it fails for good (and its endpoint is marked
    /// failing).
    pub retry_window: Duration,
    /// How long an endpoint may stay failing before it is disabled.
    pub disable_after: Duration,
}

/// Default first retry delay: 5 s.
pub const DEFAULT_RETRY_BASE_SECONDS: u64 = 5;
/// Default retry window: 24 hours.
pub const DEFAULT_RETRY_WINDOW_SECONDS: u64 = 24 * 3600;
/// Default time an endpoint may fail before it is disabled: 5 days.
pub const DEFAULT_DISABLE_AFTER_SECONDS: u64 = 5 * 24 * 3600;
/// How long the previous secret keeps signing after a rotation: 24 hours.
pub const ROTATION_OVERLAP_SECONDS: i64 = 24 * 3600;

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private: false,
            retry_base: Duration::from_secs(DEFAULT_RETRY_BASE_SECONDS),
            retry_window: Duration::from_secs(DEFAULT_RETRY_WINDOW_SECONDS),
            disable_after: Duration::from_secs(DEFAULT_DISABLE_AFTER_SECONDS),
        }
    }
}
