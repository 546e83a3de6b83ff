//! Hostile input on every route family, on both engines: malformed and mistyped bodies,
//! missing fields, over-long strings, NUL bytes, invalid UTF-8 in bodies, paths and query
//! strings, bad cursors and every limit/order bound of every list. Each answer is a 4xx in the
//! family's error shape that names the field, and nothing is written. Unknown fields are
//! ignored on native routes; unicode is accepted and comes back unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{Answer, DOMAIN_TABLES, TestServer, backend_tests, db_scalar, json};
use serde_json::Value;

/// Ids of one of each object, for paths and bodies.
struct Fixture {
    user: String,
    group: String,
    project: String,
    role: String,
    project_role: String,
    key: String,
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn fixture(s: &TestServer) -> Fixture {
    let user = id(&s
        .post(
            "/v1/organization/users",
            json!({"email": "target@example.com", "name": "Target", "role": "member"}),
        )
        .await
        .expect(200));
    let group = id(&s
        .post("/v1/organization/groups", json!({"name": "g"}))
        .await
        .expect(200));
    s.post(
        &format!("/v1/organization/groups/{group}/users"),
        json!({"user_id": user}),
    )
    .await
    .expect(200);
    let project = id(&s
        .post("/v1/organization/projects", json!({"name": "p"}))
        .await
        .expect(200));
    s.post(
        &format!("/v1/organization/projects/{project}/users"),
        json!({"user_id": user, "role": "member"}),
    )
    .await
    .expect(200);
    let roles = s
        .get(&format!("/v1/projects/{project}/roles"))
        .await
        .expect(200);
    let member = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "member")
        .map(id)
        .unwrap();
    s.post(
        &format!("/v1/organization/projects/{project}/groups"),
        json!({"group_id": group, "role": member}),
    )
    .await
    .expect(200);
    let role = id(&s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "custom", "permissions": ["api.users.read"]}),
        )
        .await
        .expect(200));
    let project_role = id(&s
        .post(
            &format!("/v1/projects/{project}/roles"),
            json!({"role_name": "prole", "permissions": ["api.project.users.read"]}),
        )
        .await
        .expect(200));
    let key = id(&s
        .post("/v1/organization/admin_api_keys", json!({"name": "k"}))
        .await
        .expect(200));
    Fixture {
        user,
        group,
        project,
        role,
        project_role,
        key,
    }
}

