//! `POST /v1/organizations`: the platform route (root key, or a platform key holding
//! `platform.organizations.write`) that creates an organization with its owner and a first
//! admin key, shown once.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{OrganizationUser, Written};
use crate::auth::{Platform, PlatformOrganizationsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Body;
use crate::state::AppState;

/// Body of the organization creation.
#[derive(Deserialize, ToSchema)]
pub struct OrganizationCreate {
    /// The organization's name.
    pub name: String,
    /// The owner's email (an existing identity is attached).
    pub owner_email: String,
    /// The owner's display name.
    #[serde(default)]
    pub owner_name: Option<String>,
}

/// An admin API key; `value` is present only in the response that creates it.
#[derive(Serialize, ToSchema)]
pub struct AdminApiKeyObject {
    /// Always `organization.admin_api_key`.
    pub object: &'static str,
    /// `key_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// `sk-admin-AbCd…wxyz`
    pub redacted_value: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if ever used.
    pub last_used_at: Option<i64>,
    /// The owner it acts as.
    pub owner: OrganizationUser,
    /// The secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A new organization.
#[derive(Serialize, ToSchema)]
pub struct OrganizationObject {
    /// Always `organization`.
    pub object: &'static str,
    /// `org_…`
    pub id: String,
    /// Name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The owner.
    pub owner: OrganizationUser,
    /// The owner's first admin key, with its secret.
    pub admin_api_key: AdminApiKeyObject,
}

/// Creates an organization (the platform root key, or a platform key holding
/// `platform.organizations.write`).
#[utoipa::path(post, path = "/v1/organizations", operation_id = "create-organization", tag = "organizations", request_body = OrganizationCreate,
    responses((status = 200, body = OrganizationObject), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    auth: Platform<PlatformOrganizationsWrite>,
    State(state): State<AppState>,
    Body(req): Body<OrganizationCreate>,
) -> ApiResult<Written<OrganizationObject>> {
    let created = state
        .store
        .create_organization_by(
            Some(&auth.actor),
            &req.name,
            &req.owner_email,
            req.owner_name.as_deref(),
        )
        .await?;
    let owner = OrganizationUser::from(created.owner.clone());
    let key = created.admin_key;
    Ok(Written(
        OrganizationObject {
            object: "organization",
            id: created.organization.id.into_string(),
            name: created.organization.name,
            created_at: created.organization.created_at,
            owner: OrganizationUser::from(created.owner),
            admin_api_key: AdminApiKeyObject {
                object: "organization.admin_api_key",
                id: key.id.into_string(),
                name: key.name,
                redacted_value: key.redacted_value,
                created_at: key.created_at,
                last_used_at: key.last_used_at,
                owner,
                value: Some(created.secret),
            },
        },
        1,
    ))
}
