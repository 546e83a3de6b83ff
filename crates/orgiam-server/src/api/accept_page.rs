//! The page an invitation link opens: `GET /invites/accept?token=…` serves a small HTML form
//! in the console's frame (its embedded stylesheet, no script) that posts the token and a
//! display name back to `POST /invites/accept` (form-encoded), which accepts the invitation
//! through the same store call as `POST /v1/invites/accept` and shows the outcome as a page.
//!
//! Guarantees: every value shown is HTML-escaped; the token travels only in the form body of
//! the post; failures are the JSON route's statuses (4xx) with its message.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use orgiam_core::Error;

use super::invites::ACCEPT_PAGE;
use crate::error::{public, status_of};
use crate::state::AppState;

/// Escapes text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (already escaped), with `status`: the console's frame and
/// stylesheet, with its headers (never cached, own-origin CSP, no framing).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    crate::console::view::bare(status, title, maud::PreEscaped(body.to_owned()))
}

/// The value of `name` in a form-encoded string.
fn field(encoded: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(encoded.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /invites/accept?token=…`: the form that accepts the invitation.
pub async fn show(RawQuery(query): RawQuery) -> Response {
    let token = query.as_deref().and_then(|q| field(q, "token"));
    let token_field = match &token {
        Some(t) => format!(
            "<input type=\"hidden\" name=\"token\" value=\"{}\">",
            escape(t)
        ),
        None => "<p><label>Invitation token <input name=\"token\" required \
                 autocomplete=\"off\"></label></p>"
            .to_owned(),
    };
    let body = format!(
        "<p>You have been invited to join an organization. Choose the name its members will \
         see, then accept.</p>\n<form method=\"post\" action=\"{ACCEPT_PAGE}\">\n{token_field}\n\
         <p><label>Your name <input name=\"name\" maxlength=\"256\" autocomplete=\"name\">\
         </label></p>\n<p><button type=\"submit\">Accept the invitation</button></p>\n</form>"
    );
    page(StatusCode::OK, "Accept your invitation", &body)
}

/// `POST /invites/accept` (form-encoded `token`, `name`): accepts and shows the outcome.
pub async fn submit(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return failure(Error::invalid("body", "the form is not valid UTF-8"));
    };
    let Some(token) = field(text, "token").filter(|t| !t.is_empty()) else {
        return failure(Error::invalid(
            "token",
            "the form carries no invitation token",
        ));
    };
    let name = field(text, "name").filter(|n| !n.trim().is_empty());
    match state.store.accept_invite(&token, name.as_deref()).await {
        Ok((accepted, _)) => {
            let who = accepted
                .member
                .name
                .clone()
                .unwrap_or_else(|| accepted.member.email.clone());
            let body = format!(
                "<p>Welcome, {}. You are now a member of organization <code>{}</code> as \
                 <strong>{}</strong>.</p>",
                escape(&who),
                escape(accepted.org_id.as_str()),
                escape(accepted.member.role.name()),
            );
            page(StatusCode::OK, "Invitation accepted", &body)
        }
        Err(e) => failure(e),
    }
}

fn failure(e: Error) -> Response {
    let e = public(e);
    let body = format!(
        "<p>The invitation could not be accepted: {}</p>\n<p><a href=\"{ACCEPT_PAGE}\">Try \
         again</a></p>",
        escape(&e.message)
    );
    page(status_of(e.kind), "Invitation not accepted", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn reads_form_fields() {
        assert_eq!(
            field("token=a%2Bb&name=Ada+L", "token").as_deref(),
            Some("a+b")
        );
        assert_eq!(
            field("token=a&name=Ada+L", "name").as_deref(),
            Some("Ada L")
        );
        assert_eq!(field("name=x", "token"), None);
    }
}
