//! Admin API keys and user keys over HTTP, on SQLite and PostgreSQL: minting (owners only, no
//! escalation), listing by the last item's id, revocation and expiry taking effect on the very
//! next request, last use recorded lazily, keys dying with their membership, tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

async fn events(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

async fn last_event(s: &TestServer) -> String {
    db_strings(&s.db.url, "SELECT type FROM audit_events ORDER BY id DESC")
        .await
        .remove(0)
}

async fn provision(s: &TestServer, email: &str, role: &str) -> String {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "name": email, "role": role}),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

/// A user key for `user` minted with `key`; returns (key id, secret).
async fn user_key_with(s: &TestServer, key: &str, user: &str) -> (String, String) {
    let k = s
        .call(
            "POST",
            &format!("/v1/organization/users/{user}/api_keys"),
            Some(key),
            Some(json!({"name": "tool"})),
        )
        .await
        .expect(200);
    assert_eq!(k["object"], "organization.user.api_key");
    let value = k["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-user-"), "{value}");
    (k["id"].as_str().unwrap().to_owned(), value)
}

async fn user_key(s: &TestServer, user: &str) -> (String, String) {
    user_key_with(s, &s.admin_key.clone(), user).await
}

async fn status(s: &TestServer, method: &str, path: &str, key: &str, body: Option<Value>) -> u16 {
    s.call(method, path, Some(key), body).await.status
}

