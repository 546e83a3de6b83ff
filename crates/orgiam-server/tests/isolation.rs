//! Tenant isolation, swept over the router: for every route and method of /openapi.json that
//! names an object, including the dialects, a key of organization B against organization A's
//! ids gets 404 (native) or 403 (dialects), never a byte of A's data, and A's objects are
//! unchanged afterwards. Lists B may call show none of A's objects. The routes are enumerated
//! from the document, so a new route without an entry here fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use orgiam_testkit::{TestServer, backend_tests, json};
use serde_json::Value;

/// Everything A owns that B will aim at.
struct Ids(BTreeMap<&'static str, String>);

impl Ids {
    fn get(&self, k: &str) -> &str {
        self.0
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no id for {k}"))
    }
}

async fn setup_a(s: &TestServer) -> Ids {
    let mut ids = BTreeMap::new();
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    s.post(
        "/v1/organization/permissions",
        json!({"name": "asecret.read"}),
    )
    .await
    .expect(200);
    s.post(
        "/v1/organization/permissions",
        json!({"name": "asecret.deploy", "resource_type": "api.project"}),
    )
    .await
    .expect(200);
    let role = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "A-secret-role", "permissions": ["asecret.read"]}),
        )
        .await
        .expect(200);
    let user = s
        .post(
            "/v1/organization/users",
            json!({"email": "a-secret-user@a.example", "name": "A secret", "role": "member"}),
        )
        .await
        .expect(200);
    let (role, user) = (id(&role), id(&user));
    s.post(
        &format!("/v1/organization/users/{user}/roles"),
        json!({"role_id": role}),
    )
    .await
    .expect(200);
    let group = id(&s
        .post("/v1/organization/groups", json!({"name": "A-secret-group"}))
        .await
        .expect(200));
    s.post(
        &format!("/v1/organization/groups/{group}/users"),
        json!({"user_id": user}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/v1/organization/groups/{group}/roles"),
        json!({"role_id": role}),
    )
    .await
    .expect(200);
    let project = id(&s
        .post(
            "/v1/organization/projects",
            json!({"name": "A-secret-project"}),
        )
        .await
        .expect(200));
    let prole = s
        .post(
            &format!("/v1/projects/{project}/roles"),
            json!({"role_name": "A-secret-prole", "permissions": ["asecret.deploy"]}),
        )
        .await
        .expect(200);
    let prole = id(&prole);
    s.post(
        &format!("/v1/organization/projects/{project}/users"),
        json!({"user_id": user, "role": "member"}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/v1/projects/{project}/users/{user}/roles"),
        json!({"role_id": prole}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/v1/organization/projects/{project}/groups"),
        json!({"group_id": group, "role": prole}),
    )
    .await
    .expect(200);
    let invite = id(&s
        .post(
            "/v1/organization/invites",
            json!({"email": "a-secret-invitee@a.example", "role": "reader"}),
        )
        .await
        .expect(200));
    let ukey = id(&s
        .post(
            &format!("/v1/organization/users/{user}/api_keys"),
            json!({"name": "A-secret-key"}),
        )
        .await
        .expect(200));
    let scim_token = id(&s
        .post(
            "/v1/organization/scim_tokens",
            json!({"name": "A-secret-scim"}),
        )
        .await
        .expect(200));
    let admin_keys = s.get("/v1/organization/admin_api_keys").await.expect(200);
    let akey = admin_keys["data"][0]["id"].as_str().unwrap().to_owned();
    // a reserved name that never resolves: nothing is ever delivered
    let webhook = id(&s
        .post(
            "/v1/organization/webhooks",
            json!({"url": "https://hooks.example.invalid/a", "description": "A-secret-webhook"}),
        )
        .await
        .expect(200));
    let deliveries = s
        .get(&format!("/v1/organization/webhooks/{webhook}/deliveries"))
        .await
        .expect(200);
    let delivery = deliveries["data"][0]["id"].as_str().unwrap().to_owned();
    for (k, v) in [
        ("org_id", s.org_id.clone()),
        ("role_id", role),
        ("user_id", user),
        ("group_id", group),
        ("project_id", project),
        ("project_role_id", prole),
        ("invite_id", invite),
        ("user_key_id", ukey),
        ("admin_key_id", akey),
        ("token_id", scim_token),
        ("permission", "asecret.read".to_owned()),
        ("webhook_id", webhook),
        ("delivery_id", delivery),
    ] {
        ids.insert(k, v);
    }
    Ids(ids)
}

/// What A looks like through its own key: compared before and after B's attempts.
async fn state_of_a(s: &TestServer, ids: &Ids) -> Vec<Value> {
    let (u, g, p) = (
        ids.get("user_id"),
        ids.get("group_id"),
        ids.get("project_id"),
    );
    let mut out = Vec::new();
    for path in [
        "/v1/organization/roles?limit=1000".to_owned(),
        "/v1/organization/users?limit=100".to_owned(),
        "/v1/organization/groups?limit=1000".to_owned(),
        format!("/v1/organization/groups/{g}/users?limit=1000"),
        format!("/v1/organization/groups/{g}/roles"),
        "/v1/organization/projects?limit=100&include_archived=true".to_owned(),
        format!("/v1/organization/projects/{p}/users?limit=100"),
        format!("/v1/organization/projects/{p}/groups?limit=100"),
        format!("/v1/projects/{p}/roles"),
        format!("/v1/projects/{p}/users/{u}/roles"),
        format!("/v1/organization/users/{u}/roles"),
        format!("/v1/organization/users/{u}/api_keys"),
        "/v1/organization/invites?limit=100".to_owned(),
        "/v1/organization/admin_api_keys?limit=100".to_owned(),
        "/v1/organization/permissions?limit=1000".to_owned(),
        "/v1/organization/webhooks?limit=100".to_owned(),
        "/v1/organization/scim_tokens?limit=100".to_owned(),
    ] {
        let mut v = s.get(&path).await.expect(200);
        // last use times move when A's own key is used; they are not what we compare
        strip(&mut v, "last_used_at");
        out.push(v);
    }
    out
}

fn strip(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            m.remove(key);
            m.values_mut().for_each(|x| strip(x, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, key)),
        _ => {}
    }
}

/// A well-formed body for each mutating route, so that B's request gets as far as a lookup.
fn body_for(path: &str, method: &str, ids: &Ids) -> Option<Value> {
    if method != "post" {
        return None;
    }
    let v = match path {
        "/v1/organization/groups/{group_id}" | "/v1/organization/projects/{project_id}" => {
            json!({"name": "pwned"})
        }
        "/v1/organization/groups/{group_id}/roles" | "/v1/organization/users/{user_id}/roles" => {
            json!({"role_id": ids.get("role_id")})
        }
        "/v1/organization/groups/{group_id}/users" => json!({"user_id": ids.get("user_id")}),
        "/v1/organization/projects/{project_id}/archive" => json!({}),
        "/v1/organization/projects/{project_id}/groups" => {
            json!({"group_id": ids.get("group_id"), "role": ids.get("project_role_id")})
        }
        "/v1/organization/projects/{project_id}/users" => {
            json!({"user_id": ids.get("user_id"), "role": "member"})
        }
        "/v1/organization/projects/{project_id}/users/{user_id}" => json!({"role": "viewer"}),
        "/v1/organization/roles/{role_id}" | "/v1/projects/{project_id}/roles/{role_id}" => {
            json!({"role_name": "pwned"})
        }
        "/v1/organization/users/{user_id}" => json!({"role": "reader"}),
        "/v1/organization/users/{user_id}/api_keys" => json!({"name": "pwned"}),
        "/v1/projects/{project_id}/groups/{group_id}/roles"
        | "/v1/projects/{project_id}/users/{user_id}/roles" => {
            json!({"role_id": ids.get("project_role_id")})
        }
        "/v1/projects/{project_id}/roles" => json!({"role_name": "pwned", "permissions": []}),
        "/v1/organization/webhooks/{webhook_id}" => json!({"enabled": false}),
        "/v1/organization/webhooks/{webhook_id}/rotate_secret"
        | "/v1/organization/webhooks/{webhook_id}/test"
        | "/v1/organization/webhooks/{webhook_id}/deliveries/{delivery_id}/retry" => json!({}),
        _ => panic!("the isolation sweep has no body for POST {path}: add one"),
    };
    Some(v)
}

fn fill(path: &str, ids: &Ids) -> String {
    let role = if path.starts_with("/v1/projects/") {
        ids.get("project_role_id")
    } else {
        ids.get("role_id")
    };
    let key = if path.contains("/users/{user_id}/api_keys/") {
        ids.get("user_key_id")
    } else {
        ids.get("admin_key_id")
    };
    let filled = path
        .replace("{org_id}", ids.get("org_id"))
        .replace("{role_id}", role)
        .replace("{user_id}", ids.get("user_id"))
        .replace("{group_id}", ids.get("group_id"))
        .replace("{project_id}", ids.get("project_id"))
        .replace("{invite_id}", ids.get("invite_id"))
        .replace("{key_id}", key)
        .replace("{permission}", ids.get("permission"))
        .replace("{webhook_id}", ids.get("webhook_id"))
        .replace("{delivery_id}", ids.get("delivery_id"))
        .replace("{token_id}", ids.get("token_id"));
    assert!(
        !filled.contains('{'),
        "the isolation sweep cannot fill {path}: add its parameter"
    );
    filled
}

/// A's names and emails: none may appear in anything B receives.
const SECRETS: [&str; 10] = [
    "A-secret-role",
    "a-secret-user@a.example",
    "A-secret-group",
    "A-secret-project",
    "A-secret-prole",
    "a-secret-invitee@a.example",
    "A-secret-key",
    "asecret.deploy",
    "A-secret-webhook",
    "A-secret-scim",
];

fn assert_no_secret(what: &str, body: &Value) {
    let text = body.to_string();
    for s in SECRETS {
        assert!(!text.contains(s), "{what} leaked '{s}': {text}");
    }
}

backend_tests!(
    another_organization_gets_nothing_on_any_route,
    |s: TestServer| async move {
        let ids = setup_a(&s).await;
        let (_, _, key_b) = s.new_org("B", "boss@b.example").await;
        let before = state_of_a(&s, &ids).await;
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        let mut swept = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "delete", "put", "patch"] {
                if item.get(method).is_none() {
                    continue;
                }
                if path.starts_with("/v1/platform/") {
                    // platform routes refuse every organization key (403 before any lookup):
                    // tests/platform.rs sweeps them
                    let a = s
                        .call(&method.to_uppercase(), path, Some(&key_b), None)
                        .await;
                    assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
                    continue;
                }
                if !path.contains('{') {
                    // lists and creates act on B's own organization: B's lists show none of A
                    if method == "get" && !path.starts_with("/compat/") && path != "/openapi.json" {
                        let a = s.call("GET", path, Some(&key_b), None).await;
                        assert!(a.status < 500, "GET {path}: {}", a.body);
                        assert_no_secret(&format!("GET {path}"), &a.body);
                    }
                    continue;
                }
                let concrete = fill(path, &ids);
                let body = body_for(path, method, &ids);
                let a = if path.starts_with("/compat/aitronos/") {
                    // Aitronos clients send the key as X-API-Key
                    let res = s
                        .http
                        .get(format!("{}{concrete}", s.base))
                        .header("X-API-Key", &key_b)
                        .send()
                        .await
                        .unwrap();
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    orgiam_testkit::Answer {
                        status,
                        headers: Default::default(),
                        body,
                    }
                } else {
                    s.call(&method.to_uppercase(), &concrete, Some(&key_b), body)
                        .await
                };
                let want = if path.starts_with("/compat/") {
                    403
                } else {
                    404
                };
                assert_eq!(
                    a.status,
                    want,
                    "{} {path}: {}",
                    method.to_uppercase(),
                    a.body
                );
                assert_no_secret(&format!("{method} {path}"), &a.body);
                swept += 1;
            }
        }
        assert!(swept >= 50, "only {swept} route/method pairs swept");
        let after = state_of_a(&s, &ids).await;
        assert_eq!(before, after, "A's objects changed");
        s.stop().await;
    }
);
