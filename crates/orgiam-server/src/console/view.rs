//! The console's page frame, navigation, stylesheet and small rendering helpers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::{Ctx, Failure, Shared};

const CSS: &str = include_str!("style.css");

/// The navigation of organization keys: (label, path).
const ORG_NAV: [(&str, &str); 10] = [
    ("Overview", "/console/"),
    ("Members", "/console/members"),
    ("Invites", "/console/invites"),
    ("Groups", "/console/groups"),
    ("Projects", "/console/projects"),
    ("Roles", "/console/roles"),
    ("Permissions", "/console/permissions"),
    ("Access", "/console/access"),
    ("Audit log", "/console/audit"),
    ("API keys", "/console/keys"),
];

/// `GET /console/style.css`.
pub async fn css() -> Response {
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    secure_headers(&mut res);
    res
}

/// Headers on every console response: never cached, own origin only, no framing.
fn secure_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// An HTML response.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut res = (status, markup.into_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(&mut res);
    res
}

fn frame(title: &str, header_right: Markup, nav: Markup, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · orgiam console" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                header {
                    strong { "orgiam console" }
                    (header_right)
                }
                (nav)
                main { h1 { (title) } (content) }
            }
        }
    }
}

/// A signed-in page with the navigation.
pub fn page(ctx: &Ctx, title: &str, content: Markup) -> Response {
    page_status(ctx, StatusCode::OK, title, content)
}

/// [`page`] with a status.
pub fn page_status(ctx: &Ctx, status: StatusCode, title: &str, content: Markup) -> Response {
    let links: Vec<(&str, &str)> = if ctx.s.platform {
        vec![("Organizations", "/console/organizations")]
    } else {
        ORG_NAV.to_vec()
    };
    let current = |href: &str| {
        ctx.path == href || (href != "/console/" && ctx.path.starts_with(&format!("{href}/")))
    };
    let nav = html! {
        nav aria-label="Console" {
            ul {
                @for (label, href) in &links {
                    li {
                        @if current(href) { a href=(href) aria-current="page" { (label) } }
                        @else { a href=(href) { (label) } }
                    }
                }
            }
        }
    };
    let right = html! {
        span.who { (if ctx.s.platform { "Platform operator" } else { "Signed in with an organization key" }) }
        form.inline method="post" action="/console/logout" {
            (csrf(ctx))
            button type="submit" { "Sign out" }
        }
    };
    html_response(status, frame(title, right, nav, content))
}

/// A page without a session (sign-in, errors).
pub fn bare(status: StatusCode, title: &str, content: Markup) -> Response {
    html_response(status, frame(title, html! {}, html! {}, content))
}

/// An error page with `message`.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    bare(
        status,
        "Something went wrong",
        html! { p.error role="alert" { (message) } p { a href="/console/" { "Back to the console" } } },
    )
}

/// The sign-in page with `notice`, clearing the session cookie.
pub fn redirect_to_login(c: &Shared, notice: &str) -> Response {
    let mut res = login_page(c, StatusCode::OK, Some(notice), None);
    res.headers_mut()
        .append(header::SET_COOKIE, c.clear_cookie());
    res
}

/// The sign-in form, with a fresh CSRF token in a hidden field and in its cookie.
pub fn login_page(
    c: &Shared,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let (token, cookie) = c.login_token();
    let mut res = bare(
        status,
        "Sign in",
        html! {
            @if let Some(n) = notice { p role="status" { (n) } }
            form method="post" action="/console/login" {
                input type="hidden" name="csrf" value=(token);
                label for="api_key" { "API key" }
                input #api_key type="password" name="api_key" autocomplete="off" required
                    aria-describedby=[error.map(|_| "api_key_error")];
                @if let Some(e) = error { p #api_key_error .error role="alert" { (e) } }
                p.muted { "An organization's admin or user key, or the platform root key or a platform key." }
                p { button type="submit" { "Sign in" } }
            }
        },
    );
    if let Some(cookie) = cookie {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// The session's CSRF token as a hidden field.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.s.csrf); }
}

/// A 303 to `to` (after a successful form).
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(&mut res);
    res
}

/// The error of a form, shown next to `field` when it is about that field.
pub fn field_error(err: Option<&Failure>, field: &str, id: &str) -> Markup {
    html! {
        @if let Some(m) = err.and_then(|e| e.on(field)) { p id=(id) .error role="alert" { (m) } }
    }
}

/// The error of a form not about one of its fields.
pub fn form_error(err: Option<&Failure>, fields: &[&str]) -> Markup {
    html! {
        @if let Some(e) = err.filter(|e| fields.iter().all(|f| e.on(f).is_none())) {
            p.error role="alert" { (e.message) }
        }
    }
}

/// A unix time as `YYYY-MM-DD HH:MM UTC` (the dialects' RFC 3339 form, shortened).
pub fn time(t: i64) -> String {
    let full = crate::dialects::rfc3339(t);
    format!(
        "{} UTC",
        full.get(..16).unwrap_or(&full).replacen('T', " ", 1)
    )
}

/// The unix time of midnight UTC at the start of `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        let t = parse_date("2026-12-05").unwrap_or_default();
        assert_eq!(time(t), "2026-12-05 00:00 UTC");
        assert_eq!(parse_date("2026-13-01"), None);
    }
}