backend_tests!(admin_key_lifecycle, |s: TestServer| async move {
    let before = events(&s).await;
    let created = s
        .post(
            "/v1/organization/admin_api_keys",
            json!({"name": "  CI deploys  ", "unknown_field": 1}),
        )
        .await;
    assert!(created.headers.contains_key("orgiam-revision"));
    let created = created.body;
    assert_eq!(created["object"], "organization.admin_api_key");
    assert_eq!(created["name"], "CI deploys");
    let value = created["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-admin-") && value.len() >= 52);
    let redacted = created["redacted_value"].as_str().unwrap();
    assert!(redacted.starts_with("sk-admin-") && !redacted.contains(&value[12..40]));
    assert_eq!(created["expires_at"], Value::Null);
    assert_eq!(created["last_used_at"], Value::Null);
    let owner = &created["owner"];
    assert_eq!(owner["id"], s.owner_id);
    assert_eq!(owner["object"], "organization.user");
    assert_eq!(owner["type"], "user");
    assert_eq!(owner["role"], "owner");
    assert!(owner["created_at"].as_i64().unwrap() > 0);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"));
    assert_eq!(events(&s).await, before + 1);
    assert_eq!(last_event(&s).await, "api_key.created");
    // only the digest is stored; the secret is in no column of any table we write
    let hashes = db_strings(
        &s.db.url,
        &format!("SELECT secret_hash FROM api_keys WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(hashes, [orgiam_core::keys::hash(&value)]);
    let details = db_strings(&s.db.url, "SELECT details FROM audit_events").await;
    assert!(
        details
            .iter()
            .all(|d| !d.contains(&value) && !d.contains(&hashes[0]))
    );

    // the new key acts as the owner
    let me = s
        .call("GET", "/v1/organization/users", Some(&value), None)
        .await
        .expect(200);
    assert_eq!(me["data"][0]["id"], s.owner_id);
    // retrieve and list never show the secret
    let got = s
        .get(&format!("/v1/organization/admin_api_keys/{id}"))
        .await
        .expect(200);
    assert_eq!(got["id"], id);
    assert_eq!(got["redacted_value"], created["redacted_value"]);
    assert!(got.get("value").is_none());
    let second = s
        .post("/v1/organization/admin_api_keys", json!({"name": "second"}))
        .await
        .expect(200);
    // pages of one, by the last item's id (the SDK's CursorPage), cover every key once
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("/v1/organization/admin_api_keys?limit=1{after}"))
            .await
            .expect(200);
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 1);
        for k in data {
            assert!(k.get("value").is_none());
            assert_eq!(k["object"], "organization.admin_api_key");
            seen.push(k["id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        after = format!("&after={}", data.last().unwrap()["id"].as_str().unwrap());
    }
    assert_eq!(seen.len(), 3, "bootstrap key + 2");
    assert_eq!(seen[1], id);
    assert_eq!(seen[2], second["id"]);
    let desc = s
        .get("/v1/organization/admin_api_keys?order=desc")
        .await
        .expect(200);
    assert_eq!(desc["data"][0]["id"], second["id"]);

    // refused inputs write nothing
    let n = events(&s).await;
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "expires_in_seconds": 0}),
        json!({"name": "x", "expires_in_seconds": -5}),
        json!({"name": "x", "expires_in_seconds": 400_000_000}),
        json!({"name": "x", "expires_in_seconds": "soon"}),
        json!({"name": "x".repeat(257)}),
    ] {
        let a = s.post("/v1/organization/admin_api_keys", bad.clone()).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        assert_eq!(a.headers["x-should-retry"], "false");
    }
    let a = s
        .post(
            "/v1/organization/admin_api_keys",
            json!({"name": "x", "expires_in_seconds": 0}),
        )
        .await;
    assert_eq!(a.error("param"), "expires_in_seconds");
    for q in ["limit=0", "limit=101", "after=nope", "order=up"] {
        let a = s.get(&format!("/v1/organization/admin_api_keys?{q}")).await;
        assert_eq!(a.status, 400, "{q}");
    }
    let missing = "key_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
    assert_eq!(
        s.get(&format!("/v1/organization/admin_api_keys/{missing}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/admin_api_keys/{missing}"))
            .await
            .status,
        404
    );
    assert_eq!(events(&s).await, n);

    // delete: the key fails on its very next request
    let deleted = s
        .delete(&format!("/v1/organization/admin_api_keys/{id}"))
        .await
        .expect(200);
    assert_eq!(
        deleted,
        json!({"object": "organization.admin_api_key.deleted", "id": id, "deleted": true})
    );
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(last_event(&s).await, "api_key.deleted");
    let gone = s
        .call("GET", "/v1/organization/users", Some(&value), None)
        .await;
    assert_eq!(gone.status, 401);
    assert_eq!(gone.error("type"), "authentication_error");
    assert_eq!(
        s.get(&format!("/v1/organization/admin_api_keys/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/admin_api_keys/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(events(&s).await, n + 1);
    s.stop().await;
});

backend_tests!(expiry_and_last_use, |s: TestServer| async move {
    let k = s
        .post(
            "/v1/organization/admin_api_keys",
            json!({"name": "short", "expires_in_seconds": 2}),
        )
        .await
        .expect(200);
    assert_eq!(
        k["expires_at"].as_i64().unwrap(),
        k["created_at"].as_i64().unwrap() + 2
    );
    let value = k["value"].as_str().unwrap().to_owned();
    let id = k["id"].as_str().unwrap().to_owned();
    assert_eq!(
        status(&s, "GET", "/v1/organization/roles", &value, None).await,
        200
    );
    // last use is written lazily (every 2 s): it appears without any further use of the key
    let mut last_used = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        last_used = s
            .get(&format!("/v1/organization/admin_api_keys/{id}"))
            .await
            .expect(200)["last_used_at"]
            .clone();
        if !last_used.is_null() {
            break;
        }
    }
    let t = last_used.as_i64().expect("last_used_at recorded");
    assert!(t >= k["created_at"].as_i64().unwrap());
    // past expires_at the key fails at once, though its row is still there
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = s
        .call("GET", "/v1/organization/roles", Some(&value), None)
        .await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        s.get(&format!("/v1/organization/admin_api_keys/{id}"))
            .await
            .expect(200)["id"],
        id
    );
    s.stop().await;
});

