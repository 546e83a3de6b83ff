//! The admin console at `/console/`: server-rendered pages over the native API.
//!
//! Guarantees:
//! - Every read and write a page makes is a request to the native API router, in process,
//!   carrying the signed-in key: the same extractors, permission guard, store operations and
//!   audit events as any client, so the console can do nothing the key could not.
//! - The session is a row in the database (migration `console_sessions`) keyed by the SHA-256
//!   of a random cookie value; the row holds the key's secret sealed with a key derived from
//!   that cookie value, so neither the cookie alone (without the row) nor the row alone
//!   (without the cookie) acts. Any process sharing the database serves any session; signing
//!   out deletes the row; a key that no longer authenticates (revoked, expired, organization
//!   gone) ends its session on the next request; sessions idle longer than
//!   [`IDLE_SECONDS`] are gone.
//! - The cookie is `HttpOnly; SameSite=Strict; Path=/console`, and `Secure` when the public
//!   URL is https. Every state-changing form carries the session's CSRF token: a POST without
//!   it (or with another) answers 403 and changes nothing.
//! - Pages are never cached; `Content-Security-Policy` allows only the server's own origin,
//!   with no inline script or style; every asset is embedded in the binary.

#![allow(clippy::result_large_err)] // pages answer early with `Err(Response)`

mod pages;
pub(crate) mod view;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orgiam_core::keys;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::state::AppState;

/// A session unused for this long (seconds) is over.
pub const IDLE_SECONDS: i64 = 30 * 60;

/// The session cookie's name.
const COOKIE: &str = "orgiam_console";

/// The sign-in form's CSRF cookie (double submit: the form's hidden `csrf` must equal it).
const LOGIN_COOKIE: &str = "orgiam_console_login";

/// What every console handler reaches.
pub(crate) struct Console {
    state: AppState,
    /// The native API router: every page's reads and writes go through it.
    api: Router,
    /// Whether the cookie is `Secure` (the public URL is https).
    secure: bool,
}

type Shared = Arc<Console>;

/// The API router with the console's routes added.
pub fn with_console(state: AppState, api: Router) -> Router {
    let secure = state
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let console = Arc::new(Console {
        state,
        api: api.clone(),
        secure,
    });
    let routes = Router::new()
        .route("/console", get(pages::to_overview))
        .route("/console/", get(pages::overview))
        .route("/console/style.css", get(view::css))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route("/console/members", get(pages::members))
        .route(
            "/console/members/{user_id}",
            get(pages::member).post(pages::member_action),
        )
        .route(
            "/console/invites",
            get(pages::invites).post(pages::invites_action),
        )
        .route(
            "/console/groups",
            get(pages::groups).post(pages::groups_action),
        )
        .route(
            "/console/groups/{group_id}",
            get(pages::group).post(pages::group_action),
        )
        .route(
            "/console/projects",
            get(pages::projects).post(pages::projects_action),
        )
        .route(
            "/console/projects/{project_id}",
            get(pages::project).post(pages::project_action),
        )
        .route("/console/roles", get(pages::roles))
        .route(
            "/console/roles/new",
            get(pages::role_new).post(pages::role_create),
        )
        .route(
            "/console/roles/{role_id}",
            get(pages::role_edit).post(pages::role_action),
        )
        .route(
            "/console/permissions",
            get(pages::permissions).post(pages::permissions_action),
        )
        .route(
            "/console/access",
            get(pages::access).post(pages::access_check),
        )
        .route("/console/audit", get(pages::audit))
        .route(
            "/console/keys",
            get(pages::api_keys).post(pages::api_keys_action),
        )
        .route(
            "/console/organizations",
            get(pages::organizations).post(pages::organizations_action),
        )
        .with_state(console);
    api.merge(routes)
}

/// A signed-in request: the session and the key it acts with.
pub(crate) struct Session {
    /// SHA-256 of the cookie's value: the row's id.
    id: String,
    /// The key's secret.
    secret: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Whether the key is the root key or a platform key (platform pages only).
    pub platform: bool,
}

/// An API answer that was not a success: its status and the error's message and `param`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<String>,
    /// The error's `code` (a conflict names its field only there, e.g. `role_name_taken`).
    pub code: Option<String>,
}

