//! Fiddler's v1 client (`fiddler-client` 1.8.x, `fiddler.fiddler_api.FiddlerApi`) under
//! `/compat/fiddler`. The client joins its `url` and a path list with `/`, sends
//! `Authorization: Bearer <auth_token>` (plus `x-fdlr-fwd` and `X-Fiddler-Client-Version`,
//! ignored here), checks `status == "SUCCESS"` and returns `result`; on another status it
//! raises with the body's `message`.
//!
//! - `GET /get_supported_features/{org_id}`: the client calls it when it is constructed; any
//!   valid key of the organization.
//! - `GET /roles/{org_id}` (`list_org_roles()`): members and pending invitations; for
//!   administrators only (`api.users.write`).

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::catalog::SystemRole;
use orgiam_core::model::Member;
use orgiam_core::validate::quote;
use orgiam_core::{Error, now_unix};
use orgiam_store::Invite;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Refusal, admit, all_invites, all_members, bearer};
use crate::auth::{InvitesRead, Permission, UsersWrite};
use crate::state::AppState;

/// The routes, relative to `/compat/fiddler`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/get_supported_features/{org_id}",
            get(get_supported_features),
        )
        .route("/roles/{org_id}", get(roles))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Fiddler's success envelope.
#[derive(Serialize, ToSchema)]
pub struct Success<T> {
    /// Always `SUCCESS`.
    pub status: &'static str,
    /// The answer.
    pub result: T,
}

impl<T> Success<T> {
    fn of(result: T) -> Json<Self> {
        Json(Success {
            status: "SUCCESS",
            result,
        })
    }
}

/// What the server supports.
#[derive(Serialize, ToSchema)]
pub struct SupportedFeatures {
    /// No optional Fiddler features: only the role listing is served.
    #[schema(value_type = Object)]
    pub features: Map<String, Value>,
    /// orgiam's version.
    pub server_version: &'static str,
    /// Always false: this is a v1 (F1) server for the client.
    pub enable_fiddler_v2: bool,
}

/// A member as `list_org_roles()` returns it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiddlerMember {
    /// `user_…`
    pub id: String,
    /// The email (Fiddler's user name).
    pub user: String,
    /// The email.
    pub email: String,
    /// Always true: a member is an active identity.
    pub is_logged_in: bool,
    /// The display name up to its first space (empty without one).
    pub first_name: String,
    /// The rest of the display name (empty without one).
    pub last_name: String,
    /// Always null.
    pub image_url: Option<String>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// `ADMINISTRATOR` (owners and admins) or `MEMBER`.
    pub role: &'static str,
}

/// A pending invitation as `list_org_roles()` returns it.
#[derive(Serialize, ToSchema)]
pub struct FiddlerInvitation {
    /// `invite_…`
    pub id: String,
    /// The invited email.
    pub user: String,
    /// `ADMINISTRATOR` or `MEMBER`, from the invited base role.
    pub role: &'static str,
    /// Always true.
    pub invited: bool,
    /// The invitation's URL on the native API (not its secret acceptance link: only a hash
    /// of the token is kept).
    pub link: String,
}

/// The answer of `list_org_roles()`.
#[derive(Serialize, ToSchema)]
pub struct OrgRoles {
    /// Members, by user id.
    pub members: Vec<FiddlerMember>,
    /// Pending invitations, oldest first.
    pub invitations: Vec<FiddlerInvitation>,
}

/// Fiddler's role for a base role.
fn fiddler_role(role: SystemRole) -> &'static str {
    match role {
        SystemRole::OrgOwner | SystemRole::OrgAdmin => "ADMINISTRATOR",
        _ => "MEMBER",
    }
}

impl From<Member> for FiddlerMember {
    fn from(m: Member) -> Self {
        let name = m.name.as_deref().map(str::trim).unwrap_or_default();
        let (first, last) = name
            .split_once(char::is_whitespace)
            .map_or((name, ""), |(f, l)| (f, l.trim_start()));
        FiddlerMember {
            id: m.user_id.into_string(),
            user: m.email.clone(),
            email: m.email,
            is_logged_in: true,
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            image_url: None,
            settings: Map::new(),
            role: fiddler_role(m.role),
        }
    }
}

fn invitation(i: Invite, state: &AppState) -> FiddlerInvitation {
    FiddlerInvitation {
        link: state.link(&format!("/v1/organization/invites/{}", i.id.as_str())),
        id: i.id.into_string(),
        user: i.email,
        role: fiddler_role(i.role),
        invited: true,
    }
}

/// A Fiddler failure: `{"status": "FAILURE", "message"}` with the status.
#[derive(Debug)]
pub struct FiddlerError {
    status: StatusCode,
    message: String,
}

/// The body of a Fiddler failure.
#[derive(Serialize, ToSchema)]
pub struct FiddlerErrorBody {
    /// Always `FAILURE`.
    pub status: &'static str,
    /// What went wrong.
    pub message: String,
}

