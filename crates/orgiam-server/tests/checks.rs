//! The permission catalog and the check API answered by the engine, on both engines:
//! direct, group, project, expiry, revocation, batches, listings, and several processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};
use serde_json::Value;

async fn member(s: &TestServer, email: &str) -> String {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "role": "member"}),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

async fn role(s: &TestServer, name: &str, perms: &[&str]) -> String {
    let r = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": name, "permissions": perms}),
        )
        .await
        .expect(200);
    r["id"].as_str().unwrap().to_owned()
}

async fn check(s: &TestServer, user: &str, perm: &str, project: Option<&str>) -> Value {
    s.post(
        "/v1/organization/permissions/check",
        json!({"user_id": user, "permission": perm, "project_id": project}),
    )
    .await
    .expect(200)
}

backend_tests!(custom_permissions, |s: TestServer| async move {
    let p = s
        .post(
            "/v1/organization/permissions",
            json!({"name": "documents.write", "description": "edit documents"}),
        )
        .await
        .expect(200);
    assert_eq!(p["object"], "permission");
    assert_eq!(p["resource_type"], "api.organization");
    assert_eq!(p["builtin"], false);
    let dup = s
        .post(
            "/v1/organization/permissions",
            json!({"name": "documents.write"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    for (body, param) in [
        (json!({"name": "api.things.read"}), "name"),
        (json!({"name": "Documents"}), "name"),
        (json!({"name": "a b"}), "name"),
        (json!({"name": "x".repeat(129)}), "name"),
        (
            json!({"name": "ok.name", "resource_type": "api.galaxy"}),
            "resource_type",
        ),
    ] {
        let a = s.post("/v1/organization/permissions", body.clone()).await;
        assert_eq!(a.status, 400, "{body}");
        assert_eq!(a.error("param"), param, "{body}");
    }
    s.post(
        "/v1/organization/permissions",
        json!({"name": "deploy", "resource_type": "api.project"}),
    )
    .await
    .expect(200);
    let list = s
        .get("/v1/organization/permissions?limit=1000")
        .await
        .expect(200);
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"documents.write")
            && names.contains(&"api.users.read")
            && names.contains(&"deploy")
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // paging by name covers the catalog once
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("/v1/organization/permissions?limit=7{after}"))
            .await
            .expect(200);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] != true {
            break;
        }
        after = format!("&after={}", page["next"].as_str().unwrap());
    }
    assert_eq!(seen, names);

    let rid = role(&s, "Editor", &["documents.write"]).await;
    let held = s
        .delete("/v1/organization/permissions/documents.write")
        .await;
    assert_eq!(held.status, 409);
    assert!(held.error("message").as_str().unwrap().contains("Editor"));
    assert_eq!(
        s.delete("/v1/organization/permissions/api.users.read")
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete("/v1/organization/permissions/nothing.here")
            .await
            .status,
        404
    );
    s.post(
        &format!("/v1/organization/roles/{rid}"),
        json!({"permissions": []}),
    )
    .await
    .expect(200);
    s.delete("/v1/organization/permissions/documents.write")
        .await
        .expect(200);
    // a role may not hold what is not in the catalog
    let bad = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "r", "permissions": ["documents.write"]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error("param"), "permissions[0]");
    // a project role holds only api.project permissions
    let other = s
        .call(
            "POST",
            "/v1/organization/permissions",
            Some(&s.admin_key.clone()),
            Some(json!({"name": "x.y"})),
        )
        .await;
    assert_eq!(other.status, 200);
    let events = db_scalar(
        &s.db.url,
        "SELECT COUNT(*) FROM audit_events WHERE type LIKE 'permission.%'",
    )
    .await;
    assert_eq!(events, 4, "three creates and one delete");
    s.stop().await;
});