impl Failure {
    /// A failure about `field` found by the console itself.
    pub fn invalid(status: StatusCode, field: &str, message: String) -> Failure {
        Failure {
            status,
            message,
            param: Some(field.to_owned()),
            code: None,
        }
    }

    /// The message when it concerns `field`: named by `param`, or by the code of an error
    /// without one.
    pub fn on(&self, field: &str) -> Option<&str> {
        let about = match &self.param {
            Some(p) => p == field,
            None => self.code.as_deref().is_some_and(|c| c.starts_with(field)),
        };
        about.then_some(self.message.as_str())
    }
}

/// The keystream that seals a secret under a cookie value (SHA-256 in counter mode; the
/// cookie value is 32 random bytes used for this one secret only).
fn keystream(cookie: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(b"orgiam-console-seal");
        h.update(cookie.as_bytes());
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn seal(cookie: &str, secret: &str) -> String {
    let ks = keystream(cookie, secret.len());
    secret
        .bytes()
        .zip(ks)
        .map(|(b, k)| format!("{:02x}", b ^ k))
        .collect()
}

fn unseal(cookie: &str, sealed: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..sealed.len())
        .step_by(2)
        .map(|i| {
            sealed
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let bytes = bytes?;
    let ks = keystream(cookie, bytes.len());
    String::from_utf8(bytes.iter().zip(ks).map(|(b, k)| b ^ k).collect()).ok()
}

/// The value of the cookie `name` in `headers`.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Console {
    /// Whether `secret` is the root key or a platform key.
    async fn is_platform(&self, secret: &str) -> bool {
        crate::auth::is_root_key(&self.state, secret)
            || matches!(
                self.state.store.lookup_platform_key(secret).await,
                Ok(Some(_))
            )
    }

    /// The request's session, if its cookie names a live one.
    pub(crate) async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, Response> {
        let Some(cookie) = cookie_value(headers, COOKIE) else {
            return Ok(None);
        };
        let id = keys::hash(cookie);
        let row = self
            .state
            .store
            .console_session(&id, IDLE_SECONDS)
            .await
            .map_err(|e| view::error_page(StatusCode::SERVICE_UNAVAILABLE, &e.message))?;
        let Some(row) = row else { return Ok(None) };
        let Some(secret) = unseal(cookie, &row.sealed_key) else {
            return Ok(None);
        };
        let platform = self.is_platform(&secret).await;
        Ok(Some(Session {
            id,
            secret,
            csrf: row.csrf,
            platform,
        }))
    }

    /// Starts a session for `secret`; the `Set-Cookie` value to send.
    pub(crate) async fn start(&self, secret: &str) -> Result<HeaderValue, String> {
        let cookie = keys::token().value;
        let csrf = keys::token().value;
        self.state
            .store
            .create_console_session(
                &keys::hash(&cookie),
                &seal(&cookie, secret),
                &csrf,
                IDLE_SECONDS,
            )
            .await
            .map_err(|e| e.message)?;
        HeaderValue::from_str(&self.cookie(COOKIE, &cookie, IDLE_SECONDS))
            .map_err(|e| e.to_string())
    }

    /// Ends `session` (its row is deleted; the cookie is cleared by the caller).
    pub(crate) async fn end(&self, session: &Session) {
        if let Err(e) = self.state.store.end_console_session(&session.id).await {
            tracing::warn!(error = %e.message, "could not end a console session");
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        format!(
            "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that clears the session cookie.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&self.cookie(COOKIE, "", 0))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// A fresh sign-in CSRF token and the `Set-Cookie` value that carries it.
    pub(crate) fn login_token(&self) -> (String, Option<HeaderValue>) {
        let token = keys::token().value;
        let cookie = HeaderValue::from_str(&self.cookie(LOGIN_COOKIE, &token, 3600)).ok();
        (token, cookie)
    }

    /// Whether the sign-in form's `token` is the one its cookie carries.
    pub(crate) fn login_token_valid(headers: &HeaderMap, token: &str) -> bool {
        cookie_value(headers, LOGIN_COOKIE).is_some_and(|c| {
            !token.is_empty() && keys::constant_time_eq(c.as_bytes(), token.as_bytes())
        })
    }

    /// Calls the native API as `secret`: `body` as JSON when given.
    pub(crate) async fn call_as(
        &self,
        secret: &str,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let failure = |message: String| Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
            param: None,
            code: None,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {secret}"));
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let req = req.body(body).map_err(|e| failure(e.to_string()))?;
        let res = self
            .api
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| failure(e.to_string()))?;
        let status = res.status();
        let bytes: Bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .map_err(|e| failure(e.to_string()))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let err = &value["error"];
        Err(Failure {
            status,
            message: err["message"]
                .as_str()
                .map_or_else(|| status.to_string(), str::to_owned),
            param: err["param"].as_str().map(str::to_owned),
            code: err["code"].as_str().map(str::to_owned),
        })
    }
}

/// A parsed form body.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name` ("" if absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The trimmed value of `name`, `None` if absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The signed-in context of one request: the console, the session, and how to call the API.
pub(crate) struct Ctx {
    pub c: Shared,
    pub s: Session,
    /// The path of the page (for the navigation's current link).
    pub path: String,
}

impl Ctx {
    /// Calls the API as the session's key. A 401 means the key no longer authenticates: the
    /// session ends here and the caller answers with [`Ctx::signed_out`].
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let r = self.c.call_as(&self.s.secret, method, uri, body).await;
        if let Err(f) = &r {
            if f.status == StatusCode::UNAUTHORIZED {
                self.c.end(&self.s).await;
            }
        }
        r
    }

    /// A GET of the API.
    pub async fn get(&self, uri: &str) -> Result<Value, Failure> {
        self.call(Method::GET, uri, None).await
    }

    /// A POST of `body` to the API.
    pub async fn post(&self, uri: &str, body: Value) -> Result<Value, Failure> {
        self.call(Method::POST, uri, Some(body)).await
    }

    /// A DELETE on the API.
    pub async fn delete(&self, uri: &str) -> Result<Value, Failure> {
        self.call(Method::DELETE, uri, None).await
    }
}

/// The request's signed-in context, or the response to send instead (the sign-in page).
pub(crate) async fn signed_in(
    c: &Shared,
    headers: &HeaderMap,
    path: &str,
) -> Result<Ctx, Response> {
    match c.session(headers).await? {
        Some(s) => Ok(Ctx {
            c: c.clone(),
            s,
            path: path.to_owned(),
        }),
        None => Err(view::redirect_to_login(c, "Please sign in.")),
    }
}

/// A signed-in POST whose form carries the session's CSRF token; otherwise the response to
/// send (403 without the token, before anything else is read or done).
pub(crate) async fn signed_post(
    c: &Shared,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<(Ctx, Form), Response> {
    let form = Form::parse(body);
    let ctx = match c.session(headers).await? {
        Some(s) => Ctx {
            c: c.clone(),
            s,
            path: path.to_owned(),
        },
        None => {
            return Err(view::error_page(
                StatusCode::FORBIDDEN,
                "This form's session has ended: sign in again.",
            ));
        }
    };
    let token = form.get("csrf");
    if token.is_empty() || !keys::constant_time_eq(token.as_bytes(), ctx.s.csrf.as_bytes()) {
        return Err(view::error_page(
            StatusCode::FORBIDDEN,
            "The form carries no valid CSRF token; nothing was changed. Reload the page and try again.",
        ));
    }
    Ok((ctx, form))
}

/// Percent-encodes a path segment or query value.
pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        view::error_page(self.status, &self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_unseals() {
        let sealed = seal("cookie-value", "sk-admin-secret");
        assert_ne!(sealed, "sk-admin-secret");
        assert_eq!(
            unseal("cookie-value", &sealed).as_deref(),
            Some("sk-admin-secret")
        );
        assert_ne!(
            unseal("other-cookie", &sealed).as_deref(),
            Some("sk-admin-secret")
        );
    }

    #[test]
    fn reads_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; orgiam_console=xyz; b=2"),
        );
        assert_eq!(cookie_value(&h, COOKIE), Some("xyz"));
        assert_eq!(cookie_value(&h, LOGIN_COOKIE), None);
    }
}
