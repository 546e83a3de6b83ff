//! orgiam's domain: identifiers, the built-in permission catalog and system roles, validation,
//! key secrets, pagination and the one error type. No HTTP, no SQL.

pub mod access_model;
pub mod catalog;
pub mod error;
pub mod events;
pub mod ids;
pub mod keys;
pub mod model;
pub mod page;
pub mod platform;
pub mod validate;

pub use error::{Error, ErrorKind, Result};

/// Seconds since the Unix epoch, the time unit of every timestamp in the API.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
