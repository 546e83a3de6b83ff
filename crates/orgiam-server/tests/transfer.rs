//! Moving a whole server: `orgiam export` from a generated SQLite database (with a platform
//! key, a global permission and role, app permissions on `reader`), `orgiam import` into a
//! fresh PostgreSQL database and into a fresh SQLite file, then every key still works and every
//! check answer (every member of every organization × every permission of its catalog) is the
//! same on the copy as on the original, through the real binaries. The later features travel
//! too: a SCIM token still authenticates on /scim/v2, a member it suspended is still denied, a
//! webhook endpoint is listed with its state and its deliveries, and the audit log and the
//! change feed answer the same. Also: the file is 0600, an import refuses a non-empty
//! database, a truncated file imports nothing, an export of another version is refused.
//!
//! The generated size is `ORGIAM_TRANSFER_SIZE` (default S; M is the headline run, heavy on a
//! small machine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use orgiam_testkit::{Backend, ROOT_KEY, TestDb, fresh_db, json, spawn_binary};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_orgiam");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ORGIAM_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What one organization answers beyond checks: its audit log, its change feed, its webhook
/// endpoints and the ids of one endpoint's deliveries (their attempts move on as the worker
/// tries them).
async fn org_state(base: &str, key: &str, hook: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for path in [
        "/v1/organization/audit_logs?limit=100",
        "/v1/organization/events?after=0",
        "/v1/organization/webhooks?limit=100",
    ] {
        let (s, body) = call(&http, base, "GET", path, key, None).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert!(
            body["data"].as_array().is_some_and(|d| !d.is_empty()),
            "{path}: {body}"
        );
        out.push(body);
    }
    let path = format!("/v1/organization/webhooks/{hook}/deliveries?limit=100");
    let (s, body) = call(&http, base, "GET", &path, key, None).await;
    assert_eq!(s, 200, "{body}");
    let ids: Vec<Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert!(!ids.is_empty(), "the endpoint has deliveries");
    out.push(Value::Array(ids));
    out
}

/// Every (organization, admin key) of the generated keys file.
fn orgs(keys_file: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(keys_file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[4].to_owned())
        })
        .collect()
}

