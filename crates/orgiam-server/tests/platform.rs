//! The platform level over HTTP, on SQLite and PostgreSQL: platform keys (root key only to
//! mint, stored hashed, refused by organization routes), the organizations' lifecycle (list,
//! read, rename, delete with its keys stopping at once in every process, recovery admin
//! keys), checks in any organization agreeing with the organization routes, and the platform
//! audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use orgiam_testkit::{ROOT_KEY, TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

/// Mints a platform key with `permissions` using the root key; returns (id, secret).
async fn platform_key(s: &TestServer, permissions: &[&str]) -> (String, String) {
    let k = s
        .call(
            "POST",
            "/v1/platform/api_keys",
            Some(ROOT_KEY),
            Some(json!({"name": "service", "permissions": permissions})),
        )
        .await
        .expect(200);
    assert_eq!(k["object"], "platform.api_key");
    let value = k["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-platform-"), "{value}");
    (k["id"].as_str().unwrap().to_owned(), value)
}

async fn status(s: &TestServer, method: &str, path: &str, key: &str, body: Option<Value>) -> u16 {
    s.call(method, path, Some(key), body).await.status
}

backend_tests!(platform_keys, |s: TestServer| async move {
    let (id, value) = platform_key(&s, &["platform.organizations.read"]).await;

    // stored as a hash only
    let hashes = db_strings(&s.db.url, "SELECT secret_hash FROM platform_api_keys").await;
    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0], value);
    assert_eq!(hashes[0].len(), 64);

    // listed and read without the secret
    let list = s
        .call("GET", "/v1/platform/api_keys", Some(ROOT_KEY), None)
        .await
        .expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("value").is_none());
    assert_eq!(
        list["data"][0]["permissions"],
        json!(["platform.organizations.read"])
    );
    let one = s
        .call(
            "GET",
            &format!("/v1/platform/api_keys/{id}"),
            Some(ROOT_KEY),
            None,
        )
        .await
        .expect(200);
    assert!(one.get("value").is_none());
    assert!(
        one["redacted_value"]
            .as_str()
            .unwrap()
            .starts_with("sk-platform-")
    );

    // it serves the routes of its permissions, and no others
    assert_eq!(
        status(&s, "GET", "/v1/platform/organizations", &value, None).await,
        200
    );
    let denied = s
        .call(
            "POST",
            "/v1/platform/permissions/check",
            Some(&value),
            Some(json!({"organization_id": s.org_id, "user_id": s.owner_id, "permission": "api.users.read"})),
        )
        .await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    assert!(
        denied
            .error("message")
            .as_str()
            .unwrap()
            .contains("platform.check")
    );

    // only the root key mints, lists or revokes platform keys
    let minted = s
        .call(
            "POST",
            "/v1/platform/api_keys",
            Some(&value),
            Some(json!({"name": "x", "permissions": ["platform.check"]})),
        )
        .await;
    assert_eq!(minted.status, 403);
    assert_eq!(minted.error("code"), "root_key_required");
    assert_eq!(
        status(&s, "GET", "/v1/platform/api_keys", &value, None).await,
        403
    );

    // an organization route refuses it, saying why
    let org_route = s
        .call("GET", "/v1/organization/users", Some(&value), None)
        .await;
    assert_eq!(org_route.status, 401);
    assert!(
        org_route
            .error("message")
            .as_str()
            .unwrap()
            .contains("platform key"),
        "{:?}",
        org_route.body
    );
    // an organization's key is not a platform key
    let admin = s
        .call(
            "GET",
            "/v1/platform/organizations",
            Some(&s.admin_key),
            None,
        )
        .await;
    assert_eq!(admin.status, 403);
    assert_eq!(admin.error("code"), "platform_key_required");
    assert_eq!(
        status(
            &s,
            "GET",
            "/v1/platform/organizations",
            "sk-platform-nope",
            None
        )
        .await,
        401
    );

    // bad input: 400 and nothing created
    for body in [
        json!({"name": "x", "permissions": ["api.users.read"]}),
        json!({"name": "x", "permissions": []}),
        json!({"name": "", "permissions": ["platform.check"]}),
        json!({"name": "x"}),
    ] {
        let a = s
            .call(
                "POST",
                "/v1/platform/api_keys",
                Some(ROOT_KEY),
                Some(body.clone()),
            )
            .await;
        assert_eq!(a.status, 400, "{body}: {:?}", a.body);
    }
    assert_eq!(
        db_scalar(&s.db.url, "SELECT COUNT(*) FROM platform_api_keys").await,
        1
    );

    // revoked: fails on its very next request
    let del = s
        .call(
            "DELETE",
            &format!("/v1/platform/api_keys/{id}"),
            Some(ROOT_KEY),
            None,
        )
        .await
        .expect(200);
    assert_eq!(del["deleted"], true);
    assert_eq!(
        status(&s, "GET", "/v1/platform/organizations", &value, None).await,
        401
    );
    assert_eq!(
        status(
            &s,
            "DELETE",
            &format!("/v1/platform/api_keys/{id}"),
            ROOT_KEY,
            None
        )
        .await,
        404
    );
    s.stop().await;
});

