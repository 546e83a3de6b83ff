//! The platform level under `/v1/platform/…`: platform keys, the organizations' lifecycle,
//! the global permissions and roles, checks in any organization and the platform audit log. Every route takes the root key or a
//! platform key holding the route's platform permission ([`crate::auth::Platform`]); answers
//! are in the native API's conventions (OpenAI error shape, `object` fields, keyset pages).

use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;

use crate::state::AppState;

pub mod audit;
pub mod catalog;
pub mod checks;
pub mod keys;
pub mod orgs;
pub mod roles;

/// The OpenAPI paths of the platform routes.
#[derive(OpenApi)]
#[openapi(paths(
    keys::list,
    keys::create,
    keys::retrieve,
    keys::delete,
    orgs::list,
    orgs::retrieve,
    orgs::update,
    orgs::delete,
    orgs::recovery_key,
    orgs::export,
    orgs::import,
    catalog::list,
    catalog::create,
    catalog::delete,
    roles::list,
    roles::create,
    roles::retrieve,
    roles::update,
    roles::delete,
    checks::check,
    checks::check_batch,
    audit::list,
))]
pub struct Doc;

/// The platform routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/platform/api_keys", get(keys::list).post(keys::create))
        .route(
            "/v1/platform/api_keys/{key_id}",
            get(keys::retrieve).delete(keys::delete),
        )
        .route("/v1/platform/organizations", get(orgs::list))
        .route("/v1/platform/organizations/import", post(orgs::import))
        .route(
            "/v1/platform/organizations/{org_id}/export",
            get(orgs::export),
        )
        .route(
            "/v1/platform/organizations/{org_id}",
            get(orgs::retrieve).post(orgs::update).delete(orgs::delete),
        )
        .route(
            "/v1/platform/organizations/{org_id}/admin_api_keys",
            post(orgs::recovery_key),
        )
        .route(
            "/v1/platform/permissions",
            get(catalog::list).post(catalog::create),
        )
        .route(
            "/v1/platform/permissions/{permission}",
            axum::routing::delete(catalog::delete),
        )
        .route("/v1/platform/roles", get(roles::list).post(roles::create))
        .route(
            "/v1/platform/roles/{role_id}",
            get(roles::retrieve)
                .post(roles::update)
                .delete(roles::delete),
        )
        .route("/v1/platform/permissions/check", post(checks::check))
        .route(
            "/v1/platform/permissions/check_batch",
            post(checks::check_batch),
        )
        .route("/v1/platform/audit_logs", get(audit::list))
}
