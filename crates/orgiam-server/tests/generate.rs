//! The data generator: size S on both engines, then a real server started on the result
//! answers for the generated organizations over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orgiam_server::ServeConfig;
use orgiam_server::generate::{Size, generate};
use orgiam_store::{Store, StoreOptions};
use orgiam_testkit::{Backend, TestDb, TestServer, db_scalar, fresh_db, json};

async fn generated_data_serves(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let store = Store::open(&StoreOptions::new(db.url.clone()))
        .await
        .unwrap();
    let report = generate(&store, Size::S, 7, false).await.unwrap();
    assert_eq!(report.orgs.len(), 10);
    let counts: std::collections::BTreeMap<_, _> =
        store.table_counts().await.unwrap().into_iter().collect();
    store.close().await;
    assert_eq!(counts["organizations"], 10);
    assert_eq!(counts["memberships"], 1_000);
    assert_eq!(counts["users"], 1_000);
    assert_eq!(counts["roles"], 7 + 10 * 25);
    assert_eq!(counts["org_groups"], 10 * 20);
    assert_eq!(counts["projects"], 10 * 10);
    assert_eq!(counts["api_keys"], 10);
    assert_eq!(counts["audit_events"], 10);
    // no change-log rows: no snapshot predates the generated organizations
    assert_eq!(counts["engine_changes"], 0);
    // every member has exactly one base role at organization level
    let base = db_scalar(
        &db.url,
        "SELECT COUNT(*) FROM role_assignments WHERE is_base = 1 AND project_id IS NULL",
    )
    .await;
    assert_eq!(base, 1_000);
    // the same seed gives the same ids (the keys' secrets aside)
    let again = fresh_db(backend).await.unwrap();
    let store2 = Store::open(&StoreOptions::new(again.url.clone()))
        .await
        .unwrap();
    let report2 = generate(&store2, Size::S, 7, false).await.unwrap();
    store2.close().await;
    let ids = |r: &orgiam_server::generate::Report| {
        r.orgs
            .iter()
            .map(|o| (o.org_id.clone(), o.sample_user_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&report), ids(&report2));

    let mut config = ServeConfig::new(db.url.clone());
    config.listen = "127.0.0.1:0".into();
    let server = orgiam_server::start(config).await.unwrap();
    assert!(
        server.bootstrap.is_none(),
        "a generated database is not bootstrapped"
    );
    let org = report.orgs[3].clone();
    let s = TestServer {
        base: format!("http://{}", server.addr),
        org_id: org.org_id.clone(),
        owner_id: org.owner_id.clone(),
        admin_key: org.admin_key.clone(),
        server: Some(server),
        db,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };

    // the sample user's roles: the base role, 1–3 direct custom roles, and group roles
    let user = &org.sample_user_id;
    let roles = s
        .get(&format!("/v1/organization/users/{user}/roles?limit=100"))
        .await
        .expect(200);
    let data = roles["data"].as_array().unwrap();
    assert!(data.len() >= 2, "base and direct roles: {roles}");
    assert!(
        data.iter()
            .any(|r| ["member", "reader", "admin"].contains(&r["name"].as_str().unwrap_or(""))),
        "a base role: {roles}"
    );
    assert!(
        data.iter()
            .any(|r| r["name"].as_str().is_some_and(|n| n.starts_with("Role "))),
        "a generated custom role: {roles}"
    );

    // checks answer from the snapshot built on first use: the owner holds everything, the
    // sample member cannot mint admin keys, another org's member is not found here
    let check =
        |user: String, permission: &str| json!({ "user_id": user, "permission": permission });
    let owner = s
        .post(
            "/v1/organization/permissions/check",
            check(org.owner_id.clone(), "documents.write"),
        )
        .await
        .expect(200);
    assert_eq!(owner["allowed"], true, "{owner}");
    let member = s
        .post(
            "/v1/organization/permissions/check",
            check(user.clone(), "api.admin_keys.write"),
        )
        .await
        .expect(200);
    assert_eq!(member["allowed"], false, "{member}");
    let stranger = s
        .post(
            "/v1/organization/permissions/check",
            check(
                report.orgs[4].sample_user_id.clone(),
                "api.organization.read",
            ),
        )
        .await;
    assert_eq!(stranger.status, 404, "{:?}", stranger.body);

    // the effective permissions agree with the role list: every permission has a source
    let perms = s
        .get(&format!("/v1/organization/users/{user}/permissions"))
        .await
        .expect(200);
    assert!(
        perms["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["permission"] == "api.organization.read"),
        "{perms}"
    );

    // a write on generated data bumps the generated revision and the engine sees it at once
    let direct = |r: &&serde_json::Value| {
        r["assignment_sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|src| src["principal_type"] == "user")
    };
    let role_id = data
        .iter()
        .filter(direct)
        .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with("Role ")))
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .unwrap();
    s.delete(&format!("/v1/organization/users/{user}/roles/{role_id}"))
        .await
        .expect(200);
    let after = s
        .get(&format!("/v1/organization/users/{user}/roles?limit=100"))
        .await
        .expect(200);
    assert!(
        !after["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(direct)
            .any(|r| r["id"] == role_id.as_str()),
        "{after}"
    );
    // the load's mark ended with its transactions: this ordinary write is in the change log
    let logged = db_scalar(
        &s.db.url,
        &format!(
            "SELECT COUNT(*) FROM engine_changes WHERE org_id = '{}' AND entity_id = '{user}'",
            org.org_id
        ),
    )
    .await;
    assert!(logged >= 1, "the write after the load logs its change");
    if backend == Backend::Sqlite {
        assert_eq!(
            db_scalar(&s.db.url, "SELECT COUNT(*) FROM bulk_load").await,
            0
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_s_serves_on_sqlite() {
    generated_data_serves(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_s_serves_on_postgres() {
    generated_data_serves(Backend::Postgres).await;
}

/// Generates S into a fresh database and starts a server on it with `budget`.
async fn serve_generated(
    backend: Backend,
    budget: u64,
) -> Option<(
    orgiam_server::Server,
    orgiam_server::generate::Report,
    TestDb,
)> {
    let db = fresh_db(backend).await?;
    let store = Store::open(&StoreOptions::new(db.url.clone()))
        .await
        .unwrap();
    let report = generate(&store, Size::S, 11, false).await.unwrap();
    store.close().await;
    let mut config = ServeConfig::new(db.url.clone());
    config.listen = "127.0.0.1:0".into();
    config.engine_memory_budget = budget;
    let server = orgiam_server::start(config).await.unwrap();
    Some((server, report, db))
}

async fn check(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    user: &str,
    permission: &str,
) -> bool {
    let res = http
        .post(format!("{base}/v1/organization/permissions/check"))
        .bearer_auth(key)
        .json(&json!({ "user_id": user, "permission": permission }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["allowed"].as_bool().unwrap()
}

/// Cold organizations are evicted under a small budget and rebuilt on next use, with the same
/// answers, including after a write made while they were evicted; start-up loads nothing.
async fn eviction_keeps_answers(backend: Backend) {
    // about two generated S organizations fit
    let one_org = 100 * 400 + 60_000;
    let Some((server, report, _db)) = serve_generated(backend, 2 * one_org).await else {
        return;
    };
    let (bytes, loaded, evicted) = server.engine.memory();
    assert_eq!(
        (bytes, loaded, evicted),
        (0, 0, 0),
        "start-up loads no snapshot"
    );
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    for o in &report.orgs {
        assert!(check(&http, &base, &o.admin_key, &o.owner_id, "documents.write").await);
        assert!(
            !check(
                &http,
                &base,
                &o.admin_key,
                &o.sample_user_id,
                "api.admin_keys.write"
            )
            .await
        );
    }
    let (bytes, loaded, evicted) = server.engine.memory();
    assert!(
        evicted >= 7,
        "{evicted} evictions, {loaded} loaded, {bytes} bytes"
    );
    assert!(loaded <= 3, "{loaded} loaded");
    assert!(bytes <= 2 * one_org, "{bytes} bytes over the budget");

    // the first organization was evicted long ago: change it, then ask again
    let o = &report.orgs[0];
    let res = http
        .post(format!("{base}/v1/organization/users/{}", o.sample_user_id))
        .bearer_auth(&o.admin_key)
        .json(&json!({ "role": "owner" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for o2 in report.orgs.iter().skip(1) {
        assert!(check(&http, &base, &o2.admin_key, &o2.owner_id, "api.users.read").await);
    }
    assert!(
        check(
            &http,
            &base,
            &o.admin_key,
            &o.sample_user_id,
            "api.admin_keys.write"
        )
        .await
    );
    assert!(check(&http, &base, &o.admin_key, &o.owner_id, "documents.write").await);
    assert!(server.engine.memory().2 > evicted, "evictions went on");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_answers_on_sqlite() {
    eviction_keeps_answers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_answers_on_postgres() {
    eviction_keeps_answers(Backend::Postgres).await;
}

/// Many cold loads at once on a small pool: each load may read on three connections, and one
/// waiting for its second while holding its first could, with enough of them, hold the whole
/// pool and wait forever. Ten organizations loaded together on a pool of four all finish.
async fn concurrent_cold_loads_on_a_small_pool(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let mut options = StoreOptions::new(db.url.clone());
    options.max_connections = 4;
    let store = Store::open(&options).await.unwrap();
    let report = generate(&store, Size::S, 5, false).await.unwrap();
    let loads = report.orgs.iter().map(|o| {
        let (store, org) = (
            store.clone(),
            orgiam_core::ids::OrgId::from_trusted(o.org_id.clone()),
        );
        tokio::spawn(async move { store.load_org_data(&org).await })
    });
    let all = tokio::time::timeout(Duration::from_secs(20), futures_join(loads.collect()))
        .await
        .expect("every cold load finishes (no pool deadlock)");
    assert_eq!(all.len(), report.orgs.len());
    for data in all {
        let data = data.unwrap().unwrap().expect("the organization exists");
        assert_eq!(data.users.len(), 100);
    }
    store.close().await;
}

async fn futures_join<T>(
    handles: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_loads_on_a_small_pool_sqlite() {
    concurrent_cold_loads_on_a_small_pool(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_loads_on_a_small_pool_postgres() {
    concurrent_cold_loads_on_a_small_pool(Backend::Postgres).await;
}
