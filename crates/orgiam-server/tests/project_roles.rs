//! Project roles and project role grants of users and groups over HTTP, on SQLite and
//! PostgreSQL: scoping, membership rules, escalation, cascades, audit events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod project_support;

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};
use project_support::*;
use serde_json::Value;

backend_tests!(project_roles_crud, |s: TestServer| async move {
    let p = new_project(&s, "Roles").await;
    let q = new_project(&s, "Other").await;
    let base = format!("/v1/projects/{p}/roles");
    let list = s.get(&base).await.expect(200);
    assert_eq!(
        ids(&list, "id"),
        [PROJECT_OWNER, PROJECT_MEMBER, PROJECT_VIEWER]
    );
    for r in list["data"].as_array().unwrap() {
        assert_eq!(r["predefined_role"], true);
        assert_eq!(r["resource_type"], "api.project");
    }
    let owner = s.get(&format!("{base}/{PROJECT_OWNER}")).await.expect(200);
    assert!(
        owner["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.as_str().unwrap().starts_with("api.project."))
    );
    refused(&s, "GET", &format!("{base}/{ORG_ADMIN}"), None, 404).await;

    let before = audit_count(&s).await;
    let r = s
        .post(&base, json!({"role_name": "Deployer", "permissions": ["api.project.users.read", "api.project.roles.read"], "description": "ships"}))
        .await
        .expect(200);
    assert_eq!(r["object"], "role");
    assert_eq!(r["name"], "Deployer");
    assert_eq!(r["predefined_role"], false);
    assert_eq!(r["resource_type"], "api.project");
    assert_eq!(
        r["permissions"],
        json!(["api.project.roles.read", "api.project.users.read"])
    );
    let rid = r["id"].as_str().unwrap().to_owned();
    assert_eq!(audit_types_after(&s, before).await, ["role.created"]);
    let scoped = db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM audit_events WHERE type = 'role.created' AND project_id = '{p}' AND resource_id = '{rid}'"),
    )
    .await;
    assert_eq!(scoped, 1);

    let e = refused(&s, "POST", &base, Some(json!({"role_name": "Mixed", "permissions": ["api.project.users.read", "api.users.read"]})), 400).await;
    assert_eq!(e["error"]["param"], "permissions[1]");
    let e = refused(
        &s,
        "POST",
        &base,
        Some(json!({"role_name": "Ghost", "permissions": ["nope.read"]})),
        400,
    )
    .await;
    assert_eq!(e["error"]["param"], "permissions[0]");
    let e = refused(
        &s,
        "POST",
        &base,
        Some(json!({"role_name": "deployer", "permissions": []})),
        409,
    )
    .await;
    assert_eq!(e["error"]["code"], "role_name_taken");
    for system in ["Viewer", "admin"] {
        refused(
            &s,
            "POST",
            &base,
            Some(json!({"role_name": system, "permissions": []})),
            409,
        )
        .await;
    }
    refused(&s, "POST", &base, Some(json!({"permissions": []})), 400).await;
    refused(
        &s,
        "POST",
        &format!("/v1/projects/{MISSING_PROJECT}/roles"),
        Some(json!({"role_name": "x", "permissions": []})),
        404,
    )
    .await;
    // names are unique per project, and apart from the organization's roles
    s.post(
        &format!("/v1/projects/{q}/roles"),
        json!({"role_name": "Deployer", "permissions": []}),
    )
    .await
    .expect(200);
    s.post(
        "/v1/organization/roles",
        json!({"role_name": "Deployer", "permissions": []}),
    )
    .await
    .expect(200);
    // a project role is found only under its project
    refused(
        &s,
        "GET",
        &format!("/v1/projects/{q}/roles/{rid}"),
        None,
        404,
    )
    .await;
    refused(
        &s,
        "GET",
        &format!("/v1/organization/roles/{rid}"),
        None,
        404,
    )
    .await;
    let org_roles = walk(&s, "/v1/organization/roles", "id", "next", 1000).await;
    assert!(!org_roles.contains(&rid));

    let before = audit_count(&s).await;
    let u = s
        .post(&format!("{base}/{rid}"), json!({"role_name": "Shipper", "permissions": ["api.project.users.read"], "description": null}))
        .await
        .expect(200);
    assert_eq!(u["name"], "Shipper");
    assert_eq!(u["permissions"], json!(["api.project.users.read"]));
    assert!(u["description"].is_null());
    assert_eq!(audit_types_after(&s, before).await, ["role.updated"]);
    let e = refused(
        &s,
        "POST",
        &format!("{base}/{rid}"),
        Some(json!({"permissions": ["api.roles.write"]})),
        400,
    )
    .await;
    assert_eq!(e["error"]["param"], "permissions[0]");
    let e = refused(
        &s,
        "POST",
        &format!("{base}/{PROJECT_MEMBER}"),
        Some(json!({"role_name": "x"})),
        403,
    )
    .await;
    assert_eq!(e["error"]["code"], "system_role_read_only");
    refused(&s, "DELETE", &format!("{base}/{PROJECT_VIEWER}"), None, 403).await;

    let mut custom = vec![rid.clone()];
    for i in 0..4 {
        let r = s
            .post(
                &base,
                json!({"role_name": format!("r{i}"), "permissions": []}),
            )
            .await
            .expect(200);
        custom.push(r["id"].as_str().unwrap().to_owned());
    }
    let mut expected = vec![
        PROJECT_OWNER.to_owned(),
        PROJECT_MEMBER.to_owned(),
        PROJECT_VIEWER.to_owned(),
    ];
    expected.extend(custom.iter().cloned());
    assert_eq!(walk(&s, &base, "id", "next", 2).await, expected);
    let desc = s
        .get(&format!("{base}?order=desc&limit=2"))
        .await
        .expect(200);
    assert_eq!(ids(&desc, "id"), [custom[4].clone(), custom[3].clone()]);
    for bad in [
        "limit=-1",
        "limit=1001",
        "order=up",
        "after=user_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
    ] {
        assert_eq!(s.get(&format!("{base}?{bad}")).await.status, 400, "{bad}");
    }

    let before = audit_count(&s).await;
    let d = s.delete(&format!("{base}/{rid}")).await.expect(200);
    assert_eq!(
        d,
        json!({"object": "role.deleted", "id": rid, "deleted": true})
    );
    assert_eq!(audit_types_after(&s, before).await, ["role.deleted"]);
    refused(&s, "GET", &format!("{base}/{rid}"), None, 404).await;
    refused(&s, "DELETE", &format!("{base}/{rid}"), None, 404).await;
    s.stop().await;
});

