//! A key that acts as a user can do exactly what that user may: a member's key is refused
//! (403, naming the permission) on every mutating route the router documents, and changes
//! nothing; an admin's key can do an admin's work. Routes are enumerated from /openapi.json, so
//! a new route is covered without editing this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};

/// Non-mutating POST routes (questions), and routes authenticated otherwise.
const EXEMPT: [&str; 4] = [
    "/v1/organization/permissions/check",
    "/v1/organization/permissions/check_batch",
    "/v1/invites/accept",
    "/v1/organizations",
];

async fn user_key(s: &TestServer, role: &str, email: &str) -> (String, String) {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "role": role}),
        )
        .await
        .expect(200);
    let uid = u["id"].as_str().unwrap().to_owned();
    let k = s
        .post(
            &format!("/v1/organization/users/{uid}/api_keys"),
            json!({"name": "tools"}),
        )
        .await
        .expect(200);
    let value = k["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-user-"), "{k}");
    (uid, value)
}

backend_tests!(
    a_members_key_is_refused_on_every_mutating_route,
    |s: TestServer| async move {
        let (member_id, key) = user_key(&s, "member", "m@example.com").await;
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        let before = db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await;
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            // the platform routes refuse every organization key (tests/platform.rs)
            if EXEMPT.contains(&path.as_str())
                || path.starts_with("/compat/")
                || path.starts_with("/v1/platform/")
            {
                continue;
            }
            for method in ["post", "delete", "put", "patch"] {
                if item.get(method).is_none() {
                    continue;
                }
                // any well-formed ids: the guard answers before any lookup
                let concrete = path
                    .replace("{user_id}", &member_id)
                    .replace("{role_id}", "role_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{group_id}", "group_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{project_id}", "proj_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{invite_id}", "invite_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{key_id}", "key_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{permission}", "documents.write")
                    .replace("{webhook_id}", "webhook_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{delivery_id}", "msg_01J1F8ZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{token_id}", "key_01J1F8ZZZZZZZZZZZZZZZZZZZZ");
                assert!(!concrete.contains('{'), "unfilled parameter in {path}");
                let a = s
                    .call(
                        &method.to_uppercase(),
                        &concrete,
                        Some(&key),
                        Some(json!({})),
                    )
                    .await;
                assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
                assert_eq!(a.error("code"), "permission_denied", "{method} {path}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} mutating routes found");
        assert_eq!(
            db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await,
            before,
            "nothing was written"
        );
        // and what a member may do, it can: the permission check
        let c = s
            .call(
                "POST",
                "/v1/organization/permissions/check",
                Some(&key),
                Some(json!({"user_id": member_id, "permission": "api.roles.write"})),
            )
            .await
            .expect(200);
        assert_eq!(c["allowed"], false);
        s.stop().await;
    }
);

backend_tests!(
    an_admins_key_works_within_an_admins_rights,
    |s: TestServer| async move {
        let (admin_id, key) = user_key(&s, "admin", "a@example.com").await;
        let r = s
            .call(
                "POST",
                "/v1/organization/roles",
                Some(&key),
                Some(json!({"role_name": "Ops", "permissions": ["api.groups.write"]})),
            )
            .await
            .expect(200);
        let rid = r["id"].as_str().unwrap().to_owned();
        // it may not grant itself what it lacks
        let own = s
            .call(
                "POST",
                &format!("/v1/organization/users/{admin_id}/roles"),
                Some(&key),
                Some(json!({"role_id": "role_00000000000000000000000001"})),
            )
            .await;
        assert_eq!(own.status, 403);
        assert_eq!(own.error("code"), "privilege_escalation");
        assert_eq!(
            s.call(
                "POST",
                "/v1/organization/admin_api_keys",
                Some(&key),
                Some(json!({"name": "x"}))
            )
            .await
            .status,
            403
        );
        // revoking the admin's membership kills the key on the very next request
        s.delete(&format!("/v1/organization/users/{admin_id}"))
            .await
            .expect(200);
        assert_eq!(
            s.call(
                "GET",
                &format!("/v1/organization/roles/{rid}"),
                Some(&key),
                None
            )
            .await
            .status,
            401
        );
        s.stop().await;
    }
);
