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
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        srv.addr,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    for _ in 0..400 {
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
