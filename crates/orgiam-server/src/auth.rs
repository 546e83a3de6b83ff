//! Authentication and the per-route permission guard.
//!
//! Guarantees: every native route except the health, metrics, docs and invite-accept routes
//! takes an [`Authorized<P>`]; that value exists only if the request carried a valid,
//! unexpired key (`Authorization: Bearer …` or `X-API-Key: …`) and the key's principal holds
//! the permission `P` in its organization at this instant. Handlers reach the caller's
//! organization only through it, so another organization's objects are never in reach.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use orgiam_authz::UserView;
use orgiam_core::ids::{KeyId, OrgId};
use orgiam_core::model::Actor;
use orgiam_core::{Error, keys, now_unix};
use orgiam_store::{ActorRef, Store};

use crate::error::ApiError;
use crate::state::AppState;

/// A built-in permission a route requires, as a type.
pub trait Permission {
    /// The permission's name in the catalog; `None` for routes any valid key may call (they
    /// decide inside, e.g. a key asking about its own principal).
    const NAME: Option<&'static str>;
}

macro_rules! permissions {
    ($($t:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $name, "` permission.")]
            pub struct $t;
            impl $t {
                #[doc = concat!("`", $name, "`, for handlers that check it themselves.")]
                pub const PERMISSION: &'static str = $name;
            }
            impl Permission for $t {
                const NAME: Option<&'static str> = Some($name);
            }
        )*
    };
}

/// No permission: any valid key of the organization (the handler decides what it may see).
pub struct AnyKey;

impl Permission for AnyKey {
    const NAME: Option<&'static str> = None;
}

permissions! {
    OrganizationRead => "api.organization.read",
    OrganizationWrite => "api.organization.write",
    UsersRead => "api.users.read",
    UsersWrite => "api.users.write",
    InvitesRead => "api.invites.read",
    InvitesWrite => "api.invites.write",
    GroupsRead => "api.groups.read",
    GroupsWrite => "api.groups.write",
    RolesRead => "api.roles.read",
    RolesWrite => "api.roles.write",
    AssignmentsRead => "api.role_assignments.read",
    AssignmentsWrite => "api.role_assignments.write",
    ProjectsRead => "api.projects.read",
    ProjectsWrite => "api.projects.write",
    AdminKeysRead => "api.admin_keys.read",
    AdminKeysWrite => "api.admin_keys.write",
    AuditLogsRead => "api.audit_logs.read",
    PermissionsCheck => "api.permissions.check",
    WebhooksRead => "api.webhooks.read",
    WebhooksWrite => "api.webhooks.write",
}

/// The secret presented with a request, if any.
pub fn presented_secret(parts: &Parts) -> Option<&str> {
    secret_in(&parts.headers)
}

/// The secret in `Authorization: Bearer …`, else in `X-API-Key`.
pub fn secret_in(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The SHA-256 hex digest of the request's presented secret, computed once by the rate
/// limiter and reused here.
#[derive(Clone)]
pub struct KeyDigest(pub String);

/// Key use times waiting to be written (lazily, off the request path).
#[derive(Default)]
pub struct KeyUsage(Mutex<HashMap<KeyId, i64>>);

impl KeyUsage {
    /// Notes that `key` was used now.
    pub fn note(&self, key: &KeyId) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key.clone(), now_unix());
        }
    }

    /// Writes the pending use times.
    pub async fn flush(&self, store: &Store) {
        let pending: Vec<(KeyId, i64)> = match self.0.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return,
        };
        if !pending.is_empty() {
            if let Err(e) = store.touch_keys(&pending).await {
                tracing::warn!(error = %e, "could not record key use");
            }
        }
    }
}

/// Resolves the request's key to its principal (401 without a valid one).
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Actor, Error> {
    let secret = presented_secret(parts).ok_or_else(|| {
        Error::unauthenticated(
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        )
    })?;
    let computed;
    let digest: &str = match parts.extensions.get::<KeyDigest>() {
        Some(KeyDigest(d)) => d,
        None => {
            computed = keys::hash(secret);
            &computed
        }
    };
    let Some(actor) = state.engine.authenticate(digest, secret).await? else {
        if is_root_key(state, secret) {
            return Err(Error::unauthenticated(
                "the root key serves only the platform routes (/v1/platform/… and \
                 POST /v1/organizations); use an organization's admin or user key here",
            ));
        }
        if state.store.lookup_platform_key(secret).await?.is_some() {
            return Err(Error::unauthenticated(
                "a platform key serves only the platform routes (/v1/platform/…); \
                 use an organization's admin or user key here",
            ));
        }
        return Err(Error::unauthenticated(
            "invalid, expired or revoked API key",
        ));
    };
    state.key_usage.note(&actor.key_id);
    // the request's span (see `api::observe`) names the organization from here on
    tracing::Span::current().record("org", tracing::field::display(actor.org_id.as_str()));
    Ok(actor)
}

