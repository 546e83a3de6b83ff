//! Projects and project users over HTTP, on SQLite and PostgreSQL: lifecycle, archiving,
//! tenant isolation, audit events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod project_support;

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};
use project_support::*;
use serde_json::Value;

backend_tests!(
    projects_create_list_update_archive,
    |s: TestServer| async move {
        let before = audit_count(&s).await;
        let p = s
        .post(
            "/v1/organization/projects",
            json!({"name": "Apollo", "geography": "US", "residency": "GLOBAL", "external_key_id": "k1", "unknown": 1}),
        )
        .await
        .expect(200);
        assert_eq!(p["object"], "organization.project");
        assert_eq!(p["name"], "Apollo");
        assert_eq!(p["status"], "active");
        assert!(p["archived_at"].is_null());
        assert!(p["residency"].is_null() && p["external_key_id"].is_null());
        assert!(p["created_at"].as_i64().unwrap() > 1_600_000_000);
        let id = p["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("proj_"));
        assert_eq!(audit_types_after(&s, before).await, ["project.created"]);
        let with_project = db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM audit_events WHERE project_id = '{id}' AND resource_id = '{id}'"),
    )
    .await;
        assert_eq!(with_project, 1);

        refused(
            &s,
            "POST",
            "/v1/organization/projects",
            Some(json!({})),
            400,
        )
        .await;
        for bad in [
            json!({"name": ""}),
            json!({"name": 5}),
            json!({"name": "x".repeat(257)}),
        ] {
            let e = refused(
                &s,
                "POST",
                "/v1/organization/projects",
                Some(bad.clone()),
                400,
            )
            .await;
            assert_eq!(e["error"]["param"], "name", "{bad}");
        }

        let mut all = vec![id.clone()];
        for i in 0..4 {
            all.push(new_project(&s, &format!("P{i}")).await);
        }
        assert_eq!(
            walk(&s, "/v1/organization/projects", "id", "last_id", 2).await,
            all
        );
        for bad in [
            "limit=0",
            "limit=101",
            "after=nope",
            "after=role_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
            "include_archived=maybe",
        ] {
            let a = s.get(&format!("/v1/organization/projects?{bad}")).await;
            assert_eq!(a.status, 400, "{bad}");
            assert!(a.error("param").is_string());
        }
        assert_eq!(
            s.get("/v1/organization/projects?limit=100").await.status,
            200
        );

        let before = audit_count(&s).await;
        let u = s
            .post(
                &format!("/v1/organization/projects/{id}"),
                json!({"name": "Apollo 11", "geography": "EU"}),
            )
            .await
            .expect(200);
        assert_eq!(u["name"], "Apollo 11");
        let same = s
            .post(
                &format!("/v1/organization/projects/{id}"),
                json!({"name": null}),
            )
            .await
            .expect(200);
        assert_eq!(same["name"], "Apollo 11");
        assert_eq!(
            audit_types_after(&s, before).await,
            ["project.updated", "project.updated"]
        );
        refused(
            &s,
            "POST",
            &format!("/v1/organization/projects/{id}"),
            Some(json!({"name": " "})),
            400,
        )
        .await;

        let before = audit_count(&s).await;
        let a = s
            .call(
                "POST",
                &format!("/v1/organization/projects/{id}/archive"),
                Some(&s.admin_key.clone()),
                None,
            )
            .await
            .expect(200);
        assert_eq!(a["status"], "archived");
        assert!(a["archived_at"].as_i64().is_some());
        assert_eq!(audit_types_after(&s, before).await, ["project.archived"]);
        let e = refused(
            &s,
            "POST",
            &format!("/v1/organization/projects/{id}/archive"),
            None,
            409,
        )
        .await;
        assert_eq!(e["error"]["code"], "project_archived");
        refused(
            &s,
            "POST",
            &format!("/v1/organization/projects/{id}"),
            Some(json!({"name": "x"})),
            409,
        )
        .await;
        // archived projects are hidden unless asked for, and stay readable
        let listed = walk(&s, "/v1/organization/projects", "id", "last_id", 100).await;
        assert_eq!(listed, all[1..]);
        let listed = walk(
            &s,
            "/v1/organization/projects?include_archived=true",
            "id",
            "last_id",
            2,
        )
        .await;
        assert_eq!(listed, all);
        assert_eq!(
            s.get(&format!("/v1/organization/projects/{id}"))
                .await
                .expect(200)["status"],
            "archived"
        );

        for (m, p) in [
            (
                "GET",
                format!("/v1/organization/projects/{MISSING_PROJECT}"),
            ),
            (
                "POST",
                format!("/v1/organization/projects/{MISSING_PROJECT}"),
            ),
            (
                "POST",
                format!("/v1/organization/projects/{MISSING_PROJECT}/archive"),
            ),
            ("GET", "/v1/organization/projects/not-an-id".to_owned()),
        ] {
            let body = (m == "POST").then(|| json!({}));
            refused(&s, m, &p, body, 404).await;
        }
        s.stop().await;
    }
);

