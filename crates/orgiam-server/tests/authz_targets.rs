//! Targets, not only grants, and no grant outliving the authority that made it: only who holds
//! everything a member holds may change them; renewals, keys minted for others, invitations and
//! role edits answer to their maker's current authority; writes are authorized again inside
//! their transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, json};
use serde_json::Value;

async fn provision(s: &TestServer, key: &str, email: &str, role: &str) -> String {
    s.call(
        "POST",
        "/v1/organization/users",
        Some(key),
        Some(json!({"email": email, "role": role})),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn mint(s: &TestServer, key: &str, uid: &str) -> (String, String) {
    let k = s
        .call(
            "POST",
            &format!("/v1/organization/users/{uid}/api_keys"),
            Some(key),
            Some(json!({"name": "tools"})),
        )
        .await
        .expect(200);
    (
        k["id"].as_str().unwrap().to_owned(),
        k["value"].as_str().unwrap().to_owned(),
    )
}

async fn custom_role(s: &TestServer, name: &str, perms: Value) -> String {
    s.post(
        "/v1/organization/roles",
        json!({"role_name": name, "permissions": perms}),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn grant(s: &TestServer, key: &str, uid: &str, role: &str, exp: Option<i64>) -> u16 {
    let mut body = json!({"role_id": role});
    if let Some(e) = exp {
        body["expires_at"] = json!(e);
    }
    s.call(
        "POST",
        &format!("/v1/organization/users/{uid}/roles"),
        Some(key),
        Some(body),
    )
    .await
    .status
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

backend_tests!(only_owners_manage_owners, |s: TestServer| async move {
    let k = s.admin_key.clone();
    let owner = s.owner_id.clone();
    let admin = provision(&s, &k, "a@example.com", "admin").await;
    let (_, ak) = mint(&s, &k, &admin).await;
    let (owner_key_id, _) = mint(&s, &k, &owner).await;
    let attempts = [
        (
            "POST",
            format!("/v1/organization/users/{owner}"),
            Some(json!({"role": "member"})),
        ),
        (
            "POST",
            format!("/v1/organization/users/{owner}"),
            Some(json!({"name": "Renamed"})),
        ),
        ("DELETE", format!("/v1/organization/users/{owner}"), None),
        (
            "DELETE",
            format!("/v1/organization/users/{owner}/api_keys/{owner_key_id}"),
            None,
        ),
        (
            "POST",
            format!("/v1/organization/users/{owner}/roles"),
            Some(json!({"role_id": "role_00000000000000000000000004"})),
        ),
    ];
    let before = s
        .get(&format!("/v1/organization/users/{owner}"))
        .await
        .expect(200);
    for (method, path, body) in &attempts {
        let a = s.call(method, path, Some(&ak), body.clone()).await;
        assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation", "{method} {path}");
    }
    assert_eq!(
        s.get(&format!("/v1/organization/users/{owner}"))
            .await
            .expect(200),
        before,
        "the owner is untouched"
    );
    let keys = s
        .get(&format!("/v1/organization/users/{owner}/api_keys"))
        .await
        .expect(200);
    assert_eq!(
        keys["data"].as_array().unwrap().len(),
        1,
        "the owner's key survives"
    );
    // an admin still manages who holds no more than they do
    let other = provision(&s, &ak, "b@example.com", "admin").await;
    s.call(
        "POST",
        &format!("/v1/organization/users/{other}"),
        Some(&ak),
        Some(json!({"role": "reader"})),
    )
    .await
    .expect(200);
    // owners manage owners; the last owner stays
    let second = provision(&s, &k, "o2@example.com", "owner").await;
    s.post(
        &format!("/v1/organization/users/{second}"),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    let last = s
        .post(
            &format!("/v1/organization/users/{owner}"),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(last.status, 409, "{}", last.body);
});

backend_tests!(
    renewing_an_expiring_grant_is_a_new_grant,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let ops = custom_role(
            &s,
            "ops",
            json!([
                "api.role_assignments.write",
                "api.users.read",
                "api.roles.read"
            ]),
        )
        .await;
        let x = provision(&s, &k, "x@example.com", "member").await;
        let until = now() + 3600;
        assert_eq!(grant(&s, &k, &x, &ops, Some(until)).await, 200);
        let (_, xk) = mint(&s, &k, &x).await;
        // made permanent, or lengthened, by its holder: refused
        for exp in [None, Some(until + 3600)] {
            let code = grant(&s, &xk, &x, &ops, exp).await;
            assert_eq!(code, 403, "renewal to {exp:?}");
        }
        let held = s
            .get(&format!("/v1/organization/users/{x}/roles/{ops}"))
            .await
            .expect(200);
        assert_eq!(held["expires_at"], until, "{held}");
        // shortening is fine; the owner may renew
        assert_eq!(grant(&s, &xk, &x, &ops, Some(until - 60)).await, 200);
        assert_eq!(grant(&s, &k, &x, &ops, None).await, 200);
    }
);

backend_tests!(
    a_key_minted_for_someone_else_acts_with_both_users_permissions,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let users_admin = custom_role(&s, "user-admin", json!(["api.users.write"])).await;
        let dave = provision(&s, &k, "dave@example.com", "member").await;
        assert_eq!(grant(&s, &k, &dave, &users_admin, None).await, 200);
        let (_, dk) = mint(&s, &k, &dave).await;
        let eve = provision(&s, &k, "eve@example.com", "member").await;
        let (_, dave_copy) = mint(&s, &dk, &eve).await;
        let (_, eve_own) = mint(&s, &k, &eve).await;
        s.post(
            &format!("/v1/organization/users/{eve}"),
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
        // nor can dave's copy mint eve a key free of dave's bound
        let again = s
            .call(
                "POST",
                &format!("/v1/organization/users/{eve}/api_keys"),
                Some(&dave_copy),
                Some(json!({"name": "free"})),
            )
            .await;
        assert_eq!(again.status, 403, "{}", again.body);
        assert_eq!(again.error("code"), "privilege_escalation");
        // eve's own key is an admin's; dave's copy holds only what dave holds too
        s.call("GET", "/v1/organization/groups", Some(&eve_own), None)
            .await
            .expect(200);
        let a = s
            .call("GET", "/v1/organization/groups", Some(&dave_copy), None)
            .await;
        assert_eq!(a.status, 403, "{}", a.body);
        s.call("GET", "/v1/organization/projects", Some(&dave_copy), None)
            .await
            .expect(200);
        // it dies with its minter's membership
        s.delete(&format!("/v1/organization/users/{dave}"))
            .await
            .expect(200);
        let gone = s
            .call("GET", "/v1/organization/projects", Some(&dave_copy), None)
            .await;
        assert_eq!(gone.status, 401);
        s.call("GET", "/v1/organization/projects", Some(&eve_own), None)
            .await
            .expect(200);
    }
);

backend_tests!(
    the_mint_route_takes_expires_at_or_expires_in_seconds,
    |s: TestServer| async move {
        let u = provision(&s, &s.admin_key, "k@example.com", "member").await;
        let at = now() + 7200;
        let k = s
            .post(
                &format!("/v1/organization/users/{u}/api_keys"),
                json!({"name": "a", "expires_at": at}),
            )
            .await
            .expect(200);
        assert!((k["expires_at"].as_i64().unwrap() - at).abs() <= 1, "{k}");
        let k = s
            .post(
                &format!("/v1/organization/users/{u}/api_keys"),
                json!({"name": "b", "expires_in_seconds": 60}),
            )
            .await
            .expect(200);
        assert!(k["expires_at"].as_i64().unwrap() <= now() + 61);
        for bad in [
            json!({"name": "c", "expires_at": at, "expires_in_seconds": 60}),
            json!({"name": "d", "expires_at": now() - 10}),
        ] {
            let a = s
                .post(&format!("/v1/organization/users/{u}/api_keys"), bad.clone())
                .await;
            assert_eq!(a.status, 400, "{bad}: {}", a.body);
            assert_eq!(a.error("param"), "expires_at");
        }
    }
);

backend_tests!(
    an_invite_dies_with_its_inviters_authority,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let a = provision(&s, &k, "adm@example.com", "admin").await;
        let (_, ak) = mint(&s, &k, &a).await;
        let invite = |email: &'static str| {
            let (s, ak) = (&s, ak.clone());
            async move {
                s.call(
                    "POST",
                    "/v1/organization/invites",
                    Some(&ak),
                    Some(json!({"email": email, "role": "admin"})),
                )
                .await
                .expect(200)["token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let t1 = invite("alt@example.com").await;
        s.post(
            &format!("/v1/organization/users/{a}"),
            json!({"role": "member"}),
        )
        .await
        .expect(200);
        let refused = s
            .call(
                "POST",
                "/v1/invites/accept",
                None,
                Some(json!({"token": t1})),
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(refused.error("code"), "inviter_lacks_authority");
        let listed = s
            .get("/v1/organization/users?emails[]=alt@example.com")
            .await
            .expect(200);
        assert_eq!(listed["data"], json!([]), "nobody joined");
        // restored, they invite again; removed, their pending invitation dies
        s.post(
            &format!("/v1/organization/users/{a}"),
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
        let t2 = invite("alt2@example.com").await;
        s.delete(&format!("/v1/organization/users/{a}"))
            .await
            .expect(200);
        let dead = s
            .call(
                "POST",
                "/v1/invites/accept",
                None,
                Some(json!({"token": t2})),
            )
            .await;
        assert_eq!(dead.status, 404, "{}", dead.body);
    }
);

backend_tests!(
    roles_are_not_dismantled_from_below,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let keys_role = custom_role(&s, "key-makers", json!(["api.admin_keys.write"])).await;
        let a = provision(&s, &k, "adm@example.com", "admin").await;
        let (_, ak) = mint(&s, &k, &a).await;
        let path = format!("/v1/organization/roles/{keys_role}");
        for body in [
            json!({"role_name": "renamed"}),
            json!({"permissions": []}),
            json!({"description": "harmless?"}),
        ] {
            let r = s.call("POST", &path, Some(&ak), Some(body.clone())).await;
            assert_eq!(r.status, 403, "{body}: {}", r.body);
        }
        let d = s.call("DELETE", &path, Some(&ak), None).await;
        assert_eq!(d.status, 403);
        let role = s.get(&path).await.expect(200);
        assert_eq!(role["name"], "key-makers");
        assert_eq!(role["permissions"], json!(["api.admin_keys.write"]));
        // a role within the admin's reach is theirs to edit; the owner edits any
        let mine = custom_role(&s, "readers", json!(["api.users.read"])).await;
        s.call(
            "POST",
            &format!("/v1/organization/roles/{mine}"),
            Some(&ak),
            Some(json!({"permissions": ["api.users.read", "api.groups.read"]})),
        )
        .await
        .expect(200);
        s.post(&path, json!({"role_name": "renamed"}))
            .await
            .expect(200);
    }
);

backend_tests!(
    fiddler_lists_invitations_only_to_who_may_read_them,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        s.post(
            "/v1/organization/invites",
            json!({"email": "pending@example.com", "role": "member"}),
        )
        .await
        .expect(200);
        let uw = custom_role(&s, "user-writers", json!(["api.users.write"])).await;
        let u = provision(&s, &k, "uw@example.com", "member").await;
        assert_eq!(grant(&s, &k, &u, &uw, None).await, 200);
        let (_, uk) = mint(&s, &k, &u).await;
        let path = format!("/compat/fiddler/roles/{}", s.org_id);
        let invitations = |key: String| {
            let (s, path) = (&s, path.clone());
            async move {
                let r = s.get_with_key_in(&path, "authorization", &key).await;
                assert_eq!(r.status(), 200);
                let body: Value = r.json().await.unwrap();
                body["result"]["invitations"].as_array().unwrap().len()
            }
        };
        assert_eq!(invitations(k.clone()).await, 1);
        assert_eq!(invitations(uk).await, 0);
    }
);

backend_tests!(
    member_timestamps_are_per_membership,
    |s: TestServer| async move {
        let (_b, _, b_key) = s.new_org("B", "ob@example.com").await;
        provision(&s, &b_key, "shared@example.com", "member").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let u = s
            .post(
                "/v1/organization/users",
                json!({"email": "shared@example.com", "role": "member"}),
            )
            .await
            .expect(200);
        assert_eq!(u["created"], u["added_at"], "{u}");
        let in_b = s
            .call(
                "GET",
                &format!("/v1/organization/users/{}", u["id"].as_str().unwrap()),
                Some(&b_key),
                None,
            )
            .await
            .expect(200);
        assert!(u["created"].as_i64().unwrap() > in_b["created"].as_i64().unwrap());
    }
);

/// Fires group creates with `key` from `tasks` tasks, each until it is refused (or `n` were
/// sent); returns (status, revision) of each.
async fn spam_creates(
    s: &TestServer,
    key: &str,
    prefix: &str,
    tasks: usize,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Vec<(u16, i64)>>> {
    (0..tasks)
        .map(|t| {
            let (http, base, key) = (s.http.clone(), s.base.clone(), key.to_owned());
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..n {
                    let r = http
                        .post(format!("{base}/v1/organization/groups"))
                        .bearer_auth(&key)
                        .json(&json!({"name": format!("{prefix}-{t}-{i}")}))
                        .send()
                        .await
                        .unwrap();
                    let rev = r
                        .headers()
                        .get("orgiam-revision")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(-1);
                    let status = r.status().as_u16();
                    out.push((status, rev));
                    if status != 200 {
                        break;
                    }
                }
                out
            })
        })
        .collect()
}

fn revision(a: &orgiam_testkit::Answer) -> i64 {
    a.headers["orgiam-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

backend_tests!(
    no_write_commits_after_its_authors_demotion_or_revocation,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        for round in 0..2 {
            let x = provision(&s, &k, &format!("x{round}@example.com"), "admin").await;
            let (key_id, xk) = mint(&s, &k, &x).await;
            let handles = spam_creates(&s, &xk, &format!("r{round}"), 6, 2000).await;
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            let cut = if round == 0 {
                s.post(
                    &format!("/v1/organization/users/{x}"),
                    json!({"role": "member"}),
                )
                .await
            } else {
                s.delete(&format!("/v1/organization/users/{x}/api_keys/{key_id}"))
                    .await
            };
            assert_eq!(cut.status, 200, "{}", cut.body);
            let at = revision(&cut);
            let mut ok = 0;
            let mut refused = 0;
            for h in handles {
                for (status, rev) in h.await.unwrap() {
                    match status {
                        200 => {
                            ok += 1;
                            assert!(
                                rev < at,
                                "round {round}: a write committed at {rev}, after the cut at {at}"
                            );
                        }
                        401 | 403 => refused += 1,
                        other => panic!("unexpected status {other}"),
                    }
                }
            }
            assert!(
                ok > 0 && refused > 0,
                "round {round}: {ok} ok, {refused} refused"
            );
        }
    }
);

backend_tests!(
    the_access_model_follows_the_target_rule,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let owner = s.owner_id.clone();
        let admin = provision(&s, &k, "a@example.com", "admin").await;
        let (_, ak) = mint(&s, &k, &admin).await;
        let ops = custom_role(&s, "Ops", json!(["api.users.read"])).await;
        assert_eq!(grant(&s, &k, &owner, &ops, None).await, 200);
        let _ = custom_role(&s, "Ops2", json!(["api.groups.read"])).await;
        let model = s.get("/v1/organization/model").await.expect(200);
        let owner_email = s
            .get(&format!("/v1/organization/users/{owner}"))
            .await
            .expect(200)["email"]
            .as_str()
            .unwrap()
            .to_owned();
        let apply = |m: Value, prune: bool| {
            let s = &s;
            let ak = ak.clone();
            async move {
                s.call(
                    "POST",
                    "/v1/organization/model/apply",
                    Some(&ak),
                    Some(json!({"model": m, "prune": prune})),
                )
                .await
            }
        };
        // revoking the owner's grant by leaving it out of the file, with --prune
        let mut without = model.clone();
        without["grants"] = json!([]);
        let a = apply(without, true).await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation");
        // granting the owner another role
        let mut more = model.clone();
        more["grants"]
            .as_array_mut()
            .unwrap()
            .push(json!({"role": "Ops2", "user": owner_email}));
        let a = apply(more, false).await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.error("code"), "privilege_escalation");
        // the owner's grants are as they were
        let roles = s
            .get(&format!("/v1/organization/users/{owner}/roles"))
            .await
            .expect(200);
        let names: Vec<&str> = roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(
            names.contains(&"Ops") && !names.contains(&"Ops2"),
            "{names:?}"
        );
        // the owner's own key applies the same change
        s.post(
            "/v1/organization/model/apply",
            json!({"model": model, "prune": false}),
        )
        .await
        .expect(200);
    }
);