impl FiddlerError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        FiddlerError {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for FiddlerError {
    fn from(e: Error) -> Self {
        let e = crate::error::public(e);
        FiddlerError::new(crate::error::status_of(e.kind), e.message)
    }
}

impl From<Refusal> for FiddlerError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::MissingKey => FiddlerError::new(
                StatusCode::UNAUTHORIZED,
                "missing API key: send 'Authorization: Bearer <key>'",
            ),
            Refusal::InvalidKey => FiddlerError::new(
                StatusCode::UNAUTHORIZED,
                "invalid, expired or revoked API key",
            ),
            Refusal::OtherOrganization => FiddlerError::new(
                StatusCode::FORBIDDEN,
                "this key does not belong to the organization in the path",
            ),
            Refusal::MissingPermission(p) => FiddlerError::new(
                StatusCode::FORBIDDEN,
                format!("only administrators may do this: this key lacks the permission '{p}'"),
            ),
            Refusal::Failed(e) => e.into(),
        }
    }
}

impl IntoResponse for FiddlerError {
    fn into_response(self) -> Response {
        let body = FiddlerErrorBody {
            status: "FAILURE",
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

fn bad_path(e: &PathRejection) -> FiddlerError {
    FiddlerError::new(
        StatusCode::BAD_REQUEST,
        format!("invalid path: {}", quote(&e.body_text())),
    )
}

/// What this server supports; answers any valid key of the organization (the client calls it
/// when it is constructed).
#[utoipa::path(get, path = "/compat/fiddler/get_supported_features/{org_id}", operation_id = "fiddler-get-supported-features", tag = "dialect: fiddler",
    params(("org_id" = String, Path, description = "the key's organization")),
    security(("bearer" = [])),
    responses((status = 200, body = Success<SupportedFeatures>),
              (status = 401, body = FiddlerErrorBody),
              (status = 403, body = FiddlerErrorBody, description = "another organization")))]
pub async fn get_supported_features(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Success<SupportedFeatures>>, FiddlerError> {
    let Path(org_id) = path.map_err(|e| bad_path(&e))?;
    admit(&state, bearer(&headers), &org_id, None).await?;
    Ok(Success::of(SupportedFeatures {
        features: Map::new(),
        server_version: env!("CARGO_PKG_VERSION"),
        enable_fiddler_v2: false,
    }))
}

/// The organization's members with their roles and its pending invitations
/// (`list_org_roles()`); administrators only (`api.users.write`).
#[utoipa::path(get, path = "/compat/fiddler/roles/{org_id}", operation_id = "fiddler-list-org-roles", tag = "dialect: fiddler",
    params(("org_id" = String, Path, description = "the key's organization")),
    security(("bearer" = [])),
    responses((status = 200, body = Success<OrgRoles>),
              (status = 401, body = FiddlerErrorBody),
              (status = 403, body = FiddlerErrorBody, description = "another organization, or not an administrator")))]
pub async fn roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Success<OrgRoles>>, FiddlerError> {
    let Path(org_id) = path.map_err(|e| bad_path(&e))?;
    let (actor, view) = admit(&state, bearer(&headers), &org_id, UsersWrite::NAME).await?;
    let members = all_members(&state.store, &actor.org_id).await?;
    // pending invitations only for keys that may read them
    let invites = if orgiam_authz::Holder::holds(&view, InvitesRead::PERMISSION, None, now_unix()) {
        all_invites(&state.store, &actor.org_id).await?
    } else {
        Vec::new()
    };
    let now = now_unix();
    Ok(Success::of(OrgRoles {
        members: members.into_iter().map(FiddlerMember::from).collect(),
        invitations: invites
            .into_iter()
            .filter(|i| i.status(now) == "pending")
            .map(|i| invitation(i, &state))
            .collect(),
    }))
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> FiddlerError {
    FiddlerError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {method} {}: orgiam serves only get_supported_features and roles",
            quote(uri.path())
        ),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> FiddlerError {
    FiddlerError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", quote(uri.path())),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use orgiam_core::ids::UserId;

    fn member(name: Option<&str>, role: SystemRole) -> FiddlerMember {
        Member {
            user_id: UserId::generate(),
            email: "a@example.com".into(),
            name: name.map(str::to_owned),
            role,
            added_at: 0,
            created_at: 0,
            suspended: false,
            scim_managed: false,
        }
        .into()
    }

    #[test]
    fn splits_names_and_maps_roles() {
        let m = member(Some("Ada  King Lovelace"), SystemRole::OrgOwner);
        assert_eq!(
            (m.first_name.as_str(), m.last_name.as_str()),
            ("Ada", "King Lovelace")
        );
        assert_eq!(m.role, "ADMINISTRATOR");
        let m = member(Some("Zoë"), SystemRole::OrgAdmin);
        assert_eq!((m.first_name.as_str(), m.last_name.as_str()), ("Zoë", ""));
        assert_eq!(m.role, "ADMINISTRATOR");
        let m = member(None, SystemRole::OrgReader);
        assert_eq!((m.first_name.as_str(), m.last_name.as_str()), ("", ""));
        assert_eq!(m.role, "MEMBER");
        assert_eq!(member(None, SystemRole::OrgMember).role, "MEMBER");
    }
}
