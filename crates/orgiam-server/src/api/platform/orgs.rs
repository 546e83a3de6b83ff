//! `/v1/platform/organizations…`: list (keyset pages, `name` prefix filter), read, rename and
//! delete organizations, and mint a recovery admin key acting as one of an organization's
//! owners.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse as _;
use orgiam_core::Error;
use orgiam_core::ids::OrgId;
use orgiam_core::model::Organization;
use orgiam_core::page::{LimitBounds, Order};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::keys::ApiKeyObject;
use crate::api::wire::{Deleted, List, Written};
use crate::auth::{Platform, PlatformOrganizationsRead, PlatformOrganizationsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the organization list: 1 to 100, default 20.
const ORG_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// An organization (`object: "organization"`).
#[derive(Serialize, ToSchema)]
pub struct PlatformOrganization {
    /// Always `organization`.
    pub object: &'static str,
    /// `org_…`
    pub id: String,
    /// Name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<Organization> for PlatformOrganization {
    fn from(o: Organization) -> Self {
        PlatformOrganization {
            object: "organization",
            id: o.id.into_string(),
            name: o.name,
            created_at: o.created_at,
        }
    }
}

/// Body of the rename.
#[derive(Deserialize, ToSchema)]
pub struct OrganizationUpdate {
    /// The new name, 1 to 256 characters.
    pub name: String,
}

/// Body of the recovery key.
#[derive(Deserialize, ToSchema, Default)]
pub struct RecoveryKeyCreate {
    /// The owner the key acts as; the earliest owner when omitted.
    #[serde(default)]
    pub owner_user_id: Option<String>,
}

/// The organization named in the path (404 for anything that is not an organization id).
fn org_id(raw: &str) -> Result<OrgId, Error> {
    OrgId::parse(raw).ok_or_else(|| Error::not_found("organization", raw))
}

/// Lists organizations by id, optionally those whose name starts with `name`.
#[utoipa::path(get, path = "/v1/platform/organizations", operation_id = "list-platform-organizations", tag = "platform",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc"),
           ("name" = Option<String>, Query, description = "only names starting with this (case-sensitive)")),
    responses((status = 200, body = List<PlatformOrganization>), (status = 400, body = ErrorBody)))]
pub async fn list(
    _auth: Platform<PlatformOrganizationsRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<PlatformOrganization>>> {
    let page = params.page(ORG_LIMIT, Some(Order::Asc), OrgId::parse)?;
    let orgs = state
        .store
        .list_organizations(params.one("name"), &page)
        .await?;
    Ok(Json(List::of(
        orgs,
        |o| o.id.as_str().to_owned(),
        PlatformOrganization::from,
    )))
}

/// Reads an organization.
#[utoipa::path(get, path = "/v1/platform/organizations/{org_id}", operation_id = "retrieve-platform-organization", tag = "platform",
    params(("org_id" = String, Path)),
    responses((status = 200, body = PlatformOrganization), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    _auth: Platform<PlatformOrganizationsRead>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<PlatformOrganization>> {
    let org = state.store.get_organization(&org_id(&raw)?).await?;
    Ok(Json(org.into()))
}

/// Renames an organization.
#[utoipa::path(post, path = "/v1/platform/organizations/{org_id}", operation_id = "update-platform-organization", tag = "platform",
    params(("org_id" = String, Path)), request_body = OrganizationUpdate,
    responses((status = 200, body = PlatformOrganization), (status = 404, body = ErrorBody)))]
pub async fn update(
    auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(body): Body<OrganizationUpdate>,
) -> ApiResult<Written<PlatformOrganization>> {
    let (org, rev) = state
        .store
        .rename_organization(&auth.actor, &org_id(&raw)?, &body.name)
        .await?;
    Ok(Written(org.into(), rev))
}

/// Deletes an organization and everything of it; its keys stop working at once, in every
/// process.
#[utoipa::path(delete, path = "/v1/platform/organizations/{org_id}", operation_id = "delete-platform-organization", tag = "platform",
    params(("org_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let org = org_id(&raw)?;
    state.store.delete_organization(&auth.actor, &org).await?;
    state.engine.forget(&org);
    Ok(Json(Deleted {
        object: "organization.deleted",
        id: org.into_string(),
        deleted: true,
    }))
}

/// Mints a recovery admin key acting as an owner (the earliest one unless `owner_user_id`
/// names another); `value` is shown once. Recorded in the organization's audit log as a
/// platform action.
#[utoipa::path(post, path = "/v1/platform/organizations/{org_id}/admin_api_keys", operation_id = "create-recovery-admin-api-key", tag = "platform",
    params(("org_id" = String, Path)), request_body = RecoveryKeyCreate,
    responses((status = 200, body = ApiKeyObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn recovery_key(
    auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(body): Body<RecoveryKeyCreate>,
) -> ApiResult<Written<ApiKeyObject>> {
    let (record, secret, rev) = state
        .store
        .create_recovery_key(&auth.actor, &org_id(&raw)?, body.owner_user_id.as_deref())
        .await?;
    Ok(Written(ApiKeyObject::render(record, Some(secret)), rev))
}

/// One organization as an export document (the format of `orgiam export`, its header naming
/// the organization): members, groups, projects, roles, assignments, invitations, keys (as
/// their hashes) and its audit log. It holds secrets' hashes: keep it as you keep the database.
#[utoipa::path(get, path = "/v1/platform/organizations/{org_id}/export", operation_id = "export-platform-organization", tag = "platform",
    params(("org_id" = String, Path)),
    responses((status = 200, description = "the export document", content_type = "application/json", body = Object),
              (status = 404, body = ErrorBody)))]
pub async fn export(
    _auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<axum::response::Response> {
    let mut out = Vec::new();
    state.store.export_org(&org_id(&raw)?, &mut out).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

/// Loads one organization's export (from the route above, possibly of another server) beside
/// this server's organizations: 409 if it exists here or a user's email belongs to another
/// identity here; 400 if it uses global permissions or roles this server lacks.
#[utoipa::path(post, path = "/v1/platform/organizations/import", operation_id = "import-platform-organization", tag = "platform",
    request_body(content = Object, description = "an export document of one organization"),
    responses((status = 200, body = PlatformOrganization), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn import(
    auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<Json<PlatformOrganization>> {
    let bytes = axum::body::to_bytes(req.into_body(), state.body_limit)
        .await
        .map_err(|_| Error::payload_too_large(state.body_limit))?;
    let org = state.store.import_org(&auth.actor, &bytes).await?;
    Ok(Json(org.into()))
}
