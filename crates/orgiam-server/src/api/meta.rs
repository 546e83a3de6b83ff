//! Operator routes: health, readiness, metrics, the OpenAPI document and its docs page.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| orgiam_core::Error::unavailable("the database does not answer"))?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Prometheus metrics in the text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The OpenAPI 3.1 document of every route.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
        .into_response()
}

/// A browsable page for the OpenAPI document, rendered by the server (no script, no CDN).
pub async fn docs() -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            super::docs::CONTENT_SECURITY_POLICY,
        )],
        Html(super::docs::page()),
    )
        .into_response()
}