/// Every check answer of every organization: members × catalog, through check_batch.
async fn answers(base: &str, orgs: &[(String, String)]) -> Vec<(String, Value)> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for (org, key) in orgs {
        let mut users = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/organization/users?limit=100&after={a}"),
                None => "/v1/organization/users?limit=100".to_owned(),
            };
            let (status, page) = call(&http, base, "GET", &path, key, None).await;
            assert_eq!(status, 200, "{org}: {page}");
            for u in page["data"].as_array().unwrap() {
                users.push(u["id"].as_str().unwrap().to_owned());
            }
            if page["has_more"] != true {
                break;
            }
            after = page["last_id"].as_str().map(str::to_owned);
        }
        let (status, cat) = call(
            &http,
            base,
            "GET",
            "/v1/organization/permissions?limit=1000",
            key,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let perms: Vec<String> = cat["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let pairs: Vec<Value> = users
            .iter()
            .flat_map(|u| {
                perms
                    .iter()
                    .map(move |p| json!({"user_id": u, "permission": p}))
            })
            .collect();
        for chunk in pairs.chunks(1000) {
            let (status, got) = call(
                &http,
                base,
                "POST",
                "/v1/organization/permissions/check_batch",
                key,
                Some(json!({"checks": chunk})),
            )
            .await;
            assert_eq!(status, 200, "{got}");
            for a in got["data"].as_array().unwrap() {
                // the same grants, in whichever order each engine's load met them
                let mut reasons: Vec<String> = a["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(Value::to_string)
                    .collect();
                reasons.sort();
                out.push((
                    format!("{org} {} {}", a["user_id"], a["permission"]),
                    json!([a["allowed"], reasons]),
                ));
            }
        }
    }
    out
}

async fn round_trip(target: Backend) {
    let Some(target_db) = fresh_db(target).await else {
        return;
    };
    let source = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.tsv");
    let size = std::env::var("ORGIAM_TRANSFER_SIZE").unwrap_or_else(|_| "S".to_owned());
    let (ok, err) = run(&[
        "dev",
        "generate",
        "--database",
        &source.url,
        "--size",
        &size,
        "--keys-file",
        keys_file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let orgs = orgs(&keys_file);
    assert!(!orgs.is_empty());

    // the platform level travels too: a platform key, a global permission in a global role
    // assigned in one organization, an app permission on reader
    let server = spawn_binary(BIN, &source, &[], &[]).await;
    let http = reqwest::Client::new();
    let (s, k) = call(
        &http,
        &server.base,
        "POST",
        "/v1/platform/api_keys",
        ROOT_KEY,
        Some(json!({"name": "svc", "permissions": ["platform.check", "platform.catalog.write"]})),
    )
    .await;
    assert_eq!(s, 200);
    let platform_key = k["value"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &http,
        &server.base,
        "POST",
        "/v1/platform/permissions",
        &platform_key,
        Some(json!({"name": "reports.view"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, role) = call(
        &http,
        &server.base,
        "POST",
        "/v1/platform/roles",
        &platform_key,
        Some(json!({"role_name": "Analyst", "permissions": ["reports.view"]})),
    )
    .await;
    assert_eq!(s, 200);
    let (org0, key0) = &orgs[0];
    let (_, users) = call(
        &http,
        &server.base,
        "GET",
        "/v1/organization/users?limit=5",
        key0,
        None,
    )
    .await;
    let some_user = users["data"][1]["id"].as_str().unwrap().to_owned();
    let (s, body) = call(
        &http,
        &server.base,
        "POST",
        &format!("/v1/organization/users/{some_user}/roles"),
        key0,
        Some(json!({"role_id": role["id"]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // a webhook endpoint (a reserved name that never resolves: its deliveries stay pending),
    // then a SCIM token, a member it provisions and suspends (with a key of her own)
    let (s, hook) = call(
        &http,
        &server.base,
        "POST",
        "/v1/organization/webhooks",
        key0,
        Some(json!({"url": "https://hooks.example.invalid/moved", "description": "moved"})),
    )
    .await;
    assert_eq!(s, 200, "{hook}");
    let hook = hook["id"].as_str().unwrap().to_owned();
    let (s, token) = call(
        &http,
        &server.base,
        "POST",
        "/v1/organization/scim_tokens",
        key0,
        Some(json!({"name": "idp", "default_role": "reader"})),
    )
    .await;
    assert_eq!(s, 200, "{token}");
    let scim_token = token["value"].as_str().unwrap().to_owned();
    let (s, ann) = call(
        &http,
        &server.base,
        "POST",
        "/scim/v2/Users",
        &scim_token,
        Some(json!({"userName": "ann@moved.test", "displayName": "Ann"})),
    )
    .await;
    assert_eq!(s, 201, "{ann}");
    let ann = ann["id"].as_str().unwrap().to_owned();
    let (s, k) = call(
        &http,
        &server.base,
        "POST",
        &format!("/v1/organization/users/{ann}/api_keys"),
        key0,
        Some(json!({"name": "ann"})),
    )
    .await;
    assert_eq!(s, 200, "{k}");
    let ann_key = k["value"].as_str().unwrap().to_owned();
    let (s, body) = call(
        &http,
        &server.base,
        "GET",
        "/v1/organization/users?limit=1",
        &ann_key,
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = call(
        &http,
        &server.base,
        "PATCH",
        &format!("/scim/v2/Users/{ann}"),
        &scim_token,
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["active"], false);
    let suspended = call(
        &http,
        &server.base,
        "GET",
        "/v1/organization/users?limit=1",
        &ann_key,
        None,
    )
    .await
    .0;
    assert!(matches!(suspended, 401 | 403), "{suspended}");

    let before = answers(&server.base, &orgs).await;
    let state_before = org_state(&server.base, key0, &hook).await;
    assert!(
        before
            .iter()
            .any(|(k, v)| k.contains("reports.view") && v[0] == true),
        "the global role grants something to compare"
    );
    server.terminate();
    let mut server = server;
    server.wait().await;

    // export: 0600, then import into the target
    let file = dir.path().join("server.json");
    let (ok, err) = run(&[
        "export",
        "--database",
        &source.url,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&platform_key) && !text.contains(key0.as_str()),
        "no secret in the file"
    );
    let _: Value = serde_json::from_str(&text).expect("the export is one JSON document");
    assert!(!text.contains(&scim_token) && !text.contains(&ann_key));

    // an export of another version is refused, with the versions named
    let old_file = dir.path().join("v1.json");
    std::fs::write(
        &old_file,
        text.replacen("\"version\": 2,", "\"version\": 1,", 1),
    )
    .unwrap();
    let (ok, err) = run(&[
        "import",
        "--database",
        &target_db.url,
        old_file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("version 2") && err.contains("older"), "{err}");

    // a truncated file imports nothing
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let (ok, err) = run(&[
        "import",
        "--database",
        &target_db.url,
        cut.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("nothing was imported") || err.contains("line"),
        "{err}"
    );

    let (ok, err) = run(&[
        "import",
        "--database",
        &target_db.url,
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // not twice
    let (ok, err) = run(&[
        "import",
        "--database",
        &target_db.url,
        file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("empty database"), "{err}");

    // every key works and every answer is the same
    let copy = spawn_binary(BIN, &target_db, &[], &[]).await;
    assert!(
        copy.admin_key.is_none(),
        "an imported database is not bootstrapped again"
    );
    let after = answers(&copy.base, &orgs).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    let (s, p) = call(
        &http,
        &copy.base,
        "POST",
        "/v1/platform/permissions/check",
        &platform_key,
        Some(json!({"organization_id": org0, "user_id": some_user, "permission": "reports.view"})),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["allowed"], true);

    // the SCIM token still authenticates, the suspended member is still denied, the audit
    // log, the feed and the webhook endpoint (with its state and deliveries) are the same
    let (s, body) = call(
        &http,
        &copy.base,
        "GET",
        &format!("/scim/v2/Users/{ann}"),
        &scim_token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["active"], false);
    let (s, _) = call(
        &http,
        &copy.base,
        "GET",
        "/v1/organization/users?limit=1",
        &ann_key,
        None,
    )
    .await;
    assert_eq!(s, suspended);
    let state_after = org_state(&copy.base, key0, &hook).await;
    assert_eq!(state_before, state_after);
    assert_eq!(state_after[2]["data"][0]["state"], "active");
    copy.terminate();
    let _: &TestDb = &target_db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres() {
    round_trip(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_sqlite() {
    round_trip(Backend::Sqlite).await;
}
