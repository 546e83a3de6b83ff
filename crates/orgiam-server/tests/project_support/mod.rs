//! Helpers shared by the project test suites (projects.rs, project_roles.rs).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, db_scalar, db_strings, json};
use serde_json::Value;
use sqlx::Connection as _;

pub const PROJECT_OWNER: &str = "role_00000000000000000000000005";
pub const PROJECT_MEMBER: &str = "role_00000000000000000000000006";
pub const PROJECT_VIEWER: &str = "role_00000000000000000000000007";
pub const ORG_ADMIN: &str = "role_00000000000000000000000002";
pub const MISSING_PROJECT: &str = "proj_01J1F8ZZZZZZZZZZZZZZZZZZZZ";

/// Runs one statement directly on the test database. The groups API is another family's, so
/// these tests make their groups (and group members) with SQL.
pub async fn db_exec(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// A group in `org`, made directly in the database.
pub async fn insert_group(s: &TestServer, org: &str, name: &str) -> String {
    let id = orgiam_core::ids::GroupId::generate().into_string();
    let key = name.to_lowercase();
    db_exec(
        &s.db.url,
        &format!(
            "INSERT INTO org_groups (id, org_id, name, name_key, created_at, updated_at) \
             VALUES ('{id}', '{org}', '{name}', '{key}', 1700000000, 1700000000)"
        ),
    )
    .await;
    id
}

/// Puts `user` in `group` (both of `org`), directly in the database.
pub async fn insert_group_member(s: &TestServer, org: &str, group: &str, user: &str) {
    db_exec(
        &s.db.url,
        &format!(
            "INSERT INTO group_members (org_id, group_id, user_id, created_at) \
             VALUES ('{org}', '{group}', '{user}', 1700000000)"
        ),
    )
    .await;
}

/// Every path's current answer (all must be 200).
pub async fn snapshot(s: &TestServer, paths: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for path in paths {
        out.push(s.get(path).await.expect(200));
    }
    out
}

pub async fn audit_count(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

/// The types of the audit events after the first `skip`, oldest first.
pub async fn audit_types_after(s: &TestServer, skip: i64) -> Vec<String> {
    let all = db_strings(&s.db.url, "SELECT type FROM audit_events ORDER BY id").await;
    all[skip as usize..].to_vec()
}

pub async fn provision(s: &TestServer, key: &str, email: &str, role: &str) -> String {
    let u = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(key),
            Some(json!({"email": email, "name": "User", "role": role})),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

pub async fn new_project(s: &TestServer, name: &str) -> String {
    let p = s
        .post("/v1/organization/projects", json!({"name": name}))
        .await
        .expect(200);
    p["id"].as_str().unwrap().to_owned()
}

pub fn ids(page: &Value, key: &str) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap().to_owned())
        .collect()
}

/// Walks a list `limit` at a time with `cursor` (`last_id` or `next`) and returns every key.
pub async fn walk(s: &TestServer, path: &str, key: &str, cursor: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("{path}{sep}limit={limit}{after}"))
            .await
            .expect(200);
        let got = ids(&page, key);
        assert!(got.len() <= limit as usize);
        seen.extend(got);
        if page["has_more"] != true {
            assert!(page["next"].is_null());
            return seen;
        }
        assert_eq!(page["next"], page["last_id"]);
        after = format!("&after={}", page[cursor].as_str().unwrap());
    }
}

/// Asserts that a refused write answered `status` (with `code`, if given) and wrote nothing.
pub async fn refused(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let before = audit_count(s).await;
    let a = s.call(method, path, Some(&s.admin_key.clone()), body).await;
    assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    assert_eq!(a.headers["x-should-retry"], "false");
    assert_eq!(
        audit_count(s).await,
        before,
        "{method} {path} wrote an event"
    );
    a.body
}