backend_tests!(only_owners_create_admin_keys, |s: TestServer| async move {
    let x = provision(&s, "x@a.example", "admin").await;
    let (_, xk) = user_key(&s, &x).await;
    let n = events(&s).await;
    let refused = s
        .call(
            "POST",
            "/v1/organization/admin_api_keys",
            Some(&xk),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error("code"), "permission_denied");
    // even holding api.admin_keys.write through a custom role, a non-owner may not
    let role = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "key admin", "permissions": ["api.admin_keys.write", "api.admin_keys.read"]}),
        )
        .await
        .expect(200);
    s.post(
        &format!("/v1/organization/users/{x}/roles"),
        json!({"role_id": role["id"]}),
    )
    .await
    .expect(200);
    let n2 = events(&s).await;
    assert_eq!(n2, n + 2);
    let refused = s
        .call(
            "POST",
            "/v1/organization/admin_api_keys",
            Some(&xk),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error("code"), "owner_required");
    assert_eq!(events(&s).await, n2);
    assert_eq!(
        db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM api_keys WHERE kind = 'admin'"
        )
        .await,
        1
    );
    // the custom role does let x list them
    assert_eq!(
        status(&s, "GET", "/v1/organization/admin_api_keys", &xk, None).await,
        200
    );
    // a reader reads admin keys but cannot create or delete them
    let r = provision(&s, "r@a.example", "reader").await;
    let (_, rk) = user_key(&s, &r).await;
    let list = s
        .call("GET", "/v1/organization/admin_api_keys", Some(&rk), None)
        .await
        .expect(200);
    let boot = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        status(
            &s,
            "POST",
            "/v1/organization/admin_api_keys",
            &rk,
            Some(json!({"name": "n"}))
        )
        .await,
        403
    );
    assert_eq!(
        status(
            &s,
            "DELETE",
            &format!("/v1/organization/admin_api_keys/{boot}"),
            &rk,
            None
        )
        .await,
        403
    );
    // a second owner's admin key acts as that owner and dies with the membership
    let y = provision(&s, "y@a.example", "owner").await;
    let (_, yk) = user_key(&s, &y).await;
    let yadmin = s
        .call(
            "POST",
            "/v1/organization/admin_api_keys",
            Some(&yk),
            Some(json!({"name": "y's"})),
        )
        .await
        .expect(200);
    assert_eq!(yadmin["owner"]["id"], y);
    let ya = yadmin["value"].as_str().unwrap().to_owned();
    let audit_actor = db_strings(
        &s.db.url,
        "SELECT COALESCE(actor_user_id, '') FROM audit_events ORDER BY id DESC",
    )
    .await;
    assert_eq!(audit_actor[0], y);
    assert_eq!(
        status(&s, "GET", "/v1/organization/admin_api_keys", &ya, None).await,
        200
    );
    s.delete(&format!("/v1/organization/users/{y}"))
        .await
        .expect(200);
    assert_eq!(
        status(&s, "GET", "/v1/organization/roles", &ya, None).await,
        401
    );
    assert_eq!(
        status(&s, "GET", "/v1/organization/roles", &yk, None).await,
        401
    );
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM api_keys WHERE user_id = '{y}'")
        )
        .await,
        0
    );
    s.stop().await;
});