backend_tests!(organizations_list_read_rename, |s: TestServer| async move {
    let (_, key) = platform_key(
        &s,
        &[
            "platform.organizations.read",
            "platform.organizations.write",
        ],
    )
    .await;
    let (a, _, _) = s.new_org("Acme One", "a@acme.test").await;
    let (b, _, _) = s.new_org("Acme Two", "b@acme.test").await;
    let (_c, _, _) = s.new_org("Bolt", "c@bolt.test").await;

    // keyset pages over every organization
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(id) => format!("/v1/platform/organizations?limit=2&after={id}"),
            None => "/v1/platform/organizations?limit=2".to_owned(),
        };
        let page = s.call("GET", &path, Some(&key), None).await.expect(200);
        for o in page["data"].as_array().unwrap() {
            assert_eq!(o["object"], "organization");
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        after = Some(page["last_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 4, "the bootstrap organization and three more");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    // name prefix, case-sensitive on both engines
    let acme = s
        .call(
            "GET",
            "/v1/platform/organizations?name=Acme",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    let ids: Vec<&str> = acme["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    let lower = s
        .call(
            "GET",
            "/v1/platform/organizations?name=acme",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert!(lower["data"].as_array().unwrap().is_empty());
    assert_eq!(
        status(&s, "GET", "/v1/platform/organizations?limit=0", &key, None).await,
        400
    );
    assert_eq!(
        status(
            &s,
            "GET",
            "/v1/platform/organizations?after=nope",
            &key,
            None
        )
        .await,
        400
    );

    // read and rename
    let read = s
        .call(
            "GET",
            &format!("/v1/platform/organizations/{a}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(read["name"], "Acme One");
    let renamed = s
        .call(
            "POST",
            &format!("/v1/platform/organizations/{a}"),
            Some(&key),
            Some(json!({"name": "Acme Prime"})),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Acme Prime");
    let read = s
        .call(
            "GET",
            &format!("/v1/platform/organizations/{a}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(read["name"], "Acme Prime");
    let bad = s
        .call(
            "POST",
            &format!("/v1/platform/organizations/{a}"),
            Some(&key),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error("param"), "name");
    for path in [
        "/v1/platform/organizations/org_01J00000000000000000000000",
        "/v1/platform/organizations/nope",
    ] {
        assert_eq!(status(&s, "GET", path, &key, None).await, 404, "{path}");
    }
    // a read-only platform key cannot rename
    let (_, reader) = platform_key(&s, &["platform.organizations.read"]).await;
    assert_eq!(
        status(
            &s,
            "POST",
            &format!("/v1/platform/organizations/{a}"),
            &reader,
            Some(json!({"name": "x"}))
        )
        .await,
        403
    );
    s.stop().await;
});

/// Waits (up to `limit`) until `key` gets `want` on `path` from `s`; returns the last status.
async fn settles(s: &TestServer, path: &str, key: &str, want: u16, limit: Duration) -> u16 {
    let start = Instant::now();
    loop {
        let got = status(s, "GET", path, key, None).await;
        if got == want || start.elapsed() > limit {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

backend_tests!(deleting_an_organization, |s: TestServer| async move {
    let (doomed, owner, admin) = s.new_org("Doomed", "owner@doomed.test").await;
    let (kept, _, kept_admin) = s.new_org("Kept", "owner@kept.test").await;
    // give the doomed organization something of everything
    let u = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(&admin),
            Some(json!({"email": "m@doomed.test", "role": "member"})),
        )
        .await
        .expect(200);
    let user = u["id"].as_str().unwrap().to_owned();
    s.call(
        "POST",
        "/v1/organization/permissions",
        Some(&admin),
        Some(json!({"name": "docs.read"})),
    )
    .await
    .expect(200);
    s.call(
        "POST",
        "/v1/organization/roles",
        Some(&admin),
        Some(json!({"role_name": "Docs", "permissions": ["docs.read"]})),
    )
    .await
    .expect(200);
    s.call(
        "POST",
        "/v1/organization/groups",
        Some(&admin),
        Some(json!({"name": "G"})),
    )
    .await
    .expect(200);
    s.call(
        "POST",
        "/v1/organization/projects",
        Some(&admin),
        Some(json!({"name": "P"})),
    )
    .await
    .expect(200);
    let user_key = s
        .call(
            "POST",
            &format!("/v1/organization/users/{user}/api_keys"),
            Some(&admin),
            Some(json!({"name": "k"})),
        )
        .await
        .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();

    // a second process has both keys cached
    let other = s.another_process().await;
    for k in [&admin, &user_key] {
        assert_eq!(
            status(&other, "GET", "/v1/organization/projects", k, None).await,
            200
        );
        assert_eq!(
            status(&s, "GET", "/v1/organization/projects", k, None).await,
            200
        );
    }

    let (_, key) = platform_key(&s, &["platform.organizations.write"]).await;
    let del = s
        .call(
            "DELETE",
            &format!("/v1/platform/organizations/{doomed}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(del["object"], "organization.deleted");
    assert_eq!(del["deleted"], true);

    // its keys stop at once here, and within a second in the other process
    for k in [&admin, &user_key] {
        assert_eq!(
            status(&s, "GET", "/v1/organization/projects", k, None).await,
            401
        );
        let got = settles(
            &other,
            "/v1/organization/projects",
            k,
            401,
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(
            got, 401,
            "the other process still honours a deleted organization's key"
        );
    }
    // everything of it is gone; the other organization and the shared identity stay
    for table in [
        "memberships",
        "projects",
        "org_groups",
        "permissions",
        "roles",
        "role_assignments",
        "invitations",
        "api_keys",
        "audit_events",
    ] {
        let n = db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM {table} WHERE org_id = '{doomed}'"),
        )
        .await;
        assert_eq!(n, 0, "{table} keeps rows of a deleted organization");
    }
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM organizations WHERE id = '{doomed}'")
        )
        .await,
        0
    );
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM users WHERE id = '{owner}'")
        )
        .await,
        1
    );
    assert_eq!(
        status(&s, "GET", "/v1/organization/projects", &kept_admin, None).await,
        200
    );
    let (_, reader) = platform_key(&s, &["platform.organizations.read"]).await;
    assert_eq!(
        status(
            &s,
            "GET",
            &format!("/v1/platform/organizations/{doomed}"),
            &reader,
            None
        )
        .await,
        404
    );
    assert_eq!(
        status(
            &s,
            "GET",
            &format!("/v1/platform/organizations/{kept}"),
            &reader,
            None
        )
        .await,
        200
    );
    assert_eq!(
        status(
            &s,
            "DELETE",
            &format!("/v1/platform/organizations/{doomed}"),
            &key,
            None
        )
        .await,
        404
    );
    other.stop().await;
    s.stop().await;
});

backend_tests!(recovery_admin_key, |s: TestServer| async move {
    let (org, owner, admin) = s.new_org("Locked", "first@locked.test").await;
    let second = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(&admin),
            Some(json!({"email": "second@locked.test", "role": "owner"})),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reader = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(&admin),
            Some(json!({"email": "reader@locked.test", "role": "reader"})),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, key) = platform_key(&s, &["platform.organizations.write"]).await;
    let path = format!("/v1/platform/organizations/{org}/admin_api_keys");

    // the earliest owner when none is named
    let k = s.call("POST", &path, Some(&key), None).await.expect(200);
    assert_eq!(k["object"], "organization.admin_api_key");
    assert_eq!(k["owner"]["id"], owner.as_str());
    let value = k["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-admin-"));
    // it works as that owner on the organization's routes
    let me = s
        .call("GET", "/v1/organization/admin_api_keys", Some(&value), None)
        .await
        .expect(200);
    assert!(
        me["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == k["id"])
    );
    // a named owner
    let k2 = s
        .call(
            "POST",
            &path,
            Some(&key),
            Some(json!({"owner_user_id": second})),
        )
        .await
        .expect(200);
    assert_eq!(k2["owner"]["id"], second.as_str());
    // not an owner, or not a member: 400, nothing minted
    let before = db_scalar(&s.db.url, "SELECT COUNT(*) FROM api_keys").await;
    for who in [reader.as_str(), "user_01J00000000000000000000000"] {
        let a = s
            .call(
                "POST",
                &path,
                Some(&key),
                Some(json!({"owner_user_id": who})),
            )
            .await;
        assert_eq!(a.status, 400, "{:?}", a.body);
        assert_eq!(a.error("param"), "owner_user_id");
    }
    assert_eq!(
        db_scalar(&s.db.url, "SELECT COUNT(*) FROM api_keys").await,
        before
    );
    assert_eq!(
        status(
            &s,
            "POST",
            "/v1/platform/organizations/org_01J00000000000000000000000/admin_api_keys",
            &key,
            None
        )
        .await,
        404
    );

    // recorded in the organization's own audit log as a platform action
    let log = s
        .call(
            "GET",
            "/v1/organization/audit_logs?event_types[]=api_key.created",
            Some(&value),
            None,
        )
        .await
        .expect(200);
    let recovery: Vec<&Value> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["type"] == "platform")
        .collect();
    assert_eq!(recovery.len(), 2, "{log}");
    assert_eq!(recovery[0]["actor"]["platform"]["type"], "platform_api_key");
    s.stop().await;
});

backend_tests!(
    platform_checks_agree_with_org_checks,
    |s: TestServer| async move {
        let (org2, _, admin2) = s.new_org("Second", "o@second.test").await;
        let mut setups = Vec::new();
        for (org, admin) in [
            (s.org_id.clone(), s.admin_key.clone()),
            (org2.clone(), admin2.clone()),
        ] {
            s.call(
                "POST",
                "/v1/organization/permissions",
                Some(&admin),
                Some(json!({"name": "docs.read"})),
            )
            .await
            .expect(200);
            let mut users = Vec::new();
            for role in ["reader", "member", "admin"] {
                let u = s
                    .call(
                        "POST",
                        "/v1/organization/users",
                        Some(&admin),
                        Some(json!({"email": format!("{role}@{org}.test"), "role": role})),
                    )
                    .await
                    .expect(200);
                users.push(u["id"].as_str().unwrap().to_owned());
            }
            setups.push((org, admin, users));
        }
        let (_, key) = platform_key(&s, &["platform.check"]).await;
        let perms = [
            "docs.read",
            "api.users.read",
            "api.users.write",
            "api.admin_keys.write",
        ];
        let mut batch = Vec::new();
        let mut expected = Vec::new();
        for (org, admin, users) in &setups {
            for u in users {
                for p in perms {
                    let body = json!({"user_id": u, "permission": p});
                    let native = s
                        .call(
                            "POST",
                            "/v1/organization/permissions/check",
                            Some(admin),
                            Some(body),
                        )
                        .await
                        .expect(200);
                    let platform = s
                        .call(
                            "POST",
                            "/v1/platform/permissions/check",
                            Some(&key),
                            Some(json!({"organization_id": org, "user_id": u, "permission": p})),
                        )
                        .await
                        .expect(200);
                    assert_eq!(platform["organization_id"], org.as_str());
                    assert_eq!(platform["allowed"], native["allowed"], "{org} {u} {p}");
                    assert_eq!(platform["reasons"], native["reasons"], "{org} {u} {p}");
                    assert_eq!(platform["object"], "permission.check");
                    batch.push(json!({"organization_id": org, "user_id": u, "permission": p}));
                    expected.push(native["allowed"].clone());
                }
            }
        }
        // both answers occur, so agreement says something
        assert!(expected.contains(&json!(true)) && expected.contains(&json!(false)));
        let answers = s
            .call(
                "POST",
                "/v1/platform/permissions/check_batch",
                Some(&key),
                Some(json!({"checks": batch})),
            )
            .await
            .expect(200);
        let got: Vec<Value> = answers["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["allowed"].clone())
            .collect();
        assert_eq!(got, expected);

        // a user of one organization asked about in the other: 404 naming the item
        let u1 = &setups[0].2[0];
        let wrong = s
            .call(
                "POST",
                "/v1/platform/permissions/check_batch",
                Some(&key),
                Some(json!({"checks": [
                    {"organization_id": s.org_id, "user_id": u1, "permission": "docs.read"},
                    {"organization_id": org2, "user_id": u1, "permission": "docs.read"},
                ]})),
            )
            .await;
        assert_eq!(wrong.status, 404, "{:?}", wrong.body);
        assert_eq!(wrong.error("param"), "checks[1].user_id");
        let unknown = s
        .call(
            "POST",
            "/v1/platform/permissions/check",
            Some(&key),
            Some(json!({"organization_id": "org_01J00000000000000000000000", "user_id": u1, "permission": "docs.read"})),
        )
        .await;
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.error("param"), "organization_id");
        let bad = s
            .call(
                "POST",
                "/v1/platform/permissions/check",
                Some(&key),
                Some(json!({"organization_id": s.org_id, "user_id": u1, "permission": "no.such"})),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.error("param"), "permission");
        let missing = s
            .call(
                "POST",
                "/v1/platform/permissions/check",
                Some(&key),
                Some(json!({"user_id": u1, "permission": "docs.read"})),
            )
            .await;
        assert_eq!(missing.status, 400);
        s.stop().await;
    }
);

backend_tests!(platform_audit_log, |s: TestServer| async move {
    let (key_id, key) = platform_key(
        &s,
        &["platform.organizations.write", "platform.audit_logs.read"],
    )
    .await;
    let (org, _, _) = s.new_org("Logged", "o@logged.test").await;
    s.call(
        "POST",
        &format!("/v1/platform/organizations/{org}"),
        Some(&key),
        Some(json!({"name": "Logged Too"})),
    )
    .await
    .expect(200);
    s.call(
        "DELETE",
        &format!("/v1/platform/organizations/{org}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);

    let all = s
        .call("GET", "/v1/platform/audit_logs", Some(&key), None)
        .await
        .expect(200);
    let types: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // newest first
    assert_eq!(
        types,
        vec![
            "organization.deleted",
            "organization.updated",
            "organization.created",
            "platform_api_key.created"
        ]
    );
    let deleted = &all["data"][0];
    assert_eq!(deleted["actor"]["type"], "platform");
    assert_eq!(deleted["actor"]["platform"]["id"], key_id.as_str());
    assert_eq!(
        deleted["organization.deleted"]["before"]["name"],
        "Logged Too"
    );
    assert_eq!(all["data"][2]["actor"]["platform"]["type"], "root_key");
    assert_eq!(all["data"][2]["organization.created"]["id"], org.as_str());

    // the organization route's filters and paging
    let only = s
        .call(
            "GET",
            "/v1/platform/audit_logs?event_types[]=organization.updated",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let by_key = s
        .call(
            "GET",
            &format!("/v1/platform/audit_logs?actor_ids[]={key_id}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(by_key["data"].as_array().unwrap().len(), 2);
    let p1 = s
        .call("GET", "/v1/platform/audit_logs?limit=2", Some(&key), None)
        .await
        .expect(200);
    assert_eq!(p1["has_more"], true);
    let p2 = s
        .call(
            "GET",
            &format!(
                "/v1/platform/audit_logs?limit=2&after={}",
                p1["last_id"].as_str().unwrap()
            ),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(p2["has_more"], false);
    assert_eq!(p2["data"][1]["type"], "platform_api_key.created");
    assert_eq!(
        status(&s, "GET", "/v1/platform/audit_logs?limit=101", &key, None).await,
        400
    );
    // the permission is needed
    let (_, other) = platform_key(&s, &["platform.check"]).await;
    assert_eq!(
        status(&s, "GET", "/v1/platform/audit_logs", &other, None).await,
        403
    );
    s.stop().await;
});

/// `allowed` of the organization route's check with `key`, or the error status.
async fn allowed(s: &TestServer, key: &str, user: &str, permission: &str) -> Result<bool, u16> {
    let a = s
        .call(
            "POST",
            "/v1/organization/permissions/check",
            Some(key),
            Some(json!({"user_id": user, "permission": permission})),
        )
        .await;
    if a.status == 200 {
        Ok(a.body["allowed"].as_bool().unwrap())
    } else {
        Err(a.status)
    }
}

backend_tests!(global_permissions, |s: TestServer| async move {
    let (org2, owner2, admin2) = s.new_org("Second", "o@second.test").await;
    let other = s.another_process().await;
    // both processes have both organizations loaded before the platform changes anything
    for srv in [&s, &other] {
        assert_eq!(
            allowed(srv, &s.admin_key, &s.owner_id, "reports.export").await,
            Err(400)
        );
        assert_eq!(
            allowed(srv, &admin2, &owner2, "reports.export").await,
            Err(400)
        );
    }
    let (_, key) = platform_key(&s, &["platform.catalog.write"]).await;
    let created = s
        .call(
            "POST",
            "/v1/platform/permissions",
            Some(&key),
            Some(json!({"name": "reports.export", "description": "export reports"})),
        )
        .await
        .expect(200);
    assert_eq!(created["platform"], true);
    assert_eq!(created["builtin"], false);

    // in every organization's catalog, marked; owners hold it at once here, within a second
    // in the other process
    for admin in [&s.admin_key, &admin2] {
        let cat = s
            .call(
                "GET",
                "/v1/organization/permissions?limit=1000",
                Some(admin),
                None,
            )
            .await
            .expect(200);
        let p = cat["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "reports.export")
            .cloned()
            .expect("the global permission is in the catalog");
        assert_eq!(p["platform"], true);
        let builtin = cat["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "api.users.read")
            .unwrap();
        assert_eq!(builtin["platform"], false);
        assert_eq!(builtin["builtin"], true);
    }
    assert_eq!(
        allowed(&s, &s.admin_key, &s.owner_id, "reports.export").await,
        Ok(true)
    );
    assert_eq!(
        allowed(&s, &admin2, &owner2, "reports.export").await,
        Ok(true)
    );
    let start = Instant::now();
    loop {
        let here = allowed(&other, &admin2, &owner2, "reports.export").await;
        if here == Ok(true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other process: {here:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // usable in an organization's own role; a member holds it only through one
    let m = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(&admin2),
            Some(json!({"email": "m@second.test", "role": "member"})),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(allowed(&s, &admin2, &m, "reports.export").await, Ok(false));
    let role = s
        .call(
            "POST",
            "/v1/organization/roles",
            Some(&admin2),
            Some(json!({"role_name": "Exporter", "permissions": ["reports.export"]})),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.call(
        "POST",
        &format!("/v1/organization/users/{m}/roles"),
        Some(&admin2),
        Some(json!({"role_id": role})),
    )
    .await
    .expect(200);
    assert_eq!(allowed(&s, &admin2, &m, "reports.export").await, Ok(true));

    // read-only to organizations; one name, one permission
    let del = s
        .call(
            "DELETE",
            "/v1/organization/permissions/reports.export",
            Some(&admin2),
            None,
        )
        .await;
    assert_eq!(del.status, 403);
    assert_eq!(del.error("code"), "platform_permission");
    let dup = s
        .call(
            "POST",
            "/v1/organization/permissions",
            Some(&s.admin_key),
            Some(json!({"name": "reports.export"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    s.call(
        "POST",
        "/v1/organization/permissions",
        Some(&s.admin_key),
        Some(json!({"name": "docs.read"})),
    )
    .await
    .expect(200);
    let clash = s
        .call(
            "POST",
            "/v1/platform/permissions",
            Some(&key),
            Some(json!({"name": "docs.read"})),
        )
        .await;
    assert_eq!(clash.status, 409);
    for bad in [
        json!({"name": "api.x.read"}),
        json!({"name": ""}),
        json!({"name": "a", "resource_type": "x"}),
    ] {
        let a = s
            .call(
                "POST",
                "/v1/platform/permissions",
                Some(&key),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(a.status, 400, "{bad}");
    }
    let listed = s
        .call("GET", "/v1/platform/permissions", Some(&key), None)
        .await
        .expect(200);
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["reports.export"]);

    // 409 while a role holds it; gone from every catalog once deleted
    let held = s
        .call(
            "DELETE",
            "/v1/platform/permissions/reports.export",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(held.status, 409, "{:?}", held.body);
    s.call(
        "DELETE",
        &format!("/v1/organization/roles/{role}"),
        Some(&admin2),
        None,
    )
    .await
    .expect(200);
    s.call(
        "DELETE",
        "/v1/platform/permissions/reports.export",
        Some(&key),
        None,
    )
    .await
    .expect(200);
    // nobody holds it any more, and no catalog lists it
    assert_eq!(
        allowed(&s, &admin2, &owner2, "reports.export").await,
        Ok(false)
    );
    assert_eq!(
        allowed(&s, &s.admin_key, &s.owner_id, "reports.export").await,
        Ok(false)
    );
    let cat = s
        .call(
            "GET",
            "/v1/organization/permissions?limit=1000",
            Some(&admin2),
            None,
        )
        .await
        .expect(200);
    assert!(
        cat["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "reports.export")
    );
    assert_eq!(
        status(
            &s,
            "DELETE",
            "/v1/platform/permissions/reports.export",
            &key,
            None
        )
        .await,
        404
    );
    // another key cannot change the catalog
    let (_, checker) = platform_key(&s, &["platform.check"]).await;
    assert_eq!(
        status(
            &s,
            "POST",
            "/v1/platform/permissions",
            &checker,
            Some(json!({"name": "x.y"}))
        )
        .await,
        403
    );
    let _ = org2;
    other.stop().await;
    s.stop().await;
});

/// The role named `name` in a list of role objects, if any.
fn named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|r| r["name"] == name)
}

backend_tests!(global_roles, |s: TestServer| async move {
    let (org2, _, admin2) = s.new_org("Second", "o@second.test").await;
    let other = s.another_process().await;
    let (_, key) = platform_key(&s, &["platform.catalog.write", "platform.check"]).await;
    s.call(
        "POST",
        "/v1/platform/permissions",
        Some(&key),
        Some(json!({"name": "reports.view"})),
    )
    .await
    .expect(200);
    let m = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(&admin2),
            Some(json!({"email": "m@second.test", "role": "member"})),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // the other process has the organization loaded before the role exists
    assert_eq!(
        allowed(&other, &admin2, &m, "reports.view").await,
        Ok(false)
    );

    let role = s
        .call(
            "POST",
            "/v1/platform/roles",
            Some(&key),
            Some(json!({"role_name": "Analyst", "permissions": ["reports.view", "api.users.read"], "description": "reads reports"})),
        )
        .await
        .expect(200);
    let role_id = role["id"].as_str().unwrap().to_owned();
    assert_eq!(role["predefined_role"], true);

    // listed in every organization: natively as predefined, in Aitronos with a null
    // organization (absent without include_global), in Timbal as a system role
    for (org, admin) in [
        (s.org_id.clone(), s.admin_key.clone()),
        (org2.clone(), admin2.clone()),
    ] {
        let list = s
            .call("GET", "/v1/organization/roles", Some(&admin), None)
            .await
            .expect(200);
        let r = named(&list["data"], "Analyst").expect("listed natively");
        assert_eq!(r["predefined_role"], true);
        assert_eq!(r["permissions"], json!(["api.users.read", "reports.view"]));
        let ai: Value = s
            .get_with_key_in(
                &format!("/compat/aitronos/v1/organizations/{org}/roles"),
                "x-api-key",
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        let r = named(&ai, "Analyst").expect("listed with include_global");
        assert!(r["organization_id"].is_null());
        let ai: Value = s
            .get_with_key_in(
                &format!("/compat/aitronos/v1/organizations/{org}/roles?include_global=false"),
                "x-api-key",
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(named(&ai, "Analyst").is_none());
        let tb: Value = s
            .get_with_key_in(
                &format!("/compat/timbal/orgs/{org}/iam/roles"),
                "authorization",
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            named(&tb["roles"], "Analyst").expect("Timbal")["source"],
            "system"
        );
    }
    // read-only to organizations
    let edit = s
        .call(
            "POST",
            &format!("/v1/organization/roles/{role_id}"),
            Some(&admin2),
            Some(json!({"role_name": "Mine"})),
        )
        .await;
    assert_eq!(edit.status, 403);
    assert_eq!(
        status(
            &s,
            "DELETE",
            &format!("/v1/organization/roles/{role_id}"),
            &admin2,
            None
        )
        .await,
        403
    );

    // assignable like any role; checks agree here, on the platform route and in the other
    // process
    s.call(
        "POST",
        &format!("/v1/organization/users/{m}/roles"),
        Some(&admin2),
        Some(json!({"role_id": role_id})),
    )
    .await
    .expect(200);
    assert_eq!(allowed(&s, &admin2, &m, "reports.view").await, Ok(true));
    assert_eq!(allowed(&s, &admin2, &m, "api.users.read").await, Ok(true));
    let p = s
        .call(
            "POST",
            "/v1/platform/permissions/check",
            Some(&key),
            Some(json!({"organization_id": org2, "user_id": m, "permission": "reports.view"})),
        )
        .await
        .expect(200);
    assert_eq!(p["allowed"], true);
    assert_eq!(p["reasons"][0]["role_id"], role_id.as_str());
    let start = Instant::now();
    while allowed(&other, &admin2, &m, "reports.view").await != Ok(true) {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // a platform change of the role reaches every snapshot: here at once, elsewhere within a
    // second
    let changed = s
        .call(
            "POST",
            &format!("/v1/platform/roles/{role_id}"),
            Some(&key),
            Some(json!({"permissions": ["api.users.read"]})),
        )
        .await
        .expect(200);
    assert_eq!(changed["permissions"], json!(["api.users.read"]));
    assert_eq!(allowed(&s, &admin2, &m, "reports.view").await, Ok(false));
    let start = Instant::now();
    while allowed(&other, &admin2, &m, "reports.view").await != Ok(false) {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // bad input changes nothing
    for bad in [
        json!({"role_name": "owner", "permissions": []}),
        json!({"role_name": "X", "permissions": ["no.such"]}),
        json!({"role_name": "", "permissions": []}),
    ] {
        let a = s
            .call("POST", "/v1/platform/roles", Some(&key), Some(bad.clone()))
            .await;
        assert!(a.status == 400 || a.status == 409, "{bad}: {:?}", a.body);
    }
    let dup = s
        .call(
            "POST",
            "/v1/platform/roles",
            Some(&key),
            Some(json!({"role_name": "analyst", "permissions": []})),
        )
        .await;
    assert_eq!(dup.status, 409);

    // 409 while assigned anywhere; gone from every listing once deleted
    assert_eq!(
        status(
            &s,
            "DELETE",
            &format!("/v1/platform/roles/{role_id}"),
            &key,
            None
        )
        .await,
        409
    );
    s.call(
        "DELETE",
        &format!("/v1/organization/users/{m}/roles/{role_id}"),
        Some(&admin2),
        None,
    )
    .await
    .expect(200);
    s.call(
        "DELETE",
        &format!("/v1/platform/roles/{role_id}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    let list = s
        .call("GET", "/v1/organization/roles", Some(&admin2), None)
        .await
        .expect(200);
    assert!(named(&list["data"], "Analyst").is_none());
    let platform_list = s
        .call("GET", "/v1/platform/roles", Some(&key), None)
        .await
        .expect(200);
    assert!(platform_list["data"].as_array().unwrap().is_empty());
    other.stop().await;
    s.stop().await;
});

backend_tests!(
    reader_and_member_take_app_permissions,
    |s: TestServer| async move {
        let (_, key) = platform_key(&s, &["platform.catalog.write"]).await;
        s.call(
            "POST",
            "/v1/platform/permissions",
            Some(&key),
            Some(json!({"name": "reports.view"})),
        )
        .await
        .expect(200);
        let r = s
            .post(
                "/v1/organization/users",
                json!({"email": "r@a.test", "role": "reader"}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            allowed(&s, &s.admin_key, &r, "reports.view").await,
            Ok(false)
        );
        let roles = s.get("/v1/organization/roles").await.expect(200);
        let reader = named(&roles["data"], "reader").unwrap().clone();
        let reader_id = reader["id"].as_str().unwrap().to_owned();
        let builtin: Vec<String> = reader["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .filter(|p| p.starts_with("api."))
            .collect();
        let path = format!("/v1/platform/roles/{reader_id}");

        // the api.* part must stay what it is
        let mut fewer = builtin.clone();
        fewer.pop();
        fewer.push("reports.view".into());
        let a = s
            .call(
                "POST",
                &path,
                Some(&key),
                Some(json!({"permissions": fewer})),
            )
            .await;
        assert_eq!(a.status, 400, "{:?}", a.body);
        assert_eq!(a.error("param"), "permissions");
        let mut more = builtin.clone();
        more.push("api.users.write".into());
        let a = s
            .call(
                "POST",
                &path,
                Some(&key),
                Some(json!({"permissions": more})),
            )
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(
            allowed(&s, &s.admin_key, &r, "reports.view").await,
            Ok(false)
        );
        // owner and admin hold everything already
        let owner_id = named(&roles["data"], "owner").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            status(
                &s,
                "POST",
                &format!("/v1/platform/roles/{owner_id}"),
                &key,
                Some(json!({"permissions": ["reports.view"]}))
            )
            .await,
            400
        );

        let mut with_app = builtin.clone();
        with_app.push("reports.view".into());
        let set = s
            .call(
                "POST",
                &path,
                Some(&key),
                Some(json!({"permissions": with_app})),
            )
            .await
            .expect(200);
        assert!(
            set["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("reports.view"))
        );
        // listings and checks agree
        assert_eq!(
            allowed(&s, &s.admin_key, &r, "reports.view").await,
            Ok(true)
        );
        let roles = s.get("/v1/organization/roles").await.expect(200);
        let listed = named(&roles["data"], "reader").unwrap();
        assert!(
            listed["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("reports.view"))
        );
        let held = s
            .get(&format!("/v1/organization/users/{r}/permissions"))
            .await
            .expect(200);
        assert!(held.to_string().contains("reports.view"), "{held}");
        // a global permission a system role holds cannot be deleted; taken back, it stops
        assert_eq!(
            status(
                &s,
                "DELETE",
                "/v1/platform/permissions/reports.view",
                &key,
                None
            )
            .await,
            409
        );
        s.call(
            "POST",
            &path,
            Some(&key),
            Some(json!({"permissions": builtin})),
        )
        .await
        .expect(200);
        assert_eq!(
            allowed(&s, &s.admin_key, &r, "reports.view").await,
            Ok(false)
        );
        s.stop().await;
    }
);

backend_tests!(
    every_platform_route_is_documented_and_guarded,
    |s: TestServer| async move {
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        let (_, auditor) = platform_key(&s, &["platform.audit_logs.read"]).await;
        let mut routes = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/v1/platform/") {
                continue;
            }
            let concrete = path
                .replace("{org_id}", &s.org_id)
                .replace("{key_id}", "key_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                .replace("{role_id}", "role_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                .replace("{permission}", "documents.write");
            assert!(!concrete.contains('{'), "unfilled parameter in {path}");
            for method in ["get", "post", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                routes += 1;
                let m = method.to_uppercase();
                let body = (method == "post").then(|| json!({}));
                let none = s.call(&m, &concrete, None, body.clone()).await;
                assert_eq!(none.status, 401, "{m} {path}");
                assert!(none.body["error"]["message"].is_string());
                // an organization's key, even its owner's admin key, is not a platform key
                let org = s
                    .call(&m, &concrete, Some(&s.admin_key), body.clone())
                    .await;
                assert_eq!(org.status, 403, "{m} {path}: {}", org.body);
                assert_eq!(org.error("code"), "platform_key_required", "{m} {path}");
                // a platform key holding another permission is refused before anything happens
                if !(path == "/v1/platform/audit_logs" && method == "get") {
                    let other = s.call(&m, &concrete, Some(&auditor), body).await;
                    assert_eq!(other.status, 403, "{m} {path}: {}", other.body);
                }
            }
        }
        assert!(routes >= 20, "only {routes} platform routes documented");
        // nothing above changed anything
        assert_eq!(
            db_scalar(&s.db.url, "SELECT COUNT(*) FROM platform_audit_events").await,
            1,
            "only the auditor key's creation"
        );
        s.stop().await;
    }
);

backend_tests!(
    one_organization_moves_between_servers,
    |s: TestServer| async move {
        let (org, _, admin) = s.new_org("Mover", "owner@mover.test").await;
        let m = s
            .call(
                "POST",
                "/v1/organization/users",
                Some(&admin),
                Some(json!({"email": "m@mover.test", "role": "member"})),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.call(
            "POST",
            "/v1/organization/permissions",
            Some(&admin),
            Some(json!({"name": "docs.read"})),
        )
        .await
        .expect(200);
        let role = s
            .call(
                "POST",
                "/v1/organization/roles",
                Some(&admin),
                Some(json!({"role_name": "Docs", "permissions": ["docs.read"]})),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.call(
            "POST",
            &format!("/v1/organization/users/{m}/roles"),
            Some(&admin),
            Some(json!({"role_id": role})),
        )
        .await
        .expect(200);
        // the later features move too: a webhook endpoint with its deliveries, a SCIM token and
        // a member it provisioned and suspended
        let hook = s
            .call(
                "POST",
                "/v1/organization/webhooks",
                Some(&admin),
                Some(json!({"url": "https://hooks.example.invalid/mover"})),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let scim = s
            .call(
                "POST",
                "/v1/organization/scim_tokens",
                Some(&admin),
                Some(json!({"name": "idp", "default_role": "reader"})),
            )
            .await
            .expect(200)["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let ann = s
            .call(
                "POST",
                "/scim/v2/Users",
                Some(&scim),
                Some(json!({"userName": "ann@mover.test"})),
            )
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.call(
            "PATCH",
            &format!("/scim/v2/Users/{ann}"),
            Some(&scim),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            ),
        )
        .await
        .expect(200);
        assert_eq!(allowed(&s, &admin, &ann, "api.users.read").await, Ok(false));
        let moved = |t: &TestServer| {
            let (http, base, admin, hook) =
                (t.http.clone(), t.base.clone(), admin.clone(), hook.clone());
            async move {
                let mut out = Vec::new();
                for path in [
                    "/v1/organization/audit_logs?limit=100".to_owned(),
                    "/v1/organization/events?after=0".to_owned(),
                    "/v1/organization/webhooks".to_owned(),
                    format!("/v1/organization/webhooks/{hook}/deliveries"),
                ] {
                    let r = http
                        .get(format!("{base}{path}"))
                        .bearer_auth(&admin)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "{path}");
                    let mut v: Value = r.json().await.unwrap();
                    if path.ends_with("deliveries") {
                        // their attempts move on as the worker tries them
                        v = v["data"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|d| d["id"].clone())
                            .collect();
                    }
                    out.push(v);
                }
                out
            }
        };
        let before = moved(&s).await;
        assert_eq!(before[2]["data"][0]["state"], "active");
        assert!(!before[3].as_array().unwrap().is_empty());
        let (_, key) = platform_key(&s, &["platform.organizations.write"]).await;
        let path = format!("/v1/platform/organizations/{org}/export");
        let res = s
            .http
            .get(format!("{}{path}", s.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let doc = res.bytes().await.unwrap().to_vec();
        let parsed: Value = serde_json::from_slice(&doc).expect("one JSON document");
        assert_eq!(parsed["organization_id"], org.as_str());
        let text = String::from_utf8(doc.clone()).unwrap();
        assert!(!text.contains(&admin), "no secret in the export");
        assert!(!text.contains(&s.org_id), "nothing of another organization");

        let import = |body: Vec<u8>| {
            let http = s.http.clone();
            let url = format!("{}/v1/platform/organizations/import", s.base);
            let key = key.clone();
            async move {
                let r = http
                    .post(url)
                    .bearer_auth(key)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        // here it exists: 409
        let (status, body) = import(doc.clone()).await;
        assert_eq!(status, 409, "{body}");
        // a truncated or foreign body: 400, nothing written
        let (status, _) = import(doc[..doc.len() / 2].to_vec()).await;
        assert_eq!(status, 400);
        let (status, _) = import(b"{\"hello\": 1}".to_vec()).await;
        assert_eq!(status, 400);

        // another server takes it: its keys and answers are the same there
        let other = TestServer::start(s.db.backend).await.unwrap();
        let r = other
            .http
            .post(format!("{}/v1/platform/organizations/import", other.base))
            .bearer_auth(ROOT_KEY)
            .body(doc.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(allowed(&other, &admin, &m, "docs.read").await, Ok(true));
        assert_eq!(
            allowed(&other, &admin, &m, "api.users.write").await,
            Ok(false)
        );
        let scim_user = other
            .call("GET", &format!("/scim/v2/Users/{ann}"), Some(&scim), None)
            .await
            .expect(200);
        assert_eq!(scim_user["active"], false);
        assert_eq!(
            allowed(&other, &admin, &ann, "api.users.read").await,
            Ok(false)
        );
        assert_eq!(moved(&other).await, before);
        other.stop().await;

        // delete it, bring it back: its keys and answers are as they were
        s.call(
            "DELETE",
            &format!("/v1/platform/organizations/{org}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
        assert_eq!(allowed(&s, &admin, &m, "docs.read").await, Err(401));
        let (status, body) = import(doc).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], org.as_str());
        assert_eq!(allowed(&s, &admin, &m, "docs.read").await, Ok(true));
        assert_eq!(allowed(&s, &admin, &m, "api.users.write").await, Ok(false));
        let log = s
            .call(
                "GET",
                "/v1/platform/audit_logs?event_types[]=organization.imported",
                Some(ROOT_KEY),
                None,
            )
            .await
            .expect(200);
        assert_eq!(log["data"].as_array().unwrap().len(), 1);
        s.stop().await;
    }
);