backend_tests!(project_users_lifecycle, |s: TestServer| async move {
    let key = s.admin_key.clone();
    let p = new_project(&s, "Users").await;
    let ann = provision(&s, &key, "ann@example.com", "member").await;
    let bob = provision(&s, &key, "Bob@Example.com", "reader").await;
    let (_org_b, outsider, _key_b) = s.new_org("B", "outsider@b.example").await;
    let base = format!("/v1/organization/projects/{p}/users");

    let before = audit_count(&s).await;
    let a = s
        .post(&base, json!({"user_id": ann, "role": "member"}))
        .await
        .expect(200);
    assert_eq!(a["object"], "organization.project.user");
    assert_eq!(a["id"], ann.as_str());
    assert_eq!(a["role"], "member");
    assert_eq!(a["email"], "ann@example.com");
    assert!(a["added_at"].as_i64().is_some());
    let b = s
        .post(&base, json!({"email": "bob@EXAMPLE.com", "role": "owner"}))
        .await
        .expect(200);
    assert_eq!(b["id"], bob.as_str());
    assert_eq!(b["role"], "owner");
    assert_eq!(
        audit_types_after(&s, before).await,
        ["project.user.added", "project.user.added"]
    );
    // the base project role is an assignment on the project
    let base_rows = db_scalar(
        &s.db.url,
        &format!(
            "SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p}' AND is_base = 1 \
             AND user_id = '{bob}' AND role_id = '{PROJECT_OWNER}'"
        ),
    )
    .await;
    assert_eq!(base_rows, 1);

    let dup = refused(
        &s,
        "POST",
        &base,
        Some(json!({"user_id": ann, "role": "owner"})),
        409,
    )
    .await;
    assert_eq!(dup["error"]["code"], "already_project_member");
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"user_id": outsider, "role": "member"})),
        404,
    )
    .await;
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"email": "nobody@example.com", "role": "member"})),
        404,
    )
    .await;
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"email": "outsider@b.example", "role": "member"})),
        404,
    )
    .await;
    let e = refused(&s, "POST", &base, Some(json!({"role": "member"})), 400).await;
    assert_eq!(e["error"]["param"], "user_id");
    let e = refused(
        &s,
        "POST",
        &base,
        Some(json!({"user_id": ann, "role": "admin"})),
        400,
    )
    .await;
    assert_eq!(e["error"]["param"], "role");
    refused(&s, "POST", &base, Some(json!({"user_id": ann})), 400).await;
    let e = refused(
        &s,
        "POST",
        &base,
        Some(json!({"user_id": ann, "email": "bob@example.com", "role": "member"})),
        400,
    )
    .await;
    assert_eq!(e["error"]["param"], "email");
    refused(
        &s,
        "POST",
        &format!("/v1/organization/projects/{MISSING_PROJECT}/users"),
        Some(json!({"user_id": ann, "role": "member"})),
        404,
    )
    .await;

    let mut expected = vec![ann.clone(), bob.clone()];
    for i in 0..3 {
        let u = provision(&s, &key, &format!("u{i}@example.com"), "member").await;
        s.post(&base, json!({"user_id": u, "role": "viewer"}))
            .await
            .expect(200);
        expected.push(u);
    }
    expected.sort();
    assert_eq!(walk(&s, &base, "id", "last_id", 2).await, expected);
    for bad in [
        "limit=0",
        "limit=101",
        "after=proj_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
    ] {
        assert_eq!(s.get(&format!("{base}?{bad}")).await.status, 400, "{bad}");
    }
    assert_eq!(
        s.get(&format!(
            "/v1/organization/projects/{MISSING_PROJECT}/users"
        ))
        .await
        .status,
        404
    );

    let one = s.get(&format!("{base}/{ann}")).await.expect(200);
    assert_eq!(one["role"], "member");
    let owner_id = s.owner_id.clone();
    assert_eq!(
        s.get(&format!("{base}/{owner_id}")).await.status,
        404,
        "an org member outside the project"
    );

    let before = audit_count(&s).await;
    let up = s
        .post(&format!("{base}/{ann}"), json!({"role": "viewer"}))
        .await
        .expect(200);
    assert_eq!(up["role"], "viewer");
    let up = s
        .post(&format!("{base}/{ann}"), json!({"role": PROJECT_OWNER}))
        .await
        .expect(200);
    assert_eq!(up["role"], "owner");
    let up = s
        .post(&format!("{base}/{ann}"), json!({}))
        .await
        .expect(200);
    assert_eq!(up["role"], "owner");
    assert_eq!(
        audit_types_after(&s, before).await,
        ["project.user.updated"; 3]
    );
    refused(
        &s,
        "POST",
        &format!("{base}/{ann}"),
        Some(json!({"role": "reader"})),
        400,
    )
    .await;
    refused(
        &s,
        "POST",
        &format!("{base}/{owner_id}"),
        Some(json!({"role": "member"})),
        404,
    )
    .await;

    let before = audit_count(&s).await;
    let del = s.delete(&format!("{base}/{ann}")).await.expect(200);
    assert_eq!(
        del,
        json!({"object": "organization.project.user.deleted", "id": ann, "deleted": true})
    );
    assert_eq!(
        audit_types_after(&s, before).await,
        ["project.user.removed"]
    );
    assert_eq!(s.get(&format!("{base}/{ann}")).await.status, 404);
    refused(&s, "DELETE", &format!("{base}/{ann}"), None, 404).await;
    // still an organization member
    s.get(&format!("/v1/organization/users/{ann}"))
        .await
        .expect(200);
    s.stop().await;
});

