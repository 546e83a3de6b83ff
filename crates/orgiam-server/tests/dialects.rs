//! The compatibility dialects over HTTP, on SQLite and PostgreSQL: Timbal (`/compat/timbal`,
//! Bearer), Aitronos (`/compat/aitronos`, `X-API-Key`) and Fiddler v1 (`/compat/fiddler`,
//! Bearer). Every route, every documented shape and ordering, each dialect's error envelope,
//! lists longer than one store page, and a second organization's key refused with 403 on
//! every route before any lookup, with nothing of the first organization in the body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_core::ids::{InviteId, RoleId, UserId};
use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

/// How a dialect carries the key.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    ApiKey(&'a str),
}

struct Reply {
    status: u16,
    body: Value,
    text: String,
}

impl Reply {
    #[track_caller]
    fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self.body
    }
}

async fn call(s: &TestServer, method: &str, path: &str, auth: Auth<'_>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s.http.request(method, format!("{}{path}", s.base));
    req = match auth {
        Auth::None => req,
        Auth::Bearer(k) => req.bearer_auth(k),
        Auth::ApiKey(k) => req.header("x-api-key", k),
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text }
}

async fn get(s: &TestServer, path: &str, auth: Auth<'_>) -> Reply {
    call(s, "GET", path, auth).await
}

/// Asserts that `v` is an object with exactly these fields.
#[track_caller]
fn assert_keys(v: &Value, expected: &[&str]) {
    let mut got: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = expected.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{v}");
}

