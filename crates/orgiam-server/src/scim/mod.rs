//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: an organization's identity provider creates,
//! updates, suspends and removes its members and keeps its groups in sync.
//!
//! A translation, not a second copy: users are memberships and groups are orgiam groups,
//! changed through the same store operations (and audit events) as the native API; what SCIM
//! has beyond them (externalId, the rest of a user's resource, suspension) is kept beside
//! them (`orgiam_store::scim`). The organization comes from the SCIM token ([`auth`]).

use axum::Router;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orgiam_core::{Error, validate::quote};
use serde_json::{Value, json};

use crate::extract::{BodyLimit, Params};
use crate::state::AppState;

pub mod auth;
pub mod discovery;
pub mod errors;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod tokens;
pub mod users;

use errors::{ScimError, scim_error};

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";
/// Where the SCIM routes live.
pub const BASE: &str = "/scim/v2";
/// The largest `count` a list answers with (advertised as `filter.maxResults`).
pub const MAX_RESULTS: u32 = 200;
/// The list response schema URN.
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A SCIM answer: a status and a resource, as `application/scim+json`, with `Location` when
/// one is created.
pub struct ScimJson(pub StatusCode, pub Value);

impl IntoResponse for ScimJson {
    fn into_response(self) -> Response {
        let location = self.1["meta"]["location"].as_str().map(str::to_owned);
        let mut res = (self.0, axum::Json(self.1)).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if self.0 == StatusCode::CREATED {
            if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                h.insert(header::LOCATION, l);
            }
        }
        res
    }
}

/// A SCIM request body: JSON (sent as `application/scim+json` or `application/json`).
pub struct ScimBody(pub Value);

impl<S> FromRequest<S> for ScimBody
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| Error::payload_too_large(limit))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            scim_error(
                "invalidSyntax",
                "body",
                format!("the body is not a JSON object: {e}"),
            )
        })?;
        if !v.is_object() {
            return Err(scim_error(
                "invalidSyntax",
                "body",
                "the body must be a JSON object".into(),
            )
            .into());
        }
        Ok(ScimBody(v))
    }
}

/// `startIndex` (1-based, default 1; below 1 is read as 1, as RFC 7644 §3.4.2.4 says) and
/// `count` (default and ceiling [`MAX_RESULTS`]; below 0 is read as 0).
pub fn paging(params: &Params) -> Result<(u32, u32), Error> {
    let int = |name: &str| -> Result<Option<i64>, Error> {
        params
            .one(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    scim_error(
                        "invalidValue",
                        name,
                        format!("{name} must be an integer, not '{}'", quote(v)),
                    )
                })
            })
            .transpose()
    };
    let start = int("startIndex")?
        .unwrap_or(1)
        .clamp(1, i64::from(u32::MAX));
    let count = int("count")?
        .unwrap_or(i64::from(MAX_RESULTS))
        .clamp(0, i64::from(MAX_RESULTS));
    Ok((
        u32::try_from(start).unwrap_or(u32::MAX),
        u32::try_from(count).unwrap_or(MAX_RESULTS),
    ))
}

/// A list response.
pub fn list_response(total: i64, start_index: u32, resources: Vec<Value>) -> ScimJson {
    ScimJson(
        StatusCode::OK,
        json!({
            "schemas": [LIST_URN],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// A weak entity tag over a resource's content (meta excluded): it changes exactly when the
/// resource does.
pub fn version_of(resource: &Value) -> String {
    let digest = orgiam_core::keys::hash(&resource.to_string());
    format!("W/\"{}\"", &digest[..16])
}

/// The `attributes`/`excludedAttributes` asked for: whether to include group members.
pub fn wants_members(params: &Params) -> bool {
    let mentions = |name: &str| {
        params.one(name).is_some_and(|v| {
            v.split(',')
                .any(|a| a.trim().eq_ignore_ascii_case("members"))
        })
    };
    if mentions("excludedAttributes") {
        return false;
    }
    params.one("attributes").is_none() || mentions("attributes")
}

async fn unknown_route(uri: axum::http::Uri) -> ScimError {
    let mut e = Error::not_found("route", uri.path());
    e.message = format!("no SCIM endpoint {}", quote(uri.path()));
    ScimError(e)
}

/// The `/scim/v2` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route(
            "/scim/v2/ResourceTypes/{name}",
            get(discovery::resource_type),
        )
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{urn}", get(discovery::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/Users/{id}",
            get(users::retrieve)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::retrieve)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/scim/v2", axum::routing::any(unknown_route))
        .route("/scim/v2/{*rest}", axum::routing::any(unknown_route))
}
