//! What operators meet on day one, on SQLite and PostgreSQL: a request id on every answer and
//! in every log line of its request, one access-log line per request (never a key), a 500's
//! log line naming route, organization and request id, a private SQLite file, failed
//! authentications limited per client address, and a cap on open connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orgiam_testkit::{Backend, TestServer, backend_tests, fresh_db, json, spawn_binary};
use sqlx::Connection as _;

const BIN: &str = env!("CARGO_BIN_EXE_orgiam");

backend_tests!(every_answer_has_a_request_id, |s: TestServer| async move {
    let get = |path: &'static str, key: Option<String>, id: Option<&'static str>| {
        let s = &s;
        async move {
            let mut req = s.http.get(format!("{}{path}", s.base));
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            if let Some(id) = id {
                req = req.header("x-request-id", id);
            }
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.headers()
                    .get("x-request-id")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }
    };
    let key = Some(s.admin_key.clone());
    // the client's id comes back, on successes and errors alike
    for (path, key, status) in [
        ("/v1/organization/roles", key.clone(), 200),
        ("/v1/organization/roles", None, 401),
        ("/v1/nowhere", key.clone(), 404),
        ("/healthz", None, 200),
        ("/compat/timbal/orgs/org_x/iam/roles", None, 401),
    ] {
        assert_eq!(
            get(path, key.clone(), Some("client-id-42")).await,
            (status, Some("client-id-42".to_owned())),
            "{path}"
        );
        // without one, or with one that is not sane, a fresh id is minted, each different
        let (st, a) = get(path, key.clone(), None).await;
        let (_, b) = get(path, key.clone(), Some("bad id with spaces")).await;
        assert_eq!(st, status);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.starts_with("req_") && b.starts_with("req_") && a != b,
            "{a} {b}"
        );
    }
});

/// Polls the binary's stderr for a line holding every needle.
async fn logged_line(server: &orgiam_testkit::BinaryServer, needles: &[&str]) -> String {
    for _ in 0..100 {
        if let Some(l) = server
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return l.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no log line with {needles:?} in:\n{}",
        server.stderr.lock().unwrap().join("\n")
    );
}

