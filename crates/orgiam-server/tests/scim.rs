//! SCIM across processes: suspending a member through one process is seen by every other
//! process on the same database within a second (checks deny, the member's keys answer 401),
//! a process that loads the organization cold answers the same, restoring gives everything
//! back, and a revoked SCIM token fails at once everywhere. The SCIM surface itself is tested
//! end to end in tests/python/test_scim.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use orgiam_testkit::{TestServer, backend_tests, json};
use serde_json::Value;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn allowed(s: &TestServer, user: &str, permission: &str) -> bool {
    s.post(
        "/v1/organization/permissions/check",
        json!({"user_id": user, "permission": permission}),
    )
    .await
    .expect(200)["allowed"]
        .as_bool()
        .unwrap()
}

/// Polls `probe` on `s` until it answers `want`, for at most 1.5 s; returns how long it took.
async fn within_a_second<F, Fut>(probe: F, want: bool) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "not seen within a second"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn set_active(s: &TestServer, token: &str, user: &str, active: Value) -> Value {
    s.call(
        "PATCH",
        &format!("/scim/v2/Users/{user}"),
        Some(token),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": active}]})),
    )
    .await
    .expect(200)
}

backend_tests!(
    suspension_reaches_every_process,
    |a: TestServer| async move {
        let b = a.another_process().await;
        let token = a
            .post(
                "/v1/organization/scim_tokens",
                json!({"name": "idp", "default_role": "reader"}),
            )
            .await
            .expect(200)["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let ann = a
            .call(
                "POST",
                "/scim/v2/Users",
                Some(&token),
                Some(json!({"userName": "ann@example.com", "displayName": "Ann"})),
            )
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = a
            .post(
                &format!("/v1/organization/users/{ann}/api_keys"),
                json!({"name": "k"}),
            )
            .await
            .expect(200)["value"]
            .as_str()
            .unwrap()
            .to_owned();
        // a group gives ann what her base role does not: admin
        let group = a
            .post("/v1/organization/groups", json!({"name": "ops"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        a.post(
            &format!("/v1/organization/groups/{group}/users"),
            json!({"user_id": ann}),
        )
        .await
        .expect(200);
        a.post(
            &format!("/v1/organization/groups/{group}/roles"),
            json!({"role_id": "role_00000000000000000000000002"}),
        )
        .await
        .expect(200);
        let holds_via_group = |s: &TestServer| {
            let (base, admin, ann) = (s.base.clone(), s.admin_key.clone(), ann.clone());
            async move {
                let v: Value = reqwest::Client::new()
                    .get(format!(
                        "{base}/v1/organization/permissions/api.users.write/users"
                    ))
                    .bearer_auth(&admin)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v.to_string().contains(&ann)
            }
        };
        // b has the organization and the key loaded before the suspension
        assert!(allowed(&b, &ann, "api.users.read").await);
        assert!(allowed(&b, &ann, "api.users.write").await);
        assert!(holds_via_group(&b).await);
        let own = |s: &TestServer| {
            let s = s.base.clone();
            let key = key.clone();
            async move {
                reqwest::Client::new()
                    .get(format!("{s}/v1/organization/users"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
                    == 200
            }
        };
        assert!(own(&b).await);

        let body = set_active(&a, &token, &ann, json!("False")).await;
        assert_eq!(body["active"], false);
        // the writing process: at once
        assert!(!allowed(&a, &ann, "api.users.read").await);
        assert!(!own(&a).await);
        // the other process: within a second
        within_a_second(|| allowed(&b, &ann, "api.users.read"), false).await;
        within_a_second(|| own(&b), false).await;
        within_a_second(|| allowed(&b, &ann, "api.users.write"), false).await;
        within_a_second(|| holds_via_group(&b), false).await;
        // a process that loads the organization cold agrees
        let cold = a.another_process().await;
        assert!(!allowed(&cold, &ann, "api.users.read").await);
        assert!(!allowed(&cold, &ann, "api.organization.read").await);
        assert!(!own(&cold).await);
        // nor is the member listed among the holders of what they held
        let holders = a
            .get("/v1/organization/permissions/api.users.read/users")
            .await
            .expect(200);
        assert!(!holders.to_string().contains(&ann), "{holders}");
        let holders = cold
            .get("/v1/organization/permissions/api.users.read/users")
            .await
            .expect(200);
        assert!(!holders.to_string().contains(&ann), "{holders}");
        // nothing was deleted
        let roles = a
            .get(&format!("/v1/organization/users/{ann}/roles"))
            .await
            .expect(200);
        assert!(roles["data"].is_array());
        assert_eq!(
            a.get(&format!("/v1/organization/users/{ann}/api_keys"))
                .await
                .expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let body = set_active(&a, &token, &ann, json!(true)).await;
        assert_eq!(body["active"], true);
        within_a_second(|| allowed(&b, &ann, "api.users.read"), true).await;
        within_a_second(|| own(&b), true).await;
        within_a_second(|| allowed(&cold, &ann, "api.users.read"), true).await;
        // the group's grant comes back too, in the reverse lookup of every process
        within_a_second(|| allowed(&b, &ann, "api.users.write"), true).await;
        within_a_second(|| holds_via_group(&b), true).await;
        within_a_second(|| holds_via_group(&cold), true).await;
        assert!(holds_via_group(&a).await);
        let holders = a
            .get("/v1/organization/permissions/api.users.read/users")
            .await
            .expect(200);
        assert!(holders.to_string().contains(&ann), "{holders}");

        // a revoked SCIM token fails at once in every process
        let tokens = a.get("/v1/organization/scim_tokens").await.expect(200);
        let id = tokens["data"][0]["id"].as_str().unwrap().to_owned();
        a.delete(&format!("/v1/organization/scim_tokens/{id}"))
            .await
            .expect(200);
        for s in [&a, &b, &cold] {
            let r = s.call("GET", "/scim/v2/Users", Some(&token), None).await;
            assert_eq!(r.status, 401);
            assert_eq!(
                r.body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        }
        cold.stop().await;
        b.stop().await;
        a.stop().await;
    }
);

// A token whose maker loses `api.users.write` stops working (403), and one whose maker leaves
// the organization is gone with the membership (401).
backend_tests!(
    a_token_acts_with_its_makers_authority,
    |a: TestServer| async move {
        let bob = a
            .post(
                "/v1/organization/users",
                json!({"email": "bob@example.com", "role": "admin"}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bob_key = a
            .post(
                &format!("/v1/organization/users/{bob}/api_keys"),
                json!({"name": "k"}),
            )
            .await
            .expect(200)["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = a
            .call(
                "POST",
                "/v1/organization/scim_tokens",
                Some(&bob_key),
                Some(json!({"name": "idp"})),
            )
            .await
            .expect(200)["value"]
            .as_str()
            .unwrap()
            .to_owned();
        // an admin cannot mint a token that creates owners: no escalation
        let r = a
            .call(
                "POST",
                "/v1/organization/scim_tokens",
                Some(&bob_key),
                Some(json!({"name": "idp", "default_role": "owner"})),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(
            a.call("GET", "/scim/v2/Users", Some(&token), None)
                .await
                .status,
            200
        );
        a.post(
            &format!("/v1/organization/users/{bob}"),
            json!({"role": "reader"}),
        )
        .await
        .expect(200);
        let r = a.call("GET", "/scim/v2/Users", Some(&token), None).await;
        assert_eq!(r.status, 403, "{}", r.body);
        a.post(
            &format!("/v1/organization/users/{bob}"),
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
        assert_eq!(
            a.call("GET", "/scim/v2/Users", Some(&token), None)
                .await
                .status,
            200
        );
        a.delete(&format!("/v1/organization/users/{bob}"))
            .await
            .expect(200);
        assert_eq!(
            a.call("GET", "/scim/v2/Users", Some(&token), None)
                .await
                .status,
            401
        );
        a.stop().await;
    }
);
