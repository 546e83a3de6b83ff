//! Invitation links come from `--public-url` only, never from request headers, and lead to a
//! page a person can use: `GET /invites/accept?token=…` serves a self-contained form whose post
//! accepts the invitation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{Backend, TestServer, backend_tests, fresh_db, json};
use serde_json::Value;

/// Creates an invitation through a "proxy" that passes hostile forwarding headers.
async fn invite_via_hostile_proxy(s: &TestServer, email: &str) -> Value {
    let r = s
        .http
        .post(format!("{}/v1/organization/invites", s.base))
        .bearer_auth(&s.admin_key)
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": email, "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

backend_tests!(
    without_a_public_url_the_link_is_a_path_to_a_working_page,
    |s: TestServer| async move {
        let inv = invite_via_hostile_proxy(&s, "new@example.com").await;
        let token = inv["token"].as_str().unwrap();
        let url = inv["accept_url"].as_str().unwrap();
        assert_eq!(url, format!("/invites/accept?token={token}"));
        // the page: a form, no script, no external assets
        let page = s.http.get(format!("{}{url}", s.base)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form method=\"post\" action=\"/invites/accept\">"),
            "{html}"
        );
        assert!(
            html.contains(&format!("name=\"token\" value=\"{token}\"")),
            "{html}"
        );
        assert!(html.contains("name=\"name\""));
        for banned in ["<script", "src=", "http://", "https://", "style="] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
        // the only asset is the server's own stylesheet (same origin, embedded)
        for href in html.split("href=\"").skip(1) {
            assert!(href.starts_with('/'), "an external link in {html}");
        }
        // the form's post accepts, and shows the name escaped
        let post = |body: String| {
            let s = &s;
            async move {
                let r = s
                    .http
                    .post(format!("{}/invites/accept", s.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let (status, html) = post(format!("token={token}&name=Ada+%3Cb%3E")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Invitation accepted"), "{html}");
        assert!(
            html.contains("Ada &lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
        let listed = s
            .get("/v1/organization/users?emails[]=new@example.com")
            .await
            .expect(200);
        assert_eq!(listed["data"][0]["name"], "Ada <b>");
        assert_eq!(listed["data"][0]["role"], "member");
        // used again, or without a token: a 4xx page, nothing changes
        let (status, html) = post(format!("token={token}&name=Again")).await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("already been accepted"), "{html}");
        let (status, _) = post("name=Nobody".into()).await;
        assert_eq!(status, 400);
        let (status, _) = post("token=not-a-token".into()).await;
        assert_eq!(status, 404);
        // a page opened without a token asks for it
        let bare = s
            .http
            .get(format!("{}/invites/accept", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(bare.status(), 200);
        assert!(
            bare.text()
                .await
                .unwrap()
                .contains("name=\"token\" required")
        );
        // the JSON route is unchanged
        let inv = invite_via_hostile_proxy(&s, "json@example.com").await;
        s.call(
            "POST",
            "/v1/invites/accept",
            None,
            Some(json!({"token": inv["token"], "name": "J"})),
        )
        .await
        .expect(200);
    }
);

async fn with_public_url(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let s = TestServer::start_on(db, |c| {
        c.public_url = Some("https://iam.example.com/".into());
    })
    .await;
    let inv = invite_via_hostile_proxy(&s, "p@example.com").await;
    let token = inv["token"].as_str().unwrap();
    assert_eq!(
        inv["accept_url"],
        format!("https://iam.example.com/invites/accept?token={token}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_come_from_the_public_url_sqlite() {
    with_public_url(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_come_from_the_public_url_postgres() {
    with_public_url(Backend::Postgres).await;
}

#[test]
fn a_public_url_must_be_a_plain_http_url() {
    for bad in [
        "iam.example.com",
        "javascript:alert(1)",
        "https://",
        "https://x.example/?a=b",
        "https://x.example/\"><script>",
    ] {
        assert!(orgiam_server::public_url(Some(bad)).is_err(), "{bad}");
    }
    assert_eq!(
        orgiam_server::public_url(Some("https://iam.example.com/base/"))
            .unwrap()
            .as_deref(),
        Some("https://iam.example.com/base")
    );
    assert_eq!(orgiam_server::public_url(None).unwrap(), None);
}
