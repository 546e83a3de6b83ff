//! Invitations over HTTP, on SQLite and PostgreSQL: create (validation, conflicts, no
//! escalation), list by `last_id`, retrieve, delete, and acceptance with the single-use token
//! (no API key), including project roles, expiry and reuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_core::ids::ProjectId;
use orgiam_testkit::{TestServer, backend_tests, db_scalar, db_strings, json};
use serde_json::Value;

const WEEK: i64 = 7 * 24 * 3600;

async fn events(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

async fn last_event(s: &TestServer) -> (String, String) {
    let t = db_strings(&s.db.url, "SELECT type FROM audit_events ORDER BY id DESC").await;
    let a = db_strings(
        &s.db.url,
        "SELECT actor_type FROM audit_events ORDER BY id DESC",
    )
    .await;
    (t[0].clone(), a[0].clone())
}

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

async fn user_key(s: &TestServer, user: &str) -> String {
    s.post(
        &format!("/v1/organization/users/{user}/api_keys"),
        json!({"name": "k"}),
    )
    .await
    .expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A project of the key's organization: through the projects API when this build has it,
/// else inserted directly (the schema is shared).
async fn project(s: &TestServer, key: &str, org: &str, name: &str) -> String {
    let a = s
        .call(
            "POST",
            "/v1/organization/projects",
            Some(key),
            Some(json!({"name": name})),
        )
        .await;
    if a.status == 200 {
        return a.body["id"].as_str().unwrap().to_owned();
    }
    assert_eq!(a.error("code"), "unknown_route", "{}", a.body);
    let id = ProjectId::generate().into_string();
    db_scalar(
        &s.db.url,
        &format!(
            "INSERT INTO projects (id, org_id, name, created_at) VALUES ('{id}', '{org}', '{name}', 1) RETURNING created_at"
        ),
    )
    .await;
    id
}

async fn invite(s: &TestServer, body: Value) -> Value {
    s.post("/v1/organization/invites", body).await.expect(200)
}

async fn accept(s: &TestServer, token: &str, name: Option<&str>) -> orgiam_testkit::Answer {
    let mut body = json!({ "token": token });
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    s.call("POST", "/v1/invites/accept", None, Some(body)).await
}

backend_tests!(create_list_retrieve_delete, |s: TestServer| async move {
    let n = events(&s).await;
    let inv = invite(
        &s,
        json!({"email": "Ann@Example.com", "role": "reader", "extra": true}),
    )
    .await;
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(last_event(&s).await.0, "invite.sent");
    assert_eq!(inv["object"], "organization.invite");
    assert_eq!(inv["email"], "Ann@Example.com");
    assert_eq!(inv["role"], "reader");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["projects"], json!([]));
    assert_eq!(inv["accepted_at"], Value::Null);
    let created = inv["created_at"].as_i64().unwrap();
    assert_eq!(inv["expires_at"].as_i64().unwrap(), created + WEEK);
    let id = inv["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("invite_"));
    let token = inv["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 43, "{token}");
    // without --public-url the link is a path (never built from the request's Host)
    assert_eq!(inv["accept_url"], format!("/invites/accept?token={token}"));
    // only the digest is stored
    let stored = db_strings(
        &s.db.url,
        &format!("SELECT token_hash FROM invitations WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(stored, [orgiam_core::keys::hash(&token)]);
    let details = db_strings(&s.db.url, "SELECT details FROM audit_events").await;
    assert!(
        details
            .iter()
            .all(|d| !d.contains(&token) && !d.contains(&stored[0]))
    );

    let got = s
        .get(&format!("/v1/organization/invites/{id}"))
        .await
        .expect(200);
    assert_eq!(got["id"], id);
    assert_eq!(got["status"], "pending");
    assert!(got.get("token").is_none() && got.get("accept_url").is_none());

    // conflicts: a pending invitation for the address (any case), or a member's address
    let n = events(&s).await;
    let dup = s
        .post(
            "/v1/organization/invites",
            json!({"email": "ann@EXAMPLE.com", "role": "member"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.error("code"), "invite_pending");
    assert_eq!(dup.headers["x-should-retry"], "false");
    let member = s
        .post(
            "/v1/organization/invites",
            json!({"email": "OWNER@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(member.status, 409);
    assert_eq!(member.error("code"), "already_member");
    // validation
    let missing = ProjectId::generate().into_string();
    for (body, status, param) in [
        (json!({"email": "nope", "role": "reader"}), 400, "email"),
        (
            json!({"email": "b@example.com", "role": "emperor"}),
            400,
            "role",
        ),
        (
            json!({"email": "b@example.com", "role": "viewer"}),
            400,
            "role",
        ),
        (json!({"email": "b@example.com"}), 400, "role"),
        (
            json!({"email": "b@example.com", "role": "reader", "projects": [{"id": "p1", "role": "owner"}]}),
            400,
            "projects[0].id",
        ),
        (
            json!({"email": "b@example.com", "role": "reader", "projects": [{"id": missing, "role": "admin"}]}),
            400,
            "projects[0].role",
        ),
        (
            json!({"email": "b@example.com", "role": "reader", "projects": [{"id": missing, "role": "owner"}]}),
            404,
            "projects[0].id",
        ),
        (
            json!({"email": "b@example.com", "role": "reader", "projects": [{"id": missing}]}),
            400,
            "projects[0]",
        ),
        (
            json!({"email": "b@example.com", "role": "reader", "projects": "all"}),
            400,
            "projects",
        ),
    ] {
        let a = s.post("/v1/organization/invites", body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        let p = a.error("param");
        assert!(p.as_str().unwrap().starts_with(param), "{body}: {p}");
    }
    assert_eq!(events(&s).await, n, "refused writes wrote nothing");

    // pages of one by last_id
    let mut ids = vec![id.clone()];
    for i in 0..3 {
        ids.push(
            invite(
                &s,
                json!({"email": format!("u{i}@example.com"), "role": "member"}),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("/v1/organization/invites?limit=1{after}"))
            .await
            .expect(200);
        for i in page["data"].as_array().unwrap() {
            assert!(i.get("token").is_none());
            seen.push(i["id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        after = format!("&after={}", page["last_id"].as_str().unwrap());
    }
    assert_eq!(seen, ids);
    for q in ["limit=0", "limit=101", "after=role_x"] {
        assert_eq!(
            s.get(&format!("/v1/organization/invites?{q}")).await.status,
            400,
            "{q}"
        );
    }

    // delete: the token stops working; the address may be invited again
    let n = events(&s).await;
    let del = s
        .delete(&format!("/v1/organization/invites/{id}"))
        .await
        .expect(200);
    assert_eq!(
        del,
        json!({"object": "organization.invite.deleted", "id": id, "deleted": true})
    );
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(last_event(&s).await.0, "invite.deleted");
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM invitation_projects WHERE invite_id = '{id}'")
        )
        .await,
        0
    );
    let a = accept(&s, &token, Some("Ann")).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.error("code"), "invite_not_found");
    assert_eq!(
        s.get(&format!("/v1/organization/invites/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.delete(&format!("/v1/organization/invites/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(events(&s).await, n + 1);
    invite(&s, json!({"email": "ann@example.com", "role": "reader"})).await;
    s.stop().await;
});

backend_tests!(accept_with_the_token, |s: TestServer| async move {
    let p1 = project(&s, &s.admin_key.clone(), &s.org_id, "Alpha").await;
    let p2 = project(&s, &s.admin_key.clone(), &s.org_id, "Beta").await;
    let inv = invite(
        &s,
        json!({"email": "New@Example.com", "role": "admin",
               "projects": [{"id": p1, "role": "owner"}, {"id": p2, "role": "viewer"}]}),
    )
    .await;
    let mut projects = inv["projects"].as_array().unwrap().clone();
    projects.sort_by_key(|p| p["id"].as_str().unwrap().to_owned());
    let mut want = vec![
        json!({"id": p1, "role": "owner"}),
        json!({"id": p2, "role": "viewer"}),
    ];
    want.sort_by_key(|p| p["id"].as_str().unwrap().to_owned());
    assert_eq!(projects, want);
    let token = inv["token"].as_str().unwrap().to_owned();
    let id = inv["id"].as_str().unwrap().to_owned();

    // bad requests first: nothing changes
    let n = events(&s).await;
    for body in [
        json!({}),
        json!({"token": 5}),
        json!({"token": token, "name": ""}),
    ] {
        let a = s
            .call("POST", "/v1/invites/accept", None, Some(body.clone()))
            .await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    for bad in ["", "x", &"y".repeat(1000), &token[..token.len() - 1]] {
        let a = accept(&s, bad, None).await;
        assert_eq!(a.status, 404, "{bad}");
        assert_eq!(a.error("code"), "invite_not_found");
    }
    assert_eq!(events(&s).await, n);

    // no key needed: the token is the credential
    let ok = accept(&s, &token, Some("  New Person ")).await;
    assert!(ok.headers.contains_key("orgiam-revision"));
    let ok = ok.body;
    assert_eq!(ok["object"], "organization.invite.accepted");
    assert_eq!(ok["organization_id"], s.org_id);
    assert_eq!(ok["invite"]["status"], "accepted");
    assert!(ok["invite"].get("token").is_none());
    let user = ok["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ok["user"]["role"], "admin");
    assert_eq!(ok["user"]["name"], "New Person");
    assert_eq!(ok["user"]["email"], "New@Example.com");
    assert_eq!(events(&s).await, n + 1);
    assert_eq!(
        last_event(&s).await,
        ("invite.accepted".to_owned(), "system".to_owned())
    );
    let got = s
        .get(&format!("/v1/organization/users/{user}"))
        .await
        .expect(200);
    assert_eq!(got["role"], "admin");
    let inv = s
        .get(&format!("/v1/organization/invites/{id}"))
        .await
        .expect(200);
    assert_eq!(inv["status"], "accepted");
    assert!(inv["accepted_at"].as_i64().unwrap() >= inv["created_at"].as_i64().unwrap());
    // the project memberships with their base project role
    for (p, role) in [
        (&p1, "role_00000000000000000000000005"),
        (&p2, "role_00000000000000000000000007"),
    ] {
        assert_eq!(
            db_scalar(
                &s.db.url,
                &format!("SELECT COUNT(*) FROM project_members WHERE project_id = '{p}' AND user_id = '{user}'")
            )
            .await,
            1
        );
        assert_eq!(
            db_strings(
                &s.db.url,
                &format!("SELECT role_id FROM role_assignments WHERE project_id = '{p}' AND user_id = '{user}' AND is_base = 1")
            )
            .await,
            [role]
        );
    }
    // the new member acts with exactly the invited role
    let key = user_key(&s, &user).await;
    let r = s
        .call("GET", "/v1/organization/users", Some(&key), None)
        .await;
    assert_eq!(r.status, 200);
    // an admin reads admin keys but cannot create them
    let r = s
        .call("GET", "/v1/organization/admin_api_keys", Some(&key), None)
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .call(
            "POST",
            "/v1/organization/admin_api_keys",
            Some(&key),
            Some(json!({"name": "nope"})),
        )
        .await;
    assert_eq!(r.status, 403);

    // a token works once; an accepted invitation cannot be deleted
    let n = events(&s).await;
    let again = accept(&s, &token, None).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error("code"), "invite_already_accepted");
    let del = s.delete(&format!("/v1/organization/invites/{id}")).await;
    assert_eq!(del.status, 409);
    assert_eq!(del.error("code"), "invite_accepted");
    assert_eq!(events(&s).await, n);

    // "projects": [] invites into no project; an identity from another org is attached
    let (_org_b, b_owner, _kb) = s.new_org("B", "boss@b.example").await;
    let inv = invite(
        &s,
        json!({"email": "BOSS@b.example", "role": "member", "projects": []}),
    )
    .await;
    let ok = accept(&s, inv["token"].as_str().unwrap(), None)
        .await
        .expect(200);
    assert_eq!(ok["user"]["id"], b_owner);
    assert_eq!(ok["user"]["role"], "member");
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM project_members WHERE user_id = '{b_owner}'")
        )
        .await,
        0
    );
    s.stop().await;
});

backend_tests!(expired_and_raced_invitations, |s: TestServer| async move {
    let inv = invite(&s, json!({"email": "late@example.com", "role": "member"})).await;
    let id = inv["id"].as_str().unwrap().to_owned();
    db_scalar(
        &s.db.url,
        &format!("UPDATE invitations SET expires_at = 5 WHERE id = '{id}' RETURNING expires_at"),
    )
    .await;
    let got = s
        .get(&format!("/v1/organization/invites/{id}"))
        .await
        .expect(200);
    assert_eq!(got["status"], "expired");
    let n = events(&s).await;
    let a = accept(&s, inv["token"].as_str().unwrap(), None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error("code"), "invite_expired");
    assert_eq!(events(&s).await, n);
    assert_eq!(
        db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM users WHERE email_key = 'late@example.com'"
        )
        .await,
        0
    );
    // an expired invitation blocks nothing and can be deleted
    invite(&s, json!({"email": "late@example.com", "role": "member"})).await;
    s.delete(&format!("/v1/organization/invites/{id}"))
        .await
        .expect(200);

    // the address became a member after the invitation: 409, still pending
    let inv = invite(&s, json!({"email": "quick@example.com", "role": "reader"})).await;
    provision(&s, "quick@example.com", "member").await;
    let n = events(&s).await;
    let a = accept(&s, inv["token"].as_str().unwrap(), None).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.error("code"), "already_member");
    assert_eq!(events(&s).await, n);
    let got = s
        .get(&format!(
            "/v1/organization/invites/{}",
            inv["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(got["status"], "pending");

    // archived projects: refused at creation, skipped at acceptance
    let p = project(&s, &s.admin_key.clone(), &s.org_id, "Old").await;
    let inv = invite(
        &s,
        json!({"email": "proj@example.com", "role": "member", "projects": [{"id": p, "role": "member"}]}),
    )
    .await;
    db_scalar(
        &s.db.url,
        &format!("UPDATE projects SET archived_at = 7 WHERE id = '{p}' RETURNING archived_at"),
    )
    .await;
    let a = s
        .post(
            "/v1/organization/invites",
            json!({"email": "other@example.com", "role": "member", "projects": [{"id": p, "role": "member"}]}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error("code"), "project_archived");
    let ok = accept(&s, inv["token"].as_str().unwrap(), None)
        .await
        .expect(200);
    let user = ok["user"]["id"].as_str().unwrap();
    assert_eq!(
        db_scalar(
            &s.db.url,
            &format!("SELECT COUNT(*) FROM project_members WHERE user_id = '{user}'")
        )
        .await,
        0
    );

    // two acceptances of one token at once: exactly one wins
    let inv = invite(&s, json!({"email": "race@example.com", "role": "member"})).await;
    let t = inv["token"].as_str().unwrap();
    let (a, b) = tokio::join!(accept(&s, t, None), accept(&s, t, None));
    let mut st = [a.status, b.status];
    st.sort_unstable();
    assert_eq!(st, [200, 400], "{} {}", a.body, b.body);
    s.stop().await;
});

backend_tests!(inviting_never_escalates, |s: TestServer| async move {
    let x = provision(&s, "x@a.example", "admin").await;
    let xk = user_key(&s, &x).await;
    let n = events(&s).await;
    for role in ["owner"] {
        // owner holds api.admin_keys.write, which an admin lacks
        let a = s
            .call(
                "POST",
                "/v1/organization/invites",
                Some(&xk),
                Some(json!({"email": "e@a.example", "role": role})),
            )
            .await;
        assert_eq!(a.status, 403, "{role}: {}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation");
    }
    assert_eq!(events(&s).await, n);
    let ok = s
        .call(
            "POST",
            "/v1/organization/invites",
            Some(&xk),
            Some(json!({"email": "e@a.example", "role": "admin"})),
        )
        .await
        .expect(200);
    assert_eq!(ok["role"], "admin");
    // admin ⊇ reader: an admin invites readers
    let ok = s
        .call(
            "POST",
            "/v1/organization/invites",
            Some(&xk),
            Some(json!({"email": "r@a.example", "role": "reader"})),
        )
        .await
        .expect(200);
    assert_eq!(ok["role"], "reader");
    // a member cannot invite at all
    let m = provision(&s, "m@a.example", "member").await;
    let mk = user_key(&s, &m).await;
    let a = s
        .call(
            "POST",
            "/v1/organization/invites",
            Some(&mk),
            Some(json!({"email": "f@a.example", "role": "member"})),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.error("code"), "permission_denied");
    // project roles are checked in their project: a user who may invite members but holds no
    // project permission cannot hand out a project owner role
    let inviter = s
        .post(
            "/v1/organization/roles",
            json!({"role_name": "inviter", "permissions": ["api.invites.write", "api.invites.read"]}),
        )
        .await
        .expect(200);
    s.post(
        &format!("/v1/organization/users/{m}/roles"),
        json!({"role_id": inviter["id"]}),
    )
    .await
    .expect(200);
    let p = project(&s, &s.admin_key.clone(), &s.org_id, "P").await;
    let n = events(&s).await;
    let a = s
        .call(
            "POST",
            "/v1/organization/invites",
            Some(&mk),
            Some(json!({"email": "g@a.example", "role": "member", "projects": [{"id": p, "role": "owner"}]})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.error("code"), "privilege_escalation");
    assert!(a.error("message").as_str().unwrap().contains(&p));
    assert_eq!(events(&s).await, n);
    s.call(
        "POST",
        "/v1/organization/invites",
        Some(&mk),
        Some(json!({"email": "g@a.example", "role": "member"})),
    )
    .await
    .expect(200);
    s.stop().await;
});

backend_tests!(
    invites_are_invisible_to_another_org,
    |s: TestServer| async move {
        let p = project(&s, &s.admin_key.clone(), &s.org_id, "Project A").await;
        let inv = invite(
        &s,
        json!({"email": "secret@a.example", "role": "member", "projects": [{"id": p, "role": "member"}]}),
    )
    .await;
        let id = inv["id"].as_str().unwrap().to_owned();
        let (org_b, _owner_b, kb) = s.new_org("B", "boss@b.example").await;
        let n = events(&s).await;
        for (m, path) in [
            ("GET", format!("/v1/organization/invites/{id}")),
            ("DELETE", format!("/v1/organization/invites/{id}")),
        ] {
            let a = s.call(m, &path, Some(&kb), None).await;
            assert_eq!(a.status, 404, "{m} {path}");
            assert!(!a.body.to_string().contains("secret@a.example"));
        }
        // B cannot invite into A's project
        let a = s
        .call(
            "POST",
            "/v1/organization/invites",
            Some(&kb),
            Some(json!({"email": "x@b.example", "role": "member", "projects": [{"id": p, "role": "member"}]})),
        )
        .await;
        assert_eq!(a.status, 404);
        assert_eq!(events(&s).await, n);
        let list = s
            .call("GET", "/v1/organization/invites", Some(&kb), None)
            .await
            .expect(200);
        assert_eq!(list["data"], json!([]));
        // B may invite the same address independently; A's invitation is unchanged
        let b_inv = s
            .call(
                "POST",
                "/v1/organization/invites",
                Some(&kb),
                Some(json!({"email": "secret@a.example", "role": "member"})),
            )
            .await
            .expect(200);
        let ok = accept(&s, b_inv["token"].as_str().unwrap(), None)
            .await
            .expect(200);
        assert_eq!(ok["organization_id"], org_b);
        let got = s
            .get(&format!("/v1/organization/invites/{id}"))
            .await
            .expect(200);
        assert_eq!(got["status"], "pending");
        assert_eq!(got["projects"], json!([{"id": p, "role": "member"}]));
        s.stop().await;
    }
);

#[test]
fn openapi_documents_every_invite_route() {
    use utoipa::OpenApi as _;
    let doc = orgiam_server::api::invites::Doc::openapi();
    for p in [
        "/v1/organization/invites",
        "/v1/organization/invites/{invite_id}",
        "/v1/invites/accept",
    ] {
        assert!(doc.paths.paths.contains_key(p), "{p}");
    }
}
