//! `/v1/organization/model` (orgiam): the organization's access model as one document, and
//! `/v1/organization/model/apply`: make the organization match a model in one transaction.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use orgiam_authz::Holder as _;
use orgiam_core::access_model::{AccessModel, Change};
use orgiam_core::{Error, now_unix};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::wire::Written;
use crate::auth::{Authorized, RolesRead, RolesWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Body;
use crate::state::AppState;

/// The access model: the organization's own permissions, custom roles, groups with their
/// members' emails, and role grants (docs/CLI.md describes each field).
#[derive(Serialize, ToSchema)]
pub struct ModelObject {
    /// Always `organization.access_model`.
    pub object: &'static str,
    /// The organization's own permissions: `{name, description, resource_type}`.
    #[schema(value_type = Vec<Object>)]
    pub permissions: Vec<orgiam_core::access_model::PermissionSpec>,
    /// Custom roles: `{name, project, description, permissions}`.
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<orgiam_core::access_model::RoleSpec>,
    /// Groups: `{name, members}` (emails).
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<orgiam_core::access_model::GroupSpec>,
    /// Grants: `{role, group | user, project, expires_at}`.
    #[schema(value_type = Vec<Object>)]
    pub grants: Vec<orgiam_core::access_model::GrantSpec>,
}

/// Body of `model/apply`.
#[derive(Deserialize, ToSchema)]
pub struct ApplyModel {
    /// The desired model, in the shape `GET /v1/organization/model` answers (`object` may be
    /// left out).
    #[schema(value_type = Object)]
    pub model: serde_json::Value,
    /// Plan only: the changes are tried and rolled back, nothing changes.
    #[serde(default)]
    pub dry_run: bool,
    /// Also remove what the model does not name (grants, group members, groups, custom roles,
    /// permissions).
    #[serde(default)]
    pub prune: bool,
}

/// The plan of `model/apply`, and whether it was applied.
#[derive(Serialize, ToSchema)]
pub struct PlanObject {
    /// Always `organization.access_model.plan`.
    pub object: &'static str,
    /// Whether the changes were committed (false for a dry run and for an empty plan).
    pub applied: bool,
    /// The changes in the order they apply: `{action: create|update|delete, kind:
    /// permission|role|group|group_member|grant, …the object's fields}`.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<Change>,
}

/// 403 unless the caller also holds `permission`.
fn also_needs<P>(auth: &Authorized<P>, permission: &str) -> Result<(), Error> {
    if auth.view.holds(permission, None, now_unix()) {
        Ok(())
    } else {
        Err(Error::missing_permission(permission))
    }
}

/// The organization's access model, in canonical order (the same model reads the same).
#[utoipa::path(get, path = "/v1/organization/model", operation_id = "export-access-model", tag = "access model",
    responses((status = 200, body = ModelObject), (status = 403, body = ErrorBody)))]
pub async fn export(
    auth: Authorized<RolesRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<ModelObject>> {
    for p in [
        "api.groups.read",
        "api.role_assignments.read",
        "api.users.read",
    ] {
        also_needs(&auth, p)?;
    }
    let m = state.store.export_model(auth.org()).await?;
    Ok(Json(ModelObject {
        object: "organization.access_model",
        permissions: m.permissions,
        roles: m.roles,
        groups: m.groups,
        grants: m.grants,
    }))
}

/// Makes the organization match a model in one transaction, with one `access_model.applied`
/// audit event; answers the plan. Each change needs what its own route needs (and the actor
/// must hold every permission it grants); people named must already be members.
#[utoipa::path(post, path = "/v1/organization/model/apply", operation_id = "apply-access-model", tag = "access model",
    request_body = ApplyModel,
    responses((status = 200, body = PlanObject), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn apply(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Body(body): Body<ApplyModel>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let mut doc = body.model;
    if let Some(o) = doc.as_object_mut() {
        o.remove("object");
    }
    let model: AccessModel = serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        Error::invalid(
            "model",
            format!("model.{path}: {}", e.into_inner()).replace("model..", "model."),
        )
    })?;
    let applied = state
        .store
        .apply_model(&auth.author(), auth.org(), model, body.prune, body.dry_run)
        .await?;
    let plan = PlanObject {
        object: "organization.access_model.plan",
        applied: applied.revision.is_some(),
        changes: applied.changes,
    };
    Ok(match applied.revision {
        Some(rev) => Written(plan, rev).into_response(),
        None => Json(plan).into_response(),
    })
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(export, apply))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/model", get(export))
        .route("/v1/organization/model/apply", post(apply))
}
