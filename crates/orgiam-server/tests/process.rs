//! The real `orgiam` binary as an operator runs it: SIGTERM lets an in-flight request finish
//! and refuses new connections; SIGKILL under 8 concurrent writers loses no acknowledged
//! write, on SQLite (WAL, `synchronous=FULL`) and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orgiam_testkit::{Backend, TestDb, fresh_db, json, spawn_binary};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BIN: &str = env!("CARGO_BIN_EXE_orgiam");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_in_flight_request_and_refuses_new_connections() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let mut srv = spawn_binary(BIN, &db, &[], &[]).await;
    let key = srv
        .admin_key
        .clone()
        .expect("a fresh database prints a key");
    // a request whose body is still being sent when the signal arrives
    let body = json!({"role_name": "in flight", "permissions": ["api.users.read"]}).to_string();
    let mut tcp = tokio::net::TcpStream::connect(&srv.addr).await.unwrap();
    // a first, whole request on the same connection proves the server has accepted it
    let ping = format!("GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n", srv.addr);
    tcp.write_all(ping.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .expect("the health answer has a content-length");
            if seen.len() >= end + 4 + len {
                assert_eq!(seen.len(), end + 4 + len, "one answer, nothing more");
                break;
            }
        }
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        srv.addr,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body.as_bytes()[..10]).await.unwrap();
    // time for the server to read the head and start on the body, even on a loaded machine
    tokio::time::sleep(Duration::from_millis(1000)).await;
    srv.terminate();
    let mut logged = false;
    for _ in 0..200 {
        if srv.logged("shutting down") {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(logged, "the server logs that it is shutting down");
    // new connections are refused while the old request is still open
    let mut refused = false;
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(&srv.addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(refused, "a new connection is refused after SIGTERM");
    assert!(
        srv.child.try_wait().unwrap().is_none(),
        "the process waits for its in-flight request"
    );
    // the in-flight request completes normally
    tcp.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("the answer arrives")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"in flight\""), "{answer}");
    assert!(srv.wait().await.success(), "a clean exit after SIGTERM");
    // and it was committed: a restarted server has it
    let srv = spawn_binary(BIN, &db, &[], &[]).await;
    let roles = get(&srv.base, &key, "/v1/organization/roles?limit=1000").await;
    assert!(
        roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "in flight"),
        "{roles}"
    );
    srv.kill9().await;
}