backend_tests!(project_user_roles, |s: TestServer| async move {
    let key = s.admin_key.clone();
    let p = new_project(&s, "Grants").await;
    let q = new_project(&s, "Elsewhere").await;
    let ann = provision(&s, &key, "ann@example.com", "member").await;
    let out = provision(&s, &key, "out@example.com", "member").await;
    s.post(
        &format!("/v1/organization/projects/{p}/users"),
        json!({"user_id": ann, "role": "viewer"}),
    )
    .await
    .expect(200);
    let role = s
        .post(
            &format!("/v1/projects/{p}/roles"),
            json!({"role_name": "Ops", "permissions": ["api.project.groups.read"]}),
        )
        .await
        .expect(200);
    let rid = role["id"].as_str().unwrap().to_owned();
    let q_role = s
        .post(
            &format!("/v1/projects/{q}/roles"),
            json!({"role_name": "Q", "permissions": []}),
        )
        .await
        .expect(200);
    let q_rid = q_role["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/projects/{p}/users/{ann}/roles");

    let before = audit_count(&s).await;
    let a = s
        .post(&base, json!({"role_id": rid, "metadata": {"ticket": 9}}))
        .await
        .expect(200);
    assert_eq!(a["object"], "user.role");
    assert_eq!(a["role"]["id"], rid.as_str());
    assert_eq!(a["user"]["object"], "organization.user");
    assert_eq!(a["user"]["id"], ann.as_str());
    let future = orgiam_core::now_unix() + 3600;
    s.post(&base, json!({"role_id": rid, "expires_at": future}))
        .await
        .expect(200);
    s.post(&base, json!({"role_id": PROJECT_MEMBER}))
        .await
        .expect(200);
    assert_eq!(
        audit_types_after(&s, before).await,
        [
            "role.assignment.created",
            "role.assignment.updated",
            "role.assignment.created"
        ]
    );
    let scoped = db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM audit_events WHERE type LIKE 'role.assignment.%' AND project_id = '{p}'"),
    )
    .await;
    assert_eq!(scoped, 3);
    let rows = db_scalar(
        &s.db.url,
        &format!(
            "SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p}' AND user_id = '{ann}'"
        ),
    )
    .await;
    assert_eq!(rows, 3, "base role, Ops, member");

    let list = s.get(&base).await.expect(200);
    let got = ids(&list, "id");
    let mut expected = vec![
        PROJECT_MEMBER.to_owned(),
        PROJECT_VIEWER.to_owned(),
        rid.clone(),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let row = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rid.as_str())
        .unwrap();
    assert_eq!(row["expires_at"], future);
    assert_eq!(row["metadata"], json!({"ticket": 9}));
    assert_eq!(row["resource_type"], "api.project");
    assert_eq!(
        row["assignment_sources"],
        json!([{"principal_type": "user", "principal_id": ann}])
    );
    assert_eq!(row["created_by"], s.owner_id.as_str());
    assert_eq!(walk(&s, &base, "id", "next", 1).await, expected);
    assert_eq!(
        s.get(&format!("{base}/{rid}")).await.expect(200)["id"],
        rid.as_str()
    );
    // the organization-level listing does not show project roles
    let org_list = s
        .get(&format!("/v1/organization/users/{ann}/roles"))
        .await
        .expect(200);
    assert_eq!(ids(&org_list, "id"), ["role_00000000000000000000000003"]);

    // refusals write nothing
    let e = refused(
        &s,
        "POST",
        &format!("/v1/projects/{p}/users/{out}/roles"),
        Some(json!({"role_id": rid})),
        404,
    )
    .await;
    assert_eq!(e["error"]["code"], "not_project_member");
    refused(&s, "POST", &base, Some(json!({"role_id": ORG_ADMIN})), 404).await;
    refused(&s, "POST", &base, Some(json!({"role_id": q_rid})), 404).await;
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"role_id": rid, "expires_at": 1000})),
        400,
    )
    .await;
    refused(&s, "POST", &base, Some(json!({})), 400).await;
    refused(
        &s,
        "POST",
        &format!("/v1/projects/{MISSING_PROJECT}/users/{ann}/roles"),
        Some(json!({"role_id": rid})),
        404,
    )
    .await;
    let e = refused(&s, "DELETE", &format!("{base}/{PROJECT_VIEWER}"), None, 409).await;
    assert_eq!(e["error"]["code"], "base_role");
    refused(&s, "DELETE", &format!("{base}/{PROJECT_OWNER}"), None, 404).await;
    assert_eq!(s.get(&format!("{base}/{PROJECT_OWNER}")).await.status, 404);
    assert_eq!(
        s.get(&format!("/v1/projects/{q}/users/{ann}/roles"))
            .await
            .expect(200)["data"],
        json!([])
    );

    // updating the base role to a directly granted one folds the two
    s.post(
        &format!("/v1/organization/projects/{p}/users/{ann}"),
        json!({"role": "member"}),
    )
    .await
    .expect(200);
    let list = s.get(&base).await.expect(200);
    assert_eq!(ids(&list, "id").len(), 2);
    let e = refused(&s, "DELETE", &format!("{base}/{PROJECT_MEMBER}"), None, 409).await;
    assert_eq!(e["error"]["code"], "base_role");

    let before = audit_count(&s).await;
    let d = s.delete(&format!("{base}/{rid}")).await.expect(200);
    assert_eq!(d, json!({"object": "user.role.deleted", "deleted": true}));
    assert_eq!(
        audit_types_after(&s, before).await,
        ["role.assignment.deleted"]
    );
    refused(&s, "DELETE", &format!("{base}/{rid}"), None, 404).await;

    // removing the project user removes every assignment they had on the project
    s.post(&base, json!({"role_id": rid})).await.expect(200);
    s.delete(&format!("/v1/organization/projects/{p}/users/{ann}"))
        .await
        .expect(200);
    let orphans = db_scalar(
        &s.db.url,
        &format!(
            "SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p}' AND user_id = '{ann}'"
        ),
    )
    .await;
    assert_eq!(orphans, 0);
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM role_assignments WHERE user_id = '{ann}'")
        )
        .await,
        1
    );
    refused(&s, "POST", &base, Some(json!({"role_id": rid})), 404).await;
    // deleting a project role removes its grants; removing an org member removes their project rows
    s.post(
        &format!("/v1/organization/projects/{p}/users"),
        json!({"user_id": ann, "role": "member"}),
    )
    .await
    .expect(200);
    s.post(&base, json!({"role_id": rid})).await.expect(200);
    s.delete(&format!("/v1/projects/{p}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM role_assignments WHERE role_id = '{rid}'")
        )
        .await,
        0
    );
    s.delete(&format!("/v1/organization/users/{ann}"))
        .await
        .expect(200);
    for table in ["project_members", "role_assignments"] {
        let n = db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{ann}'"),
        )
        .await;
        assert_eq!(n, 0, "{table}");
    }
    s.stop().await;
});

