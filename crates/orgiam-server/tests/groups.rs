//! Groups, group members and group role assignments over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

const OWNER: &str = "role_00000000000000000000000001";
const ADMIN: &str = "role_00000000000000000000000002";
const MEMBER: &str = "role_00000000000000000000000003";
const MISSING_GROUP: &str = "group_01J1F8ZZZZZZZZZZZZZZZZZZZZ";
const MISSING_USER: &str = "user_01J1F8ZZZZZZZZZZZZZZZZZZZZ";
const MISSING_ROLE: &str = "role_01J1F8ZZZZZZZZZZZZZZZZZZZZ";

async fn events(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

/// The newest audit event: its type and its payload.
async fn last_event(s: &TestServer) -> (String, Value) {
    let t = db_strings(
        &s.db.url,
        "SELECT type FROM audit_events ORDER BY id DESC LIMIT 1",
    )
    .await;
    let d = db_strings(
        &s.db.url,
        "SELECT details FROM audit_events ORDER BY id DESC LIMIT 1",
    )
    .await;
    let details: Value = serde_json::from_str(&d[0]).unwrap();
    (t[0].clone(), details["payload"].clone())
}

/// Asserts that the last request wrote exactly one audit event of type `ty`; returns its
/// payload.
async fn one_event(s: &TestServer, before: i64, ty: &str) -> Value {
    assert_eq!(events(s).await, before + 1, "exactly one audit event");
    let (t, payload) = last_event(s).await;
    assert_eq!(t, ty);
    payload
}

async fn provision(s: &TestServer, email: &str, name: Option<&str>) -> String {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "name": name, "role": "member"}),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

async fn user_roles(s: &TestServer, user: &str) -> Value {
    s.get(&format!("/v1/organization/users/{user}/roles"))
        .await
        .expect(200)
}

async fn group(s: &TestServer, name: &str) -> String {
    let g = s
        .post("/v1/organization/groups", json!({"name": name}))
        .await
        .expect(200);
    g["id"].as_str().unwrap().to_owned()
}

async fn custom_role(s: &TestServer, name: &str, permissions: Value) -> String {
    let r = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": name, "permissions": permissions}),
        )
        .await
        .expect(200);
    r["id"].as_str().unwrap().to_owned()
}

/// Follows `next` from `path` (which has a query string) and returns every id, page by page.
async fn pages(s: &TestServer, path: &str, key: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.get(&format!("{path}{after}")).await.expect(200);
        assert_eq!(page["object"], "list");
        let ids: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_owned())
            .collect();
        if let Some(last) = ids.last() {
            assert_eq!(page["last_id"], last.as_str());
            assert_eq!(page["first_id"], ids[0].as_str());
        }
        out.push(ids);
        if page["has_more"] != true {
            assert_eq!(page["has_more"], false);
            assert!(page["next"].is_null());
            return out;
        }
        assert_eq!(page["next"], page["last_id"]);
        after = format!("&after={}", page["next"].as_str().unwrap());
    }
}