async fn logs_name_the_request(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let server = spawn_binary(BIN, &db, &[], &[]).await;
    let key = server.admin_key.clone().unwrap();
    let http = reqwest::Client::new();
    let org = http
        .get(format!("{}/v1/organization/users", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(org["data"][0]["id"].is_string());
    // an access line per request at info: method, route template, status, latency, org, id
    let res = http
        .get(format!("{}/v1/organization/roles?limit=5", server.base))
        .bearer_auth(&key)
        .header("x-request-id", "access-line-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = logged_line(&server, &["request_id=access-line-1", "status=200"]).await;
    for needle in [
        "INFO",
        "method=GET",
        "route=/v1/organization/roles",
        "latency_ms=",
        "org=org_",
    ] {
        assert!(line.contains(needle), "{needle} missing from {line}");
    }
    assert!(
        !line.contains("limit=5"),
        "the query string is logged: {line}"
    );
    // a refused request is logged too, with its template, not its ids
    let res = http
        .get(format!(
            "{}/v1/organization/users/user_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
            server.base
        ))
        .bearer_auth(&key)
        .header("x-request-id", "access-line-2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let line = logged_line(&server, &["request_id=access-line-2", "status=404"]).await;
    assert!(
        line.contains("route=/v1/organization/users/{user_id}"),
        "{line}"
    );

    // a 500: the audit table moved away under the running server
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_moved")
        .execute(&mut conn)
        .await
        .unwrap();
    let res = http
        .get(format!("{}/v1/organization/audit_logs", server.base))
        .bearer_auth(&key)
        .header("x-request-id", "boom-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["x-request-id"], "boom-1");
    let body = res.text().await.unwrap();
    assert!(!body.contains("audit_events"), "the cause leaked: {body}");
    let line = logged_line(&server, &["internal error", "request_id=boom-1"]).await;
    assert!(line.contains("route=/v1/organization/audit_logs"), "{line}");
    assert!(line.contains("org=org_"), "{line}");
    assert!(line.contains("audit_events"), "the cause is logged: {line}");
    sqlx::query("ALTER TABLE audit_events_moved RENAME TO audit_events")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    // no key ever reaches the log
    let all = server.stderr.lock().unwrap().join("\n");
    assert!(
        !all.contains(&key) && !all.contains("sk-admin-"),
        "a key in the log"
    );

    // the SQLite file and its -wal and -shm are the owner's alone
    #[cfg(unix)]
    if backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt as _;
        let path = db.url.trim_start_matches("sqlite://").to_owned();
        for f in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f} is {mode:o}");
        }
    }
    server.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_the_request_sqlite() {
    logs_name_the_request(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_the_request_postgres() {
    logs_name_the_request(Backend::Postgres).await;
}

async fn failed_authentications_are_limited(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let s = TestServer::start_on(db, |c| {
        c.auth_failures_per_minute = 6; // one every 10 s
        c.auth_failure_burst = 5;
    })
    .await;
    let status = |key: Option<&'static str>, good: bool| {
        let s = &s;
        async move {
            let mut req = s.http.get(format!("{}/v1/organization/roles", s.base));
            if good {
                req = req.bearer_auth(&s.admin_key);
            } else if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let res = req.send().await.unwrap();
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            (res.status().as_u16(), retry)
        }
    };
    // no key at all guesses nothing: not counted
    for _ in 0..20 {
        assert_eq!(status(None, false).await.0, 401);
    }
    assert_eq!(status(None, true).await.0, 200);
    // a burst of wrong keys, then 429s with Retry-After, for every request of the address
    let wrong = "sk-admin-wrongwrongwrongwrongwrongwrongwrongwro";
    for _ in 0..5 {
        assert_eq!(status(Some(wrong), false).await.0, 401);
    }
    let (st, retry) = status(Some(wrong), false).await;
    assert_eq!(st, 429);
    assert!(retry.is_some_and(|r| (1..=10).contains(&r)), "{retry:?}");
    let (st, _) = status(None, true).await;
    assert_eq!(st, 429, "the address is refused until its budget refills");
    // other families answer in their own shape
    let res = s
        .http
        .get(format!(
            "{}/compat/aitronos/v1/organizations/{}/roles",
            s.base, s.org_id
        ))
        .header("x-api-key", &s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    // operator routes are not limited
    let res = s
        .http
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_sqlite() {
    failed_authentications_are_limited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_postgres() {
    failed_authentications_are_limited(Backend::Postgres).await;
}

async fn open_connections_are_capped(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let s = TestServer::start_on(db, |c| c.max_connections = 2).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let idle1 = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let idle2 = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/healthz", s.base);
    assert!(
        quick.get(&url).send().await.is_err(),
        "a third connection was served while two were open"
    );
    drop(idle1);
    drop(idle2);
    let mut served = false;
    for _ in 0..20 {
        if let Ok(r) = quick.get(&url).send().await {
            assert_eq!(r.status(), 200);
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "connections are served again once others close");
    let json = s.get("/v1/organization/roles").await.expect(200);
    assert_eq!(json["object"], json!("list"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped_sqlite() {
    open_connections_are_capped(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped_postgres() {
    open_connections_are_capped(Backend::Postgres).await;
}

async fn generate_refuses_a_used_database(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    // a server's first start made an organization here
    let s = TestServer::start_on(db, |_| {}).await;
    let before = orgiam_testkit::db_scalar(&s.db.url, "SELECT COUNT(*) FROM users").await;
    let out = tokio::process::Command::new(BIN)
        .args([
            "dev",
            "generate",
            "--database",
            &s.db.url,
            "--size",
            "S",
            "--seed",
            "1",
        ])
        .env_remove("ORGIAM_LOG")
        .output()
        .await
        .unwrap();
    assert!(
        !out.status.success(),
        "generate into a used database succeeded"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already has organizations"),
        "no clear error: {stderr}"
    );
    // nothing was written
    assert_eq!(
        orgiam_testkit::db_scalar(&s.db.url, "SELECT COUNT(*) FROM users").await,
        before
    );
    assert_eq!(
        orgiam_testkit::db_scalar(&s.db.url, "SELECT COUNT(*) FROM organizations").await,
        1
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_refuses_a_used_database_sqlite() {
    generate_refuses_a_used_database(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_refuses_a_used_database_postgres() {
    generate_refuses_a_used_database(Backend::Postgres).await;
}
