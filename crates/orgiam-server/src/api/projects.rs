//! Routes of this family (filled in by its issue).

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
}