backend_tests!(create_list_rename_delete, |s: TestServer| async move {
    let n = events(&s).await;
    let g = s
        .post(
            "/v1/organization/groups",
            json!({"name": "  Engineering  "}),
        )
        .await
        .expect(200);
    let gid = g["id"].as_str().unwrap().to_owned();
    assert!(gid.starts_with("group_"));
    assert_eq!(g["name"], "Engineering");
    assert_eq!(g["group_type"], "group");
    assert_eq!(g["is_scim_managed"], false);
    assert!(g["created_at"].as_i64().unwrap() > 0);
    assert!(g.get("object").is_none(), "the SDK's Group has no object");
    let p = one_event(&s, n, "group.created").await;
    assert_eq!(p["id"], gid.as_str());
    assert_eq!(p["data"]["group_name"], "Engineering");

    // names are unique case-insensitively; refused writes write nothing
    let n = events(&s).await;
    let dup = s
        .post("/v1/organization/groups", json!({"name": "ENGINEERING"}))
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.error("code"), "group_name_taken");
    assert_eq!(dup.headers["x-should-retry"], "false");
    for (bad, param) in [
        (json!({}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x".repeat(257)}), "name"),
        (json!({"name": "a\u{0}b"}), "name"),
    ] {
        let a = s.post("/v1/organization/groups", bad.clone()).await;
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.error("param"), param, "{bad}");
    }
    let ok = s
        .post("/v1/organization/groups", json!({"name": "é".repeat(256)}))
        .await
        .expect(200);
    assert_eq!(events(&s).await, n + 1);
    s.delete(&format!(
        "/v1/organization/groups/{}",
        ok["id"].as_str().unwrap()
    ))
    .await
    .expect(200);

    let got = s
        .get(&format!("/v1/organization/groups/{gid}"))
        .await
        .expect(200);
    assert_eq!(got, g);
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{MISSING_GROUP}"))
            .await
            .status,
        404
    );
    assert_eq!(s.get("/v1/organization/groups/not-an-id").await.status, 404);

    // rename: `name` is required; another group's name is a 409; a case change is fine
    let other = group(&s, "Sales").await;
    let n = events(&s).await;
    let taken = s
        .post(
            &format!("/v1/organization/groups/{other}"),
            json!({"name": "engineering"}),
        )
        .await;
    assert_eq!(taken.status, 409);
    let missing = s
        .post(&format!("/v1/organization/groups/{other}"), json!({}))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error("param"), "name");
    assert_eq!(
        s.post(
            &format!("/v1/organization/groups/{MISSING_GROUP}"),
            json!({"name": "x"})
        )
        .await
        .status,
        404
    );
    assert_eq!(events(&s).await, n);
    let up = s
        .post(
            &format!("/v1/organization/groups/{gid}"),
            json!({"name": "engineering"}),
        )
        .await
        .expect(200);
    assert_eq!(
        up,
        json!({"id": gid, "name": "engineering", "created_at": g["created_at"], "is_scim_managed": false})
    );
    assert!(up.get("group_type").is_none());
    let p = one_event(&s, n, "group.updated").await;
    assert_eq!(p["changes_requested"]["group_name"], "engineering");
    assert_eq!(p["before"]["name"], "Engineering");
    assert_eq!(p["after"]["name"], "engineering");
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{gid}"))
            .await
            .expect(200)["name"],
        "engineering"
    );

    // delete
    let n = events(&s).await;
    let del = s
        .delete(&format!("/v1/organization/groups/{other}"))
        .await
        .expect(200);
    assert_eq!(
        del,
        json!({"object": "group.deleted", "id": other, "deleted": true})
    );
    one_event(&s, n, "group.deleted").await;
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{other}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/groups/{other}"))
            .await
            .status,
        404
    );
    assert_eq!(events(&s).await, n + 1);
    // the name is free again
    group(&s, "sales").await;
    s.stop().await;
});

backend_tests!(groups_paginate_with_next, |s: TestServer| async move {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(group(&s, &format!("g{i}")).await);
    }
    let all = s.get("/v1/organization/groups").await.expect(200);
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        7,
        "default limit 100"
    );
    assert_eq!(all["has_more"], false);
    let got = pages(&s, "/v1/organization/groups?limit=3", "id").await;
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(got.concat(), ids, "ascending by id = creation order");
    let desc = pages(&s, "/v1/organization/groups?limit=2&order=desc", "id").await;
    let mut rev = ids.clone();
    rev.reverse();
    assert_eq!(desc.concat(), rev);
    // the SDK documents 0 to 1000
    let zero = s.get("/v1/organization/groups?limit=0").await.expect(200);
    assert_eq!(zero["data"], json!([]));
    s.get("/v1/organization/groups?limit=1000")
        .await
        .expect(200);
    for bad in [
        "limit=1001",
        "limit=-1",
        "limit=x",
        "order=up",
        "after=role_x",
    ] {
        let a = s.get(&format!("/v1/organization/groups?{bad}")).await;
        assert_eq!(a.status, 400, "{bad}");
    }
    s.stop().await;
});

