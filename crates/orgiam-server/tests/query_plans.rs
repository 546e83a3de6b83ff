//! Every read query the server issues uses an index: no full scan of a table that grows with
//! the data.
//!
//! The queries are not listed by hand: the server runs with statement logging on, a workload
//! calls every GET route of `/openapi.json` (and follows one keyset page of each list, and
//! makes a write so that the engine catches up from the change log), and every distinct
//! `SELECT` the store sent is collected from the `sqlx::query` events. A new query on any
//! served route is therefore planned here without anyone adding it to a list.
//!
//! A query with no condition that reads at most one row (`… LIMIT 1`) is not a full scan and
//! is let through.
//!
//! Plans: SQLite's `EXPLAIN QUERY PLAN` needs no statistics; a `SCAN` of a large table (with or
//! without an index: `SCAN … USING INDEX` reads the whole index) fails. PostgreSQL plans by
//! cost, and on size S every table is small enough that a sequential scan is the cheapest
//! plan, which would say nothing about size L; so the plan is asked with
//! `enable_seqscan = off` (a `Seq Scan` then remains only where no index can serve the query)
//! and `plan_cache_mode = force_generic_plan` (the plan for unknown parameter values, as the
//! server's prepared statements get).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use orgiam_server::ServeConfig;
use orgiam_server::generate::{Size, generate};
use orgiam_store::{Store, StoreOptions};
use orgiam_testkit::{Backend, DOMAIN_TABLES, fresh_db, json};
use serde_json::Value;
use sqlx::{Connection as _, Row as _};
use tracing_subscriber::layer::SubscriberExt as _;

static CAPTURED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

struct Capture;

