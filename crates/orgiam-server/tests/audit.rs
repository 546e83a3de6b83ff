//! The audit log over HTTP, on SQLite and PostgreSQL: the SDK's event shape, newest first,
//! `last_id` paging, every filter, `before`, bounds, permission and tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_core::ids::{AuditId, ProjectId};
use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

async fn provision(s: &TestServer, email: &str, role: &str) -> String {
    let u = s
        .post(
            "/v1/organization/users",
            json!({"email": email, "name": email, "role": role}),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

async fn user_key(s: &TestServer, user: &str) -> (String, String) {
    let k = s
        .post(
            &format!("/v1/organization/users/{user}/api_keys"),
            json!({"name": "k"}),
        )
        .await
        .expect(200);
    (
        k["id"].as_str().unwrap().to_owned(),
        k["value"].as_str().unwrap().to_owned(),
    )
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn types(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event matching `query`, following `last_id` with pages of `limit`.
async fn all(s: &TestServer, key: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .call(
                "GET",
                &format!("/v1/organization/audit_logs?limit={limit}{query}{after}"),
                Some(key),
                None,
            )
            .await
            .expect(200);
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit as usize);
        out.extend(data.iter().cloned());
        if page["has_more"] != true {
            assert!(page["next"].is_null());
            break;
        }
        assert_eq!(page["next"], page["last_id"]);
        after = format!("&after={}", page["last_id"].as_str().unwrap());
    }
    out
}

backend_tests!(
    events_in_the_sdk_shape_newest_first,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Auditors", "permissions": ["api.audit_logs.read"]}),
            )
            .await
            .expect(200);
        let rid = role["id"].as_str().unwrap().to_owned();
        s.post(
            &format!("/v1/organization/roles/{rid}"),
            json!({"description": "read the log"}),
        )
        .await
        .expect(200);
        let ann = provision(&s, "ann@a.example", "reader").await;
        let inv = s
            .post(
                "/v1/organization/invites",
                json!({"email": "bob@a.example", "role": "member"}),
            )
            .await
            .expect(200);

        let page = s.get("/v1/organization/audit_logs").await.expect(200);
        assert_eq!(page["object"], "list");
        assert_eq!(
            types(&page),
            [
                "invite.sent",
                "user.added",
                "role.updated",
                "role.created",
                "organization.created"
            ]
        );
        let newest = &page["data"][0];
        assert!(
            newest.get("object").is_none(),
            "the SDK's item has no object"
        );
        assert!(newest["id"].as_str().unwrap().starts_with("audit_"));
        assert!(newest["effective_at"].as_i64().unwrap() > 0);
        assert!(newest.get("project").is_none());
        assert_eq!(newest["actor"]["type"], "api_key");
        assert_eq!(newest["actor"]["api_key"]["type"], "user");
        assert_eq!(newest["actor"]["api_key"]["user"]["id"], s.owner_id);
        assert_eq!(
            newest["actor"]["api_key"]["user"]["email"],
            "owner@example.com"
        );
        assert_eq!(newest["invite.sent"]["id"], inv["id"]);
        assert_eq!(
            newest["invite.sent"]["data"],
            json!({"email": "bob@a.example", "role": "member"})
        );
        let token = inv["token"].as_str().unwrap();
        assert!(!page.to_string().contains(token));
        let created = &page["data"][3];
        assert_eq!(created["role.created"]["id"], rid);
        assert_eq!(created["role.created"]["role_name"], "Auditors");
        assert_eq!(page["data"][2]["role.updated"]["id"], rid);
        assert_eq!(page["data"][1]["user.added"]["id"], ann);
        // the server's own action, in OpenAI's actor shape (`session` or `api_key`)
        assert_eq!(
            page["data"][4]["actor"],
            json!({"type": "api_key", "api_key": {"type": "service_account", "service_account": {"id": "orgiam"}}})
        );
        assert_eq!(page["first_id"], page["data"][0]["id"]);
        assert_eq!(page["last_id"], page["data"][4]["id"]);
        assert_eq!(page["has_more"], false);
        // ids increase with time: newest first is descending id order
        let got = ids(&page);
        let mut sorted = got.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(got, sorted);

        // pages of two by last_id see every event once, in the same order
        let walked: Vec<String> = all(&s, &key, "", 2)
            .await
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(walked, got);
        assert_eq!(
            db_scalar(
                &s.db.url,
                &format!(
                    "SELECT COUNT(*) FROM audit_events WHERE org_id = '{}'",
                    s.org_id
                )
            )
            .await,
            walked.len() as i64
        );
        // before: the events just newer than the cursor, still newest first
        let before = s
            .get(&format!(
                "/v1/organization/audit_logs?before={}&limit=2",
                got[3]
            ))
            .await
            .expect(200);
        assert_eq!(ids(&before), [got[1].clone(), got[2].clone()]);
        assert_eq!(before["has_more"], true);
        let window = s
            .get(&format!(
                "/v1/organization/audit_logs?before={}&after={}",
                got[4], got[0]
            ))
            .await
            .expect(200);
        assert_eq!(ids(&window), got[1..4].to_vec());

        for q in [
            "limit=0",
            "limit=101",
            "limit=x",
            "after=role_00000000000000000000000001",
            "before=nope",
            "effective_at[gte]=soon",
            "effective_at%5Blt%5D=1.5",
            "tenant_only=maybe",
        ] {
            let a = s.get(&format!("/v1/organization/audit_logs?{q}")).await;
            assert_eq!(a.status, 400, "{q}: {}", a.body);
        }
        assert_eq!(
            s.get("/v1/organization/audit_logs?limit=100&tenant_only=true")
                .await
                .status,
            200
        );
        // reading the log writes nothing to it
        assert_eq!(all(&s, &key, "", 100).await.len(), got.len());
        s.stop().await;
    }
);

