//! `/v1/organization/invites` (the SDK's `invites`) and `POST /v1/invites/accept`, where the
//! invitation's token is the credential. The token appears only in the create response.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use orgiam_core::ids::InviteId;
use orgiam_core::now_unix;
use orgiam_core::page::LimitBounds;
use orgiam_store::{Invite, NewInvite};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::wire::{Deleted, List, OrganizationUser, Written};
use crate::auth::{Authorized, InvitesRead, InvitesWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the invite list: 1 to 100, default 20 (as the SDK documents).
const INVITE_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// A project role requested in an invitation.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct InviteProjectBody {
    /// `proj_…`, a project of this organization.
    pub id: String,
    /// `owner`, `member` or `viewer`.
    pub role: String,
}

/// Body of `invites.create`.
#[derive(Deserialize, ToSchema)]
pub struct InviteCreate {
    /// The address to invite.
    pub email: String,
    /// Base role on acceptance: `owner`, `admin`, `member` or `reader`.
    pub role: String,
    /// Project roles granted on acceptance; absent, null or empty: none.
    #[serde(default)]
    pub projects: Option<Vec<InviteProjectBody>>,
}

/// Body of the acceptance.
#[derive(Deserialize, ToSchema)]
pub struct InviteAccept {
    /// The token from the invitation's create response.
    pub token: String,
    /// The new member's display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// An invitation (`organization.invite`).
#[derive(Serialize, ToSchema)]
pub struct InviteObject {
    /// Always `organization.invite`.
    pub object: &'static str,
    /// `invite_…`
    pub id: String,
    /// The invited address.
    pub email: String,
    /// The base role on acceptance.
    pub role: &'static str,
    /// `pending`, `accepted` or `expired`.
    pub status: &'static str,
    /// Project roles granted on acceptance.
    pub projects: Vec<InviteProjectBody>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, once accepted.
    pub accepted_at: Option<i64>,
    /// The secret acceptance token: only in the create response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Where to accept (`POST` `{token, name}` there): only in the create response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

impl From<Invite> for InviteObject {
    fn from(i: Invite) -> Self {
        InviteObject {
            object: "organization.invite",
            status: i.status(now_unix()),
            id: i.id.into_string(),
            email: i.email,
            role: i.role.name(),
            projects: i
                .projects
                .into_iter()
                .map(|p| InviteProjectBody {
                    id: p.project_id,
                    role: p.role.name().to_owned(),
                })
                .collect(),
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            token: None,
            accept_url: None,
        }
    }
}

/// The answer to an acceptance.
#[derive(Serialize, ToSchema)]
pub struct InviteAccepted {
    /// Always `organization.invite.accepted`.
    pub object: &'static str,
    /// The organization joined.
    pub organization_id: String,
    /// The invitation, now accepted.
    pub invite: InviteObject,
    /// The new member.
    pub user: OrganizationUser,
}

/// The page a person opens from an invitation link (`GET`), and where its form posts.
pub const ACCEPT_PAGE: &str = "/invites/accept";

/// Lists the organization's invitations, oldest first.
#[utoipa::path(get, path = "/v1/organization/invites", operation_id = "list-invites", tag = "invites",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20")),
    responses((status = 200, body = List<InviteObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<InvitesRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<InviteObject>>> {
    let page = params.page(INVITE_LIMIT, None, InviteId::parse)?;
    let invites = state.store.list_invites(auth.org(), &page).await?;
    Ok(Json(List::of(
        invites,
        |i| i.id.as_str().to_owned(),
        InviteObject::from,
    )))
}

/// Invites an address; the response alone carries the secret `token` and the `accept_url`
/// (built from the server's `--public-url` only, else the path `/invites/accept?token=…`).
#[utoipa::path(post, path = "/v1/organization/invites", operation_id = "inviteUser", tag = "invites", request_body = InviteCreate,
    responses((status = 200, body = InviteObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<InvitesWrite>,
    State(state): State<AppState>,
    Body(body): Body<InviteCreate>,
) -> ApiResult<Written<InviteObject>> {
    let new = NewInvite {
        email: body.email,
        role: body.role,
        projects: body
            .projects
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.id, p.role))
            .collect(),
    };
    let (invite, token, rev) = state
        .store
        .create_invite(&auth.author(), auth.org(), new)
        .await?;
    let mut obj = InviteObject::from(invite);
    obj.accept_url = Some(state.link(&format!("{ACCEPT_PAGE}?token={token}")));
    obj.token = Some(token);
    Ok(Written(obj, rev))
}

/// Retrieves an invitation (never its token).
#[utoipa::path(get, path = "/v1/organization/invites/{invite_id}", operation_id = "retrieve-invite", tag = "invites",
    params(("invite_id" = String, Path)),
    responses((status = 200, body = InviteObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<InvitesRead>,
    State(state): State<AppState>,
    Path(invite_id): Path<String>,
) -> ApiResult<Json<InviteObject>> {
    Ok(Json(
        state.store.get_invite(auth.org(), &invite_id).await?.into(),
    ))
}

/// Deletes a pending or expired invitation; an accepted one cannot be deleted (409).
#[utoipa::path(delete, path = "/v1/organization/invites/{invite_id}", operation_id = "delete-invite", tag = "invites",
    params(("invite_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<InvitesWrite>,
    State(state): State<AppState>,
    Path(invite_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_invite(&auth.author(), auth.org(), &invite_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.invite.deleted",
            id: invite_id,
            deleted: true,
        },
        rev,
    ))
}

/// Accepts an invitation (no API key: the token is the credential). Unknown or deleted
/// tokens: 404 `invite_not_found`; used: 400 `invite_already_accepted`; expired: 400
/// `invite_expired`; the address became a member meanwhile: 409 `already_member`; the inviter
/// no longer holds what the invitation grants: 403 `inviter_lacks_authority`.
#[utoipa::path(post, path = "/v1/invites/accept", operation_id = "accept-invite", tag = "invites", request_body = InviteAccept,
    security(()),
    responses((status = 200, body = InviteAccepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    Body(body): Body<InviteAccept>,
) -> ApiResult<Written<InviteAccepted>> {
    let (accepted, rev) = state
        .store
        .accept_invite(&body.token, body.name.as_deref())
        .await?;
    Ok(Written(
        InviteAccepted {
            object: "organization.invite.accepted",
            organization_id: accepted.org_id.into_string(),
            invite: accepted.invite.into(),
            user: accepted.member.into(),
        },
        rev,
    ))
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(list, create, retrieve, delete, accept))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/invites", get(list).post(create))
        .route(
            "/v1/organization/invites/{invite_id}",
            get(retrieve).delete(delete),
        )
        .route("/v1/invites/accept", post(accept))
        .route(
            ACCEPT_PAGE,
            get(super::accept_page::show).post(super::accept_page::submit),
        )
}
