//! Who may call `/scim/v2`: only a SCIM token (`sk-scim-…`), and it reaches only its own
//! organization.
//!
//! Guarantees: a [`ScimAuth`] exists only if the request carried a live SCIM token (an admin or
//! user key, or a revoked token, is a 401; SCIM tokens are in a table of their own, so they
//! are never accepted on `/v1` either) and the member who made the token still holds
//! `api.users.write` and `api.groups.write` (else 403). SCIM handlers act with that member's
//! current grants, so the no-escalation rules of the native API apply unchanged, and reach
//! the organization only through [`ScimAuth::org`].

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use orgiam_authz::UserView;
use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::OrgId;
use orgiam_core::keys::KeyKind;
use orgiam_core::model::Actor;
use orgiam_core::{Error, now_unix};
use orgiam_store::ActorRef;

use super::errors::ScimError;
use crate::auth::{GroupsWrite, UsersWrite, presented_secret};
use crate::state::AppState;

/// A request authenticated by a SCIM token.
pub struct ScimAuth {
    /// The token as a principal: its maker, with the token's id as the key.
    pub actor: Actor,
    /// What the token's maker holds now.
    pub view: UserView,
    /// The base role of the members the token creates.
    pub default_role: SystemRole,
}

impl ScimAuth {
    /// The token's organization: the only one a SCIM handler may touch.
    pub fn org(&self) -> &OrgId {
        &self.actor.org_id
    }

    /// The token as a change author.
    pub fn author(&self) -> ActorRef<'_> {
        ActorRef::Key {
            actor: &self.actor,
            grants: &self.view,
        }
    }
}

impl<S> FromRequestParts<S> for ScimAuth
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let secret = presented_secret(parts).ok_or_else(|| {
            Error::unauthenticated("missing SCIM token: send 'Authorization: Bearer sk-scim-…'")
        })?;
        let hit = state
            .store
            .lookup_scim_token(secret)
            .await?
            .ok_or_else(|| {
                Error::unauthenticated(
                    "invalid or revoked SCIM token (only SCIM tokens are accepted here)",
                )
            })?;
        let snapshot = state.engine.snapshot(&hit.org_id, 0).await?;
        for p in [UsersWrite::PERMISSION, GroupsWrite::PERMISSION] {
            if !snapshot.check(hit.created_by.as_str(), p, None, now_unix()) {
                let mut e = Error::missing_permission(p);
                e.message = format!(
                    "the member who made this SCIM token no longer holds '{p}'; make a new token"
                );
                return Err(e.into());
            }
        }
        let view = UserView::new(snapshot, hit.created_by.as_str().to_owned(), None);
        Ok(ScimAuth {
            actor: Actor {
                org_id: hit.org_id,
                user_id: hit.created_by,
                email: hit.email,
                key_id: hit.token_id,
                key_kind: KeyKind::Scim,
                minted_by: None,
            },
            view,
            default_role: hit.default_role,
        })
    }
}