/// Everything a write could change: the audit log, the revision and the main tables.
async fn fingerprint(s: &TestServer) -> Vec<i64> {
    let mut out = Vec::new();
    for table in DOMAIN_TABLES {
        out.push(db_scalar(&s.db.url, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    out.push(
        db_scalar(
            &s.db.url,
            "SELECT CAST(SUM(revision) AS BIGINT) FROM organizations",
        )
        .await,
    );
    out
}

/// Asserts a native 400 that names `param`, and returns the answer.
#[track_caller]
fn assert_400(a: &Answer, param: &str, what: &str) {
    assert_eq!(a.status, 400, "{what}: {}", a.body);
    assert_eq!(
        a.error("type"),
        "invalid_request_error",
        "{what}: {}",
        a.body
    );
    assert_eq!(a.error("param"), param, "{what}: {}", a.body);
    assert!(a.error("code").is_string(), "{what}: {}", a.body);
    assert!(
        !a.error("message").as_str().unwrap_or_default().is_empty(),
        "{what}: {}",
        a.body
    );
    assert_eq!(a.headers["x-should-retry"], "false", "{what}");
}

/// Every list: its path, its limit bounds and whether it takes `order`.
fn lists(f: &Fixture) -> Vec<(String, i64, i64, bool)> {
    let (u, g, p) = (&f.user, &f.group, &f.project);
    vec![
        ("/v1/organization/roles".into(), 0, 1000, true),
        ("/v1/organization/users".into(), 1, 100, false),
        (format!("/v1/organization/users/{u}/roles"), 0, 1000, true),
        (format!("/v1/organization/users/{u}/api_keys"), 1, 100, true),
        ("/v1/organization/invites".into(), 1, 100, false),
        ("/v1/organization/groups".into(), 0, 1000, true),
        (format!("/v1/organization/groups/{g}/users"), 0, 1000, true),
        (format!("/v1/organization/groups/{g}/roles"), 0, 1000, true),
        ("/v1/organization/projects".into(), 1, 100, false),
        (
            format!("/v1/organization/projects/{p}/users"),
            1,
            100,
            false,
        ),
        (
            format!("/v1/organization/projects/{p}/groups"),
            0,
            1000,
            true,
        ),
        (format!("/v1/projects/{p}/roles"), 0, 1000, true),
        (format!("/v1/projects/{p}/users/{u}/roles"), 0, 1000, true),
        (format!("/v1/projects/{p}/groups/{g}/roles"), 0, 1000, true),
        ("/v1/organization/admin_api_keys".into(), 1, 100, true),
        ("/v1/organization/audit_logs".into(), 1, 100, false),
        ("/v1/organization/permissions".into(), 1, 1000, false),
        (
            "/v1/organization/permissions/api.users.read/users".into(),
            1,
            1000,
            true,
        ),
    ]
}

backend_tests!(
    every_list_rejects_bad_limits_orders_and_cursors,
    |s: TestServer| async move {
        let f = fixture(&s).await;
        let before = fingerprint(&s).await;
        for (path, min, max, order) in lists(&f) {
            // the bounds themselves are fine
            for limit in [min, max] {
                s.get(&format!("{path}?limit={limit}")).await.expect(200);
            }
            if order {
                for o in ["asc", "desc"] {
                    s.get(&format!("{path}?order={o}")).await.expect(200);
                }
            }
            let bad_limits = [
                (min - 1).to_string(),
                (max + 1).to_string(),
                "-1".into(),
                "ten".into(),
                "1.5".into(),
                "".into(),
                "99999999999999999999999".into(),
                "%00".into(),
                "%FF".into(),
                "1%00".into(),
            ];
            for limit in bad_limits {
                let a = s.get(&format!("{path}?limit={limit}")).await;
                assert_400(&a, "limit", &format!("{path}?limit={limit}"));
            }
            if order {
                for o in ["sideways", "ASC", "", "%00", "%FF"] {
                    let a = s.get(&format!("{path}?order={o}")).await;
                    assert_400(&a, "order", &format!("{path}?order={o}"));
                }
            }
            let mut cursors = vec![
                "not a cursor!".to_owned(),
                "%00".into(),
                "%FF%FE".into(),
                "x".repeat(300),
            ];
            if !path.starts_with("/v1/organization/permissions") {
                // an id prefix without its ULID (a valid permission name, though)
                cursors.push("role_".into());
                cursors.push("user_01ZZ".into());
            }
            for cursor in &cursors {
                for param in ["after", "before"] {
                    let a = s.get(&format!("{path}?{param}={cursor}")).await;
                    assert_400(&a, param, &format!("{path}?{param}={cursor}"));
                }
            }
        }
        assert_eq!(fingerprint(&s).await, before, "a list wrote something");
        s.stop().await;
    }
);

/// A write route: method, path, a valid body, and for each field a wrong-typed value.
struct Write {
    path: String,
    valid: Value,
    required: Vec<&'static str>,
    strings: Vec<&'static str>,
    names: Vec<&'static str>,
    key: Option<String>,
}

fn writes(f: &Fixture) -> Vec<Write> {
    let (u, g, p) = (&f.user, &f.group, &f.project);
    let w = |path: String,
             valid: Value,
             required: &[&'static str],
             strings: &[&'static str],
             names: &[&'static str]| Write {
        path,
        valid,
        required: required.to_vec(),
        strings: strings.to_vec(),
        names: names.to_vec(),
        key: None,
    };
    let mut out = vec![
        w(
            "/v1/organization/roles".into(),
            json!({"role_name": "new role", "permissions": ["api.users.read"], "description": "d"}),
            &["role_name", "permissions"],
            &["role_name", "description"],
            &["role_name"],
        ),
        w(
            format!("/v1/organization/roles/{}", f.role),
            json!({"role_name": "renamed", "description": "d", "permissions": ["api.users.read"]}),
            &[],
            &["role_name", "description"],
            &["role_name"],
        ),
        w(
            "/v1/organization/users".into(),
            json!({"email": "new@example.com", "name": "New", "role": "member"}),
            &["email"],
            &["email", "name", "role"],
            &["name"],
        ),
        w(
            format!("/v1/organization/users/{u}"),
            json!({"role": "reader"}),
            &[],
            &["role", "role_id", "name"],
            &[],
        ),
        w(
            format!("/v1/organization/users/{u}/roles"),
            json!({"role_id": f.role}),
            &["role_id"],
            &["role_id"],
            &[],
        ),
        w(
            "/v1/organization/invites".into(),
            json!({"email": "invitee@example.com", "role": "member"}),
            &["email", "role"],
            &["email", "role"],
            &[],
        ),
        w(
            "/v1/organization/groups".into(),
            json!({"name": "new group"}),
            &["name"],
            &["name"],
            &["name"],
        ),
        w(
            format!("/v1/organization/groups/{g}"),
            json!({"name": "renamed group"}),
            &["name"],
            &["name"],
            &["name"],
        ),
        w(
            format!("/v1/organization/groups/{g}/users"),
            json!({"user_id": f.user}),
            &["user_id"],
            &["user_id"],
            &[],
        ),
        w(
            format!("/v1/organization/groups/{g}/roles"),
            json!({"role_id": f.role}),
            &["role_id"],
            &["role_id"],
            &[],
        ),
        w(
            "/v1/organization/projects".into(),
            json!({"name": "new project"}),
            &["name"],
            &["name"],
            &["name"],
        ),
        w(
            format!("/v1/organization/projects/{p}"),
            json!({"name": "renamed project"}),
            &[],
            &["name"],
            &["name"],
        ),
        w(
            format!("/v1/organization/projects/{p}/users/{u}"),
            json!({"role": "viewer"}),
            &[],
            &["role"],
            &[],
        ),
        w(
            format!("/v1/projects/{p}/roles"),
            json!({"role_name": "new prole", "permissions": ["api.project.users.read"]}),
            &["role_name", "permissions"],
            &["role_name", "description"],
            &["role_name"],
        ),
        w(
            format!("/v1/projects/{p}/roles/{}", f.project_role),
            json!({"role_name": "renamed prole"}),
            &[],
            &["role_name", "description"],
            &["role_name"],
        ),
        w(
            format!("/v1/projects/{p}/users/{u}/roles"),
            json!({"role_id": f.project_role}),
            &["role_id"],
            &["role_id"],
            &[],
        ),
        w(
            format!("/v1/projects/{p}/groups/{g}/roles"),
            json!({"role_id": f.project_role}),
            &["role_id"],
            &["role_id"],
            &[],
        ),
        w(
            "/v1/organization/admin_api_keys".into(),
            json!({"name": "new key"}),
            &["name"],
            &["name"],
            &["name"],
        ),
        w(
            format!("/v1/organization/users/{u}/api_keys"),
            json!({"name": "user key"}),
            &["name"],
            &["name"],
            &["name"],
        ),
        w(
            "/v1/organization/permissions".into(),
            json!({"name": "docs.read", "description": "read docs", "resource_type": "api.organization"}),
            &["name"],
            &["name", "description", "resource_type"],
            &[],
        ),
        w(
            "/v1/organization/permissions/check".into(),
            json!({"user_id": f.user, "permission": "api.users.read"}),
            &["user_id", "permission"],
            &["user_id", "permission", "project_id"],
            &[],
        ),
        w(
            "/v1/organization/permissions/check_batch".into(),
            json!({"checks": [{"user_id": f.user, "permission": "api.users.read"}]}),
            &["checks"],
            &[],
            &[],
        ),
    ];
    let mut orgs = w(
        "/v1/organizations".into(),
        json!({"name": "New org", "owner_email": "boss@example.com", "owner_name": "Boss"}),
        &["name", "owner_email"],
        &["name", "owner_email", "owner_name"],
        &["name"],
    );
    orgs.key = Some(orgiam_testkit::ROOT_KEY.into());
    out.push(orgs);
    out
}

fn with(valid: &Value, field: &str, v: Value) -> Value {
    let mut b = valid.clone();
    b[field] = v;
    b
}

fn without(valid: &Value, field: &str) -> Value {
    let mut b = valid.clone();
    b.as_object_mut().unwrap().remove(field);
    b
}

backend_tests!(
    bad_bodies_on_every_write_route_are_400s_naming_the_field,
    |s: TestServer| async move {
        let f = fixture(&s).await;
        let before = fingerprint(&s).await;
        for w in writes(&f) {
            let key = w.key.clone().unwrap_or_else(|| s.admin_key.clone());
            let send = |body: Vec<u8>| s.raw("POST", &w.path, &key, body);
            let mut cases: Vec<(Vec<u8>, String)> = vec![
                (b"{".to_vec(), "body".into()),
                (b"{\"a\": ".to_vec(), "body".into()),
                (b"[]".to_vec(), "body".into()),
                (b"\"text\"".to_vec(), "body".into()),
                (b"42".to_vec(), "body".into()),
                (b"null".to_vec(), "body".into()),
                (b"{}}".to_vec(), "body".into()),
                (
                    vec![b'{', b'"', 0xC3, 0x28, b'"', b':', b'1', b'}'],
                    "body".into(),
                ),
                (b"\x00".to_vec(), "body".into()),
            ];
            for field in &w.required {
                cases.push((
                    serde_json::to_vec(&without(&w.valid, field)).unwrap(),
                    (*field).to_owned(),
                ));
            }
            for field in w.strings.iter().chain(w.required.iter()) {
                for wrong in [json!(12345), json!({"x": 1}), json!(true)] {
                    cases.push((
                        serde_json::to_vec(&with(&w.valid, field, wrong)).unwrap(),
                        (*field).to_owned(),
                    ));
                }
            }
            for field in &w.names {
                for bad in [
                    "a\u{0}b".to_owned(),
                    "é".repeat(257),
                    "   ".to_owned(),
                    "x\u{7}".to_owned(),
                ] {
                    cases.push((
                        serde_json::to_vec(&with(&w.valid, field, json!(bad))).unwrap(),
                        (*field).to_owned(),
                    ));
                }
            }
            for (body, param) in cases {
                let what = format!("POST {} {}", w.path, String::from_utf8_lossy(&body));
                let a = send(body).await;
                assert_400(&a, &param, &what);
            }
        }
        // nested fields are named by their path
        let a = s
            .post(
                "/v1/organization/permissions/check_batch",
                json!({"checks": [{"user_id": f.user, "permission": "api.users.read"}, {"user_id": f.user}]}),
            )
            .await;
        assert_400(&a, "checks[1].permission", "a nested missing field");
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "x", "permissions": ["api.users.read", 7]}),
            )
            .await;
        assert_400(&a, "permissions[1]", "a mistyped array element");
        // over-long descriptions and metadata
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "x", "permissions": [], "description": "d".repeat(4097)}),
            )
            .await;
        assert_400(&a, "description", "a 4097-character description");
        let a = s
            .post(
                &format!("/v1/organization/users/{}/roles", f.user),
                json!({"role_id": f.role, "metadata": {"k": "m".repeat(16 * 1024)}}),
            )
            .await;
        assert_400(&a, "metadata", "17 KiB of metadata");
        assert_eq!(
            fingerprint(&s).await,
            before,
            "a rejected body wrote something"
        );
        s.stop().await;
    }
);