async fn get(base: &str, key: &str, path: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every group name the server holds, page by page.
async fn all_groups(base: &str, key: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut after = String::new();
    loop {
        let page = get(
            base,
            key,
            &format!("/v1/organization/groups?limit=1000{after}"),
        )
        .await;
        for g in page["data"].as_array().unwrap() {
            names.insert(g["name"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) if page["has_more"] == true => after = format!("&after={n}"),
            _ => return names,
        }
    }
}

async fn acknowledged_writes_survive_sigkill(db: TestDb) {
    let srv = spawn_binary(BIN, &db, &[], &[]).await;
    let key = srv
        .admin_key
        .clone()
        .expect("a fresh database prints a key");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, base, key, acked) = (http.clone(), srv.base.clone(), key.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("writer {w} group {i}");
                let res = http
                    .post(format!("{base}/v1/organization/groups"))
                    .bearer_auth(&key)
                    .json(&json!({ "name": name }))
                    .send()
                    .await;
                let Ok(res) = res else { return };
                if res.status() != 200 {
                    return;
                }
                // acknowledged only once the whole answer is in
                let Ok(body) = res.json::<Value>().await else {
                    return;
                };
                assert_eq!(body["name"], name.as_str());
                acked.lock().unwrap().push(name);
            }
        }));
    }
    // kill in the middle of the stream, once a fair number of writes are acknowledged
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if acked.lock().unwrap().len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.kill9().await;
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 50,
        "only {} writes before the kill",
        acked.len()
    );
    let srv = spawn_binary(BIN, &db, &[], &[]).await;
    assert!(
        srv.admin_key.is_none(),
        "a used database is not bootstrapped again"
    );
    let found = all_groups(&srv.base, &key).await;
    let lost: Vec<&String> = acked.iter().filter(|n| !found.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    // the server is usable after the crash
    let res = http
        .post(format!("{}/v1/organization/groups", srv.base))
        .bearer_auth(&key)
        .json(&json!({ "name": "after the crash" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    srv.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_sqlite() {
    acknowledged_writes_survive_sigkill(fresh_db(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_postgres() {
    if let Some(db) = fresh_db(Backend::Postgres).await {
        acknowledged_writes_survive_sigkill(db).await;
    }
}

/// A request with a bearer key; `(status, body)`.
async fn call(
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_even_at_trace_level() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let mut srv = spawn_binary(
        BIN,
        &db,
        &["--rate-limit-per-second", "1", "--rate-limit-burst", "100"],
        &[("ORGIAM_LOG", "trace")],
    )
    .await;
    let base = srv.base.clone();
    let boot = srv.admin_key.clone().unwrap();
    let org = get(&base, &boot, "/v1/organization/users?limit=1").await;
    assert!(org["data"].is_array());
    let mut secrets = vec![orgiam_testkit::ROOT_KEY.to_owned()];
    // every route that makes a secret, and each secret used, refused and revoked
    let (st, other) = call(
        &base,
        "POST",
        "/v1/organizations",
        orgiam_testkit::ROOT_KEY,
        Some(json!({"name": "Other", "owner_email": "boss@other.example", "owner_name": "Boss"})),
    )
    .await;
    assert_eq!(st, 200, "{other}");
    let other_key = other["admin_api_key"]["value"].as_str().unwrap().to_owned();
    secrets.push(other_key.clone());
    let (st, admin) = call(
        &base,
        "POST",
        "/v1/organization/admin_api_keys",
        &boot,
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(st, 200, "{admin}");
    let admin_key = admin["value"].as_str().unwrap().to_owned();
    secrets.push(admin_key.clone());
    let (st, user) = call(
        &base,
        "POST",
        "/v1/organization/users",
        &admin_key,
        Some(json!({"email": "tool@example.com", "name": "Tool", "role": "member"})),
    )
    .await;
    assert_eq!(st, 200, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (st, uk) = call(
        &base,
        "POST",
        &format!("/v1/organization/users/{user_id}/api_keys"),
        &boot,
        Some(json!({"name": "tool"})),
    )
    .await;
    assert_eq!(st, 200, "{uk}");
    let user_key = uk["value"].as_str().unwrap().to_owned();
    secrets.push(user_key.clone());
    let (st, inv) = call(
        &base,
        "POST",
        "/v1/organization/invites",
        &boot,
        Some(json!({"email": "new@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(st, 200, "{inv}");
    let token = inv["token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());
    let accept = json!({"token": token, "name": "New"});
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/invites/accept"))
        .json(&accept)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/invites/accept"))
        .json(&accept)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "a used token is refused");
    let bogus = "sk-admin-bogus0123456789abcdefghijklmnopqrstuvwxyzABCDEF".to_owned();
    secrets.push(bogus.clone());
    let org_id = other["id"].as_str().unwrap().to_owned();
    for key in [&admin_key, &user_key, &other_key, &bogus] {
        for path in [
            "/v1/organization/roles".to_owned(),
            format!("/compat/timbal/orgs/{org_id}/iam/roles"),
            format!("/compat/fiddler/roles/{org_id}"),
        ] {
            let _ = call(&base, "GET", &path, key, None).await;
        }
        let _ = reqwest::Client::new()
            .get(format!(
                "{base}/compat/aitronos/v1/organizations/{org_id}/roles"
            ))
            .header("x-api-key", key.as_str())
            .send()
            .await
            .unwrap();
        let _ = call(
            &base,
            "POST",
            "/v1/organization/roles",
            key,
            Some(json!({"role_name": 1})),
        )
        .await;
    }
    // revoked keys are refused
    let (st, _) = call(
        &base,
        "DELETE",
        &format!(
            "/v1/organization/admin_api_keys/{}",
            admin["id"].as_str().unwrap()
        ),
        &boot,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        call(&base, "GET", "/v1/organization/roles", &admin_key, None)
            .await
            .0,
        401
    );
    // a throttled key
    let mut throttled = false;
    for _ in 0..200 {
        if call(&base, "GET", "/v1/organization/roles", &other_key, None)
            .await
            .0
            == 429
        {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
    srv.terminate();
    assert!(srv.wait().await.success());
    let stderr = srv.stderr.lock().unwrap().join("\n");
    let stdout = srv.stdout.lock().unwrap().join("\n");
    assert!(
        stderr.lines().count() > 100,
        "trace logging is on: {stderr}"
    );
    assert!(stderr.contains("request"), "requests are logged");
    for secret in &secrets {
        let digest = orgiam_core::keys::hash(secret);
        for (text, name) in [(&stderr, "stderr"), (&stdout, "stdout")] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret ({}…) is in {name}",
                &secret[..12]
            );
            assert!(
                !text.contains(&secret[secret.len() - 24..]),
                "part of a secret ({}…) is in {name}",
                &secret[..12]
            );
            assert!(!text.contains(&digest), "a secret's digest is in {name}");
            assert!(
                !text.contains(&digest[..16]),
                "a secret's digest prefix is in {name}"
            );
        }
    }
    // the bootstrap key is printed once on stdout, by design, and never logged
    assert_eq!(
        stdout.matches(boot.as_str()).count(),
        2,
        "the key line and the curl hint"
    );
    assert!(!stderr.contains(boot.as_str()));
    assert!(!stderr.contains(&orgiam_core::keys::hash(&boot)));
}
