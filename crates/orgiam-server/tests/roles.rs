//! Organization roles over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};

backend_tests!(
    system_roles_are_listed_first_and_read_only,
    |s: TestServer| async move {
        let list = s.get("/v1/organization/roles").await.expect(200);
        let names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["owner", "admin", "member", "reader"]);
        for r in list["data"].as_array().unwrap() {
            assert_eq!(r["object"], "role");
            assert_eq!(r["predefined_role"], true);
            assert_eq!(r["resource_type"], "api.organization");
        }
        assert_eq!(list["has_more"], false);
        assert!(list["next"].is_null());
        let owner = s
            .get("/v1/organization/roles/role_00000000000000000000000001")
            .await
            .expect(200);
        assert!(
            owner["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "api.admin_keys.write")
        );
        let admin = s
            .get("/v1/organization/roles/role_00000000000000000000000002")
            .await
            .expect(200);
        // admin: everything but creating and deleting admin keys (it reads them)
        let admin_perms: Vec<&str> = admin["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(!admin_perms.contains(&"api.admin_keys.write"));
        assert!(admin_perms.contains(&"api.admin_keys.read"));
        let member = s
            .get("/v1/organization/roles/role_00000000000000000000000003")
            .await
            .expect(200);
        // member: only the organization and its projects (not permission checks of others)
        assert_eq!(
            member["permissions"],
            json!(["api.organization.read", "api.projects.read"])
        );
        let upd = s
            .post(
                "/v1/organization/roles/role_00000000000000000000000002",
                json!({"role_name": "x"}),
            )
            .await;
        assert_eq!(upd.status, 403);
        assert_eq!(upd.error("code"), "system_role_read_only");
        assert_eq!(
            s.delete("/v1/organization/roles/role_00000000000000000000000004")
                .await
                .status,
            403
        );
        // the database catalog is exactly the one the code knows
        let names = db_strings(
            &s.db.url,
            "SELECT name FROM permissions WHERE org_id IS NULL ORDER BY id",
        )
        .await;
        let known: Vec<String> = orgiam_core::catalog::BUILTIN_PERMISSIONS
            .iter()
            .map(|p| p.name.to_owned())
            .collect();
        assert_eq!(names, known);
        for role in orgiam_core::catalog::SystemRole::ALL {
            let sql = format!(
                "SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
             WHERE rp.role_id = '{}' ORDER BY p.id",
                role.id_str()
            );
            let held = db_strings(&s.db.url, &sql).await;
            let expected: Vec<String> = role.permissions().map(|p| p.name.to_owned()).collect();
            assert_eq!(held, expected, "{role:?}");
        }
        s.stop().await;
    }
);

backend_tests!(custom_role_crud, |s: TestServer| async move {
    let created = s
        .post("/v1/organization/roles", json!({
            "role_name": "Billing admin", "permissions": ["api.users.read", "api.roles.read", "api.users.read"],
            "description": "Handles invoices", "unknown_field": {"ignored": true}
        }))
        .await;
    assert!(created.headers.get("orgiam-revision").is_some());
    let created = created.expect(200);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("role_"));
    assert_eq!(created["name"], "Billing admin");
    assert_eq!(
        created["permissions"],
        json!(["api.roles.read", "api.users.read"])
    );
    assert_eq!(created["predefined_role"], false);
    assert_eq!(
        s.get(&format!("/v1/organization/roles/{id}"))
            .await
            .expect(200)["description"],
        "Handles invoices"
    );

    let dup = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "BILLING ADMIN", "permissions": []}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.headers["x-should-retry"], "false");
    assert_eq!(dup.error("code"), "role_name_taken");
    assert_eq!(
        s.post(
            "/v1/organization/roles",
            json!({"role_name": "Owner", "permissions": []})
        )
        .await
        .status,
        409
    );

    let bad = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "x", "permissions": ["api.users.read", "documents.write"]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error("param"), "permissions[1]");
    assert!(
        bad.error("message")
            .as_str()
            .unwrap()
            .contains("documents.write")
    );

    let upd = s
        .post(&format!("/v1/organization/roles/{id}"), json!({"role_name": "Billing", "permissions": ["api.groups.read"], "description": null}))
        .await
        .expect(200);
    assert_eq!(upd["name"], "Billing");
    assert_eq!(upd["permissions"], json!(["api.groups.read"]));
    assert!(upd["description"].is_null());
    // absent fields stay as they are
    let upd = s
        .post(
            &format!("/v1/organization/roles/{id}"),
            json!({"description": "d2"}),
        )
        .await
        .expect(200);
    assert_eq!(upd["name"], "Billing");
    assert_eq!(upd["permissions"], json!(["api.groups.read"]));

    let del = s
        .delete(&format!("/v1/organization/roles/{id}"))
        .await
        .expect(200);
    assert_eq!(
        del,
        json!({"object": "role.deleted", "id": id, "deleted": true})
    );
    assert_eq!(
        s.get(&format!("/v1/organization/roles/{id}")).await.status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/roles/{id}"))
            .await
            .status,
        404
    );

    // one audit event per write: create, update, update, delete (+ the bootstrap org creation)
    let events = db_strings(
        &s.db.url,
        &format!(
            "SELECT type FROM audit_events WHERE org_id = '{}' ORDER BY id",
            s.org_id
        ),
    )
    .await;
    assert_eq!(
        events,
        [
            "organization.created",
            "role.created",
            "role.updated",
            "role.updated",
            "role.deleted"
        ]
    );
    s.stop().await;
});