backend_tests!(
    archiving_ends_grants_and_freezes_writes,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let org = s.org_id.clone();
        let p = new_project(&s, "Frozen").await;
        let ann = provision(&s, &key, "ann@example.com", "member").await;
        let bob = provision(&s, &key, "bob@example.com", "member").await;
        let devs = insert_group(&s, &org, "Devs").await;
        let ops = insert_group(&s, &org, "Ops").await;
        s.post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": ann, "role": "owner"}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/projects/{p}/groups"),
            json!({"group_id": devs, "role": PROJECT_VIEWER}),
        )
        .await
        .expect(200);
        let role = s
            .post(
                &format!("/v1/projects/{p}/roles"),
                json!({"role_name": "R", "permissions": []}),
            )
            .await
            .expect(200);
        let rid = role["id"].as_str().unwrap().to_owned();
        s.post(
            &format!("/v1/projects/{p}/users/{ann}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        let org_id = orgiam_core::ids::OrgId::from_trusted(org.clone());
        let on_project = |gs: &[orgiam_authz::Grant]| {
            gs.iter()
                .filter(|g| g.project_id.as_deref() == Some(p.as_str()))
                .count()
        };
        assert_eq!(
            on_project(&s.store().user_grants(&org_id, &ann).await.unwrap()),
            1,
            "owner (R holds no permission)"
        );

        s.call(
            "POST",
            &format!("/v1/organization/projects/{p}/archive"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
        assert_eq!(
            on_project(&s.store().user_grants(&org_id, &ann).await.unwrap()),
            0
        );

        let ou = format!("/v1/organization/projects/{p}/users");
        let og = format!("/v1/organization/projects/{p}/groups");
        let writes: Vec<(&str, String, Option<Value>)> = vec![
            (
                "POST",
                format!("/v1/organization/projects/{p}"),
                Some(json!({"name": "x"})),
            ),
            (
                "POST",
                format!("/v1/organization/projects/{p}/archive"),
                None,
            ),
            (
                "POST",
                ou.clone(),
                Some(json!({"user_id": bob, "role": "member"})),
            ),
            (
                "POST",
                format!("{ou}/{ann}"),
                Some(json!({"role": "viewer"})),
            ),
            ("DELETE", format!("{ou}/{ann}"), None),
            (
                "POST",
                og.clone(),
                Some(json!({"group_id": ops, "role": PROJECT_VIEWER})),
            ),
            ("DELETE", format!("{og}/{devs}"), None),
            (
                "POST",
                format!("/v1/projects/{p}/roles"),
                Some(json!({"role_name": "New", "permissions": []})),
            ),
            (
                "POST",
                format!("/v1/projects/{p}/roles/{rid}"),
                Some(json!({"role_name": "Renamed"})),
            ),
            ("DELETE", format!("/v1/projects/{p}/roles/{rid}"), None),
            (
                "POST",
                format!("/v1/projects/{p}/users/{ann}/roles"),
                Some(json!({"role_id": PROJECT_MEMBER})),
            ),
            (
                "DELETE",
                format!("/v1/projects/{p}/users/{ann}/roles/{rid}"),
                None,
            ),
            (
                "POST",
                format!("/v1/projects/{p}/groups/{devs}/roles"),
                Some(json!({"role_id": rid})),
            ),
            (
                "DELETE",
                format!("/v1/projects/{p}/groups/{devs}/roles/{PROJECT_VIEWER}"),
                None,
            ),
        ];
        for (m, path, body) in writes {
            let e = refused(&s, m, &path, body, 409).await;
            assert_eq!(e["error"]["code"], "project_archived", "{m} {path}");
        }
        // everything stays readable as it was
        assert_eq!(
            s.get(&format!("{ou}/{ann}")).await.expect(200)["role"],
            "owner"
        );
        assert_eq!(
            s.get(&og).await.expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.get(&format!("/v1/projects/{p}/roles/{rid}"))
                .await
                .expect(200)["name"],
            "R"
        );
        assert_eq!(
            s.get(&format!("/v1/projects/{p}/users/{ann}/roles"))
                .await
                .expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        s.stop().await;
    }
);

backend_tests!(
    another_organization_sees_nothing,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let org = s.org_id.clone();
        let p = new_project(&s, "Mine").await;
        let ann = provision(&s, &key, "ann@example.com", "member").await;
        let devs = insert_group(&s, &org, "Devs").await;
        s.post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": ann, "role": "member"}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/projects/{p}/groups"),
            json!({"group_id": devs, "role": PROJECT_VIEWER}),
        )
        .await
        .expect(200);
        let rid = s
            .post(
                &format!("/v1/projects/{p}/roles"),
                json!({"role_name": "R", "permissions": []}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/projects/{p}/users/{ann}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/projects/{p}/groups/{devs}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);

        let paths = [
            format!("/v1/organization/projects/{p}"),
            format!("/v1/organization/projects/{p}/users"),
            format!("/v1/organization/projects/{p}/groups"),
            format!("/v1/projects/{p}/roles"),
            format!("/v1/projects/{p}/users/{ann}/roles"),
            format!("/v1/projects/{p}/groups/{devs}/roles"),
        ];
        let before = snapshot(&s, &paths).await;

        // B's key asks about A's objects by id, on every route
        let (_org_b, _owner_b, key_b) = s.new_org("B", "b@b.example").await;
        let events = audit_count(&s).await;
        let routes: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", format!("/v1/organization/projects/{p}"), None),
            (
                "POST",
                format!("/v1/organization/projects/{p}"),
                Some(json!({"name": "stolen"})),
            ),
            (
                "POST",
                format!("/v1/organization/projects/{p}/archive"),
                None,
            ),
            ("GET", format!("/v1/organization/projects/{p}/users"), None),
            (
                "POST",
                format!("/v1/organization/projects/{p}/users"),
                Some(json!({"user_id": ann, "role": "owner"})),
            ),
            (
                "GET",
                format!("/v1/organization/projects/{p}/users/{ann}"),
                None,
            ),
            (
                "POST",
                format!("/v1/organization/projects/{p}/users/{ann}"),
                Some(json!({"role": "owner"})),
            ),
            (
                "DELETE",
                format!("/v1/organization/projects/{p}/users/{ann}"),
                None,
            ),
            ("GET", format!("/v1/organization/projects/{p}/groups"), None),
            (
                "POST",
                format!("/v1/organization/projects/{p}/groups"),
                Some(json!({"group_id": devs, "role": PROJECT_OWNER})),
            ),
            (
                "GET",
                format!("/v1/organization/projects/{p}/groups/{devs}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/organization/projects/{p}/groups/{devs}"),
                None,
            ),
            ("GET", format!("/v1/projects/{p}/roles"), None),
            (
                "POST",
                format!("/v1/projects/{p}/roles"),
                Some(json!({"role_name": "x", "permissions": []})),
            ),
            ("GET", format!("/v1/projects/{p}/roles/{rid}"), None),
            (
                "POST",
                format!("/v1/projects/{p}/roles/{rid}"),
                Some(json!({"role_name": "y"})),
            ),
            ("DELETE", format!("/v1/projects/{p}/roles/{rid}"), None),
            ("GET", format!("/v1/projects/{p}/users/{ann}/roles"), None),
            (
                "POST",
                format!("/v1/projects/{p}/users/{ann}/roles"),
                Some(json!({"role_id": PROJECT_OWNER})),
            ),
            (
                "GET",
                format!("/v1/projects/{p}/users/{ann}/roles/{rid}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/projects/{p}/users/{ann}/roles/{rid}"),
                None,
            ),
            ("GET", format!("/v1/projects/{p}/groups/{devs}/roles"), None),
            (
                "POST",
                format!("/v1/projects/{p}/groups/{devs}/roles"),
                Some(json!({"role_id": PROJECT_OWNER})),
            ),
            (
                "GET",
                format!("/v1/projects/{p}/groups/{devs}/roles/{rid}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/projects/{p}/groups/{devs}/roles/{rid}"),
                None,
            ),
        ];
        for (m, path, body) in routes {
            let a = s.call(m, &path, Some(&key_b), body).await;
            assert_eq!(a.status, 404, "{m} {path}: {}", a.body);
        }
        // B's project list does not show A's projects
        let mine = s
            .call(
                "GET",
                "/v1/organization/projects?include_archived=true",
                Some(&key_b),
                None,
            )
            .await
            .expect(200);
        assert_eq!(mine["data"], json!([]));
        assert_eq!(snapshot(&s, &paths).await, before);
        assert_eq!(audit_count(&s).await, events);
        s.stop().await;
    }
);