backend_tests!(every_filter, |s: TestServer| async move {
    let key = s.admin_key.clone();
    let boot_key = db_strings(&s.db.url, "SELECT id FROM api_keys")
        .await
        .remove(0);
    let ann = provision(&s, "Ann@A.example", "admin").await;
    let (ann_key_id, ann_key) = user_key(&s, &ann).await;
    let role = s
        .call(
            "POST",
            "/v1/organization/roles",
            Some(&ann_key),
            Some(json!({"role_name": "r1", "permissions": []})),
        )
        .await
        .expect(200);
    let rid = role["id"].as_str().unwrap().to_owned();
    s.call(
        "DELETE",
        &format!("/v1/organization/roles/{rid}"),
        Some(&ann_key),
        None,
    )
    .await
    .expect(200);
    s.post(
        "/v1/organization/roles",
        json!({"role_name": "r2", "permissions": []}),
    )
    .await
    .expect(200);
    // project-scoped events come from the projects family; write two directly, and one at
    // known instants for the time filters
    let p = ProjectId::generate().into_string();
    db_scalar(
        &s.db.url,
        &format!(
            "INSERT INTO projects (id, org_id, name, created_at) VALUES ('{p}', '{}', 'Apollo', 1) RETURNING created_at",
            s.org_id
        ),
    )
    .await;
    let mut synthetic = Vec::new();
    for (t, project, at) in [
        ("project.updated", Some(p.as_str()), 1000),
        (
            "project.archived",
            Some("proj_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
            2000,
        ),
        ("group.created", None, 3000),
    ] {
        let id = AuditId::generate().into_string();
        let project_sql = project.map_or("NULL".to_owned(), |p| format!("'{p}'"));
        db_scalar(
            &s.db.url,
            &format!(
                "INSERT INTO audit_events (id, org_id, type, effective_at, actor_type, project_id, resource_id, details) \
                 VALUES ('{id}', '{}', '{t}', {at}, 'system', {project_sql}, 'res_{at}', \
                 '{{\"actor\":{{\"type\":\"system\"}},\"payload\":{{\"id\":\"res_{at}\"}}}}') RETURNING effective_at",
                s.org_id
            ),
        )
        .await;
        synthetic.push(id);
    }
    let q = |query: &'static str| {
        let s = &s;
        let key = key.clone();
        async move { all(s, &key, query, 2).await }
    };
    let t = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };

    assert_eq!(
        t(&q("&event_types[]=role.created").await),
        ["role.created", "role.created"]
    );
    assert_eq!(
        t(&q("&event_types%5B%5D=role.deleted&event_types%5B%5D=user.added").await),
        ["role.deleted", "user.added"]
    );
    // a type orgiam writes but nothing happened of: empty (an unknown type is a 400)
    assert_eq!(
        q("&event_types[]=permission.deleted").await,
        Vec::<Value>::new()
    );
    // by the acting user, or by the key used
    let by_ann = q_owned(&s, &key, &format!("&actor_ids[]={ann}")).await;
    assert_eq!(t(&by_ann), ["role.deleted", "role.created"]);
    assert!(
        by_ann
            .iter()
            .all(|e| e["actor"]["api_key"]["id"] == ann_key_id)
    );
    let by_key = q_owned(&s, &key, &format!("&actor_ids[]={ann_key_id}")).await;
    assert_eq!(t(&by_key), t(&by_ann));
    let by_boot = q_owned(&s, &key, &format!("&actor_ids[]={boot_key}")).await;
    assert_eq!(
        t(&by_boot),
        ["role.created", "api_key.created", "user.added"]
    );
    let both = q_owned(
        &s,
        &key,
        &format!("&actor_ids[]={ann}&actor_ids[]={}", s.owner_id),
    )
    .await;
    assert_eq!(both.len(), 5);
    // emails, case-insensitively
    assert_eq!(
        t(&q("&actor_emails[]=ann%40a.EXAMPLE").await),
        ["role.deleted", "role.created"]
    );
    assert_eq!(q("&actor_emails[]=nobody%40a.example").await.len(), 0);
    // the object changed
    let on_role = q_owned(&s, &key, &format!("&resource_ids[]={rid}")).await;
    assert_eq!(t(&on_role), ["role.deleted", "role.created"]);
    assert_eq!(on_role[0]["role.deleted"]["id"], rid);
    // projects, with the project's name when it still exists
    let in_p = q_owned(&s, &key, &format!("&project_ids[]={p}")).await;
    assert_eq!(t(&in_p), ["project.updated"]);
    assert_eq!(in_p[0]["project"], json!({"id": p, "name": "Apollo"}));
    assert_eq!(in_p[0]["project.updated"]["id"], "res_1000");
    let gone = q("&project_ids[]=proj_01ZZZZZZZZZZZZZZZZZZZZZZZZ").await;
    assert_eq!(
        gone[0]["project"],
        json!({"id": "proj_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "name": null})
    );
    // time ranges (the synthetic events sit at 1000, 2000 and 3000)
    for (query, want) in [
        (
            "&effective_at[gte]=1000&effective_at[lte]=3000",
            vec!["group.created", "project.archived", "project.updated"],
        ),
        (
            "&effective_at[gt]=1000&effective_at[lt]=3000",
            vec!["project.archived"],
        ),
        (
            "&effective_at%5Bgt%5D=1000&effective_at%5Blte%5D=3000",
            vec!["group.created", "project.archived"],
        ),
        ("&effective_at[lt]=1000", vec![]),
        (
            "&effective_at[gte]=3000&effective_at[lt]=3001",
            vec!["group.created"],
        ),
    ] {
        assert_eq!(t(&q_owned(&s, &key, query).await), want, "{query}");
    }
    let recent = q("&effective_at[gt]=3000").await;
    assert!(
        recent
            .iter()
            .all(|e| e["effective_at"].as_i64().unwrap() > 3000)
    );
    assert!(recent.len() >= 6);
    // filters combine with AND
    assert_eq!(
        t(&q_owned(
            &s,
            &key,
            &format!("&actor_ids[]={ann}&event_types[]=role.created&event_types[]=user.added")
        )
        .await),
        ["role.created"]
    );
    s.stop().await;
});

async fn q_owned(s: &TestServer, key: &str, query: &str) -> Vec<Value> {
    all(s, key, query, 2).await
}

backend_tests!(permission_and_isolation, |s: TestServer| async move {
    let m = provision(&s, "m@a.example", "member").await;
    let (_, mk) = user_key(&s, &m).await;
    let a = s
        .call("GET", "/v1/organization/audit_logs", Some(&mk), None)
        .await;
    assert_eq!(a.status, 403);
    assert!(
        a.error("message")
            .as_str()
            .unwrap()
            .contains("api.audit_logs.read")
    );
    let r = provision(&s, "r@a.example", "reader").await;
    let (_, rk) = user_key(&s, &r).await;
    let seen = s
        .call("GET", "/v1/organization/audit_logs", Some(&rk), None)
        .await
        .expect(200);
    let a_events = ids(&seen);
    assert!(!a_events.is_empty());

    let (org_b, _owner_b, kb) = s.new_org("B", "boss@b.example").await;
    let b = all(&s, &kb, "", 100).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["type"], "organization.created");
    assert_eq!(b[0]["organization.created"]["id"], org_b);
    // A's ids as filters or cursors reveal nothing of A
    for query in [
        format!("&resource_ids[]={m}"),
        format!("&actor_ids[]={}", s.owner_id),
        "&actor_emails[]=owner%40example.com".to_owned(),
        format!("&before={}", a_events.last().unwrap()),
    ] {
        let got = all(&s, &kb, &query, 100).await;
        assert!(
            got.iter()
                .all(|e| !a_events.contains(&e["id"].as_str().unwrap().to_owned())),
            "{query}"
        );
        assert!(got.len() <= 1, "{query}");
    }
    // and A's log is unchanged
    let again = s
        .call("GET", "/v1/organization/audit_logs", Some(&rk), None)
        .await
        .expect(200);
    assert_eq!(ids(&again), a_events);
    s.stop().await;
});

#[test]
fn openapi_documents_the_audit_route() {
    use utoipa::OpenApi as _;
    let doc = orgiam_server::api::audit::Doc::openapi();
    assert!(doc.paths.paths.contains_key("/v1/organization/audit_logs"));
}