/// Proof that the request's principal holds `P`, with what it holds.
pub struct Authorized<P> {
    /// The principal.
    pub actor: Actor,
    /// The principal as its organization's snapshot sees it.
    pub view: UserView,
    _p: PhantomData<P>,
}

impl<P> Authorized<P> {
    /// The caller's organization: the only one a native handler may touch.
    pub fn org(&self) -> &OrgId {
        &self.actor.org_id
    }

    /// Whether the caller holds `permission` at organization level now (beyond the route's).
    pub fn holds(&self, permission: &str) -> bool {
        orgiam_authz::Holder::holds(&self.view, permission, None, now_unix())
    }

    /// 403 `missing_permission` unless the caller holds `permission` too.
    pub fn require(&self, permission: &'static str) -> Result<(), Error> {
        if self.holds(permission) {
            Ok(())
        } else {
            Err(Error::missing_permission(permission))
        }
    }

    /// The caller as a change author, with its grants for the no-escalation rule.
    pub fn author(&self) -> ActorRef<'_> {
        ActorRef::Key {
            actor: &self.actor,
            grants: &self.view,
        }
    }
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    P: Permission,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let actor = authenticate(&state, parts).await?;
        let snapshot = state.engine.snapshot(&actor.org_id, 0).await?;
        let view = view_of(snapshot, &actor);
        if let Some(name) = P::NAME {
            if !orgiam_authz::Holder::holds(&view, name, None, now_unix()) {
                return Err(Error::missing_permission(name).into());
            }
        }
        Ok(Authorized {
            actor,
            view,
            _p: PhantomData,
        })
    }
}

/// What a key may do in its organization's `snapshot`: its principal's permissions, and for a
/// key minted by another member only those both hold now.
pub fn view_of(snapshot: std::sync::Arc<orgiam_authz::Snapshot>, actor: &Actor) -> UserView {
    UserView::new(
        snapshot,
        actor.user_id.as_str().to_owned(),
        actor.minted_by.as_ref().map(|u| u.as_str().to_owned()),
    )
}

/// Whether `secret` is the platform root key (constant-time on the digests).
pub fn is_root_key(state: &AppState, secret: &str) -> bool {
    state
        .root_key_hash
        .as_deref()
        .is_some_and(|h| keys::constant_time_eq(h.as_bytes(), keys::hash(secret).as_bytes()))
}

/// A platform permission a platform route requires, as a type.
pub trait PlatformPermission {
    /// The permission's name; `None` for routes only the root key may call.
    const NAME: Option<&'static str>;
}

macro_rules! platform_permissions {
    ($($t:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $name, "` platform permission.")]
            pub struct $t;
            impl PlatformPermission for $t {
                const NAME: Option<&'static str> = Some($name);
            }
        )*
    };
}

/// The root key only (platform keys are minted and revoked with it alone).
pub struct RootOnly;

impl PlatformPermission for RootOnly {
    const NAME: Option<&'static str> = None;
}

platform_permissions! {
    PlatformOrganizationsRead => "platform.organizations.read",
    PlatformOrganizationsWrite => "platform.organizations.write",
    PlatformCatalogWrite => "platform.catalog.write",
    PlatformCheck => "platform.check",
    PlatformAuditLogsRead => "platform.audit_logs.read",
}

/// Proof that the request carries the root key, or a platform key holding `P`.
pub struct Platform<P> {
    /// Who acts.
    pub actor: orgiam_core::platform::PlatformActor,
    _p: PhantomData<P>,
}

impl<S, P> FromRequestParts<S> for Platform<P>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    P: PlatformPermission,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let secret = presented_secret(parts).ok_or_else(|| {
            Error::unauthenticated(
                "missing API key: the platform routes take the root key or a platform key",
            )
        })?;
        let actor = if is_root_key(&state, secret) {
            orgiam_core::platform::PlatformActor::root()
        } else if let Some(actor) = state.store.lookup_platform_key(secret).await? {
            actor
        } else if state.store.authenticate(secret).await?.is_some() {
            return Err(Error::forbidden(
                "platform_key_required",
                "an organization's key cannot call the platform routes; use the root key or a \
                 platform key",
            )
            .into());
        } else {
            return Err(Error::unauthenticated("invalid or revoked API key").into());
        };
        match P::NAME {
            None if actor.key_id.is_some() => Err(Error::forbidden(
                "root_key_required",
                "only the platform root key may manage platform keys",
            )
            .into()),
            Some(name) if !actor.holds(name) => Err(Error::missing_permission(name).into()),
            _ => Ok(Platform {
                actor,
                _p: PhantomData,
            }),
        }
    }
}