backend_tests!(group_members, |s: TestServer| async move {
    let gid = group(&s, "Team").await;
    let ann = provision(&s, "ann@example.com", Some("Ann")).await;
    let bob = provision(&s, "bob@example.com", None).await;

    let n = events(&s).await;
    let added = s
        .post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": ann}),
        )
        .await;
    assert!(added.headers.contains_key("orgiam-revision"));
    let added = added.body;
    assert_eq!(
        added,
        json!({"object": "group.user", "group_id": gid, "user_id": ann})
    );
    let p = one_event(&s, n, "group.user.added").await;
    assert_eq!(p["id"], gid.as_str());
    assert_eq!(p["data"]["user_id"], ann.as_str());

    // adding again is an idempotent 200 that writes nothing
    let n = events(&s).await;
    let again = s
        .post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": ann}),
        )
        .await
        .expect(200);
    assert_eq!(again, added);
    assert_eq!(events(&s).await, n);
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM group_members WHERE group_id = '{gid}'")
        )
        .await,
        1
    );

    // only members of the organization, only existing groups
    let (_b, owner_b, _kb) = s.new_org("B", "boss@b.example").await;
    let n = events(&s).await;
    for (path, body, status) in [
        (
            format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": MISSING_USER}),
            404,
        ),
        (
            format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": owner_b}),
            404,
        ),
        (
            format!("/v1/organization/groups/{MISSING_GROUP}/users"),
            json!({"user_id": bob}),
            404,
        ),
        (
            format!("/v1/organization/groups/{gid}/users"),
            json!({}),
            400,
        ),
        (
            format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": 7}),
            400,
        ),
    ] {
        let a = s.post(&path, body.clone()).await;
        assert_eq!(a.status, status, "{path} {body}: {}", a.body);
    }
    assert_eq!(events(&s).await, n);

    s.post(
        &format!("/v1/organization/groups/{gid}/users"),
        json!({"user_id": bob}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/v1/organization/groups/{gid}/users"),
        json!({"user_id": s.owner_id}),
    )
    .await
    .expect(200);

    // list items and retrieve answers are different models
    let list = s
        .get(&format!("/v1/organization/groups/{gid}/users"))
        .await
        .expect(200);
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let a = rows.iter().find(|r| r["id"] == ann.as_str()).unwrap();
    assert_eq!(
        a,
        &json!({"id": ann, "name": "Ann", "email": "ann@example.com"})
    );
    let b = rows.iter().find(|r| r["id"] == bob.as_str()).unwrap();
    assert_eq!(b["name"], "bob@example.com", "no display name: the email");
    let one = s
        .get(&format!("/v1/organization/groups/{gid}/users/{ann}"))
        .await
        .expect(200);
    assert_eq!(
        one,
        json!({"id": ann, "name": "Ann", "email": "ann@example.com",
               "is_service_account": false, "picture": null, "user_type": "user"})
    );
    let mut expected = vec![ann.clone(), bob.clone(), s.owner_id.clone()];
    expected.sort();
    let got = pages(
        &s,
        &format!("/v1/organization/groups/{gid}/users?limit=2"),
        "id",
    )
    .await;
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(got.concat(), expected);
    let zero = s
        .get(&format!("/v1/organization/groups/{gid}/users?limit=0"))
        .await
        .expect(200);
    assert_eq!(zero["data"], json!([]));
    for bad in ["limit=1001", "limit=-1", "after=group_x"] {
        assert_eq!(
            s.get(&format!("/v1/organization/groups/{gid}/users?{bad}"))
                .await
                .status,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{MISSING_GROUP}/users"))
            .await
            .status,
        404
    );

    // remove
    let n = events(&s).await;
    let del = s
        .delete(&format!("/v1/organization/groups/{gid}/users/{bob}"))
        .await
        .expect(200);
    assert_eq!(
        del,
        json!({"object": "group.user.deleted", "deleted": true})
    );
    let p = one_event(&s, n, "group.user.removed").await;
    assert_eq!(p["data"]["user_id"], bob.as_str());
    let n = events(&s).await;
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{gid}/users/{bob}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/groups/{gid}/users/{bob}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!(
            "/v1/organization/groups/{MISSING_GROUP}/users/{ann}"
        ))
        .await
        .status,
        404
    );
    assert_eq!(events(&s).await, n);

    // removing a user from the organization takes them out of its groups
    s.delete(&format!("/v1/organization/users/{ann}"))
        .await
        .expect(200);
    let list = s
        .get(&format!("/v1/organization/groups/{gid}/users"))
        .await
        .expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], s.owner_id.as_str());
    s.stop().await;
});