backend_tests!(project_groups_and_their_roles, |s: TestServer| async move {
    let key = s.admin_key.clone();
    let org = s.org_id.clone();
    let p = new_project(&s, "Groups").await;
    let devs = insert_group(&s, &org, "Devs").await;
    let ops = insert_group(&s, &org, "Ops").await;
    let (org_b, _, _) = s.new_org("B", "b@b.example").await;
    let foreign = insert_group(&s, &org_b, "Foreign").await;
    let role = s
        .post(
            &format!("/v1/projects/{p}/roles"),
            json!({"role_name": "Watchers", "permissions": ["api.project.users.read"]}),
        )
        .await
        .expect(200);
    let rid = role["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/organization/projects/{p}/groups");

    let before = audit_count(&s).await;
    let g = s
        .post(&base, json!({"group_id": devs, "role": PROJECT_MEMBER}))
        .await
        .expect(200);
    assert_eq!(
        g,
        json!({"object": "project.group", "project_id": p, "group_id": devs, "group_name": "Devs",
               "group_type": "group", "created_at": g["created_at"]})
    );
    assert!(g.get("id").is_none());
    s.post(&base, json!({"group_id": ops, "role": rid}))
        .await
        .expect(200);
    assert_eq!(
        audit_types_after(&s, before).await,
        ["project.group.added"; 2]
    );
    let granted = db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p}' AND group_id = '{devs}' AND role_id = '{PROJECT_MEMBER}'"),
    )
    .await;
    assert_eq!(granted, 1);

    let e = refused(
        &s,
        "POST",
        &base,
        Some(json!({"group_id": devs, "role": PROJECT_VIEWER})),
        409,
    )
    .await;
    assert_eq!(e["error"]["code"], "already_project_group");
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"group_id": foreign, "role": PROJECT_VIEWER})),
        404,
    )
    .await;
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"group_id": "group_01J1F8ZZZZZZZZZZZZZZZZZZZZ", "role": PROJECT_VIEWER})),
        404,
    )
    .await;
    let third = insert_group(&s, &org, "Third").await;
    refused(
        &s,
        "POST",
        &base,
        Some(json!({"group_id": third, "role": ORG_ADMIN})),
        404,
    )
    .await;
    refused(&s, "POST", &base, Some(json!({"group_id": third})), 400).await;

    let mut expected = vec![devs.clone(), ops.clone()];
    expected.sort();
    assert_eq!(walk(&s, &base, "group_id", "next", 1).await, expected);
    let desc = s.get(&format!("{base}?order=desc")).await.expect(200);
    assert_eq!(
        ids(&desc, "group_id"),
        expected.iter().rev().cloned().collect::<Vec<_>>()
    );
    for bad in [
        "limit=-1",
        "limit=1001",
        "order=x",
        "after=user_01J1F8ZZZZZZZZZZZZZZZZZZZZ",
    ] {
        assert_eq!(s.get(&format!("{base}?{bad}")).await.status, 400, "{bad}");
    }
    assert_eq!(
        s.get(&format!("{base}/{devs}")).await.expect(200)["group_name"],
        "Devs"
    );
    assert_eq!(
        s.get(&format!("{base}/{devs}?group_type=group"))
            .await
            .status,
        200
    );
    assert_eq!(
        s.get(&format!("{base}/{devs}?group_type=tenant_group"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(&format!("{base}/{devs}?group_type=x")).await.status,
        400
    );
    assert_eq!(s.get(&format!("{base}/{third}")).await.status, 404);

    // the group's project roles
    let groles = format!("/v1/projects/{p}/groups/{devs}/roles");
    let before = audit_count(&s).await;
    let a = s.post(&groles, json!({"role_id": rid})).await.expect(200);
    assert_eq!(a["object"], "group.role");
    assert_eq!(
        a["group"],
        json!({"object": "group", "id": devs, "name": "Devs", "created_at": 1700000000, "scim_managed": false})
    );
    assert_eq!(a["role"]["id"], rid.as_str());
    s.post(
        &groles,
        json!({"role_id": rid, "expires_at": orgiam_core::now_unix() + 60}),
    )
    .await
    .expect(200);
    assert_eq!(
        audit_types_after(&s, before).await,
        ["role.assignment.created", "role.assignment.updated"]
    );
    let mut expected = vec![PROJECT_MEMBER.to_owned(), rid.clone()];
    expected.sort();
    assert_eq!(walk(&s, &groles, "id", "next", 1).await, expected);
    let row = s.get(&format!("{groles}/{rid}")).await.expect(200);
    assert_eq!(
        row["assignment_sources"],
        json!([{"principal_type": "group", "principal_id": devs}])
    );
    assert!(row["expires_at"].as_i64().is_some());
    let e = refused(
        &s,
        "POST",
        &format!("/v1/projects/{p}/groups/{third}/roles"),
        Some(json!({"role_id": rid})),
        404,
    )
    .await;
    assert_eq!(e["error"]["code"], "not_project_group");
    refused(
        &s,
        "POST",
        &format!("/v1/projects/{p}/groups/{foreign}/roles"),
        Some(json!({"role_id": rid})),
        404,
    )
    .await;
    refused(
        &s,
        "POST",
        &groles,
        Some(json!({"role_id": ORG_ADMIN})),
        404,
    )
    .await;

    // a member of the group holds its project roles, and the listing says through which group
    let ann = provision(&s, &key, "ann@example.com", "member").await;
    insert_group_member(&s, &org, &devs, &ann).await;
    let via = s
        .get(&format!("/v1/projects/{p}/users/{ann}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(
        via["assignment_sources"],
        json!([{"principal_type": "group", "principal_id": devs}])
    );
    let grants = s
        .store()
        .user_grants(&orgiam_core::ids::OrgId::from_trusted(org.clone()), &ann)
        .await
        .unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g.project_id.as_deref() == Some(p.as_str()) && g.role_id == rid)
    );

    let before = audit_count(&s).await;
    let d = s.delete(&format!("{groles}/{rid}")).await.expect(200);
    assert_eq!(d, json!({"object": "group.role.deleted", "deleted": true}));
    assert_eq!(
        audit_types_after(&s, before).await,
        ["role.assignment.deleted"]
    );
    refused(&s, "DELETE", &format!("{groles}/{rid}"), None, 404).await;

    s.post(&groles, json!({"role_id": PROJECT_OWNER}))
        .await
        .expect(200);
    let before = audit_count(&s).await;
    let d = s.delete(&format!("{base}/{devs}")).await.expect(200);
    assert_eq!(
        d,
        json!({"object": "project.group.deleted", "deleted": true})
    );
    assert_eq!(
        audit_types_after(&s, before).await,
        ["project.group.removed"]
    );
    let orphans = db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM role_assignments WHERE group_id = '{devs}'"),
    )
    .await;
    assert_eq!(
        orphans, 0,
        "removing the group's access removes its project grants"
    );
    refused(&s, "DELETE", &format!("{base}/{devs}"), None, 404).await;
    assert_eq!(s.get(&format!("{base}/{devs}")).await.status, 404);
    s.stop().await;
});