backend_tests!(
    unknown_fields_are_ignored_on_native_routes,
    |s: TestServer| async move {
        let f = fixture(&s).await;
        for w in writes(&f) {
            let key = w.key.clone().unwrap_or_else(|| s.admin_key.clone());
            let mut body = w.valid.clone();
            body["an_unknown_field"] = json!({"nested": [1, "two", null]});
            body["another_one"] = json!(null);
            let a = s.call("POST", &w.path, Some(&key), Some(body)).await;
            assert_eq!(a.status, 200, "POST {}: {}", w.path, a.body);
        }
        s.stop().await;
    }
);

backend_tests!(
    unicode_names_are_accepted_and_round_trip,
    |s: TestServer| async move {
        let names = [
            "Équipe 東京 🚀",
            "مدير الفوترة",
            "e\u{301}quipe (combining)",
            "👩‍👩‍👧‍👦 family",
            &"東".repeat(256),
        ];
        for (i, name) in names.iter().enumerate() {
            let role = s
                .post(
                    "/v1/organization/roles",
                    json!({"role_name": name, "permissions": [], "description": format!("{name} ✓")}),
                )
                .await
                .expect(200);
            let got = s
                .get(&format!("/v1/organization/roles/{}", id(&role)))
                .await
                .expect(200);
            assert_eq!(got["name"], *name);
            assert_eq!(got["description"], format!("{name} ✓"));
            let group = s
                .post("/v1/organization/groups", json!({"name": name}))
                .await
                .expect(200);
            let got = s
                .get(&format!("/v1/organization/groups/{}", id(&group)))
                .await
                .expect(200);
            assert_eq!(got["name"], *name);
            let project = s
                .post("/v1/organization/projects", json!({"name": name}))
                .await
                .expect(200);
            let got = s
                .get(&format!("/v1/organization/projects/{}", id(&project)))
                .await
                .expect(200);
            assert_eq!(got["name"], *name);
            let user = s
                .post(
                    "/v1/organization/users",
                    json!({"email": format!("ü{i}@exämple.com"), "name": name, "role": "member"}),
                )
                .await;
            if user.status == 200 {
                let got = s
                    .get(&format!("/v1/organization/users/{}", id(&user.body)))
                    .await
                    .expect(200);
                assert_eq!(got["name"], *name);
            } else {
                assert_400(&user, "email", "a non-ASCII email");
            }
        }
        // the limit counts characters, not bytes
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "東".repeat(257), "permissions": []}),
            )
            .await;
        assert_400(&a, "role_name", "257 characters");
        // the dialects render the same names unchanged
        let org = s.org_id.clone();
        let t = s
            .get(&format!("/compat/timbal/orgs/{org}/iam/roles"))
            .await
            .expect(200);
        for name in names {
            assert!(
                t["roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["name"] == name),
                "{name} missing from the timbal list"
            );
        }
        s.stop().await;
    }
);