backend_tests!(group_roles, |s: TestServer| async move {
    let gid = group(&s, "Auditors").await;
    let rid = custom_role(&s, "Auditor", json!(["api.audit_logs.read"])).await;

    let n = events(&s).await;
    let a = s
        .post(
            &format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": rid, "metadata": {"ticket": 9}}),
        )
        .await
        .expect(200);
    assert_eq!(a["object"], "group.role");
    assert_eq!(a["group"]["object"], "group");
    assert_eq!(a["group"]["id"], gid.as_str());
    assert_eq!(a["group"]["name"], "Auditors");
    assert_eq!(a["group"]["scim_managed"], false);
    assert!(a["group"]["created_at"].as_i64().is_some());
    assert_eq!(a["role"]["object"], "role");
    assert_eq!(a["role"]["id"], rid.as_str());
    assert_eq!(a["role"]["permissions"], json!(["api.audit_logs.read"]));
    let p = one_event(&s, n, "role.assignment.created").await;
    assert_eq!(p["principal_type"], "group");
    assert_eq!(p["principal_id"], gid.as_str());
    assert_eq!(p["role_id"], rid.as_str());
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!(
                "SELECT COUNT(*) FROM role_assignments WHERE principal_type = 'group' \
                 AND group_id = '{gid}' AND principal_id = '{gid}' AND user_id IS NULL"
            )
        )
        .await,
        1
    );

    // granting again is a 200 that replaces the expiry
    let future = orgiam_core::now_unix() + 3600;
    let n = events(&s).await;
    s.post(
        &format!("/v1/organization/groups/{gid}/roles"),
        json!({"role_id": rid, "expires_at": future}),
    )
    .await
    .expect(200);
    let p = one_event(&s, n, "role.assignment.updated").await;
    assert_eq!(p["principal_type"], "group");
    assert_eq!(p["after"]["expires_at"], future);
    s.post(
        &format!("/v1/organization/groups/{gid}/roles"),
        json!({"role_id": ADMIN}),
    )
    .await
    .expect(200);

    let list = s
        .get(&format!("/v1/organization/groups/{gid}/roles"))
        .await
        .expect(200);
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|r| r["id"] == rid.as_str()).unwrap();
    assert_eq!(
        row["assignment_sources"],
        json!([{"principal_type": "group", "principal_id": gid}])
    );
    assert_eq!(row["expires_at"], future);
    assert_eq!(row["metadata"], json!({"ticket": 9}));
    assert_eq!(row["created_by"], s.owner_id.as_str());
    assert_eq!(row["created_by_user_obj"]["id"], s.owner_id.as_str());
    assert_eq!(row["predefined_role"], false);
    assert!(row.get("object").is_none());
    let one = s
        .get(&format!("/v1/organization/groups/{gid}/roles/{ADMIN}"))
        .await
        .expect(200);
    assert_eq!(one["name"], "admin");
    assert_eq!(one["predefined_role"], true);
    let got = pages(
        &s,
        &format!("/v1/organization/groups/{gid}/roles?limit=1"),
        "id",
    )
    .await;
    let mut expected = vec![rid.clone(), ADMIN.to_owned()];
    expected.sort();
    assert_eq!(got.concat(), expected);
    for bad in ["limit=-1", "limit=1001", "after=group_x", "order=sideways"] {
        assert_eq!(
            s.get(&format!("/v1/organization/groups/{gid}/roles?{bad}"))
                .await
                .status,
            400,
            "{bad}"
        );
    }

    // refusals write nothing
    let n = events(&s).await;
    for (path, body, status, param) in [
        (
            format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": MEMBER, "expires_at": 1000}),
            400,
            Some("expires_at"),
        ),
        (
            format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": MEMBER, "metadata": [1]}),
            400,
            Some("metadata"),
        ),
        (
            format!("/v1/organization/groups/{gid}/roles"),
            json!({}),
            400,
            Some("role_id"),
        ),
        (
            format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": MISSING_ROLE}),
            404,
            None,
        ),
        (
            format!("/v1/organization/groups/{MISSING_GROUP}/roles"),
            json!({"role_id": MEMBER}),
            404,
            None,
        ),
    ] {
        let a = s.post(&path, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        if let Some(param) = param {
            assert_eq!(a.error("param"), param);
        }
    }
    for path in [
        format!("/v1/organization/groups/{gid}/roles/{MEMBER}"),
        format!("/v1/organization/groups/{MISSING_GROUP}/roles/{ADMIN}"),
        format!("/v1/organization/groups/{MISSING_GROUP}/roles"),
    ] {
        assert_eq!(s.get(&path).await.status, 404, "{path}");
    }
    assert_eq!(
        s.delete(&format!("/v1/organization/groups/{gid}/roles/{MEMBER}"))
            .await
            .status,
        404
    );
    assert_eq!(events(&s).await, n);

    let n = events(&s).await;
    let del = s
        .delete(&format!("/v1/organization/groups/{gid}/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(
        del,
        json!({"object": "group.role.deleted", "deleted": true})
    );
    let p = one_event(&s, n, "role.assignment.deleted").await;
    assert_eq!(p["principal_type"], "group");
    assert_eq!(p["principal_id"], gid.as_str());
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{gid}/roles/{rid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/groups/{gid}/roles/{rid}"))
            .await
            .status,
        404
    );
    // deleting the role removes its group assignments too
    let temp = custom_role(&s, "Temp", json!([])).await;
    s.post(
        &format!("/v1/organization/groups/{gid}/roles"),
        json!({"role_id": temp}),
    )
    .await
    .expect(200);
    s.delete(&format!("/v1/organization/roles/{temp}"))
        .await
        .expect(200);
    assert_eq!(
        s.get(&format!("/v1/organization/groups/{gid}/roles/{temp}"))
            .await
            .status,
        404
    );
    s.stop().await;
});