backend_tests!(
    paging_by_two_has_no_gaps_or_duplicates,
    |s: TestServer| async move {
        let mut ids = Vec::new();
        for i in 0..12 {
            let r = s
                .post(
                    "/v1/organization/roles",
                    json!({"role_name": format!("role {i:02}"), "permissions": []}),
                )
                .await
                .expect(200);
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = after
                .as_ref()
                .map(|a| format!("&after={a}"))
                .unwrap_or_default();
            let page = s
                .get(&format!("/v1/organization/roles?limit=2{q}"))
                .await
                .expect(200);
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= 2);
            seen.extend(data.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            if page["has_more"] == true {
                assert_eq!(
                    page["next"], page["last_id"],
                    "a page with more carries next"
                );
                after = Some(page["next"].as_str().unwrap().to_owned());
            } else {
                assert!(page["next"].is_null());
                break;
            }
        }
        assert_eq!(seen.len(), 16);
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen, "ascending and without duplicates");
        assert_eq!(seen[4..], ids[..], "every custom role, in creation order");

        let desc = s
            .get("/v1/organization/roles?order=desc&limit=3")
            .await
            .expect(200);
        let d: Vec<&str> = desc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(d, [ids[11].as_str(), ids[10].as_str(), ids[9].as_str()]);
        let desc2 = s
            .get(&format!(
                "/v1/organization/roles?order=desc&limit=3&after={}",
                d[2]
            ))
            .await
            .expect(200);
        assert_eq!(desc2["data"][0]["id"], ids[8].as_str());

        for bad in [
            "limit=-1",
            "limit=1001",
            "limit=abc",
            "after=nope",
            "order=sideways",
            "after=user_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
        ] {
            let a = s.get(&format!("/v1/organization/roles?{bad}")).await;
            assert_eq!(a.status, 400, "{bad}: {}", a.body);
            assert!(a.error("param").is_string(), "{bad} names its parameter");
        }
        s.stop().await;
    }
);

backend_tests!(
    racing_creates_of_one_name_give_one_success,
    |s: TestServer| async move {
        let mut tasks = Vec::new();
        let s = std::sync::Arc::new(s);
        for _ in 0..24 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.post(
                    "/v1/organization/roles",
                    json!({"role_name": "Racer", "permissions": []}),
                )
                .await
                .status
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|&&c| c == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|&&c| c == 409).count(),
            23,
            "{statuses:?}"
        );
        let n = db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM roles WHERE name_key = 'racer'",
        )
        .await;
        assert_eq!(n, 1);
    }
);

// Role lists read each page packed in one value, with text escaped: a role whose name,
// description and metadata hold the separators, the escape and the NULL marker lists exactly
// as it reads on its own, and one without description or metadata keeps them absent.
backend_tests!(
    listed_roles_equal_the_roles_read_alone,
    |s: TestServer| async move {
        for name in ["documents.read", "documents.write"] {
            s.post("/v1/organization/permissions", json!({"name": name}))
                .await
                .expect(200);
        }
        let odd = r"a,b;c\d=e \s\c";
        let full = s
            .post(
                "/v1/organization/roles",
                json!({
                    "role_name": odd,
                    "description": format!("{odd}, ünïcødé"),
                    "permissions": ["documents.write", "documents.read"],
                    "metadata": {"k": odd, "n": [1, 2]},
                }),
            )
            .await
            .expect(200);
        let bare = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "=", "permissions": []}),
            )
            .await
            .expect(200);
        let listed = s.get("/v1/organization/roles?limit=100").await.expect(200);
        let data = listed["data"].as_array().unwrap();
        for created in [&full, &bare] {
            let id = created["id"].as_str().unwrap();
            let alone = s
                .get(&format!("/v1/organization/roles/{id}"))
                .await
                .expect(200);
            let in_list = data.iter().find(|r| r["id"] == id).expect("listed");
            assert_eq!(in_list, &alone, "{id}");
        }
        assert_eq!(full["name"], odd);
        assert!(
            data.iter()
                .map(|r| r["id"].as_str().unwrap())
                .collect::<Vec<_>>()
                .is_sorted(),
            "in id order"
        );
        // descending, and across pages of one
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = match &after {
                Some(a) => format!("/v1/organization/roles?limit=1&order=desc&after={a}"),
                None => "/v1/organization/roles?limit=1&order=desc".to_owned(),
            };
            let page = s.get(&q).await.expect(200);
            let items = page["data"].as_array().unwrap();
            if items.is_empty() {
                break;
            }
            let id = items[0]["id"].as_str().unwrap().to_owned();
            seen.push(id.clone());
            if page["has_more"] != true {
                break;
            }
            after = Some(id);
        }
        let mut want: Vec<String> = data
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        want.reverse();
        assert_eq!(seen, want);
        s.stop().await;
    }
);