#[test]
fn every_project_route_is_documented() {
    use utoipa::OpenApi as _;
    let doc = orgiam_server::api::projects::Doc::openapi();
    let paths: Vec<&String> = doc.paths.paths.keys().collect();
    for p in [
        "/v1/organization/projects",
        "/v1/organization/projects/{project_id}",
        "/v1/organization/projects/{project_id}/archive",
        "/v1/organization/projects/{project_id}/users",
        "/v1/organization/projects/{project_id}/users/{user_id}",
        "/v1/organization/projects/{project_id}/groups",
        "/v1/organization/projects/{project_id}/groups/{group_id}",
        "/v1/projects/{project_id}/roles",
        "/v1/projects/{project_id}/roles/{role_id}",
        "/v1/projects/{project_id}/users/{user_id}/roles",
        "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}",
        "/v1/projects/{project_id}/groups/{group_id}/roles",
        "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}",
    ] {
        assert!(paths.iter().any(|k| k.as_str() == p), "{p} not documented");
    }
    assert_eq!(paths.len(), 13);
}

backend_tests!(
    racing_adds_of_one_user_give_one_success,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let p = new_project(&s, "Race").await;
        let ann = provision(&s, &key, "ann@example.com", "member").await;
        let s = std::sync::Arc::new(s);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (s, p, ann) = (s.clone(), p.clone(), ann.clone());
            tasks.push(tokio::spawn(async move {
                let role = ["member", "owner", "viewer"][i % 3];
                s.post(
                    &format!("/v1/organization/projects/{p}/users"),
                    json!({"user_id": ann, "role": role}),
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
            15,
            "{statuses:?}"
        );
        let rows = |table: &'static str| {
            let (url, p, ann) = (s.db.url.clone(), p.clone(), ann.clone());
            async move {
                db_scalar(
                    &url,
                    &format!("SELECT COUNT(*) FROM {table} WHERE project_id = '{p}' AND user_id = '{ann}'"),
                )
                .await
            }
        };
        assert_eq!(rows("project_members").await, 1);
        assert_eq!(rows("role_assignments").await, 1);
        let added = db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM audit_events WHERE type = 'project.user.added'",
        )
        .await;
        assert_eq!(added, 1);
    }
);