backend_tests!(
    a_groups_roles_reach_its_members,
    |s: TestServer| async move {
        let ann = provision(&s, "ann@example.com", Some("Ann")).await;
        let gid = group(&s, "Ops").await;
        let g2 = group(&s, "Ops 2").await;
        let rid = custom_role(&s, "Operator", json!(["api.users.read"])).await;
        for g in [&gid, &g2] {
            s.post(
                &format!("/v1/organization/groups/{g}/users"),
                json!({"user_id": ann}),
            )
            .await
            .expect(200);
        }
        s.post(
            &format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/groups/{g2}/roles"),
            json!({"role_id": ADMIN}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        let sources = |list: &Value, role: &str| -> Vec<(String, String)> {
            let row = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == role);
            let Some(row) = row else { return Vec::new() };
            row["assignment_sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["principal_type"].as_str().unwrap().to_owned(),
                        x["principal_id"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        let list = user_roles(&s, &ann).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 3, "{list}");
        assert_eq!(
            sources(&list, &rid),
            [("user".into(), ann.clone()), ("group".into(), gid.clone())],
            "held directly and through the group"
        );
        assert_eq!(sources(&list, ADMIN), [("group".into(), g2.clone())]);
        let one = s
            .get(&format!("/v1/organization/users/{ann}/roles/{ADMIN}"))
            .await
            .expect(200);
        assert_eq!(
            one["assignment_sources"],
            json!([{"principal_type": "group", "principal_id": g2}])
        );
        // a role held only through a group is not the user's to unassign
        assert_eq!(
            s.delete(&format!("/v1/organization/users/{ann}/roles/{ADMIN}"))
                .await
                .status,
            404
        );

        // leaving the group removes the group's source
        s.delete(&format!("/v1/organization/groups/{gid}/users/{ann}"))
            .await
            .expect(200);
        let list = user_roles(&s, &ann).await;
        assert_eq!(sources(&list, &rid), [("user".into(), ann.clone())]);

        // deleting a group removes what hung on it
        s.post(
            &format!("/v1/organization/groups/{g2}/users"),
            json!({"user_id": s.owner_id}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/groups/{g2}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        let n = events(&s).await;
        s.delete(&format!("/v1/organization/groups/{g2}"))
            .await
            .expect(200);
        let p = one_event(&s, n, "group.deleted").await;
        assert_eq!(p["id"], g2.as_str());
        assert_eq!(p["removed"]["group_members"], 2);
        assert_eq!(p["removed"]["role_assignments"], 2);
        assert_eq!(p["removed"]["project_groups"], 0);
        assert_eq!(p["before"]["name"], "Ops 2");
        let list = user_roles(&s, &ann).await;
        assert!(sources(&list, ADMIN).is_empty(), "{list}");
        assert_eq!(sources(&list, &rid), [("user".into(), ann.clone())]);
        for sql in [
            format!("SELECT COUNT(*) FROM group_members WHERE group_id = '{g2}'"),
            format!(
                "SELECT COUNT(*) FROM role_assignments WHERE group_id = '{g2}' OR principal_id = '{g2}'"
            ),
            format!("SELECT COUNT(*) FROM project_groups WHERE group_id = '{g2}'"),
            format!("SELECT COUNT(*) FROM org_groups WHERE id = '{g2}'"),
            // and nowhere in the database does anything point at a missing group
            "SELECT COUNT(*) FROM group_members gm WHERE NOT EXISTS \
             (SELECT 1 FROM org_groups g WHERE g.id = gm.group_id)"
                .to_owned(),
            "SELECT COUNT(*) FROM role_assignments ra WHERE ra.group_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM org_groups g WHERE g.id = ra.group_id)"
                .to_owned(),
        ] {
            assert_eq!(db_scalar(&s.db.url, &sql).await, 0, "{sql}");
        }
        // the other group and the user's own grant are untouched
        assert_eq!(
            db_scalar(
                &s.db.url,
                &format!("SELECT COUNT(*) FROM role_assignments WHERE group_id = '{gid}'")
            )
            .await,
            1
        );
        s.stop().await;
    }
);

backend_tests!(
    group_grants_give_permissions_and_never_escalate,
    |s: TestServer| async move {
        // in a second organization, x (key kx) and y are owners
        let (_b, x, kx) = s.new_org("B", "x@b.example").await;
        let call = |m: &'static str, p: String, b: Option<Value>| {
            let key = kx.clone();
            let s = &s;
            async move { s.call(m, &p, Some(&key), b).await }
        };
        let y = call(
            "POST",
            "/v1/organization/users".into(),
            Some(json!({"email": "y@b.example", "role": "owner"})),
        )
        .await
        .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let owners = call(
            "POST",
            "/v1/organization/groups".into(),
            Some(json!({"name": "owners"})),
        )
        .await
        .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        call(
            "POST",
            format!("/v1/organization/groups/{owners}/roles"),
            Some(json!({"role_id": OWNER})),
        )
        .await
        .expect(200);
        let readers = call(
            "POST",
            "/v1/organization/groups".into(),
            Some(json!({"name": "group admins"})),
        )
        .await
        .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let rid = call(
            "POST",
            "/v1/organization/roles".into(),
            Some(json!({"role_name": "group admin",
                        "permissions": ["api.groups.read", "api.groups.write", "api.roles.read"]})),
        )
        .await
        .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        call(
            "POST",
            format!("/v1/organization/groups/{readers}/roles"),
            Some(json!({"role_id": rid})),
        )
        .await
        .expect(200);
        call(
            "POST",
            format!("/v1/organization/groups/{readers}/users"),
            Some(json!({"user_id": x})),
        )
        .await
        .expect(200);

        // x steps down to admin: no admin key permissions any more
        call(
            "POST",
            format!("/v1/organization/users/{x}"),
            Some(json!({"role": "admin"})),
        )
        .await
        .expect(200);
        let n = events(&s).await;
        for (p, body) in [
            (
                format!("/v1/organization/groups/{owners}/users"),
                json!({"user_id": y}),
            ),
            (
                format!("/v1/organization/groups/{owners}/users"),
                json!({"user_id": x}),
            ),
            (
                format!("/v1/organization/groups/{readers}/roles"),
                json!({"role_id": OWNER}),
            ),
        ] {
            let a = call("POST", p.clone(), Some(body)).await;
            assert_eq!(a.status, 403, "{p}: {}", a.body);
            assert_eq!(a.error("code"), "privilege_escalation");
            assert!(
                a.error("message")
                    .as_str()
                    .unwrap()
                    .contains("api.admin_keys")
            );
        }
        assert_eq!(events(&s).await, n);
        assert_eq!(
            db_scalar(
                &s.db.url,
                &format!("SELECT COUNT(*) FROM group_members WHERE group_id = '{owners}'")
            )
            .await,
            0
        );

        // x becomes a member: what the group gives still works, the rest is refused
        call(
            "POST",
            format!("/v1/organization/users/{x}"),
            Some(json!({"role": "member"})),
        )
        .await
        .expect(200);
        call("GET", "/v1/organization/groups".into(), None)
            .await
            .expect(200);
        call("GET", "/v1/organization/roles".into(), None)
            .await
            .expect(200);
        for (m, p, needs) in [
            (
                "GET",
                format!("/v1/organization/groups/{readers}/roles"),
                "api.role_assignments.read",
            ),
            (
                "GET",
                format!("/v1/organization/groups/{readers}/roles/{rid}"),
                "api.role_assignments.read",
            ),
            (
                "POST",
                format!("/v1/organization/groups/{readers}/roles"),
                "api.role_assignments.write",
            ),
            (
                "DELETE",
                format!("/v1/organization/groups/{readers}/roles/{rid}"),
                "api.role_assignments.write",
            ),
            ("GET", "/v1/organization/users".into(), "api.users.read"),
        ] {
            let body = (m == "POST").then(|| json!({"role_id": rid}));
            let a = call(m, p.clone(), body).await;
            assert_eq!(a.status, 403, "{m} {p}");
            assert_eq!(a.error("code"), "permission_denied");
            assert!(a.error("message").as_str().unwrap().contains(needs));
        }
        // leaving the group takes its permissions away at once
        call(
            "DELETE",
            format!("/v1/organization/groups/{readers}/users/{x}"),
            None,
        )
        .await
        .expect(200);
        for (m, p, needs) in [
            ("GET", "/v1/organization/groups".into(), "api.groups.read"),
            (
                "GET",
                format!("/v1/organization/groups/{readers}"),
                "api.groups.read",
            ),
            (
                "GET",
                format!("/v1/organization/groups/{readers}/users"),
                "api.groups.read",
            ),
            (
                "GET",
                format!("/v1/organization/groups/{readers}/users/{x}"),
                "api.groups.read",
            ),
            ("POST", "/v1/organization/groups".into(), "api.groups.write"),
            (
                "POST",
                format!("/v1/organization/groups/{readers}"),
                "api.groups.write",
            ),
            (
                "DELETE",
                format!("/v1/organization/groups/{readers}"),
                "api.groups.write",
            ),
            (
                "POST",
                format!("/v1/organization/groups/{readers}/users"),
                "api.groups.write",
            ),
            (
                "DELETE",
                format!("/v1/organization/groups/{readers}/users/{y}"),
                "api.groups.write",
            ),
        ] {
            let body = (m == "POST").then(|| json!({"name": "z", "user_id": x}));
            let a = call(m, p.clone(), body).await;
            assert_eq!(a.status, 403, "{m} {p}: {}", a.body);
            assert!(a.error("message").as_str().unwrap().contains(needs));
        }
        s.stop().await;
    }
);

backend_tests!(
    another_organization_sees_no_group,
    |s: TestServer| async move {
        let gid = group(&s, "Secret team").await;
        let ann = provision(&s, "ann@a.example", Some("Ann")).await;
        let rid = custom_role(&s, "Secret role", json!([])).await;
        s.post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": ann}),
        )
        .await
        .expect(200);
        s.post(
            &format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": rid}),
        )
        .await
        .expect(200);
        let (_b, owner_b, kb) = s.new_org("B", "boss@b.example").await;
        let b = |m: &'static str, p: String, body: Option<Value>| {
            let key = kb.clone();
            let s = &s;
            async move { s.call(m, &p, Some(&key), body).await }
        };
        let list = b("GET", "/v1/organization/groups".into(), None)
            .await
            .expect(200);
        assert_eq!(list["data"], json!([]));
        let gb = b(
            "POST",
            "/v1/organization/groups".into(),
            Some(json!({"name": "Secret team"})),
        )
        .await
        .expect(200);
        let gb = gb["id"].as_str().unwrap().to_owned();
        let n = events(&s).await;
        for (m, p, body) in [
            ("GET", format!("/v1/organization/groups/{gid}"), None),
            (
                "POST",
                format!("/v1/organization/groups/{gid}"),
                Some(json!({"name": "pwned"})),
            ),
            ("DELETE", format!("/v1/organization/groups/{gid}"), None),
            ("GET", format!("/v1/organization/groups/{gid}/users"), None),
            (
                "POST",
                format!("/v1/organization/groups/{gid}/users"),
                Some(json!({"user_id": owner_b})),
            ),
            (
                "GET",
                format!("/v1/organization/groups/{gid}/users/{ann}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/organization/groups/{gid}/users/{ann}"),
                None,
            ),
            ("GET", format!("/v1/organization/groups/{gid}/roles"), None),
            (
                "POST",
                format!("/v1/organization/groups/{gid}/roles"),
                Some(json!({"role_id": MEMBER})),
            ),
            (
                "GET",
                format!("/v1/organization/groups/{gid}/roles/{rid}"),
                None,
            ),
            (
                "DELETE",
                format!("/v1/organization/groups/{gid}/roles/{rid}"),
                None,
            ),
            // B's own group cannot take A's user or A's role
            (
                "POST",
                format!("/v1/organization/groups/{gb}/users"),
                Some(json!({"user_id": ann})),
            ),
            (
                "POST",
                format!("/v1/organization/groups/{gb}/roles"),
                Some(json!({"role_id": rid})),
            ),
        ] {
            let a = b(m, p.clone(), body).await;
            assert_eq!(a.status, 404, "{m} {p}: {}", a.body);
            let text = a.body.to_string();
            assert!(!text.contains("Secret") && !text.contains("ann@a.example"));
        }
        assert_eq!(events(&s).await, n, "nothing written");
        // and A's objects are unchanged
        assert_eq!(
            s.get(&format!("/v1/organization/groups/{gid}"))
                .await
                .expect(200)["name"],
            "Secret team"
        );
        s.get(&format!("/v1/organization/groups/{gid}/users/{ann}"))
            .await
            .expect(200);
        s.get(&format!("/v1/organization/groups/{gid}/roles/{rid}"))
            .await
            .expect(200);
        let b_users = b("GET", format!("/v1/organization/groups/{gb}/users"), None)
            .await
            .expect(200);
        assert_eq!(b_users["data"], json!([]));
        s.stop().await;
    }
);

backend_tests!(concurrent_creates_of_one_name, |s: TestServer| async move {
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (http, base, key) = (s.http.clone(), s.base.clone(), s.admin_key.clone());
        let name = if i % 2 == 0 { "Race" } else { "RACE" };
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/v1/organization/groups"))
                .bearer_auth(key)
                .json(&json!({"name": name}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    assert_eq!(
        db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM audit_events WHERE type = 'group.created'"
        )
        .await,
        1
    );
    s.stop().await;
});
