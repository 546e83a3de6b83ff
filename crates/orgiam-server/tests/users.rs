//! Members, base roles and organization role assignments over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};

const OWNER: &str = "role_00000000000000000000000001";
const ADMIN: &str = "role_00000000000000000000000002";

async fn provision(s: &TestServer, email: &str, role: &str) -> String {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "name": "Ann", "role": role}),
        )
        .await
        .expect(200);
    assert_eq!(u["object"], "organization.user");
    assert_eq!(u["role"], role);
    u["id"].as_str().unwrap().to_owned()
}

backend_tests!(provision_list_update_delete, |s: TestServer| async move {
    let ann = provision(&s, "Ann@Example.com", "member").await;
    let again = s
        .post(
            "/v1/organization/users",
            json!({"email": "ann@example.COM", "role": "reader"}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.error("code"), "already_member");
    for bad in [
        json!({"email": "not-an-email"}),
        json!({"email": "a@b.c", "role": "emperor"}),
        json!({"email": 5}),
    ] {
        let a = s.post("/v1/organization/users", bad.clone()).await;
        assert_eq!(a.status, 400, "{bad}");
    }
    let mut ids = vec![ann.clone()];
    for i in 0..4 {
        ids.push(provision(&s, &format!("u{i}@example.com"), "reader").await);
    }
    // pages of 2 by last_id cover every member once
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("/v1/organization/users?limit=2{after}"))
            .await
            .expect(200);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] != true {
            break;
        }
        after = format!("&after={}", page["last_id"].as_str().unwrap());
    }
    assert_eq!(seen.len(), 6);
    assert!(ids.iter().all(|id| seen.contains(id)));
    assert!(seen.contains(&s.owner_id));

    let filtered = s
        .get("/v1/organization/users?emails[]=ANN%40example.com&emails%5B%5D=u2%40example.com")
        .await
        .expect(200);
    let emails: Vec<&str> = filtered["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2, "{filtered}");
    assert!(emails.contains(&"Ann@Example.com"));
    assert_eq!(s.get("/v1/organization/users?limit=101").await.status, 400);

    let u = s
        .post(
            &format!("/v1/organization/users/{ann}"),
            json!({"role": "admin", "developer_persona": "x"}),
        )
        .await
        .expect(200);
    assert_eq!(u["role"], "admin");
    assert!(u["developer_persona"].is_null());
    let u = s
        .post(
            &format!("/v1/organization/users/{ann}"),
            json!({"role_id": OWNER}),
        )
        .await
        .expect(200);
    assert_eq!(u["role"], "owner");
    let bad = s
        .post(
            &format!("/v1/organization/users/{ann}"),
            json!({"role_id": "role_01J1F8ZZZZZZZZZZZZZZZZZZZZ"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error("param"), "role_id");
    assert_eq!(
        s.get(&format!("/v1/organization/users/{ann}"))
            .await
            .expect(200)["role"],
        "owner"
    );

    let del = s
        .delete(&format!("/v1/organization/users/{}", ids[1]))
        .await
        .expect(200);
    assert_eq!(del["object"], "organization.user.deleted");
    assert_eq!(
        s.get(&format!("/v1/organization/users/{}", ids[1]))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/users/{}", ids[1]))
            .await
            .status,
        404
    );
    s.stop().await;
});

backend_tests!(the_last_owner_is_protected, |s: TestServer| async move {
    let owner = s.owner_id.clone();
    let demote = s
        .post(
            &format!("/v1/organization/users/{owner}"),
            json!({"role": "reader"}),
        )
        .await;
    assert_eq!(demote.status, 409);
    assert_eq!(demote.error("code"), "last_owner");
    assert_eq!(
        s.delete(&format!("/v1/organization/users/{owner}"))
            .await
            .status,
        409
    );
    // with a second owner, the first may step down
    let other = provision(&s, "second@example.com", "owner").await;
    // a key of the second owner's own: a key minted for them by the first owner stays
    // bounded by the first owner, so they create an admin key (acting as themselves) with it
    let minted = s
        .post(
            &format!("/v1/organization/users/{other}/api_keys"),
            json!({"name": "k"}),
        )
        .await
        .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_key = s
        .call(
            "POST",
            "/v1/organization/admin_api_keys",
            Some(&minted),
            Some(json!({"name": "own"})),
        )
        .await
        .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        &format!("/v1/organization/users/{owner}"),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    // the former owner, now an admin, may not touch the owner at all (only owners manage
    // owners); the remaining owner may not step down (the last owner stays)
    let admin_tries = s
        .post(
            &format!("/v1/organization/users/{other}"),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(admin_tries.status, 403);
    assert_eq!(admin_tries.error("code"), "privilege_escalation");
    let last = s
        .call(
            "POST",
            &format!("/v1/organization/users/{other}"),
            Some(&other_key),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(last.status, 409, "{}", last.body);
    assert_eq!(last.error("code"), "last_owner");
    s.stop().await;
});

backend_tests!(assign_list_unassign, |s: TestServer| async move {
    let ann = provision(&s, "ann@example.com", "member").await;
    let role = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "Auditor", "permissions": ["api.audit_logs.read"]}),
        )
        .await
        .expect(200);
    let rid = role["id"].as_str().unwrap().to_owned();

    let a = s
        .post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": rid, "metadata": {"ticket": 7}}),
        )
        .await
        .expect(200);
    assert_eq!(a["object"], "user.role");
    assert_eq!(a["role"]["id"], rid.as_str());
    assert_eq!(a["user"]["id"], ann.as_str());
    // granting again is a 200 and changes nothing but the expiry
    let future = orgiam_core::now_unix() + 3600;
    s.post(
        &format!("/v1/organization/users/{ann}/roles"),
        json!({"role_id": rid, "expires_at": future}),
    )
    .await
    .expect(200);

    let list = s
        .get(&format!("/v1/organization/users/{ann}/roles"))
        .await
        .expect(200);
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "base role and the custom role: {list}");
    let row = rows.iter().find(|r| r["id"] == rid.as_str()).unwrap();
    assert_eq!(
        row["assignment_sources"],
        json!([{"principal_type": "user", "principal_id": ann}])
    );
    assert_eq!(row["created_by"], s.owner_id.as_str());
    assert_eq!(row["created_by_user_obj"]["id"], s.owner_id.as_str());
    assert_eq!(row["expires_at"], future);
    assert_eq!(row["metadata"], json!({"ticket": 7}));
    assert_eq!(row["permissions"], json!(["api.audit_logs.read"]));
    let one = s
        .get(&format!("/v1/organization/users/{ann}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(one["id"], rid.as_str());

    let base = s
        .delete(&format!(
            "/v1/organization/users/{ann}/roles/role_00000000000000000000000003"
        ))
        .await;
    assert_eq!(base.status, 409);
    assert_eq!(base.error("code"), "base_role");

    let past = s
        .post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": ADMIN, "expires_at": 1000}),
        )
        .await;
    assert_eq!(past.status, 400);
    assert_eq!(past.error("param"), "expires_at");
    assert_eq!(
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": "role_01J1F8ZZZZZZZZZZZZZZZZZZZZ"})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        s.post(
            "/v1/organization/users/user_01J1F8ZZZZZZZZZZZZZZZZZZZZ/roles",
            json!({"role_id": rid})
        )
        .await
        .status,
        404
    );

    let del = s
        .delete(&format!("/v1/organization/users/{ann}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(del, json!({"object": "user.role.deleted", "deleted": true}));
    assert_eq!(
        s.get(&format!("/v1/organization/users/{ann}/roles/{rid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/users/{ann}/roles/{rid}"))
            .await
            .status,
        404
    );
    s.stop().await;
});