backend_tests!(user_keys_act_as_their_user, |s: TestServer| async move {
    let m = provision(&s, "m@a.example", "member").await;
    let n = events(&s).await;
    let (mid, mk) = user_key(&s, &m).await;
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(last_event(&s).await, "api_key.created");
    // a member: no user list, no roles, no self-promotion
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk, None).await,
        403
    );
    let role = s
        .call(
            "POST",
            "/v1/organization/roles",
            Some(&mk),
            Some(json!({"role_name": "mine", "permissions": []})),
        )
        .await;
    assert_eq!(role.status, 403);
    let promote = s
        .call(
            "POST",
            &format!("/v1/organization/users/{m}/roles"),
            Some(&mk),
            Some(json!({"role_id": "role_00000000000000000000000001"})),
        )
        .await;
    assert_eq!(promote.status, 403);
    let self_key = s
        .call(
            "POST",
            &format!("/v1/organization/users/{m}/api_keys"),
            Some(&mk),
            Some(json!({"name": "more"})),
        )
        .await;
    assert_eq!(self_key.status, 403);
    assert_eq!(events(&s).await, n + 1, "refused writes wrote nothing");
    // exactly the user's permissions, live: a role granting api.users.read opens the list
    let reader_role = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "people", "permissions": ["api.users.read"]}),
        )
        .await
        .expect(200);
    let rid = reader_role["id"].as_str().unwrap().to_owned();
    s.post(
        &format!("/v1/organization/users/{m}/roles"),
        json!({"role_id": rid}),
    )
    .await
    .expect(200);
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk, None).await,
        200
    );
    assert_eq!(
        status(&s, "GET", "/v1/organization/roles", &mk, None).await,
        403
    );
    s.delete(&format!("/v1/organization/users/{m}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk, None).await,
        403
    );

    // a reader's key reads, never writes
    let r = provision(&s, "r@a.example", "reader").await;
    let (_, rk) = user_key(&s, &r).await;
    for p in [
        "/v1/organization/users",
        "/v1/organization/roles",
        "/v1/organization/admin_api_keys",
        "/v1/organization/invites",
        "/v1/organization/audit_logs",
    ] {
        assert_eq!(status(&s, "GET", p, &rk, None).await, 200, "{p}");
    }
    let n = events(&s).await;
    for (p, b) in [
        (
            "/v1/organization/roles",
            json!({"role_name": "z", "permissions": []}),
        ),
        ("/v1/organization/users", json!({"email": "z@a.example"})),
        (
            "/v1/organization/invites",
            json!({"email": "z@a.example", "role": "reader"}),
        ),
        ("/v1/organization/admin_api_keys", json!({"name": "z"})),
        (
            &format!("/v1/organization/users/{r}/api_keys"),
            json!({"name": "z"}),
        ),
    ] {
        assert_eq!(status(&s, "POST", p, &rk, Some(b)).await, 403, "{p}");
    }
    assert_eq!(events(&s).await, n);

    // list and delete a user's keys
    let (mid2, mk2) = user_key(&s, &m).await;
    let list = s
        .get(&format!("/v1/organization/users/{m}/api_keys"))
        .await
        .expect(200);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mid.as_str(), mid2.as_str()]);
    assert!(list["data"][0].get("value").is_none());
    assert_eq!(list["data"][0]["owner"]["id"], m);
    assert_eq!(list["data"][0]["owner"]["role"], "member");
    let page = s
        .get(&format!("/v1/organization/users/{m}/api_keys?limit=1"))
        .await
        .expect(200);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["last_id"], mid);
    // a user key is not an admin key, and another user's path does not reach it
    assert_eq!(
        s.get(&format!("/v1/organization/admin_api_keys/{mid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/admin_api_keys/{mid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/users/{r}/api_keys/{mid}"))
            .await
            .status,
        404
    );
    let boot = db_strings(&s.db.url, "SELECT id FROM api_keys WHERE kind = 'admin'").await;
    assert_eq!(
        s.delete(&format!(
            "/v1/organization/users/{}/api_keys/{}",
            s.owner_id, boot[0]
        ))
        .await
        .status,
        404
    );
    assert_eq!(
        s.get("/v1/organization/users/user_01ZZZZZZZZZZZZZZZZZZZZZZZZ/api_keys")
            .await
            .status,
        404
    );
    let n = events(&s).await;
    let del = s
        .delete(&format!("/v1/organization/users/{m}/api_keys/{mid}"))
        .await
        .expect(200);
    assert_eq!(del["object"], "organization.user.api_key.deleted");
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(last_event(&s).await, "api_key.deleted");
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk, None).await,
        401
    );
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk2, None).await,
        403
    );
    // removing the user kills the rest of their keys
    s.delete(&format!("/v1/organization/users/{m}"))
        .await
        .expect(200);
    assert_eq!(
        status(&s, "GET", "/v1/organization/users", &mk2, None).await,
        401
    );
    s.stop().await;
});

