//! Authentication, permissions, privilege escalation and tenant isolation, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{ROOT_KEY, TestServer, backend_tests, json};

backend_tests!(keys_are_required_and_checked, |s: TestServer| async move {
    for key in [None, Some("sk-admin-wrong"), Some(""), Some(ROOT_KEY)] {
        let a = s.call("GET", "/v1/organization/roles", key, None).await;
        assert_eq!(a.status, 401, "{key:?}");
        assert_eq!(a.error("type"), "authentication_error");
        assert_eq!(a.headers["x-should-retry"], "false");
    }
    let via_header = s
        .http
        .get(format!("{}/v1/organization/roles", s.base))
        .header("X-API-Key", &s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 200);
    let lower_scheme = s
        .http
        .get(format!("{}/v1/organization/roles", s.base))
        .header("authorization", format!("bearer {}", s.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_scheme.status(), 200);
    // the secret is stored only as its SHA-256
    let hash = orgiam_core::keys::hash(&s.admin_key);
    let stored = orgiam_testkit::db_strings(&s.db.url, "SELECT secret_hash FROM api_keys").await;
    assert_eq!(stored, [hash]);
    let all = orgiam_testkit::db_strings(&s.db.url, "SELECT redacted_value FROM api_keys").await;
    assert!(!all[0].contains(&s.admin_key[12..40]));
    s.stop().await;
});

backend_tests!(
    the_platform_route_needs_the_root_key,
    |s: TestServer| async move {
        let body =
            json!({"name": "Acme", "owner_email": "boss@acme.example", "owner_name": "Boss"});
        assert_eq!(
            s.call("POST", "/v1/organizations", None, Some(body.clone()))
                .await
                .status,
            401
        );
        assert_eq!(
            s.call(
                "POST",
                "/v1/organizations",
                Some("sk-nope"),
                Some(body.clone())
            )
            .await
            .status,
            401
        );
        let org_key = s
            .call(
                "POST",
                "/v1/organizations",
                Some(&s.admin_key.clone()),
                Some(body.clone()),
            )
            .await;
        assert_eq!(org_key.status, 403);
        let bad = s
            .call(
                "POST",
                "/v1/organizations",
                Some(ROOT_KEY),
                Some(json!({"name": "x", "owner_email": "nope"})),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.error("param"), "owner_email");
        let created = s
            .call("POST", "/v1/organizations", Some(ROOT_KEY), Some(body))
            .await
            .expect(200);
        assert_eq!(created["object"], "organization");
        assert!(created["id"].as_str().unwrap().starts_with("org_"));
        assert_eq!(created["owner"]["role"], "owner");
        let key = &created["admin_api_key"];
        assert_eq!(key["object"], "organization.admin_api_key");
        let value = key["value"].as_str().unwrap();
        assert!(value.starts_with("sk-admin-") && value.len() >= 52);
        assert!(
            key["redacted_value"]
                .as_str()
                .unwrap()
                .starts_with("sk-admin-")
        );
        // the new key works and sees only its own organization
        let users = s
            .call("GET", "/v1/organization/users", Some(value), None)
            .await
            .expect(200);
        assert_eq!(users["data"].as_array().unwrap().len(), 1);
        assert_eq!(users["data"][0]["email"], "boss@acme.example");
        s.stop().await;
    }
);

backend_tests!(
    permissions_are_enforced_and_never_escalate,
    |s: TestServer| async move {
        let (_org, x, key) = s.new_org("B", "x@b.example").await;
        let call = |m: &'static str, p: String, b: Option<serde_json::Value>| {
            let key = key.clone();
            let s = &s;
            async move { s.call(m, &p, Some(&key), b).await }
        };
        let y = call(
            "POST",
            "/v1/organization/users".into(),
            Some(json!({"email": "y@b.example", "role": "owner"})),
        )
        .await
        .expect(200);
        let y = y["id"].as_str().unwrap().to_owned();
        // x steps down to admin: no admin key permissions any more
        call(
            "POST",
            format!("/v1/organization/users/{x}"),
            Some(json!({"role": "admin"})),
        )
        .await
        .expect(200);
        let esc = call(
            "POST",
            "/v1/organization/roles".into(),
            Some(json!({"role_name": "keys", "permissions": ["api.admin_keys.write"]})),
        )
        .await;
        assert_eq!(esc.status, 403);
        assert_eq!(esc.error("code"), "privilege_escalation");
        assert!(
            esc.error("message")
                .as_str()
                .unwrap()
                .contains("api.admin_keys.write")
        );
        let promote = call(
            "POST",
            format!("/v1/organization/users/{x}"),
            Some(json!({"role": "owner"})),
        )
        .await;
        assert_eq!(promote.status, 403);
        let grant = call(
            "POST",
            format!("/v1/organization/users/{x}/roles"),
            Some(json!({"role_id": "role_00000000000000000000000001"})),
        )
        .await;
        assert_eq!(grant.status, 403);
        assert_eq!(grant.error("code"), "privilege_escalation");
        let ok = call(
            "POST",
            "/v1/organization/roles".into(),
            Some(json!({"role_name": "readers", "permissions": ["api.users.read"]})),
        )
        .await
        .expect(200);
        // reader holds api.admin_keys.read, which an admin lacks: an admin cannot hand it out
        let reader = call(
            "POST",
            format!("/v1/organization/users/{y}"),
            Some(json!({"role": "reader"})),
        )
        .await;
        assert_eq!(reader.status, 403);
        assert_eq!(reader.error("code"), "privilege_escalation");
        // x becomes a member: the organization is readable, roles are not, writes are refused
        call(
            "POST",
            format!("/v1/organization/users/{x}"),
            Some(json!({"role": "member"})),
        )
        .await
        .expect(200);
        let read = call("GET", "/v1/organization/roles".into(), None).await;
        assert_eq!(read.status, 403);
        assert!(
            read.error("message")
                .as_str()
                .unwrap()
                .contains("api.roles.read")
        );
        let refused = call(
            "POST",
            "/v1/organization/roles".into(),
            Some(json!({"role_name": "r2", "permissions": []})),
        )
        .await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.error("code"), "permission_denied");
        assert!(
            refused
                .error("message")
                .as_str()
                .unwrap()
                .contains("api.roles.write")
        );
        assert_eq!(
            call(
                "DELETE",
                format!("/v1/organization/roles/{}", ok["id"].as_str().unwrap()),
                None
            )
            .await
            .status,
            403
        );
        assert_eq!(
            call("DELETE", format!("/v1/organization/users/{y}"), None)
                .await
                .status,
            403
        );
        // a refused write changed nothing
        assert_eq!(
            orgiam_testkit::db_scalar(
                &s.db.url,
                "SELECT COUNT(*) FROM roles WHERE name_key = 'r2'"
            )
            .await,
            0
        );
        s.stop().await;
    }
);