async fn events(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

async fn exec(url: &str, sql: &str) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn provision(s: &TestServer, email: &str, name: &str, role: &str) -> String {
    s.post(
        "/v1/organization/users",
        json!({"email": email, "name": name, "role": role}),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn user_key(s: &TestServer, user: &str) -> String {
    s.post(
        &format!("/v1/organization/users/{user}/api_keys"),
        json!({"name": "k"}),
    )
    .await
    .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn custom_role(s: &TestServer, key: &str, name: &str, description: Option<&str>) -> Value {
    let mut body = json!({"role_name": name, "permissions": ["api.groups.read"]});
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    s.call("POST", "/v1/organization/roles", Some(key), Some(body))
        .await
        .expect(200)
}

/// The Unix seconds of an RFC 3339 UTC timestamp of the exact form `YYYY-MM-DDThh:mm:ssZ`.
fn parse_rfc3339(s: &str) -> i64 {
    let b = s.as_bytes();
    assert_eq!(b.len(), 20, "not RFC 3339 UTC: {s}");
    assert!(
        b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':',
        "not RFC 3339: {s}"
    );
    assert_eq!(b[19], b'Z', "not UTC: {s}");
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (hh, mm, ss) = (n(11..13), n(14..16), n(17..19));
    assert!((1..=12).contains(&m) && (1..=31).contains(&d) && hh < 24 && mm < 60 && ss < 60);
    // days from civil (H. Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

#[test]
fn rfc3339_parser_of_the_tests_is_right() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), 951_782_400);
    assert_eq!(parse_rfc3339("2024-05-01T12:00:00Z"), 1_714_564_800);
}

const SYSTEM_ORG_ROLES: [(&str, &str); 4] = [
    ("role_00000000000000000000000001", "owner"),
    ("role_00000000000000000000000002", "admin"),
    ("role_00000000000000000000000003", "member"),
    ("role_00000000000000000000000004", "reader"),
];

fn timbal_roles(org: &str) -> String {
    format!("/compat/timbal/orgs/{org}/iam/roles")
}

fn aitronos_roles(org: &str) -> String {
    format!("/compat/aitronos/v1/organizations/{org}/roles")
}

// ---------------------------------------------------------------------------------------
// Timbal
// ---------------------------------------------------------------------------------------

backend_tests!(
    timbal_lists_system_roles_then_custom_alphabetically,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        // created out of alphabetical order, with mixed case
        let zeta = custom_role(&s, &key, "zeta", Some("last")).await;
        let alpha = custom_role(&s, &key, "Alpha", None).await;
        let mid = custom_role(&s, &key, "mid", Some("middle")).await;
        let beta = custom_role(&s, &key, "Beta", Some("second")).await;
        // a project role and another organization's role are not organization roles here
        let p = s
            .post("/v1/organization/projects", json!({"name": "p"}))
            .await
            .expect(200);
        s.post(
            &format!("/v1/projects/{}/roles", p["id"].as_str().unwrap()),
            json!({"role_name": "aaa project role", "permissions": ["api.project.users.read"]}),
        )
        .await
        .expect(200);
        let (_, _, other_key) = s.new_org("Other", "other-owner@example.com").await;
        custom_role(&s, &other_key, "aardvark", None).await;

        let before = events(&s).await;
        let body = get(&s, &timbal_roles(&s.org_id), Auth::Bearer(&key))
            .await
            .expect(200);
        assert_eq!(events(&s).await, before, "a dialect read writes nothing");
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let roles = body["roles"].as_array().unwrap();
        let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "owner", "admin", "member", "reader", "Alpha", "Beta", "mid", "zeta"
            ]
        );
        for (r, (id, name)) in roles.iter().zip(SYSTEM_ORG_ROLES) {
            assert_eq!(r["id"], id);
            assert_eq!(r["name"], name);
            assert_eq!(r["source"], "system");
            assert!(r["description"].is_string());
        }
        let native = s.get("/v1/organization/roles").await.expect(200);
        for (r, created) in roles[4..].iter().zip([&alpha, &beta, &mid, &zeta]) {
            assert_eq!(r["id"], created["id"]);
            assert_eq!(r["source"], "custom");
            assert_eq!(r["description"], created["description"]);
            let n = native["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["id"] == r["id"])
                .unwrap();
            assert_eq!(
                parse_rfc3339(r["created_at"].as_str().unwrap()),
                n["created_at"].as_i64().unwrap()
            );
            assert_eq!(
                parse_rfc3339(r["updated_at"].as_str().unwrap()),
                n["updated_at"].as_i64().unwrap()
            );
            assert_keys(
                r,
                &[
                    "id",
                    "name",
                    "description",
                    "source",
                    "created_at",
                    "updated_at",
                ],
            );
        }
        assert!(roles[4]["description"].is_null(), "no description: null");
        for r in &roles[..4] {
            parse_rfc3339(r["created_at"].as_str().unwrap());
            parse_rfc3339(r["updated_at"].as_str().unwrap());
        }

        // renaming moves a role in the order; deleting removes it
        s.post(
            &format!("/v1/organization/roles/{}", zeta["id"].as_str().unwrap()),
            json!({"role_name": "Aardvark"}),
        )
        .await
        .expect(200);
        s.delete(&format!(
            "/v1/organization/roles/{}",
            mid["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
        let body = get(&s, &timbal_roles(&s.org_id), Auth::Bearer(&key))
            .await
            .expect(200);
        let names: Vec<&str> = body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "owner", "admin", "member", "reader", "Aardvark", "Alpha", "Beta"
            ]
        );
    }
);

backend_tests!(
    timbal_single_role_has_the_full_grant_set,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        s.post(
            "/v1/organization/permissions",
            json!({"name": "documents.write", "description": "write documents"}),
        )
        .await
        .expect(200);
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Editor", "description": "edits",
                   "permissions": ["documents.write", "api.groups.read", "api.users.read"]}),
            )
            .await
            .expect(200);
        let id = role["id"].as_str().unwrap();
        let path = format!("{}/{id}", timbal_roles(&s.org_id));
        let r = get(&s, &path, Auth::Bearer(&key)).await.expect(200);
        assert_eq!(r["id"], id);
        assert_eq!(r["name"], "Editor");
        assert_eq!(r["description"], "edits");
        assert_eq!(r["source"], "custom");
        assert_eq!(
            r["permissions"],
            json!(["api.groups.read", "api.users.read", "documents.write"])
        );
        assert_eq!(
            parse_rfc3339(r["created_at"].as_str().unwrap()),
            role["created_at"].as_i64().unwrap()
        );

        // every system role: exactly the native grant set
        for (sid, name) in SYSTEM_ORG_ROLES {
            let r = get(
                &s,
                &format!("{}/{sid}", timbal_roles(&s.org_id)),
                Auth::Bearer(&key),
            )
            .await
            .expect(200);
            let native = s
                .get(&format!("/v1/organization/roles/{sid}"))
                .await
                .expect(200);
            assert_eq!(r["name"], name);
            assert_eq!(r["source"], "system");
            assert_eq!(r["permissions"], native["permissions"], "{name}");
            assert!(!r["permissions"].as_array().unwrap().is_empty());
        }
        // the owner holds the organization's own permission too
        let owner = get(
            &s,
            &format!("{}/{}", timbal_roles(&s.org_id), SYSTEM_ORG_ROLES[0].0),
            Auth::Bearer(&key),
        )
        .await
        .expect(200);
        assert!(
            owner["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("api.admin_keys.write"))
        );

        // unknown, malformed, a project role, another organization's role: 404 in Timbal's shape
        let p = s
            .post("/v1/organization/projects", json!({"name": "p"}))
            .await
            .expect(200);
        let project_role = s
            .post(
                &format!("/v1/projects/{}/roles", p["id"].as_str().unwrap()),
                json!({"role_name": "pr", "permissions": ["api.project.users.read"]}),
            )
            .await
            .expect(200);
        let (_, _, other_key) = s.new_org("Other", "other-owner@example.com").await;
        let foreign = custom_role(&s, &other_key, "Foreign", None).await;
        for missing in [
            RoleId::generate().into_string(),
            "not-a-role".to_owned(),
            project_role["id"].as_str().unwrap().to_owned(),
            foreign["id"].as_str().unwrap().to_owned(),
        ] {
            let r = get(
                &s,
                &format!("{}/{missing}", timbal_roles(&s.org_id)),
                Auth::Bearer(&key),
            )
            .await
            .expect(404);
            assert_eq!(r["code"], "not_found", "{r}");
            assert!(r["message"].as_str().unwrap().contains(&missing), "{r}");
        }
    }
);

