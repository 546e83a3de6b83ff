//! Limits every route shares: the per-key rate limit (429 with `Retry-After`, in each
//! family's error shape), the request timeout (503 in our shape, nothing written) and the
//! security headers on every family's answers, successes and errors alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orgiam_server::ServeConfig;
use orgiam_testkit::{Backend, TestServer, db_scalar, fresh_db, json};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn limited(backend: Backend, per_second: u32, burst: u32) -> Option<TestServer> {
    let db = fresh_db(backend).await?;
    Some(
        TestServer::start_on(db, |c| {
            c.rate_limit_per_second = per_second;
            c.rate_limit_burst = burst;
        })
        .await,
    )
}

/// `(status, retry-after, body)` of a GET with the key in `header`.
async fn send(s: &TestServer, path: &str, header: &str, key: &str) -> (u16, Option<String>, Value) {
    let res = s.get_with_key_in(path, header, key).await;
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

#[test]
fn the_default_limits_are_generous() {
    let c = ServeConfig::new("sqlite://x.db");
    assert!(c.rate_limit_per_second >= 1000);
    assert!(c.rate_limit_burst >= c.rate_limit_per_second);
    assert_eq!(c.request_timeout, Some(Duration::from_secs(30)));
}

/// Sends until the key is throttled (a rate of one per second refills slowly, so a few tries
/// suffice); the 429's `Retry-After` and body.
async fn throttled(s: &TestServer, path: &str, header: &str, key: &str) -> (Option<String>, Value) {
    for _ in 0..5 {
        let (status, retry, body) = send(s, path, header, key).await;
        if status == 429 {
            return (retry, body);
        }
        assert_eq!(status, 200, "{path}: {body}");
    }
    panic!("{path} was never throttled");
}

async fn rate_limit_answers_429_in_each_shape(backend: Backend) {
    let Some(s) = limited(backend, 1, 2).await else {
        return;
    };
    let (_, _, other_key) = s.new_org("Other", "other@example.com").await;
    let org = s.org_id.clone();
    let key = s.admin_key.clone();
    let roles = "/v1/organization/roles";
    for _ in 0..2 {
        assert_eq!(send(&s, roles, "authorization", &key).await.0, 200);
    }
    // native: OpenAI's shape, retryable, with Retry-After
    let mut res = None;
    for _ in 0..5 {
        let r = s
            .http
            .get(format!("{}{roles}", s.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            res = Some(r);
            break;
        }
    }
    let res = res.expect("the third request within a second is throttled");
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.headers()["x-should-retry"], "true");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // the same key on each dialect: that dialect's envelope, with Retry-After
    let (retry, b) = throttled(
        &s,
        &format!("/compat/timbal/orgs/{org}/iam/roles"),
        "authorization",
        &key,
    )
    .await;
    assert_eq!(retry.as_deref(), Some("1"), "{b}");
    assert_eq!(b["code"], "rate_limited", "{b}");
    let (retry, b) = throttled(
        &s,
        &format!("/compat/aitronos/v1/organizations/{org}/roles"),
        "x-api-key",
        &key,
    )
    .await;
    assert_eq!(retry.as_deref(), Some("1"), "{b}");
    assert_eq!(b["success"], false, "{b}");
    assert_eq!(b["error"]["code"], "RATE_LIMIT_EXCEEDED", "{b}");
    assert_eq!(b["error"]["status"], 429, "{b}");
    let (retry, b) = throttled(
        &s,
        &format!("/compat/fiddler/roles/{org}"),
        "authorization",
        &key,
    )
    .await;
    assert_eq!(retry.as_deref(), Some("1"), "{b}");
    assert_eq!(b["status"], "FAILURE", "{b}");
    // another key has its own bucket
    assert_eq!(send(&s, roles, "authorization", &other_key).await.0, 200);
    // a refused write writes nothing
    let mut refused = false;
    for i in 0..5 {
        let events = db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await;
        let a = s
            .post(
                roles,
                json!({"role_name": format!("throttled {i}"), "permissions": []}),
            )
            .await;
        if a.status == 429 {
            assert_eq!(
                db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await,
                events
            );
            refused = true;
            break;
        }
        assert_eq!(a.status, 200);
    }
    assert!(refused);
    // after Retry-After the key is admitted again
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&s, roles, "authorization", &key).await.0, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_in_each_shape_sqlite() {
    rate_limit_answers_429_in_each_shape(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_in_each_shape_postgres() {
    rate_limit_answers_429_in_each_shape(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_rate_disables_the_limit() {
    let s = limited(Backend::Sqlite, 0, 0).await.unwrap();
    let key = s.admin_key.clone();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (http, url, key) = (
            s.http.clone(),
            format!("{}/v1/organization/roles?limit=1", s.base),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let st = http
                    .get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(st, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_timeout_is_a_503_in_our_shape_and_writes_nothing() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let s = TestServer::start_on(db, |c| c.request_timeout = Some(Duration::from_secs(1))).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let body = json!({"role_name": "slow", "permissions": []}).to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        s.admin_key,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body.as_bytes()[..5]).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("the server answers")
        .unwrap();
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("\"type\":\"server_error\""), "{answer}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(
        db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM roles WHERE name_key = 'slow'"
        )
        .await,
        0
    );
    // quick requests are unaffected
    s.get("/v1/organization/roles").await.expect(200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_family_and_every_outcome() {
    let s = limited(Backend::Sqlite, 1000, 10_000).await.unwrap();
    let org = s.org_id.clone();
    let key = s.admin_key.clone();
    let cases: Vec<(&str, String, &str, &str, u16)> = vec![
        (
            "GET",
            "/v1/organization/roles".into(),
            "authorization",
            key.as_str(),
            200,
        ),
        (
            "GET",
            "/v1/organization/roles/role_01ZZZZZZZZZZZZZZZZZZZZZZZZ".into(),
            "authorization",
            key.as_str(),
            404,
        ),
        (
            "GET",
            "/v1/organization/roles".into(),
            "authorization",
            "sk-wrong",
            401,
        ),
        (
            "GET",
            "/v1/nowhere".into(),
            "authorization",
            key.as_str(),
            404,
        ),
        ("GET", "/healthz".into(), "x-none", "", 200),
        ("GET", "/openapi.json".into(), "x-none", "", 200),
        ("GET", "/docs".into(), "x-none", "", 200),
        (
            "GET",
            format!("/compat/timbal/orgs/{org}/iam/roles"),
            "authorization",
            key.as_str(),
            200,
        ),
        (
            "GET",
            format!("/compat/timbal/orgs/{org}/iam/roles"),
            "authorization",
            "sk-wrong",
            401,
        ),
        (
            "GET",
            "/compat/timbal/orgs/org_01ZZZZZZZZZZZZZZZZZZZZZZZZ/iam/roles".into(),
            "authorization",
            key.as_str(),
            403,
        ),
        (
            "GET",
            format!("/compat/aitronos/v1/organizations/{org}/roles"),
            "x-api-key",
            key.as_str(),
            200,
        ),
        (
            "GET",
            format!("/compat/aitronos/v1/organizations/{org}/roles"),
            "x-none",
            "",
            401,
        ),
        (
            "GET",
            format!("/compat/fiddler/roles/{org}"),
            "authorization",
            key.as_str(),
            200,
        ),
        (
            "GET",
            "/compat/fiddler/roles/org_01ZZZZZZZZZZZZZZZZZZZZZZZZ".into(),
            "authorization",
            key.as_str(),
            403,
        ),
        (
            "POST",
            "/v1/organization/roles".into(),
            "authorization",
            key.as_str(),
            400,
        ),
    ];
    for (method, path, header, value, status) in cases {
        let value = if header == "authorization" {
            format!("Bearer {value}")
        } else {
            value.to_owned()
        };
        let res = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.base))
            .header(header, value)
            .header("content-type", "application/json")
            .body(if method == "POST" { "{" } else { "" })
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{method} {path}");
        let h = res.headers();
        for (name, want) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(
                h.get(name).and_then(|v| v.to_str().ok()),
                Some(want),
                "{name} on {method} {path} ({status})"
            );
        }
    }
    s.stop().await;
}

/// Reads one HTTP/1.1 response (headers and a `content-length` body) off `tcp`.
async fn read_response(tcp: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap();
        if n == 0 {
            return String::from_utf8_lossy(&buf).to_string();
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_before_its_body_arrives_leaves_the_connection_usable() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let member = s
        .post(
            "/v1/organization/users",
            json!({"email": "m@example.com", "name": "M", "role": "member"}),
        )
        .await
        .expect(200);
    let key = s
        .post(
            &format!(
                "/v1/organization/users/{}/api_keys",
                member["id"].as_str().unwrap()
            ),
            json!({"name": "m"}),
        )
        .await
        .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = json!({"role_name": "not mine to make", "permissions": []}).to_string();
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // the key lacks api.roles.write: the refusal is known before the body arrives
    tokio::time::sleep(Duration::from_millis(300)).await;
    tcp.write_all(body.as_bytes()).await.unwrap();
    let first = read_response(&mut tcp).await;
    assert!(first.starts_with("HTTP/1.1 403"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    // the same connection serves the next request
    let next = format!(
        "GET /v1/organization/roles HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\r\n",
        s.admin_key
    );
    tcp.write_all(next.as_bytes()).await.unwrap();
    let second = read_response(&mut tcp).await;
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "the connection was closed: {second:?}"
    );
    s.stop().await;
}