backend_tests!(
    another_organization_sees_nothing,
    |s: TestServer| async move {
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Secret", "permissions": []}),
            )
            .await
            .expect(200);
        let rid = role["id"].as_str().unwrap().to_owned();
        let ann = s
            .post(
                "/v1/organization/users",
                json!({"email": "ann@a.example", "role": "member"}),
            )
            .await
            .expect(200);
        let ann = ann["id"].as_str().unwrap().to_owned();
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        let (_org_b, owner_b, key_b) = s.new_org("B", "boss@b.example").await;
        let b = |m: &'static str, p: String, body: Option<serde_json::Value>| {
            let key = key_b.clone();
            let s = &s;
            async move { s.call(m, &p, Some(&key), body).await }
        };
        let roles = b("GET", "/v1/organization/roles".into(), None)
            .await
            .expect(200);
        assert_eq!(
            roles["data"].as_array().unwrap().len(),
            4,
            "only the shared system roles"
        );
        let users = b("GET", "/v1/organization/users".into(), None)
            .await
            .expect(200);
        assert_eq!(users["data"].as_array().unwrap().len(), 1);
        let by_email = b(
            "GET",
            "/v1/organization/users?emails[]=ann%40a.example".into(),
            None,
        )
        .await
        .expect(200);
        assert_eq!(by_email["data"].as_array().unwrap().len(), 0);
        for (m, p, body) in [
            ("GET", format!("/v1/organization/roles/{rid}"), None),
            (
                "POST",
                format!("/v1/organization/roles/{rid}"),
                Some(json!({"role_name": "pwned"})),
            ),
            ("DELETE", format!("/v1/organization/roles/{rid}"), None),
            ("GET", format!("/v1/organization/users/{ann}"), None),
            (
                "POST",
                format!("/v1/organization/users/{ann}"),
                Some(json!({"role": "reader"})),
            ),
            ("DELETE", format!("/v1/organization/users/{ann}"), None),
            ("GET", format!("/v1/organization/users/{ann}/roles"), None),
            (
                "GET",
                format!("/v1/organization/users/{ann}/roles/{rid}"),
                None,
            ),
            (
                "POST",
                format!("/v1/organization/users/{ann}/roles"),
                Some(json!({"role_id": rid})),
            ),
            (
                "DELETE",
                format!("/v1/organization/users/{ann}/roles/{rid}"),
                None,
            ),
            (
                "POST",
                format!("/v1/organization/users/{owner_b}/roles"),
                Some(json!({"role_id": rid})),
            ),
        ] {
            let a = b(m, p.clone(), body).await;
            assert_eq!(a.status, 404, "{m} {p}: {}", a.body);
            assert!(
                !a.body.to_string().contains("Secret")
                    && !a.body.to_string().contains("ann@a.example")
            );
        }
        // and A's objects are unchanged
        assert_eq!(
            s.get(&format!("/v1/organization/roles/{rid}"))
                .await
                .expect(200)["name"],
            "Secret"
        );
        assert_eq!(
            s.get(&format!("/v1/organization/users/{ann}"))
                .await
                .expect(200)["role"],
            "member"
        );
        assert_eq!(
            s.get(&format!("/v1/organization/users/{ann}/roles/{rid}"))
                .await
                .status,
            200
        );
        s.stop().await;
    }
);