backend_tests!(
    checks_direct_group_expiry_and_revocation,
    |s: TestServer| async move {
        s.post(
            "/v1/organization/permissions",
            json!({"name": "documents.write"}),
        )
        .await
        .expect(200);
        s.post(
            "/v1/organization/permissions",
            json!({"name": "documents.read"}),
        )
        .await
        .expect(200);
        let ann = member(&s, "ann@example.com").await;
        let bob = member(&s, "bob@example.com").await;
        let writer = role(&s, "Writer", &["documents.write", "documents.read"]).await;
        let reader = role(&s, "Reader2", &["documents.read"]).await;

        let c = check(&s, &ann, "documents.write", None).await;
        assert_eq!(c["object"], "permission.check");
        assert_eq!(c["allowed"], false);
        assert_eq!(c["reasons"], json!([]));

        // a grant is seen by the very next check (read-your-writes)
        let granted = s
            .post(
                &format!("/v1/organization/users/{ann}/roles"),
                json!({"role_id": writer}),
            )
            .await;
        let rev: i64 = granted.headers["orgiam-revision"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let c = check(&s, &ann, "documents.write", None).await;
        assert_eq!(c["allowed"], true);
        assert!(c["revision"].as_i64().unwrap() >= rev);
        assert_eq!(
            c["reasons"],
            json!([{"role_id": writer, "role_name": "Writer", "via": "direct", "scope": "organization"}])
        );

        // through a group
        let g = s
            .post("/v1/organization/groups", json!({"name": "Readers"}))
            .await
            .expect(200);
        let gid = g["id"].as_str().unwrap().to_owned();
        s.post(
            &format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": reader}),
        )
        .await
        .expect(200);
        assert_eq!(
            check(&s, &bob, "documents.read", None).await["allowed"],
            false
        );
        s.post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": bob}),
        )
        .await
        .expect(200);
        let c = check(&s, &bob, "documents.read", None).await;
        assert_eq!(c["allowed"], true);
        assert_eq!(c["reasons"][0]["via"], "group");
        assert_eq!(c["reasons"][0]["group_id"], gid.as_str());
        s.delete(&format!("/v1/organization/groups/{gid}/users/{bob}"))
            .await
            .expect(200);
        assert_eq!(
            check(&s, &bob, "documents.read", None).await["allowed"],
            false
        );

        // role edits and revocations are seen at once
        s.post(
            &format!("/v1/organization/roles/{writer}"),
            json!({"permissions": ["documents.read"]}),
        )
        .await
        .expect(200);
        assert_eq!(
            check(&s, &ann, "documents.write", None).await["allowed"],
            false
        );
        assert_eq!(
            check(&s, &ann, "documents.read", None).await["allowed"],
            true
        );
        s.delete(&format!("/v1/organization/users/{ann}/roles/{writer}"))
            .await
            .expect(200);
        assert_eq!(
            check(&s, &ann, "documents.read", None).await["allowed"],
            false
        );

        // an expiring grant stops at its instant
        let soon = orgiam_core::now_unix() + 2;
        s.post(
            &format!("/v1/organization/users/{bob}/roles"),
            json!({"role_id": reader, "expires_at": soon}),
        )
        .await
        .expect(200);
        assert_eq!(
            check(&s, &bob, "documents.read", None).await["allowed"],
            true
        );
        while orgiam_core::now_unix() < soon {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            check(&s, &bob, "documents.read", None).await["allowed"],
            false
        );

        // removing a member removes everything they held
        s.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": writer}),
        )
        .await
        .expect(200);
        assert_eq!(
            check(&s, &ann, "documents.read", None).await["allowed"],
            true
        );
        s.delete(&format!("/v1/organization/users/{ann}"))
            .await
            .expect(200);
        let gone = s
            .post(
                "/v1/organization/permissions/check",
                json!({"user_id": ann, "permission": "documents.read"}),
            )
            .await;
        assert_eq!(gone.status, 404);

        // errors
        let a = s
            .post(
                "/v1/organization/permissions/check",
                json!({"user_id": bob, "permission": "nope.nope"}),
            )
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.error("param"), "permission");
        let a = s.post("/v1/organization/permissions/check", json!({"user_id": "user_01J1F8ZZZZZZZZZZZZZZZZZZZZ", "permission": "documents.read"})).await;
        assert_eq!(a.status, 404);
        let a = s.post("/v1/organization/permissions/check", json!({"user_id": bob, "permission": "documents.read", "project_id": "proj_01J1F8ZZZZZZZZZZZZZZZZZZZZ"})).await;
        assert_eq!(a.status, 404);
        let (_, owner_b, key_b) = s.new_org("B", "boss@b.example").await;
        let cross = s
            .call(
                "POST",
                "/v1/organization/permissions/check",
                Some(&key_b),
                Some(json!({"user_id": bob, "permission": "api.users.read"})),
            )
            .await;
        assert_eq!(
            cross.status, 404,
            "another organization's user is not found"
        );
        let own = s
            .call(
                "POST",
                "/v1/organization/permissions/check",
                Some(&key_b),
                Some(json!({"user_id": owner_b, "permission": "documents.read"})),
            )
            .await;
        assert_eq!(
            own.status, 400,
            "another organization's permission is unknown here"
        );
        s.stop().await;
    }
);