backend_tests!(user_keys_never_escalate, |s: TestServer| async move {
    let x = provision(&s, "x@a.example", "admin").await;
    let (_, xk) = user_key(&s, &x).await;
    let n = events(&s).await;
    // an admin lacks api.admin_keys.write: no key for the owner; a reader holds nothing an
    // admin lacks (admin ⊇ reader), so a key for one is fine
    let r = provision(&s, "r@a.example", "reader").await;
    user_key_with(&s, &xk, &r).await;
    let n = n + 2;
    for target in [s.owner_id.clone()] {
        let a = s
            .call(
                "POST",
                &format!("/v1/organization/users/{target}/api_keys"),
                Some(&xk),
                Some(json!({"name": "esc"})),
            )
            .await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation");
        assert!(
            a.error("message")
                .as_str()
                .unwrap()
                .contains("api.admin_keys")
        );
    }
    assert_eq!(events(&s).await, n);
    // but a member's key is fine, and the admin may key itself
    let m = provision(&s, "m@a.example", "member").await;
    user_key_with(&s, &xk, &m).await;
    user_key_with(&s, &xk, &x).await;

    // project scope: a "minter" (member + users.write) may not key someone who owns a project
    let now = chrono_now();
    let p = "proj_01HZZZZZZZZZZZZZZZZZZZZZZZ";
    db_scalar(
        &s.db.url,
        &format!(
            "INSERT INTO projects (id, org_id, name, created_at) VALUES ('{p}', '{}', 'P', {now}) RETURNING created_at",
            s.org_id
        ),
    )
    .await;
    db_scalar(
        &s.db.url,
        &format!(
            "INSERT INTO project_members (org_id, project_id, user_id, created_at) VALUES ('{}', '{p}', '{m}', {now}) RETURNING created_at",
            s.org_id
        ),
    )
    .await;
    db_scalar(
        &s.db.url,
        &format!(
            "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, user_id, project_id, is_base, created_at) \
             VALUES ('ra_01HZZZZZZZZZZZZZZZZZZZZZZZ', '{}', 'role_00000000000000000000000005', 'user', '{m}', '{m}', '{p}', 1, {now}) RETURNING created_at",
            s.org_id
        ),
    )
    .await;
    let minter = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "minter", "permissions": ["api.users.write", "api.users.read"]}),
        )
        .await
        .expect(200);
    let z = provision(&s, "z@a.example", "member").await;
    s.post(
        &format!("/v1/organization/users/{z}/roles"),
        json!({"role_id": minter["id"]}),
    )
    .await
    .expect(200);
    let (_, zk) = user_key(&s, &z).await;
    let n = events(&s).await;
    let a = s
        .call(
            "POST",
            &format!("/v1/organization/users/{m}/api_keys"),
            Some(&zk),
            Some(json!({"name": "esc"})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.error("code"), "privilege_escalation");
    assert!(a.error("message").as_str().unwrap().contains(p));
    // another member without project roles is fine
    let w = provision(&s, "w@a.example", "member").await;
    let n = n + 1;
    assert_eq!(events(&s).await, n);
    user_key_with(&s, &zk, &w).await;
    assert_eq!(events(&s).await, n + 1);
    s.stop().await;
});

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

backend_tests!(
    keys_are_invisible_to_another_org,
    |s: TestServer| async move {
        let m = provision(&s, "m@a.example", "member").await;
        let (mid, mk) = user_key(&s, &m).await;
        let a = s
            .post("/v1/organization/admin_api_keys", json!({"name": "A's"}))
            .await
            .expect(200);
        let aid = a["id"].as_str().unwrap().to_owned();
        let (_org_b, _owner_b, kb) = s.new_org("B", "boss@b.example").await;
        let n = events(&s).await;
        for (m_, p, body) in [
            (
                "GET",
                format!("/v1/organization/admin_api_keys/{aid}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/organization/admin_api_keys/{aid}"),
                None,
            ),
            ("GET", format!("/v1/organization/users/{m}/api_keys"), None),
            (
                "POST",
                format!("/v1/organization/users/{m}/api_keys"),
                Some(json!({"name": "steal"})),
            ),
            (
                "DELETE",
                format!("/v1/organization/users/{m}/api_keys/{mid}"),
                None,
            ),
        ] {
            let r = s.call(m_, &p, Some(&kb), body).await;
            assert_eq!(r.status, 404, "{m_} {p}: {}", r.body);
            assert!(!r.body.to_string().contains("A's"));
        }
        assert_eq!(events(&s).await, n);
        let listed = s
            .call("GET", "/v1/organization/admin_api_keys", Some(&kb), None)
            .await
            .expect(200);
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        assert_ne!(listed["data"][0]["id"], aid);
        // A's keys are untouched and still work
        assert_eq!(
            s.get(&format!("/v1/organization/admin_api_keys/{aid}"))
                .await
                .expect(200)["name"],
            "A's"
        );
        let av = a["value"].as_str().unwrap();
        assert_eq!(
            status(&s, "GET", "/v1/organization/roles", av, None).await,
            200
        );
        assert_eq!(
            status(&s, "GET", "/v1/organization/roles", &mk, None).await,
            403
        );
        s.stop().await;
    }
);

#[test]
fn openapi_documents_every_key_route() {
    use utoipa::OpenApi as _;
    let doc = orgiam_server::api::keys::Doc::openapi();
    for p in [
        "/v1/organization/admin_api_keys",
        "/v1/organization/admin_api_keys/{key_id}",
        "/v1/organization/users/{user_id}/api_keys",
        "/v1/organization/users/{user_id}/api_keys/{key_id}",
    ] {
        assert!(doc.paths.paths.contains_key(p), "{p}");
    }
}
