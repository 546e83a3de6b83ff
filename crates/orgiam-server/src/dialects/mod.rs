//! Compatibility dialects: the role-listing APIs of Timbal, Aitronos and Fiddler, each under
//! its own prefix so that a client's base URL can point there unchanged.
//!
//! Guarantees: a dialect is a translation and nothing more. It reads the key from its own
//! header, authenticates it with [`crate::auth::authenticate`], and then, before any lookup,
//! compares the organization named in the path with the key's: another organization's id
//! (existing or not) answers 403, so a dialect route reveals nothing about which ids exist.
//! Permissions are asked of the same engine snapshot the native routes use, and every object
//! comes from the same store calls; no dialect has storage or rules of its own. Each dialect
//! renders its failures in its own error envelope (its module's error type).

use axum::Router;
use axum::http::{HeaderMap, HeaderValue};
use orgiam_core::ids::OrgId;
use orgiam_core::model::{Actor, Member, Role};
use orgiam_core::page::{Order, PageRequest};
use orgiam_core::{Error, ErrorKind, Result, now_unix};
use orgiam_store::{Invite, Store};
use utoipa::OpenApi;

use crate::state::AppState;

pub mod aitronos;
pub mod fiddler;
pub mod timbal;

/// The OpenAPI paths of every dialect.
#[derive(OpenApi)]
#[openapi(paths(
    timbal::list_roles,
    timbal::get_role,
    aitronos::list_roles,
    fiddler::get_supported_features,
    fiddler::roles,
))]
pub struct Doc;

/// Every dialect's routes, each nested under its prefix with its own fallbacks.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/compat/timbal", timbal::routes())
        .nest("/compat/aitronos", aitronos::routes())
        .nest("/compat/fiddler", fiddler::routes())
}

/// Why a dialect request was refused before its handler did any work.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The dialect's header carries no key (401).
    MissingKey,
    /// The key is unknown, expired or revoked (401).
    InvalidKey,
    /// The path names an organization other than the key's (403).
    OtherOrganization,
    /// The key's principal lacks this permission (403).
    MissingPermission(&'static str),
    /// Any other failure; its kind decides the status.
    Failed(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Failed(e)
    }
}

/// The secret of an `Authorization: Bearer …` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The secret of an `X-API-Key` header.
pub(crate) fn api_key(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("x-api-key")?.to_str().ok()?.trim();
    (!v.is_empty()).then_some(v)
}

/// Admits a dialect request: authenticates `secret` (taken from the dialect's own header) as
/// the native routes do, refuses another organization's path before any lookup, then checks
/// `permission` (if any) on the organization's snapshot; returns the principal and what it
/// may do.
pub(crate) async fn admit(
    state: &AppState,
    secret: Option<&str>,
    path_org: &str,
    permission: Option<&'static str>,
) -> std::result::Result<(Actor, orgiam_authz::UserView), Refusal> {
    let secret = secret.ok_or(Refusal::MissingKey)?;
    let value = HeaderValue::from_str(secret).map_err(|_| Refusal::InvalidKey)?;
    // Only this header is shown to the shared authenticator, so that the key the dialect
    // reads is exactly the key that is checked.
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers.insert("x-api-key", value);
    let actor = match crate::auth::authenticate(state, &parts).await {
        Ok(actor) => actor,
        Err(e) if e.kind == ErrorKind::Unauthenticated => return Err(Refusal::InvalidKey),
        Err(e) => return Err(Refusal::Failed(e)),
    };
    if actor.org_id.as_str() != path_org {
        return Err(Refusal::OtherOrganization);
    }
    let snapshot = state.engine.snapshot(&actor.org_id, 0).await?;
    let view = crate::auth::view_of(snapshot, &actor);
    if let Some(p) = permission {
        if !orgiam_authz::Holder::holds(&view, p, None, now_unix()) {
            return Err(Refusal::MissingPermission(p));
        }
    }
    Ok((actor, view))
}

/// Rows per store page while a dialect collects a whole list.
const PAGE: u32 = 1000;

fn page_after(after: Option<String>) -> PageRequest {
    PageRequest {
        limit: PAGE,
        after,
        before: None,
        order: Order::Asc,
    }
}

/// Every organization-level role `org` sees (system roles first, then custom roles by id).
pub(crate) async fn all_org_roles(store: &Store, org: &OrgId) -> Result<Vec<Role>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_org_roles(org, &page_after(after)).await?;
        after = page.items.last().map(|r| r.id.as_str().to_owned());
        let more = page.has_more;
        out.extend(page.items);
        if !more || after.is_none() {
            return Ok(out);
        }
    }
}

/// Every member of `org`, by user id.
pub(crate) async fn all_members(store: &Store, org: &OrgId) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_members(org, &page_after(after), &[]).await?;
        after = page.items.last().map(|m| m.user_id.as_str().to_owned());
        let more = page.has_more;
        out.extend(page.items);
        if !more || after.is_none() {
            return Ok(out);
        }
    }
}

/// Every invitation of `org` (any status), by id.
pub(crate) async fn all_invites(store: &Store, org: &OrgId) -> Result<Vec<Invite>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_invites(org, &page_after(after)).await?;
        after = page.items.last().map(|i| i.id.as_str().to_owned());
        let more = page.has_more;
        out.extend(page.items);
        if !more || after.is_none() {
            return Ok(out);
        }
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (`2024-05-01T12:00:00Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
