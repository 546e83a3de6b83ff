//! `GET /v1/organization/events` (orgiam): the change feed. The organization's changes in
//! revision order, each in the audit log's shape with its revision, resumable from any
//! revision the feed still holds; with `wait`, a long-poll.
//!
//! Guarantees: a change is in the feed once its write is acknowledged (the event is written in
//! the write's transaction), and revisions of one organization commit in order (every write
//! takes the organization's row first), so a reader resuming after revision `r` misses
//! nothing. A waiting request is woken by a commit in this process at once and by one in
//! another process on the same PostgreSQL through `NOTIFY`; it answers as soon as something
//! newer than `after` exists, or empty when `wait` runs out.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::page::LimitBounds;
use orgiam_core::{Error, Result};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::audit::AuditLogObject;
use crate::auth::{AuditLogsRead, Authorized};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Params;
use crate::state::AppState;

/// `limit` of the feed: 1 to 1,000, default 100.
const FEED_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 1000,
    default: 100,
};

/// A waiting request looks again at least this often, signalled or not.
const RECHECK: Duration = Duration::from_secs(1);

/// The longest `wait`, in seconds (less if the request timeout is shorter).
pub const MAX_WAIT_SECONDS: i64 = 30;

/// One change: an audit event with the revision its write made.
#[derive(Serialize, ToSchema)]
pub struct FeedEvent {
    /// The organization's revision after this change.
    pub revision: i64,
    /// The event, as the audit log shows it.
    #[serde(flatten)]
    pub event: AuditLogObject,
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
pub struct FeedPage {
    /// Always `list`.
    pub object: &'static str,
    /// The changes after `after`, oldest first.
    pub data: Vec<FeedEvent>,
    /// Whether more changes follow (ask again with `after=last_revision`).
    pub has_more: bool,
    /// The revision to resume from: the last change's, or `after` when there was none.
    pub last_revision: i64,
    /// The oldest revision the feed can resume from.
    pub oldest_revision: i64,
}

/// The organization's changes after revision `after` (by default from the oldest kept), in
/// revision order. With `wait` (seconds), holds the request until there is a change newer than
/// `after` or the time runs out. A revision older than the oldest kept answers 410 with the
/// oldest one (in the message and the `orgiam-oldest-revision` header).
#[utoipa::path(get, path = "/v1/organization/events", operation_id = "list-events", tag = "events",
    params(("after" = Option<i64>, Query, minimum = 0, description = "resume after this revision (default: from the oldest kept)"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100"),
           ("wait" = Option<i64>, Query, minimum = 0, maximum = 30, description = "seconds to wait for a change newer than `after` (long-poll), 0 to 30, default 0")),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 410, body = ErrorBody, description = "`after` is older than the oldest revision kept")))]
pub async fn list(
    auth: Authorized<AuditLogsRead>,
    State(state): State<AppState>,
    params: Params,
) -> std::result::Result<Response, ApiError> {
    params.forwards_only()?;
    let limit = FEED_LIMIT.check(params.int("limit")?)?;
    let after = params.int("after")?;
    if after.is_some_and(|a| a < 0) {
        return Err(Error::invalid("after", "after must be a revision, 0 or more").into());
    }
    let wait = params.int("wait")?.unwrap_or(0);
    if !(0..=MAX_WAIT_SECONDS).contains(&wait) {
        return Err(Error::invalid(
            "wait",
            format!("wait must be 0 to {MAX_WAIT_SECONDS} seconds"),
        )
        .into());
    }
    let mut wait = Duration::from_secs(wait as u64);
    if let Some(limit) = state.request_timeout {
        // answer before the request timeout would
        wait = wait.min(limit.saturating_sub(Duration::from_secs(1)));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut signal = state.store.signals().revisions();
    loop {
        signal.borrow_and_update();
        let page = state
            .store
            .list_feed(auth.org(), after.unwrap_or(0), limit)
            .await?
            .ok_or_else(|| Error::not_found("organization", auth.org().as_str()))?;
        let from = after.unwrap_or(page.oldest);
        if from < page.oldest {
            return Ok(gone(from, page.oldest));
        }
        if from > page.revision {
            // every acknowledged revision is committed, so this one was never given out
            return Err(Error::invalid(
                "after",
                format!(
                    "after {from} is beyond the organization's current revision {}",
                    page.revision
                ),
            )
            .into());
        }
        let expired = tokio::time::Instant::now() >= deadline;
        if !page.events.is_empty() || expired {
            return Ok(Json(render(page, from)?).into_response());
        }
        // sleep until something commits (here or elsewhere), then look again; at least once
        // a second anyway, should a notification be lost
        let until = deadline.min(tokio::time::Instant::now() + RECHECK);
        if tokio::time::timeout_at(until, signal.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            // the sender is gone (shutting down): answer with what there is
            tokio::time::sleep_until(deadline).await;
        }
    }
}

fn render(page: orgiam_store::FeedPage, from: i64) -> Result<FeedPage> {
    let last_revision = page.events.last().map_or(from, |(r, _)| *r);
    Ok(FeedPage {
        object: "list",
        has_more: page.has_more,
        last_revision,
        oldest_revision: page.oldest,
        data: page
            .events
            .into_iter()
            .map(|(revision, e)| FeedEvent {
                revision,
                event: AuditLogObject::from(e),
            })
            .collect(),
    })
}

/// 410: the feed no longer holds `after`.
fn gone(after: i64, oldest: i64) -> Response {
    let mut res = ApiError(Error::invalid_code(
        "revision_expired",
        "after",
        format!(
            "revision {after} is older than the oldest revision the feed keeps; resume from {oldest}"
        ),
    ))
    .into_response();
    *res.status_mut() = StatusCode::GONE;
    if let Ok(v) = HeaderValue::from_str(&oldest.to_string()) {
        res.headers_mut().insert("orgiam-oldest-revision", v);
    }
    res
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(list))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/organization/events", get(list))
}