#[derive(Default)]
struct Fields {
    summary: String,
    statement: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let sql = if f.statement.trim().is_empty() {
            f.summary
        } else {
            f.statement
        };
        let sql = sql.trim().to_owned();
        let head = sql.get(..6).unwrap_or("").to_ascii_uppercase();
        // reads, and writes that find their rows with a query (the webhook worker's claim)
        if head == "SELECT" || (head == "UPDATE" && sql.contains(" IN (SELECT")) {
            CAPTURED.lock().unwrap().insert(sql);
        }
    }
}

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// Highest `$n` in `sql`.
fn param_count(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[i + 1..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    max
}

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> (u16, Value) {
    let res = http
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn post(http: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> Value {
    let res = http
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "POST {path}");
    res.json().await.unwrap()
}

fn first_id(body: &Value) -> String {
    body["data"][0]["id"].as_str().unwrap().to_owned()
}

/// Calls every GET route with ids from the generated data.
async fn workload(base: &str, org: &orgiam_server::generate::GeneratedOrg) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let key = org.admin_key.as_str();
    let user = org.sample_user_id.as_str();
    let (_, roles) = get(
        &http,
        base,
        key,
        &format!("/v1/organization/users/{user}/roles"),
    )
    .await;
    let role = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["predefined_role"] == false)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .unwrap();
    let (_, groups) = get(&http, base, key, "/v1/organization/groups").await;
    let group = first_id(&groups);
    let (_, projects) = get(&http, base, key, "/v1/organization/projects").await;
    let project = first_id(&projects);
    // give the group access to the project, so that project group routes find something
    post(
        &http,
        base,
        key,
        &format!("/v1/organization/projects/{project}/groups"),
        json!({ "group_id": group, "role": "role_00000000000000000000000006" }),
    )
    .await;
    let (_, keys) = get(&http, base, key, "/v1/organization/admin_api_keys").await;
    let key_id = first_id(&keys);
    let invite = post(
        &http,
        base,
        key,
        "/v1/organization/invites",
        json!({ "email": "invitee@example.com", "role": "reader" }),
    )
    .await;
    let invite = invite["id"].as_str().unwrap().to_owned();
    // a reserved name that never resolves: deliveries are queued and attempted, never sent
    let webhook = post(
        &http,
        base,
        key,
        "/v1/organization/webhooks",
        json!({ "url": "https://hooks.example.invalid/plans" }),
    )
    .await;
    let webhook = webhook["id"].as_str().unwrap().to_owned();
    let (_, deliveries) = get(
        &http,
        base,
        key,
        &format!("/v1/organization/webhooks/{webhook}/deliveries"),
    )
    .await;
    let delivery = first_id(&deliveries);
    let values: BTreeMap<&str, String> = [
        ("user_id", user.to_owned()),
        ("role_id", role),
        ("group_id", group),
        ("project_id", project),
        ("key_id", key_id),
        ("invite_id", invite),
        ("permission", "documents.read".to_owned()),
        ("org_id", org.org_id.clone()),
        ("webhook_id", webhook),
        ("delivery_id", delivery),
    ]
    .into_iter()
    .collect();
    let (_, doc) = get(&http, base, key, "/openapi.json").await;
    let mut called = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if ops.get("get").is_none() {
            continue;
        }
        let mut concrete = path.clone();
        for (name, v) in &values {
            concrete = concrete.replace(&format!("{{{name}}}"), v);
        }
        assert!(
            !concrete.contains('{'),
            "no value for a parameter of {path}"
        );
        let (status, body) = get(&http, base, key, &format!("{concrete}?limit=2")).await;
        assert!(status < 500, "GET {concrete}: {status} {body}");
        called += 1;
        // one keyset page further
        let last = body["last_id"]
            .as_str()
            .or_else(|| body["next"].as_str())
            .map(str::to_owned);
        if let Some(after) = last {
            let (status, _) = get(
                &http,
                base,
                key,
                &format!("{concrete}?limit=2&after={after}"),
            )
            .await;
            assert!(status < 500, "GET {concrete} page 2: {status}");
        }
    }
    assert!(called > 30, "only {called} GET routes");
    // a write, then a read: the engine catches up from the change log
    post(
        &http,
        base,
        key,
        &format!("/v1/organization/users/{user}/roles"),
        json!({ "role_id": values["role_id"] }),
    )
    .await;
    get(
        &http,
        base,
        key,
        &format!("/v1/organization/users/{user}/permissions"),
    )
    .await;
    // the poller's revision query
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// The plan's lines that scan a large table whole.
async fn full_scans(url: &str, backend: Backend, sql: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let n = param_count(sql);
    let lines: Vec<String> = match backend {
        Backend::Sqlite => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut q = sqlx::query(&explain);
            for _ in 0..n {
                q = q.bind(None::<String>);
            }
            q.fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN failed ({e}): {sql}"))
                .iter()
                .map(|r| r.try_get::<String, _>(3).unwrap())
                .collect()
        }
        Backend::Postgres => {
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("SET plan_cache_mode = force_generic_plan")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::raw_sql(&format!("PREPARE planned AS {sql}"))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("PREPARE failed ({e}): {sql}"));
            let args = vec!["NULL"; n].join(", ");
            let explain = if n == 0 {
                "EXPLAIN EXECUTE planned".to_owned()
            } else {
                format!("EXPLAIN EXECUTE planned({args})")
            };
            let rows = sqlx::raw_sql(&explain)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("EXPLAIN failed ({e}): {sql}"));
            rows.iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect()
        }
    };
    let _ = conn.close().await;
    lines
        .into_iter()
        .filter(|l| {
            let l = l.trim().trim_start_matches("->").trim();
            // tables that grow with the data: the domain's and the engine's change log
            DOMAIN_TABLES
                .iter()
                .chain(&["engine_changes", "webhook_endpoints", "webhook_deliveries"])
                .any(|t| match backend {
                    Backend::Sqlite => {
                        l.starts_with(&format!("SCAN {t} "))
                            || l == format!("SCAN {t}")
                            || l.starts_with(&format!("SCAN {t}\u{20}USING"))
                    }
                    Backend::Postgres => l.starts_with(&format!("Seq Scan on {t} ")),
                })
        })
        .collect()
}

async fn every_read_uses_an_index(backend: Backend) {
    // the capture is process-wide: one backend at a time, each starting from an empty set,
    // so that neither test explains the other engine's statements
    static SERIAL: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    let _serial = SERIAL
        .get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await;
    CAPTURED.lock().unwrap().clear();
    install_capture();
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let store = Store::open(&StoreOptions::new(db.url.clone()))
        .await
        .unwrap();
    let report = generate(&store, Size::S, 3, false).await.unwrap();
    store.close().await;
    if backend == Backend::Postgres {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let mut config = ServeConfig::new(db.url.clone());
    config.listen = "127.0.0.1:0".into();
    config.log_statements = true;
    let server = orgiam_server::start(config).await.unwrap();
    workload(&format!("http://{}", server.addr), &report.orgs[2]).await;
    server.shutdown().await;
    let queries: Vec<String> = CAPTURED.lock().unwrap().iter().cloned().collect();
    assert!(
        queries.len() > 40,
        "only {} queries captured",
        queries.len()
    );
    let mut failures = Vec::new();
    for sql in &queries {
        // a read of at most one row with no condition (the start-up "any organization?")
        if sql.ends_with(" LIMIT 1") && !sql.contains(" WHERE ") {
            continue;
        }
        let scans = full_scans(&db.url, backend, sql).await;
        if !scans.is_empty() {
            failures.push(format!("{}\n    {sql}", scans.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries scan a large table:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_uses_an_index_on_sqlite() {
    every_read_uses_an_index(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_uses_an_index_on_postgres() {
    every_read_uses_an_index(Backend::Postgres).await;
}