backend_tests!(grants_never_escalate, |s: TestServer| async move {
    // org B: x owns it at first, builds a project, then keeps only project admin rights
    let (_org, x, key) = s.new_org("B", "x@b.example").await;
    let call = |m: &'static str, p: String, b: Option<Value>| {
        let key = key.clone();
        let s = &s;
        async move { s.call(m, &p, Some(&key), b).await }
    };
    let y = provision(&s, &key, "y@b.example", "owner").await;
    let z = provision(&s, &key, "z@b.example", "member").await;
    let pa = call(
        "POST",
        "/v1/organization/projects".into(),
        Some(json!({"name": "A"})),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pb = call(
        "POST",
        "/v1/organization/projects".into(),
        Some(json!({"name": "B"})),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rid = call(
        "POST",
        format!("/v1/projects/{pb}/roles"),
        Some(json!({"role_name": "Groups", "permissions": ["api.project.groups.read"]})),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rid_a = call(
        "POST",
        format!("/v1/projects/{pa}/roles"),
        Some(json!({"role_name": "Groups", "permissions": ["api.project.groups.read"]})),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for p in [&pa, &pb] {
        call(
            "POST",
            format!("/v1/organization/projects/{p}/users"),
            Some(json!({"user_id": z, "role": "viewer"})),
        )
        .await
        .expect(200);
    }
    call(
        "POST",
        format!("/v1/organization/projects/{pa}/users"),
        Some(json!({"user_id": x, "role": "owner"})),
    )
    .await
    .expect(200);
    let admin = call("POST", "/v1/organization/roles".into(), Some(json!({"role_name": "Project admin", "permissions": ["api.projects.read", "api.projects.write"]})))
        .await
        .expect(200)["id"].as_str().unwrap().to_owned();
    call(
        "POST",
        format!("/v1/organization/users/{x}/roles"),
        Some(json!({"role_id": admin})),
    )
    .await
    .expect(200);
    call(
        "POST",
        format!("/v1/organization/users/{x}"),
        Some(json!({"role": "member"})),
    )
    .await
    .expect(200);
    let _ = y;

    let before = audit_count(&s).await;
    // on project B x holds no project permission: every grant of one is refused
    for (m, path, body) in [
        (
            "POST",
            format!("/v1/organization/projects/{pb}/users/{z}"),
            json!({"role": "member"}),
        ),
        (
            "POST",
            format!("/v1/projects/{pb}/roles"),
            json!({"role_name": "More", "permissions": ["api.project.users.read"]}),
        ),
        (
            "POST",
            format!("/v1/projects/{pb}/roles/{rid}"),
            json!({"permissions": ["api.project.users.write"]}),
        ),
        (
            "POST",
            format!("/v1/projects/{pb}/users/{z}/roles"),
            json!({"role_id": rid}),
        ),
    ] {
        let a = call(m, path.clone(), Some(body)).await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation");
    }
    assert_eq!(audit_count(&s).await, before);
    // on project A x is a project owner: the same grants pass there
    call(
        "POST",
        format!("/v1/organization/projects/{pa}/users/{z}"),
        Some(json!({"role": "member"})),
    )
    .await
    .expect(200);
    call(
        "POST",
        format!("/v1/projects/{pa}/users/{z}/roles"),
        Some(json!({"role_id": rid_a})),
    )
    .await
    .expect(200);
    call(
        "POST",
        format!("/v1/projects/{pa}/roles"),
        Some(json!({"role_name": "More", "permissions": ["api.project.users.read"]})),
    )
    .await
    .expect(200);
    // roles without permissions hand out nothing
    call(
        "POST",
        format!("/v1/projects/{pb}/roles"),
        Some(json!({"role_name": "Empty", "permissions": []})),
    )
    .await
    .expect(200);
    s.stop().await;
});
