//! `POST /v1/platform/permissions/check` and `…/check_batch`: the organization routes' checks,
//! asked in any organization with one platform key. Answers come from the same snapshots and
//! the same code as the organization routes, so they are the same answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use orgiam_authz::Snapshot;
use orgiam_core::ids::OrgId;
use orgiam_core::{Error, Result, now_unix};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::permissions::{
    CheckObject, CheckRequest, answer, check_batch_size, validate_check,
};
use crate::auth::{Platform, PlatformCheck};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Body;
use crate::state::AppState;

/// One question in one organization.
#[derive(Deserialize, ToSchema, Clone)]
pub struct PlatformCheckRequest {
    /// The organization asked about.
    pub organization_id: String,
    /// The question, as on the organization route.
    #[serde(flatten)]
    pub check: CheckRequest,
}

/// Many questions, possibly in different organizations.
#[derive(Deserialize, ToSchema)]
pub struct PlatformCheckBatchRequest {
    /// At most 1,000 checks.
    pub checks: Vec<PlatformCheckRequest>,
}

/// A decision with its reasons, and the organization it was asked in.
#[derive(Serialize, ToSchema)]
pub struct PlatformCheckObject {
    /// The organization asked about.
    pub organization_id: String,
    /// The decision, as the organization route gives it.
    #[serde(flatten)]
    pub check: CheckObject,
}

/// The batch's answers, in the order asked.
#[derive(Serialize, ToSchema)]
pub struct PlatformCheckList {
    /// Always `list`.
    pub object: &'static str,
    /// One answer per check.
    pub data: Vec<PlatformCheckObject>,
}

/// The snapshot of the organization a check names, `param` naming it on error (404 for an
/// unknown organization).
async fn snapshot_for(
    state: &AppState,
    c: &PlatformCheckRequest,
    param: &str,
) -> Result<(OrgId, Arc<Snapshot>)> {
    let unknown = || Error::not_found("organization", &c.organization_id).with_param(param);
    let org = OrgId::parse(&c.organization_id).ok_or_else(unknown)?;
    match state
        .engine
        .snapshot(&org, c.check.at_least_revision.unwrap_or(0))
        .await
    {
        Ok(s) => Ok((org, s)),
        Err(e) if e.kind == orgiam_core::ErrorKind::NotFound => Err(unknown()),
        Err(e) => Err(e),
    }
}

/// May this user do this in this organization (here)? With the grants that say so.
#[utoipa::path(post, path = "/v1/platform/permissions/check", operation_id = "check-platform-permission", tag = "platform", request_body = PlatformCheckRequest,
    responses((status = 200, body = PlatformCheckObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn check(
    _auth: Platform<PlatformCheck>,
    State(state): State<AppState>,
    Body(body): Body<PlatformCheckRequest>,
) -> ApiResult<Json<PlatformCheckObject>> {
    let (_, snap) = snapshot_for(&state, &body, "organization_id").await?;
    validate_check(&snap, &body.check, "")?;
    Ok(Json(PlatformCheckObject {
        organization_id: body.organization_id,
        check: answer(&snap, body.check, now_unix()),
    }))
}

/// Up to 1,000 checks in any organizations, validated in full first, answered in order; each
/// organization's checks from one snapshot of it.
#[utoipa::path(post, path = "/v1/platform/permissions/check_batch", operation_id = "check-platform-permissions-batch", tag = "platform", request_body = PlatformCheckBatchRequest,
    responses((status = 200, body = PlatformCheckList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn check_batch(
    _auth: Platform<PlatformCheck>,
    State(state): State<AppState>,
    Body(body): Body<PlatformCheckBatchRequest>,
) -> ApiResult<Json<PlatformCheckList>> {
    check_batch_size(body.checks.len())?;
    let mut snaps: HashMap<OrgId, Arc<Snapshot>> = HashMap::new();
    let mut at: Vec<Arc<Snapshot>> = Vec::with_capacity(body.checks.len());
    for (i, c) in body.checks.iter().enumerate() {
        let param = format!("checks[{i}].organization_id");
        let known = OrgId::parse(&c.organization_id).and_then(|o| snaps.get(&o).cloned());
        let snap = match known {
            // a later check may ask for a newer revision of an organization already read
            Some(s) if s.revision() >= c.check.at_least_revision.unwrap_or(0) => s,
            _ => {
                let (org, s) = snapshot_for(&state, c, &param).await?;
                snaps.insert(org, s.clone());
                s
            }
        };
        validate_check(&snap, &c.check, &format!("checks[{i}]"))?;
        at.push(snap);
    }
    let now = now_unix();
    let data = body
        .checks
        .into_iter()
        .zip(at)
        .map(|(c, snap)| PlatformCheckObject {
            organization_id: c.organization_id,
            check: answer(&snap, c.check, now),
        })
        .collect();
    Ok(Json(PlatformCheckList {
        object: "list",
        data,
    }))
}