backend_tests!(
    deleting_a_role_or_user_removes_what_hung_on_it,
    |s: TestServer| async move {
        let ann = provision(&s, "ann@example.com", "member").await;
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Temp", "permissions": []}),
            )
            .await
            .expect(200);
        let rid = role["id"].as_str().unwrap().to_owned();
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        s.delete(&format!("/v1/organization/roles/{rid}"))
            .await
            .expect(200);
        let list = s
            .get(&format!("/v1/organization/users/{ann}/roles"))
            .await
            .expect(200);
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != rid.as_str())
        );
        let left = db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM role_assignments WHERE role_id = '{rid}'"),
        )
        .await;
        assert_eq!(left, 0);

        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": ADMIN}),
        )
        .await
        .expect(200);
        s.delete(&format!("/v1/organization/users/{ann}"))
            .await
            .expect(200);
        for table in ["role_assignments", "memberships"] {
            let n = db_scalar(
                &s.db.url,
                &format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{ann}'"),
            )
            .await;
            assert_eq!(n, 0, "{table}");
        }
        s.stop().await;
    }
);

backend_tests!(
    expired_assignments_stop_granting_and_are_hidden,
    |s: TestServer| async move {
        let ann = provision(&s, "ann@example.com", "member").await;
        let soon = orgiam_core::now_unix() + 2;
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": ADMIN, "expires_at": soon}),
        )
        .await
        .expect(200);
        let list = s
            .get(&format!("/v1/organization/users/{ann}/roles"))
            .await
            .expect(200);
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        tokio::time::sleep(std::time::Duration::from_millis(
            2100 + 1000 * (soon - orgiam_core::now_unix()).max(0) as u64,
        ))
        .await;
        let list = s
            .get(&format!("/v1/organization/users/{ann}/roles"))
            .await
            .expect(200);
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(
            s.get(&format!("/v1/organization/users/{ann}/roles/{ADMIN}"))
                .await
                .status,
            404
        );
        s.stop().await;
    }
);

backend_tests!(
    an_identity_joins_several_organizations,
    |s: TestServer| async move {
        let ann = provision(&s, "ann@example.com", "member").await;
        let (_org_b, _owner_b, key_b) = s.new_org("B", "boss@b.example").await;
        let u = s
            .call(
                "POST",
                "/v1/organization/users",
                Some(&key_b),
                Some(json!({"email": "ANN@example.com", "name": "Ann in B", "role": "reader"})),
            )
            .await
            .expect(200);
        assert_eq!(u["id"], ann.as_str(), "the same global identity");
        assert_eq!(u["name"], "Ann in B");
        // the display name is per organization
        assert_eq!(
            s.get(&format!("/v1/organization/users/{ann}"))
                .await
                .expect(200)["name"],
            "Ann"
        );
        assert_eq!(
            s.get(&format!("/v1/organization/users/{ann}"))
                .await
                .expect(200)["role"],
            "member"
        );
        s.stop().await;
    }
);

backend_tests!(
    a_person_holds_the_same_role_in_two_organizations,
    |s: TestServer| async move {
        let ann = provision(&s, "ann@example.com", "member").await;
        let (_org_b, _owner_b, key_b) = s.new_org("B", "boss@b.example").await;
        let u = s
            .call(
                "POST",
                "/v1/organization/users",
                Some(&key_b),
                Some(json!({"email": "ann@example.com", "role": "member"})),
            )
            .await
            .expect(200);
        assert_eq!(u["id"], ann.as_str());
        assert_eq!(u["role"], "member");
        s.get(&format!("/v1/organization/users/{ann}"))
            .await
            .expect(200);
    }
);
