//! The HTTP surface: the native API (the OpenAI Admin API's RBAC half plus orgiam's
//! additions) and the operator routes. Handlers are thin: extract, call one store operation,
//! convert.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orgiam_core::Error;
use serde::{Deserialize, Deserializer};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

pub mod accept_page;
pub mod audit;
pub mod docs;
pub mod events;
pub mod groups;
pub mod invites;
pub mod keys;
pub mod meta;
pub mod model;
pub mod orgs;
pub mod permissions;
pub mod platform;
pub mod projects;
pub mod roles;
pub mod users;
pub mod webhooks;
pub mod wire;

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "orgiam", description = "Organization IAM server: the OpenAI Admin API's RBAC half, natively."),
    paths(
        orgs::create,
        roles::list, roles::create, roles::retrieve, roles::update, roles::delete,
        users::list, users::create, users::retrieve, users::update, users::delete,
        users::list_roles, users::assign_role, users::retrieve_role, users::unassign_role,
    ),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        doc.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}

/// The OpenAPI document, rendered once.
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| openapi().to_json().unwrap_or_else(|_| "{}".to_owned()))
}

/// The OpenAPI document of every route, each family's paths merged in.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(groups::Doc::openapi());
    doc.merge(projects::Doc::openapi());
    doc.merge(invites::Doc::openapi());
    doc.merge(keys::Doc::openapi());
    doc.merge(audit::Doc::openapi());
    doc.merge(permissions::Doc::openapi());
    doc.merge(model::Doc::openapi());
    doc.merge(events::Doc::openapi());
    doc.merge(webhooks::Doc::openapi());
    doc.merge(platform::Doc::openapi());
    doc.merge(crate::dialects::Doc::openapi());
    doc.merge(crate::scim::tokens::Doc::openapi());
    document_common_errors(&mut doc);
    doc
}

/// Adds to every native operation the error answers that any such route can give, so that
/// the document lists every status the server sends (a client generated from it, or a
/// conformance fuzzer, sees no undocumented status): 400 where the route takes parameters or
/// a body (a malformed value), 413 where it takes a body (over the limit), and 401 and 403
/// where it needs a key (a missing or dead key; a key without the route's permission).
/// Statuses a route already documents are left as they are. Dialect routes document their
/// own errors, in their own shapes.
///
/// A body whose fields are all optional is marked optional too: the server reads an empty body
/// as `{}` (an update that changes nothing), and the document says so.
fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder, Schema};

    let all_optional: std::collections::BTreeSet<String> = doc
        .components
        .as_ref()
        .map(|c| {
            c.schemas
                .iter()
                .filter(|(_, s)| matches!(s, RefOr::T(Schema::Object(o)) if o.required.is_empty()))
                .map(|(name, _)| format!("#/components/schemas/{name}"))
                .collect()
        })
        .unwrap_or_default();

    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let takes_input =
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            // `security(())` on the operation: no key (the invite's token is the credential).
            let keyless = op
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(description));
            };
            if takes_input {
                add(
                    "400",
                    "a malformed or invalid parameter or body, named in `param`",
                );
            }
            if !keyless {
                add(
                    "401",
                    "no key, or a key that is unknown, expired or revoked",
                );
                add("403", "the key lacks the permission the route needs");
                add(
                    "429",
                    "the key is over its rate limit; `Retry-After` says when to retry",
                );
            }
            add("503", "the request took longer than the configured timeout");
            if op.request_body.is_some() {
                add("413", "the body is larger than the configured limit");
            }
            if let Some(body) = op.request_body.as_mut() {
                let optional = body.content.values().all(|c| {
                    matches!(&c.schema, Some(RefOr::Ref(r)) if all_optional.contains(&r.ref_location))
                });
                if optional {
                    body.required = Some(Required::False);
                }
            }
        }
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let native = Router::new()
        .route("/v1/organizations", post(orgs::create))
        .route(
            "/v1/organization/roles",
            get(roles::list).post(roles::create),
        )
        .route(
            "/v1/organization/roles/{role_id}",
            get(roles::retrieve)
                .post(roles::update)
                .delete(roles::delete),
        )
        .route(
            "/v1/organization/users",
            get(users::list).post(users::create),
        )
        .route(
            "/v1/organization/users/{user_id}",
            get(users::retrieve)
                .post(users::update)
                .delete(users::delete),
        )
        .route(
            "/v1/organization/users/{user_id}/roles",
            get(users::list_roles).post(users::assign_role),
        )
        .route(
            "/v1/organization/users/{user_id}/roles/{role_id}",
            get(users::retrieve_role).delete(users::unassign_role),
        );
    Router::new()
        .merge(native)
        .merge(groups::routes())
        .merge(projects::routes())
        .merge(invites::routes())
        .merge(keys::routes())
        .merge(audit::routes())
        .merge(model::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(platform::routes())
        .merge(crate::dialects::routes())
        .merge(crate::scim::tokens::routes())
        .merge(crate::scim::routes())
        .route(
            "/v1/organization/permissions",
            get(permissions::list).post(permissions::create),
        )
        .route(
            "/v1/organization/permissions/check",
            post(permissions::check),
        )
        .route(
            "/v1/organization/permissions/check_batch",
            post(permissions::check_batch),
        )
        .route(
            "/v1/organization/permissions/{permission}",
            axum::routing::delete(permissions::delete),
        )
        .route(
            "/v1/organization/permissions/{permission}/users",
            get(permissions::permission_users),
        )
        .route(
            "/v1/organization/users/{user_id}/permissions",
            get(permissions::user_permissions),
        )
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .route("/docs", get(meta::docs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    let mut e = Error::not_found("route", uri.path());
    e.message = format!(
        "no route {method} {}",
        orgiam_core::validate::quote(uri.path())
    );
    e.code = "unknown_route";
    ApiError(e)
}

/// 405 with the route's `Allow` header (axum adds it), in OpenAI's error shape.
async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let mut res = ApiError(Error::invalid_code(
        "method_not_allowed",
        "method",
        format!(
            "{method} is not allowed on {}",
            orgiam_core::validate::quote(uri.path())
        ),
    ))
    .into_response();
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res
}

/// The request id a client sent, if it is a sane one (1 to 128 visible ASCII characters).
fn client_request_id(req: &Request) -> Option<String> {
    let v = req.headers().get("x-request-id")?.to_str().ok()?.trim();
    let sane = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| v.to_owned())
}

/// Request metrics, the request's id and span, one access-log line per request, the limits
/// every route shares ([`crate::limits::guard`]) and security headers on every response.
///
/// Every request runs in a `request` span carrying its `request_id` (the client's
/// `x-request-id`, or a minted `req_…`), `method`, `route` (the template, never the path's
/// ids) and, once its key is authenticated, `org`: every log line of the request names them,
/// a 500's included. The answer carries the same `x-request-id`. The access line (`info`)
/// adds the status and the latency; it never holds a key, a body or a query string.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id =
        client_request_id(&req).unwrap_or_else(|| format!("req_{}", ulid::Ulid::new()));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        org = tracing::field::Empty,
    );
    let mut res = crate::limits::guard(&state, start, req, next)
        .instrument(span.clone())
        .await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    metrics::counter!("orgiam_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("orgiam_http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone()).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "orgiam::access",
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    res
}