/// `(status, body)` of a GET with `key` in `header`.
async fn dialect_get(s: &TestServer, path: &str, header: &str, key: &str) -> (u16, Value) {
    let res = s.get_with_key_in(path, header, key).await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

backend_tests!(
    invalid_utf8_and_nul_in_paths_and_queries_are_4xx_in_each_shape,
    |s: TestServer| async move {
        let f = fixture(&s).await;
        let before = fingerprint(&s).await;
        let key = s.admin_key.clone();
        for path in [
            "/v1/organization/roles/%FF%FE".to_owned(),
            "/v1/organization/roles/role%00x".to_owned(),
            format!("/v1/organization/users/{}%C3%28/roles", f.user),
            "/v1/organization/groups/%C0%AF".to_owned(),
            "/v1/organization/permissions/%FF/users".to_owned(),
            "/v1/organization/roles?after=%FF".to_owned(),
            "/v1/organization/users?emails[]=%FF%00".to_owned(),
            "/v1/organization/audit_logs?event_types[]=%FF".to_owned(),
            "/v1/organization/audit_logs?effective_at[gte]=%FF".to_owned(),
            "/v1/organization/projects?include_archived=%FF".to_owned(),
            format!("/v1/organization/admin_api_keys/{}%FF", f.key),
            format!("/v1/projects/{}/roles/%00", f.project),
        ] {
            let a = s.get(&path).await;
            assert!(a.status == 400, "GET {path}: {} {}", a.status, a.body);
            assert!(a.error("message").is_string(), "GET {path}: {}", a.body);
            assert!(a.error("type").is_string(), "GET {path}: {}", a.body);
            let a = s.call("DELETE", &path, Some(&key), None).await;
            assert!(
                a.status == 400 && a.error("message").is_string(),
                "DELETE {path}: {} {}",
                a.status,
                a.body
            );
        }
        let org = s.org_id.clone();
        for bad in ["%FF%FE", "org%00x", &format!("{org}%C3%28")] {
            let (st, b) = dialect_get(
                &s,
                &format!("/compat/timbal/orgs/{bad}/iam/roles"),
                "authorization",
                &key,
            )
            .await;
            assert_eq!(st, 400, "timbal {bad}: {st} {b}");
            assert!(
                b["code"].is_string() && b["message"].is_string(),
                "timbal {bad}: {b}"
            );
            let (st, b) = dialect_get(
                &s,
                &format!("/compat/timbal/orgs/{org}/iam/roles/{bad}"),
                "authorization",
                &key,
            )
            .await;
            assert_eq!(st, 400, "timbal role {bad}: {st} {b}");
            assert!(
                b["code"].is_string() && b["message"].is_string(),
                "timbal {bad}: {b}"
            );
            let (st, b) = dialect_get(
                &s,
                &format!("/compat/aitronos/v1/organizations/{bad}/roles"),
                "x-api-key",
                &key,
            )
            .await;
            assert_eq!(st, 400, "aitronos {bad}: {st} {b}");
            assert_eq!(b["success"], false, "aitronos {bad}: {b}");
            assert_eq!(b["error"]["status"], st, "aitronos {bad}: {b}");
            let (st, b) = dialect_get(
                &s,
                &format!("/compat/fiddler/roles/{bad}"),
                "authorization",
                &key,
            )
            .await;
            assert_eq!(st, 400, "fiddler {bad}: {st} {b}");
            assert_eq!(b["status"], "FAILURE", "fiddler {bad}: {b}");
        }
        for q in [
            "include_global=%FF",
            "include_global=%00",
            "include_global=maybe",
        ] {
            let (st, b) = dialect_get(
                &s,
                &format!("/compat/aitronos/v1/organizations/{org}/roles?{q}"),
                "x-api-key",
                &key,
            )
            .await;
            assert_eq!(st, 400, "aitronos ?{q}: {b}");
            assert_eq!(b["success"], false, "aitronos ?{q}: {b}");
        }
        assert_eq!(fingerprint(&s).await, before);
        s.stop().await;
    }
);

backend_tests!(
    bodies_over_a_configured_limit_are_413_in_our_shape,
    |s: TestServer| async move {
        let db = orgiam_testkit::fresh_db(s.db.backend).await.unwrap();
        let small = TestServer::start_on(db, |c| c.body_limit = 1024).await;
        let before = fingerprint(&small).await;
        let big = json!({"role_name": "big", "permissions": [], "description": "d".repeat(2000)});
        let a = small.post("/v1/organization/roles", big).await;
        assert_eq!(a.status, 413, "{}", a.body);
        assert_eq!(a.error("code"), "payload_too_large");
        assert_eq!(a.error("type"), "invalid_request_error");
        assert!(a.error("message").as_str().unwrap().contains("1024"));
        assert_eq!(fingerprint(&small).await, before);
        small
            .post(
                "/v1/organization/roles",
                json!({"role_name": "small", "permissions": []}),
            )
            .await
            .expect(200);
        small.stop().await;
        s.stop().await;
    }
);