backend_tests!(timbal_auth_and_permissions, |s: TestServer| async move {
    let list = timbal_roles(&s.org_id);
    let one = format!("{list}/{}", SYSTEM_ORG_ROLES[1].0);
    for path in [&list, &one] {
        for auth in [
            Auth::None,
            Auth::ApiKey(&s.admin_key), // Timbal reads only `Authorization: Bearer`
            Auth::Bearer("sk-admin-not-a-real-key-000000000000000000000"),
        ] {
            let r = get(&s, path, auth).await;
            assert_eq!(r.status, 401, "{}", r.text);
            assert_eq!(r.body["code"], "unauthorized");
            assert!(r.body["message"].is_string());
        }
    }
    let reader = provision(&s, "reader@example.com", "Rea Der", "reader").await;
    let member = provision(&s, "member@example.com", "Mem Ber", "member").await;
    let reader_key = user_key(&s, &reader).await;
    let member_key = user_key(&s, &member).await;
    for path in [&list, &one] {
        get(&s, path, Auth::Bearer(&reader_key)).await.expect(200);
        let r = get(&s, path, Auth::Bearer(&member_key)).await.expect(403);
        assert_eq!(r["code"], "forbidden");
        assert!(r["message"].as_str().unwrap().contains("api.roles.read"));
    }
    // an organization id that does not exist: the same 403 as another organization's
    for path in [
        timbal_roles("org_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        timbal_roles("nonsense"),
        format!(
            "{}/{}",
            timbal_roles("org_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
            SYSTEM_ORG_ROLES[0].0
        ),
    ] {
        let r = get(&s, &path, Auth::Bearer(&s.admin_key)).await.expect(403);
        assert_eq!(r["code"], "forbidden");
    }
    // unknown routes and methods under the prefix answer in Timbal's shape
    let r = get(&s, "/compat/timbal/orgs", Auth::Bearer(&s.admin_key))
        .await
        .expect(404);
    assert_eq!(r["code"], "not_found");
    let r = call(&s, "POST", &list, Auth::Bearer(&s.admin_key))
        .await
        .expect(405);
    assert_eq!(r["code"], "method_not_allowed");
});

// ---------------------------------------------------------------------------------------
// Aitronos
// ---------------------------------------------------------------------------------------

#[track_caller]
fn assert_aitronos_error(r: &Value, status: u16, code: &str) {
    assert_eq!(r["success"], false, "{r}");
    let e = &r["error"];
    assert_eq!(e["code"], code, "{r}");
    assert_eq!(e["status"], status, "{r}");
    for f in ["message", "system_message", "type", "trace_id", "timestamp"] {
        assert!(
            e[f].as_str().is_some_and(|v| !v.is_empty()),
            "{f} missing: {r}"
        );
    }
    assert!(e["details"].is_object(), "{r}");
    let ts = parse_rfc3339(e["timestamp"].as_str().unwrap());
    assert!((ts - orgiam_core::now_unix()).abs() < 120, "{r}");
    assert_keys(r, &["success", "error"]);
}

backend_tests!(
    aitronos_lists_global_and_custom_roles,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let a = custom_role(&s, &key, "Support", Some("helps")).await;
        let b = custom_role(&s, &key, "Auditor", None).await;
        let (other_org, _, other_key) = s.new_org("Other", "other-owner@example.com").await;
        custom_role(&s, &other_key, "Foreign", None).await;

        let base = aitronos_roles(&s.org_id);
        let all = get(&s, &base, Auth::ApiKey(&key)).await.expect(200);
        let arr = all.as_array().unwrap();
        assert_eq!(arr.len(), 6, "{all}");
        for (r, (id, name)) in arr.iter().zip(SYSTEM_ORG_ROLES) {
            assert_eq!(r["id"], id);
            assert_eq!(r["name"], name);
            assert_eq!(r["is_base_role"], true);
            assert_eq!(r["is_custom"], false);
            assert!(r["organization_id"].is_null(), "{r}");
            assert!(r["description"].is_string());
            let native = s
                .get(&format!("/v1/organization/roles/{id}"))
                .await
                .expect(200);
            let perms: Vec<&String> = r["permissions"].as_object().unwrap().keys().collect();
            let native: Vec<&str> = native["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(perms, native, "{name}");
            assert!(
                r["permissions"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|v| *v == true)
            );
        }
        for (r, created) in arr[4..].iter().zip([&a, &b]) {
            assert_eq!(r["id"], created["id"]);
            assert_eq!(r["name"], created["name"]);
            assert_eq!(r["description"], created["description"]);
            assert_eq!(r["is_base_role"], false);
            assert_eq!(r["is_custom"], true);
            assert_eq!(r["organization_id"], s.org_id.as_str());
            assert_eq!(r["permissions"], json!({"api.groups.read": true}));
            assert_keys(
                r,
                &[
                    "id",
                    "name",
                    "description",
                    "permissions",
                    "is_base_role",
                    "is_custom",
                    "organization_id",
                ],
            );
        }
        assert!(!all.to_string().contains(&other_org));
        assert!(!all.to_string().contains("Foreign"));

        for q in ["true", "TRUE", "1", "True"] {
            let r = get(
                &s,
                &format!("{base}?include_global={q}"),
                Auth::ApiKey(&key),
            )
            .await
            .expect(200);
            assert_eq!(r, all, "include_global={q}");
        }
        for q in ["false", "FALSE", "0"] {
            let r = get(
                &s,
                &format!("{base}?include_global={q}"),
                Auth::ApiKey(&key),
            )
            .await
            .expect(200);
            let ids: Vec<&Value> = r.as_array().unwrap().iter().map(|r| &r["id"]).collect();
            assert_eq!(ids, [&a["id"], &b["id"]], "include_global={q}");
        }
        // unknown parameters are ignored
        get(&s, &format!("{base}?page=2"), Auth::ApiKey(&key))
            .await
            .expect(200);

        for bad in ["maybe", "", "yes%20please", "true&include_global=false"] {
            let r = get(
                &s,
                &format!("{base}?include_global={bad}"),
                Auth::ApiKey(&key),
            )
            .await
            .expect(400);
            assert_aitronos_error(&r, 400, "VALIDATION_ERROR");
            assert_eq!(r["error"]["type"], "validation_error");
            assert_eq!(r["error"]["details"]["field"], "include_global");
            assert!(
                r["error"]["system_message"]
                    .as_str()
                    .unwrap()
                    .contains("include_global")
            );
        }
    }
);

backend_tests!(
    aitronos_errors_use_its_envelope,
    |s: TestServer| async move {
        let base = aitronos_roles(&s.org_id);
        // Aitronos reads `X-API-Key`, else `Authorization: Bearer` (as its backend does)
        get(&s, &base, Auth::Bearer(&s.admin_key)).await.expect(200);
        for auth in [
            Auth::None,
            Auth::Bearer("sk-admin-not-a-real-key-000000000000000000000"),
            Auth::ApiKey("sk-admin-not-a-real-key-000000000000000000000"),
        ] {
            let r = get(&s, &base, auth).await.expect(401);
            assert_aitronos_error(&r, 401, "AUTHENTICATION_REQUIRED");
            assert_eq!(r["error"]["type"], "authentication_error");
        }
        // two failures, two trace ids
        let a = get(&s, &base, Auth::None).await.expect(401);
        let b = get(&s, &base, Auth::None).await.expect(401);
        assert_ne!(a["error"]["trace_id"], b["error"]["trace_id"]);

        let member = provision(&s, "member@example.com", "Mem Ber", "member").await;
        let member_key = user_key(&s, &member).await;
        let r = get(&s, &base, Auth::ApiKey(&member_key)).await.expect(403);
        assert_aitronos_error(&r, 403, "INSUFFICIENT_PERMISSIONS");
        assert_eq!(
            r["error"]["details"]["required_permission"],
            "api.roles.read"
        );
        let reader = provision(&s, "reader@example.com", "Rea Der", "reader").await;
        let reader_key = user_key(&s, &reader).await;
        get(&s, &base, Auth::ApiKey(&reader_key)).await.expect(200);

        for org in ["org_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "whatever"] {
            // the organization is refused before the query is even read
            for q in ["", "?include_global=maybe"] {
                let r = get(
                    &s,
                    &format!("{}{q}", aitronos_roles(org)),
                    Auth::ApiKey(&s.admin_key),
                )
                .await
                .expect(403);
                assert_aitronos_error(&r, 403, "ORGANIZATION_ACCESS_DENIED");
                assert_eq!(r["error"]["type"], "authorization_error");
                assert_eq!(r["error"]["details"]["organization_id"], org);
            }
        }
        let r = get(
            &s,
            "/compat/aitronos/v1/organizations",
            Auth::ApiKey(&s.admin_key),
        )
        .await
        .expect(404);
        assert_aitronos_error(&r, 404, "RESOURCE_NOT_FOUND");
        let r = call(&s, "DELETE", &base, Auth::ApiKey(&s.admin_key))
            .await
            .expect(405);
        assert_aitronos_error(&r, 405, "METHOD_NOT_ALLOWED");
    }
);

// ---------------------------------------------------------------------------------------
// Fiddler
// ---------------------------------------------------------------------------------------

fn fiddler_roles(org: &str) -> String {
    format!("/compat/fiddler/roles/{org}")
}

fn fiddler_features(org: &str) -> String {
    format!("/compat/fiddler/get_supported_features/{org}")
}

#[track_caller]
fn assert_failure(r: &Value) {
    assert_eq!(r["status"], "FAILURE", "{r}");
    assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
    assert_keys(r, &["status", "message"]);
}

backend_tests!(
    fiddler_lists_members_and_pending_invitations,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let owner2 = provision(&s, "ada@example.com", "Ada King Lovelace", "owner").await;
        let admin = provision(&s, "grace@example.com", "Grace Hopper", "admin").await;
        let member = provision(&s, "alan@example.com", "Alan", "member").await;
        let reader = provision(&s, "edsger@example.com", "Edsger W. Dijkstra", "reader").await;

        let invite = |email: &'static str, role: &'static str| {
            let s = &s;
            async move {
                s.post(
                    "/v1/organization/invites",
                    json!({"email": email, "role": role}),
                )
                .await
                .expect(200)
            }
        };
        let inv_admin = invite("new-admin@example.com", "admin").await;
        let inv_member = invite("new-member@example.com", "member").await;
        let inv_reader = invite("new-reader@example.com", "reader").await;
        let inv_owner = invite("new-owner@example.com", "owner").await;
        let inv_deleted = invite("deleted@example.com", "member").await;
        let inv_expired = invite("expired@example.com", "member").await;
        let inv_accepted = invite("joined@example.com", "member").await;
        s.delete(&format!(
            "/v1/organization/invites/{}",
            inv_deleted["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
        exec(
            &s.db.url,
            &format!(
                "UPDATE invitations SET expires_at = 1 WHERE id = '{}'",
                inv_expired["id"].as_str().unwrap()
            ),
        )
        .await;
        let joined = s
            .call(
                "POST",
                "/v1/invites/accept",
                None,
                Some(json!({"token": inv_accepted["token"], "name": "Joined Later"})),
            )
            .await
            .expect(200);

        let before = events(&s).await;
        let body = get(&s, &fiddler_roles(&s.org_id), Auth::Bearer(&key))
            .await
            .expect(200);
        assert_eq!(events(&s).await, before, "a dialect read writes nothing");
        assert_eq!(body["status"], "SUCCESS", "{body}");
        let result = &body["result"];
        assert_keys(result, &["members", "invitations"]);

        // members: every member, by user id, with Fiddler's fields
        let members = result["members"].as_array().unwrap();
        let mut expected = vec![
            (
                s.owner_id.clone(),
                "owner@example.com",
                "Owner",
                "",
                "ADMINISTRATOR",
            ),
            (
                owner2,
                "ada@example.com",
                "Ada",
                "King Lovelace",
                "ADMINISTRATOR",
            ),
            (
                admin,
                "grace@example.com",
                "Grace",
                "Hopper",
                "ADMINISTRATOR",
            ),
            (member, "alan@example.com", "Alan", "", "MEMBER"),
            (
                reader,
                "edsger@example.com",
                "Edsger",
                "W. Dijkstra",
                "MEMBER",
            ),
            (
                joined["user"]["id"].as_str().unwrap().to_owned(),
                "joined@example.com",
                "Joined",
                "Later",
                "MEMBER",
            ),
        ];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(members.len(), expected.len(), "{body}");
        for (m, (id, email, first, last, role)) in members.iter().zip(&expected) {
            assert_eq!(m["id"], id.as_str());
            assert_eq!(m["user"], *email);
            assert_eq!(m["email"], *email);
            assert_eq!(m["isLoggedIn"], true);
            assert_eq!(m["firstName"], *first);
            assert_eq!(m["lastName"], *last);
            assert!(m["imageUrl"].is_null());
            assert_eq!(m["settings"], json!({}));
            assert_eq!(m["role"], *role, "{m}");
            assert_keys(
                m,
                &[
                    "id",
                    "user",
                    "email",
                    "isLoggedIn",
                    "firstName",
                    "lastName",
                    "imageUrl",
                    "settings",
                    "role",
                ],
            );
        }

        // invitations: pending only, oldest first, with a link that is not the secret
        let invitations = result["invitations"].as_array().unwrap();
        let pending = [
            (&inv_admin, "ADMINISTRATOR"),
            (&inv_member, "MEMBER"),
            (&inv_reader, "MEMBER"),
            (&inv_owner, "ADMINISTRATOR"),
        ];
        assert_eq!(invitations.len(), pending.len(), "{body}");
        for (i, (inv, role)) in invitations.iter().zip(pending) {
            let id = inv["id"].as_str().unwrap();
            assert_eq!(i["id"], id);
            assert_eq!(i["user"], inv["email"]);
            assert_eq!(i["role"], role);
            assert_eq!(i["invited"], true);
            let link = i["link"].as_str().unwrap();
            // without --public-url, links are paths (never built from the request's Host)
            assert_eq!(link, format!("/v1/organization/invites/{id}"));
            let token = inv["token"].as_str().unwrap();
            assert!(!link.contains(token) && !link.contains("token"), "{link}");
            assert_keys(i, &["id", "user", "role", "invited", "link"]);
            // the link names the invitation on the native API (readable with a key only)
            let via_link = s
                .http
                .get(format!("{}{link}", s.base))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            assert_eq!(via_link["id"], id);
            assert_eq!(
                s.http
                    .get(format!("{}{link}", s.base))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
                401
            );
        }
        // no token (nor its hash) anywhere in the answer
        let text = body.to_string();
        for inv in [&inv_admin, &inv_member, &inv_reader, &inv_owner] {
            assert!(!text.contains(inv["token"].as_str().unwrap()));
        }
        for h in db_strings(&s.db.url, "SELECT token_hash FROM invitations").await {
            assert!(!text.contains(&h));
        }
        for gone in [&inv_deleted, &inv_expired, &inv_accepted] {
            assert!(!text.contains(gone["id"].as_str().unwrap()), "{gone}");
        }
    }
);

backend_tests!(
    fiddler_is_for_administrators_and_its_org,
    |s: TestServer| async move {
        let roles = fiddler_roles(&s.org_id);
        let features = fiddler_features(&s.org_id);
        for path in [&roles, &features] {
            for auth in [
                Auth::None,
                Auth::ApiKey(&s.admin_key), // the v1 client sends `Authorization: Bearer`
                Auth::Bearer("not-a-key"),
            ] {
                let r = get(&s, path, auth).await.expect(401);
                assert_failure(&r);
            }
        }
        let mut keys = Vec::new();
        for (email, role) in [
            ("o@example.com", "owner"),
            ("a@example.com", "admin"),
            ("m@example.com", "member"),
            ("r@example.com", "reader"),
        ] {
            let u = provision(&s, email, "X Y", role).await;
            keys.push((role, user_key(&s, &u).await));
        }
        for (role, key) in &keys {
            // any valid key of the organization: the client calls this when it is constructed
            let f = get(&s, &features, Auth::Bearer(key)).await.expect(200);
            assert_eq!(f["status"], "SUCCESS");
            assert!(f["result"]["features"].is_object(), "{f}");
            assert_eq!(f["result"]["server_version"], env!("CARGO_PKG_VERSION"));
            let r = get(&s, &roles, Auth::Bearer(key)).await;
            if matches!(*role, "owner" | "admin") {
                assert_eq!(r.status, 200, "{role}: {}", r.text);
                assert_eq!(r.body["status"], "SUCCESS");
            } else {
                assert_eq!(r.status, 403, "{role}: {}", r.text);
                assert_failure(&r.body);
                assert!(
                    r.body["message"]
                        .as_str()
                        .unwrap()
                        .contains("api.users.write")
                );
            }
        }
        for org in ["org_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "acme"] {
            for path in [fiddler_roles(org), fiddler_features(org)] {
                let r = get(&s, &path, Auth::Bearer(&s.admin_key)).await.expect(403);
                assert_failure(&r);
            }
        }
        let r = call(
            &s,
            "POST",
            "/compat/fiddler/list_projects/x",
            Auth::Bearer(&s.admin_key),
        )
        .await
        .expect(404);
        assert_failure(&r);
        let r = call(&s, "POST", &roles, Auth::Bearer(&s.admin_key))
            .await
            .expect(405);
        assert_failure(&r);
    }
);

// ---------------------------------------------------------------------------------------
// All dialects
// ---------------------------------------------------------------------------------------

backend_tests!(
    a_second_org_gets_403_on_every_dialect_route,
    |s: TestServer| async move {
        let org1 = s.org_id.clone();
        let role = custom_role(
            &s,
            &s.admin_key,
            "Secret Role Name",
            Some("secret description"),
        )
        .await;
        let role_id = role["id"].as_str().unwrap().to_owned();
        let invite = s
            .post(
                "/v1/organization/invites",
                json!({"email": "secret-invitee@example.com", "role": "member"}),
            )
            .await
            .expect(200);
        let (org2, owner2, key2) = s.new_org("Second", "second-owner@example.com").await;
        // the second organization's own reader and member keys are refused too
        let reader2 = {
            let u = s
                .call(
                    "POST",
                    "/v1/organization/users",
                    Some(&key2),
                    Some(json!({"email": "r2@example.com", "role": "reader"})),
                )
                .await
                .expect(200);
            s.call(
                "POST",
                &format!(
                    "/v1/organization/users/{}/api_keys",
                    u["id"].as_str().unwrap()
                ),
                Some(&key2),
                Some(json!({"name": "k"})),
            )
            .await
            .expect(200)["value"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let before = events(&s).await;
        let routes: Vec<(String, bool)> = vec![
            (timbal_roles(&org1), true),
            (format!("{}/{role_id}", timbal_roles(&org1)), true),
            (
                format!("{}/{}", timbal_roles(&org1), SYSTEM_ORG_ROLES[0].0),
                true,
            ),
            (
                format!("{}/{}", timbal_roles(&org1), RoleId::generate()),
                true,
            ),
            (aitronos_roles(&org1), false),
            (
                format!("{}?include_global=false", aitronos_roles(&org1)),
                false,
            ),
            (
                format!("{}?include_global=bad", aitronos_roles(&org1)),
                false,
            ),
            (fiddler_roles(&org1), true),
            (fiddler_features(&org1), true),
        ];
        for key in [&key2, &reader2] {
            for (path, bearer) in &routes {
                let auth = if *bearer {
                    Auth::Bearer(key)
                } else {
                    Auth::ApiKey(key)
                };
                let r = get(&s, path, auth).await;
                assert_eq!(r.status, 403, "{path}: {}", r.text);
                for secret in [
                    role_id.as_str(),
                    "Secret Role Name",
                    "secret description",
                    invite["id"].as_str().unwrap(),
                    "secret-invitee@example.com",
                    s.owner_id.as_str(),
                    "owner@example.com",
                ] {
                    assert!(
                        !r.text.contains(secret),
                        "{path} leaks {secret}: {}",
                        r.text
                    );
                }
            }
        }
        // the same routes with the second organization's own id answer its own data only
        let own = get(&s, &timbal_roles(&org2), Auth::Bearer(&key2))
            .await
            .expect(200);
        assert_eq!(own["roles"].as_array().unwrap().len(), 4);
        let own = get(&s, &fiddler_roles(&org2), Auth::Bearer(&key2))
            .await
            .expect(200);
        assert_eq!(own["result"]["members"].as_array().unwrap().len(), 2);
        assert!(own.to_string().contains(&owner2));
        assert!(!own.to_string().contains(&s.owner_id));
        let own = get(&s, &aitronos_roles(&org2), Auth::ApiKey(&key2))
            .await
            .expect(200);
        assert!(!own.to_string().contains(&role_id));
        get(
            &s,
            &format!("{}/{role_id}", timbal_roles(&org2)),
            Auth::Bearer(&key2),
        )
        .await
        .expect(404);
        assert_eq!(events(&s).await, before, "dialect reads write nothing");
        // the first organization's objects are unchanged
        let again = s
            .get(&format!("/v1/organization/roles/{role_id}"))
            .await
            .expect(200);
        assert_eq!(again, role);
    }
);

backend_tests!(
    lists_longer_than_one_store_page_are_complete,
    |s: TestServer| async move {
        const N: usize = 1003;
        let org = s.org_id.clone();
        let now = orgiam_core::now_unix();
        let mut users = Vec::new();
        let mut members = Vec::new();
        let mut roles = Vec::new();
        let mut invites = Vec::new();
        for i in 0..N {
            let u = UserId::generate().into_string();
            users.push(format!(
                "('{u}', 'bulk{i}@example.com', 'bulk{i}@example.com', {now})"
            ));
            members.push(format!("('{org}', '{u}', 'Bulk {i}', {now})"));
            let r = RoleId::generate().into_string();
            roles.push(format!(
            "('{r}', '{org}', NULL, 'api.organization', 'bulk role {i:04}', 'bulk role {i:04}', NULL, NULL, {now}, {now}, NULL)"
        ));
            let v = InviteId::generate().into_string();
            invites.push(format!(
            "('{v}', '{org}', 'inv{i}@example.com', 'inv{i}@example.com', 'role_00000000000000000000000003', 'hash{i}', NULL, {now}, {}, NULL, NULL)",
            now + 3600
        ));
        }
        exec(
            &s.db.url,
            &format!(
                "INSERT INTO users (id, email, email_key, created_at) VALUES {}",
                users.join(", ")
            ),
        )
        .await;
        exec(
            &s.db.url,
            &format!(
                "INSERT INTO memberships (org_id, user_id, name, created_at) VALUES {}",
                members.join(", ")
            ),
        )
        .await;
        exec(&s.db.url, &format!(
        "INSERT INTO roles (id, org_id, project_id, resource_type, name, name_key, description, metadata, created_at, updated_at, created_by) VALUES {}",
        roles.join(", ")
    )).await;
        exec(&s.db.url, &format!(
        "INSERT INTO invitations (id, org_id, email, email_key, role_id, token_hash, invited_by, created_at, expires_at, accepted_at, accepted_by) VALUES {}",
        invites.join(", ")
    )).await;

        let t = get(&s, &timbal_roles(&org), Auth::Bearer(&s.admin_key))
            .await
            .expect(200);
        let t = t["roles"].as_array().unwrap();
        assert_eq!(t.len(), 4 + N);
        assert_eq!(t[4]["name"], "bulk role 0000");
        assert_eq!(t[4 + N - 1]["name"], format!("bulk role {:04}", N - 1));
        let a = get(&s, &aitronos_roles(&org), Auth::ApiKey(&s.admin_key))
            .await
            .expect(200);
        assert_eq!(a.as_array().unwrap().len(), 4 + N);
        let a = get(
            &s,
            &format!("{}?include_global=false", aitronos_roles(&org)),
            Auth::ApiKey(&s.admin_key),
        )
        .await
        .expect(200);
        assert_eq!(a.as_array().unwrap().len(), N);
        let f = get(&s, &fiddler_roles(&org), Auth::Bearer(&s.admin_key))
            .await
            .expect(200);
        assert_eq!(f["result"]["members"].as_array().unwrap().len(), 1 + N);
        assert_eq!(f["result"]["invitations"].as_array().unwrap().len(), N);
        let ids: Vec<&str> = f["result"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted, "members by id, each once");
    }
);

backend_tests!(
    every_dialect_is_in_the_openapi_document,
    |s: TestServer| async move {
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        let paths = doc["paths"].as_object().unwrap();
        for (p, scheme) in [
            ("/compat/timbal/orgs/{org_id}/iam/roles", "bearer"),
            ("/compat/timbal/orgs/{org_id}/iam/roles/{role_id}", "bearer"),
            (
                "/compat/aitronos/v1/organizations/{org_id}/roles",
                "api_key",
            ),
            ("/compat/fiddler/get_supported_features/{org_id}", "bearer"),
            ("/compat/fiddler/roles/{org_id}", "bearer"),
        ] {
            let op = &paths.get(p).unwrap_or_else(|| panic!("{p} missing"))["get"];
            assert!(op["security"][0].get(scheme).is_some(), "{p}: {op}");
            assert!(op["responses"]["200"].is_object(), "{p}");
            assert!(op["responses"]["403"].is_object(), "{p}");
        }
        let params =
            &paths["/compat/aitronos/v1/organizations/{org_id}/roles"]["get"]["parameters"];
        assert!(
            params
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "include_global" && p["in"] == "query")
        );
    }
);