backend_tests!(project_scope_and_archiving, |s: TestServer| async move {
    s.post(
        "/v1/organization/permissions",
        json!({"name": "deploy", "resource_type": "api.project"}),
    )
    .await
    .expect(200);
    let ann = member(&s, "ann@example.com").await;
    let p1 = s
        .post("/v1/organization/projects", json!({"name": "One"}))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = s
        .post("/v1/organization/projects", json!({"name": "Two"}))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deployer = s
        .post(
            &format!("/v1/projects/{p1}/roles"),
            json!({"role_name": "Deployer", "permissions": ["deploy"]}),
        )
        .await
        .expect(200);
    let deployer = deployer["id"].as_str().unwrap().to_owned();
    s.post(
        &format!("/v1/organization/projects/{p1}/users"),
        json!({"user_id": ann, "role": "member"}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/v1/projects/{p1}/users/{ann}/roles"),
        json!({"role_id": deployer}),
    )
    .await
    .expect(200);
    let c = check(&s, &ann, "deploy", Some(&p1)).await;
    assert_eq!(c["allowed"], true);
    assert_eq!(c["reasons"][0]["scope"], "project");
    assert_eq!(c["reasons"][0]["project_id"], p1.as_str());
    assert_eq!(
        check(&s, &ann, "deploy", Some(&p2)).await["allowed"],
        false,
        "only in its project"
    );
    assert_eq!(
        check(&s, &ann, "deploy", None).await["allowed"],
        false,
        "not organization-wide"
    );
    // an organization-level grant applies in every project
    let org_deploy = role(&s, "Org deployer", &["deploy"]).await;
    let bob = member(&s, "bob@example.com").await;
    s.post(
        &format!("/v1/organization/users/{bob}/roles"),
        json!({"role_id": org_deploy}),
    )
    .await
    .expect(200);
    assert_eq!(check(&s, &bob, "deploy", Some(&p2)).await["allowed"], true);
    assert_eq!(check(&s, &bob, "deploy", None).await["allowed"], true);
    // archiving ends the project's grants
    s.post(
        &format!("/v1/organization/projects/{p1}/archive"),
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(check(&s, &ann, "deploy", Some(&p1)).await["allowed"], false);
    // effective permissions with their sources
    let eff = s
        .get(&format!(
            "/v1/organization/users/{bob}/permissions?project_id={p2}"
        ))
        .await
        .expect(200);
    let deploy = eff["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["permission"] == "deploy")
        .unwrap();
    assert_eq!(deploy["reasons"][0]["role_id"], org_deploy.as_str());
    s.stop().await;
});

backend_tests!(batches_and_listings, |s: TestServer| async move {
    s.post(
        "/v1/organization/permissions",
        json!({"name": "documents.read"}),
    )
    .await
    .expect(200);
    let reader = role(&s, "Doc reader", &["documents.read"]).await;
    let mut users = Vec::new();
    for i in 0..6 {
        let u = member(&s, &format!("u{i}@example.com")).await;
        if i % 2 == 0 {
            s.post(
                &format!("/v1/organization/users/{u}/roles"),
                json!({"role_id": reader}),
            )
            .await
            .expect(200);
        }
        users.push(u);
    }
    let checks: Vec<Value> = users
        .iter()
        .map(|u| json!({"user_id": u, "permission": "documents.read"}))
        .collect();
    let b = s
        .post(
            "/v1/organization/permissions/check_batch",
            json!({"checks": checks}),
        )
        .await
        .expect(200);
    let allowed: Vec<bool> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, [true, false, true, false, true, false]);
    assert_eq!(b["data"][3]["user_id"], users[3].as_str());
    // an item that cannot be answered carries its own error; the others are answered
    let mut bad = checks.clone();
    bad[4] = json!({"user_id": users[4], "permission": "nope.x"});
    bad[1] = json!({"user_id": "user_01J1F8ZZZZZZZZZZZZZZZZZZZZ", "permission": "documents.read"});
    let a = s
        .post(
            "/v1/organization/permissions/check_batch",
            json!({"checks": bad}),
        )
        .await
        .expect(200);
    let items = a["data"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[4]["allowed"], false);
    assert_eq!(items[4]["reasons"], json!([]));
    assert_eq!(items[4]["error"]["param"], "checks[4].permission");
    assert_eq!(items[4]["error"]["code"], "unknown_permission");
    assert_eq!(items[4]["error"]["type"], "invalid_request_error");
    assert_eq!(items[1]["error"]["param"], "checks[1].user_id");
    assert_eq!(items[1]["error"]["type"], "not_found_error");
    let answered: Vec<(bool, bool)> = items
        .iter()
        .map(|c| (c["allowed"].as_bool().unwrap(), c.get("error").is_some()))
        .collect();
    assert_eq!(
        answered,
        [
            (true, false),
            (false, true),
            (true, false),
            (false, false),
            (false, true),
            (false, false)
        ]
    );
    let many: Vec<Value> = (0..1001).map(|_| checks[0].clone()).collect();
    let a = s
        .post(
            "/v1/organization/permissions/check_batch",
            json!({"checks": many}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error("param"), "checks");
    let many: Vec<Value> = (0..1000).map(|_| checks[0].clone()).collect();
    let ok = s
        .post(
            "/v1/organization/permissions/check_batch",
            json!({"checks": many}),
        )
        .await
        .expect(200);
    assert_eq!(ok["data"].as_array().unwrap().len(), 1000);

    // who holds it, paged
    // the owner holds every permission of the catalog, the organization's own included
    let mut holders: Vec<String> = users.iter().step_by(2).cloned().collect();
    holders.push(s.owner_id.clone());
    holders.sort();
    let p1 = s
        .get("/v1/organization/permissions/documents.read/users?limit=2")
        .await
        .expect(200);
    assert_eq!(p1["has_more"], true);
    let p2 = s
        .get(&format!(
            "/v1/organization/permissions/documents.read/users?limit=2&after={}",
            p1["next"].as_str().unwrap()
        ))
        .await
        .expect(200);
    let got: Vec<String> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["data"].as_array().unwrap())
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, holders);
    assert_eq!(p2["has_more"], false);
    assert_eq!(
        s.get("/v1/organization/permissions/nope.x/users")
            .await
            .status,
        404
    );
    let all = s
        .get("/v1/organization/permissions/api.users.write/users")
        .await
        .expect(200);
    assert_eq!(all["data"][0]["id"], s.owner_id.as_str());
    // each holder with its email and display name, as the members list shows them
    let owner = s
        .get(&format!("/v1/organization/users/{}", s.owner_id))
        .await
        .expect(200);
    assert_eq!(all["data"][0]["email"], owner["email"]);
    assert_eq!(all["data"][0]["name"], owner["name"]);
    for u in p1["data"].as_array().unwrap() {
        let m = s
            .get(&format!(
                "/v1/organization/users/{}",
                u["id"].as_str().unwrap()
            ))
            .await
            .expect(200);
        assert_eq!((&u["email"], &u["name"]), (&m["email"], &m["name"]));
        assert!(u["email"].as_str().unwrap().contains('@'));
    }
    s.stop().await;
});

// Two processes on one database: a write through one is seen by checks on the other within
// one second, and at once with the revision the write returned.
backend_tests!(a_second_process_sees_writes, |a: TestServer| async move {
    let b = a.another_process().await;
    a.post(
        "/v1/organization/permissions",
        json!({"name": "documents.read"}),
    )
    .await
    .expect(200);
    let reader = role(&a, "Doc reader", &["documents.read"]).await;
    let ann = member(&a, "ann@example.com").await;
    // b loads the organization now, before the grant
    let before = b
        .post(
            "/v1/organization/permissions/check",
            json!({"user_id": ann, "permission": "documents.read"}),
        )
        .await
        .expect(200);
    assert_eq!(before["allowed"], false);

    let w = a
        .post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": reader}),
        )
        .await;
    let rev: i64 = w.headers["orgiam-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // with the consistency token: at once
    let c = b
        .post(
            "/v1/organization/permissions/check",
            json!({"user_id": ann, "permission": "documents.read", "at_least_revision": rev}),
        )
        .await
        .expect(200);
    assert_eq!(c["allowed"], true);
    assert!(c["revision"].as_i64().unwrap() >= rev);

    // without it: within one second
    a.delete(&format!("/v1/organization/users/{ann}/roles/{reader}"))
        .await
        .expect(200);
    let start = Instant::now();
    loop {
        let c = b
            .post(
                "/v1/organization/permissions/check",
                json!({"user_id": ann, "permission": "documents.read"}),
            )
            .await
            .expect(200);
        if c["allowed"] == false {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the revocation was not seen within one second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen_after = start.elapsed();
    eprintln!("revocation seen by the other process after {seen_after:?}");

    // a key revoked through a stops working on b within one second too
    let (_, _, key_b) = a.new_org("Other", "boss@other.example").await;
    assert_eq!(
        b.call("GET", "/v1/organization/roles", Some(&key_b), None)
            .await
            .status,
        200
    );

    // the incrementally updated snapshot of b answers like a fresh process
    let fresh = a.another_process().await;
    let users = a.get("/v1/organization/users?limit=100").await.expect(200);
    let perms = a
        .get("/v1/organization/permissions?limit=1000")
        .await
        .expect(200);
    for u in users["data"].as_array().unwrap() {
        for p in perms["data"].as_array().unwrap() {
            let q = json!({"user_id": u["id"], "permission": p["name"]});
            let x = b
                .post("/v1/organization/permissions/check", q.clone())
                .await
                .expect(200);
            let y = fresh
                .post("/v1/organization/permissions/check", q.clone())
                .await
                .expect(200);
            assert_eq!(x["allowed"], y["allowed"], "{q}");
        }
    }
    fresh.stop().await;
    b.stop().await;
    a.stop().await;
});

// A process that loads the organization cold (from the database in one read per table) must
// answer exactly as the process that built it up write by write, role names with the packed
// format's separators and escape included.
backend_tests!(
    a_cold_load_answers_as_the_live_snapshot,
    |a: TestServer| async move {
        for (name, rt) in [
            ("documents.read", "api.organization"),
            ("documents.write", "api.organization"),
            ("deploy", "api.project"),
        ] {
            a.post(
                "/v1/organization/permissions",
                json!({"name": name, "resource_type": rt}),
            )
            .await
            .expect(200);
        }
        let odd_name = r"Ops, east; \ team \s";
        let odd = role(&a, odd_name, &["documents.read", "documents.write"]).await;
        let reader = role(&a, "Doc reader", &["documents.read"]).await;
        let (ann, bob, cid) = (
            member(&a, "ann@example.com").await,
            member(&a, "bob@example.com").await,
            member(&a, "cid@example.com").await,
        );
        a.post(
            &format!("/v1/organization/users/{ann}/roles"),
            json!({"role_id": odd, "expires_at": orgiam_core::now_unix() + 86_400}),
        )
        .await
        .expect(200);
        let group = a
            .post("/v1/organization/groups", json!({"name": "G, one; two"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for u in [&bob, &cid] {
            a.post(
                &format!("/v1/organization/groups/{group}/users"),
                json!({"user_id": u}),
            )
            .await
            .expect(200);
        }
        a.post(
            &format!("/v1/organization/groups/{group}/roles"),
            json!({"role_id": reader}),
        )
        .await
        .expect(200);
        let mut projects = Vec::new();
        for (name, user) in [("One", &bob), ("Two", &cid)] {
            let p = a
                .post("/v1/organization/projects", json!({"name": name}))
                .await
                .expect(200)["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let deployer = a
                .post(
                    &format!("/v1/projects/{p}/roles"),
                    json!({"role_name": format!("Deployer, {name}"), "permissions": ["deploy"]}),
                )
                .await
                .expect(200)["id"]
                .as_str()
                .unwrap()
                .to_owned();
            a.post(
                &format!("/v1/organization/projects/{p}/users"),
                json!({"user_id": user, "role": "member"}),
            )
            .await
            .expect(200);
            a.post(
                &format!("/v1/projects/{p}/users/{user}/roles"),
                json!({"role_id": deployer}),
            )
            .await
            .expect(200);
            projects.push(p);
        }
        a.post(
            &format!("/v1/organization/projects/{}/archive", projects[1]),
            json!({}),
        )
        .await
        .expect(200);

        let b = a.another_process().await;
        let explained = b
            .post(
                "/v1/organization/permissions/check",
                json!({"user_id": ann, "permission": "documents.write"}),
            )
            .await
            .expect(200);
        assert_eq!(explained["allowed"], true);
        assert_eq!(explained["reasons"][0]["role_name"], odd_name);
        let mut compared = 0;
        for u in [&ann, &bob, &cid, &a.owner_id] {
            for p in [None, Some(&projects[0]), Some(&projects[1])] {
                let path = match p {
                    None => format!("/v1/organization/users/{u}/permissions"),
                    Some(p) => format!("/v1/organization/users/{u}/permissions?project_id={p}"),
                };
                let (live, cold) = (a.get(&path).await, b.get(&path).await);
                assert_eq!(
                    live.status, cold.status,
                    "{path}: {} / {}",
                    live.body, cold.body
                );
                assert_eq!(live.body["data"], cold.body["data"], "{path}");
                compared += live.body["data"].as_array().map_or(0, Vec::len);
            }
        }
        assert!(compared > 10, "only {compared} held permissions compared");
        b.stop().await;
        a.stop().await;
    }
);
