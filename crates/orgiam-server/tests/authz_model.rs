//! The authorization model as a tenant meets it: one person in many organizations, system roles
//! that grant exactly what their listings show (owner ⊇ admin ⊇ reader ⊇ member), keys that
//! ask about themselves, archived projects, and the root key on organization routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use orgiam_testkit::{ROOT_KEY, TestServer, backend_tests, json};
use serde_json::Value;

const OWNER: &str = "role_00000000000000000000000001";
const ADMIN: &str = "role_00000000000000000000000002";
const MEMBER: &str = "role_00000000000000000000000003";
const READER: &str = "role_00000000000000000000000004";

/// Provisions `email` with base `role` using `key`; returns the user id.
async fn provision(s: &TestServer, key: &str, email: &str, role: &str) -> String {
    let u = s
        .call(
            "POST",
            "/v1/organization/users",
            Some(key),
            Some(json!({"email": email, "role": role})),
        )
        .await
        .expect(200);
    u["id"].as_str().unwrap().to_owned()
}

/// Mints a user key for `uid` with `key`; returns the secret.
async fn mint(s: &TestServer, key: &str, uid: &str) -> String {
    let k = s
        .call(
            "POST",
            &format!("/v1/organization/users/{uid}/api_keys"),
            Some(key),
            Some(json!({"name": "tools"})),
        )
        .await
        .expect(200);
    k["value"].as_str().unwrap().to_owned()
}

/// Every role `key` sees (system and custom), by id, with its listed permissions.
async fn listings(s: &TestServer, key: &str) -> BTreeMap<String, BTreeSet<String>> {
    let roles = s
        .call("GET", "/v1/organization/roles?limit=1000", Some(key), None)
        .await
        .expect(200);
    roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let perms = r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect();
            (r["id"].as_str().unwrap().to_owned(), perms)
        })
        .collect()
}

/// The organization's whole catalog.
async fn catalog(s: &TestServer, key: &str) -> Vec<String> {
    let c = s
        .call(
            "GET",
            "/v1/organization/permissions?limit=1000",
            Some(key),
            None,
        )
        .await
        .expect(200);
    c["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

fn names(v: &Value) -> BTreeSet<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permission"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests!(
    one_person_holds_four_roles_in_four_organizations,
    |s: TestServer| async move {
        let p = "pat@example.com";
        // owner of A through the platform route, then again of A2: an owner_email that
        // already owns an organization
        let (a, pat_a, a_key) = s.new_org("A", p).await;
        let (_a2, pat_a2, _) = s.new_org("A2", p).await;
        assert_eq!(pat_a, pat_a2, "one identity");
        let (b, _, b_key) = s.new_org("B", "ob@example.com").await;
        let (c, _, c_key) = s.new_org("C", "oc@example.com").await;
        let (d, _, d_key) = s.new_org("D", "od@example.com").await;
        assert_eq!(provision(&s, &b_key, p, "admin").await, pat_a);
        assert_eq!(provision(&s, &c_key, p, "member").await, pat_a);
        assert_eq!(provision(&s, &d_key, p, "reader").await, pat_a);
        // the same system role held in two organizations: member in C, now member in E too
        let (_e, _, e_key) = s.new_org("E", "oe@example.com").await;
        provision(&s, &e_key, p, "member").await;
        // a role change to a role held elsewhere (admin in B): E makes them admin, then back
        s.call(
            "POST",
            &format!("/v1/organization/users/{pat_a}"),
            Some(&e_key),
            Some(json!({"role": "admin"})),
        )
        .await
        .expect(200);
        s.call(
            "POST",
            &format!("/v1/organization/users/{pat_a}"),
            Some(&e_key),
            Some(json!({"role": "member"})),
        )
        .await
        .expect(200);
        // the same direct grant in two organizations
        for key in [&b_key, &d_key] {
            s.call(
                "POST",
                &format!("/v1/organization/users/{pat_a}/roles"),
                Some(key),
                Some(json!({"role_id": READER})),
            )
            .await
            .expect(200);
        }
        // user keys are per organization
        let mut keys = BTreeMap::new();
        for (org, key) in [(&a, &a_key), (&b, &b_key), (&c, &c_key), (&d, &d_key)] {
            keys.insert(org.clone(), mint(&s, key, &pat_a).await);
        }
        let role_in = |org: &str, key: &str| {
            let (org, key) = (org.to_owned(), key.to_owned());
            let s = &s;
            let pat = pat_a.clone();
            async move {
                let u = s
                    .call(
                        "GET",
                        &format!("/v1/organization/users/{pat}"),
                        Some(&key),
                        None,
                    )
                    .await;
                (org, u)
            }
        };
        let expected = [(&a, "owner"), (&b, "admin"), (&c, "member"), (&d, "reader")];
        for (org, role) in expected {
            // each organization's own key sees its own role for the person
            let own_key = [(&a, &a_key), (&b, &b_key), (&c, &c_key), (&d, &d_key)]
                .into_iter()
                .find(|(o, _)| *o == org)
                .unwrap()
                .1;
            let (_, u) = role_in(org, own_key).await;
            assert_eq!(u.expect(200)["role"], role, "{org}");
            // the person's key acts in its own organization only, with that role's rights
            let k = &keys[org.as_str()];
            let self_check = s
                .call(
                    "POST",
                    "/v1/organization/permissions/check",
                    Some(k),
                    Some(json!({"user_id": pat_a, "permission": "api.users.write"})),
                )
                .await
                .expect(200);
            assert_eq!(
                self_check["allowed"],
                role == "owner" || role == "admin",
                "{org} {role}"
            );
        }
        // removing them from C leaves A, B and D whole
        s.call(
            "DELETE",
            &format!("/v1/organization/users/{pat_a}"),
            Some(&c_key),
            None,
        )
        .await
        .expect(200);
        let gone = s
            .call(
                "GET",
                "/v1/organization/projects",
                Some(&keys[c.as_str()]),
                None,
            )
            .await;
        assert_eq!(gone.status, 401, "their key in C died with the membership");
        for (org, role) in [(&a, "owner"), (&b, "admin"), (&d, "reader")] {
            let k = &keys[org.as_str()];
            let u = s
                .call(
                    "GET",
                    &format!("/v1/organization/users/{pat_a}"),
                    Some(k),
                    None,
                )
                .await
                .expect(200);
            assert_eq!(u["role"], role, "{org} untouched");
            let held = s
                .call(
                    "GET",
                    &format!("/v1/organization/users/{pat_a}/roles"),
                    Some(k),
                    None,
                )
                .await;
            assert_eq!(held.status, 200, "{org}");
        }
        // B's extra grant survives the removal from C; C can add them again
        let b_roles = s
            .call(
                "GET",
                &format!("/v1/organization/users/{pat_a}/roles"),
                Some(&b_key),
                None,
            )
            .await
            .expect(200);
        let ids: Vec<&str> = b_roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&READER) && ids.contains(&ADMIN), "{b_roles}");
        provision(&s, &c_key, p, "member").await;
        let _ = (OWNER, MEMBER);
    }
);

backend_tests!(
    an_invite_for_a_role_held_elsewhere_is_accepted,
    |s: TestServer| async move {
        let p = "ivy@example.com";
        let (_b, _, b_key) = s.new_org("B", "ob@example.com").await;
        provision(&s, &b_key, p, "member").await;
        let inv = s
            .post(
                "/v1/organization/invites",
                json!({"email": p, "role": "member"}),
            )
            .await
            .expect(200);
        let accepted = s
            .call(
                "POST",
                "/v1/invites/accept",
                None,
                Some(json!({"token": inv["token"], "name": "Ivy"})),
            )
            .await
            .expect(200);
        assert_eq!(accepted["user"]["role"], "member");
    }
);

backend_tests!(
    every_role_grants_exactly_its_listing,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        for (name, rt) in [
            ("documents.read", "api.organization"),
            ("documents.write", "api.organization"),
            ("deploy.run", "api.project"),
        ] {
            s.post(
                "/v1/organization/permissions",
                json!({"name": name, "resource_type": rt}),
            )
            .await
            .expect(200);
        }
        for (role, perms) in [
            ("doc-reader", json!(["documents.read"])),
            (
                "mixed",
                json!(["api.users.read", "deploy.run", "api.permissions.check"]),
            ),
        ] {
            s.post(
                "/v1/organization/roles",
                json!({"role_name": role, "permissions": perms}),
            )
            .await
            .expect(200);
        }
        let listing = listings(&s, &k).await;
        let all = catalog(&s, &k).await;
        assert!(all.len() >= 30, "{all:?}");
        // the decided sets, as listed
        let owner = &listing[OWNER];
        let admin = &listing[ADMIN];
        let reader = &listing[READER];
        let member = &listing[MEMBER];
        assert_eq!(
            owner,
            &all.iter().cloned().collect::<BTreeSet<_>>(),
            "owner: all"
        );
        let mut admin_expected: BTreeSet<String> = all.iter().cloned().collect();
        admin_expected.remove("api.admin_keys.write");
        assert_eq!(admin, &admin_expected);
        assert!(
            reader
                .iter()
                .all(|p| p.starts_with("api.") && p.ends_with(".read"))
        );
        assert!(
            !reader.contains("documents.read"),
            "no custom .read by name"
        );
        assert_eq!(
            member,
            &BTreeSet::from(["api.organization.read".into(), "api.projects.read".into()])
        );
        // owner ⊇ admin ⊇ reader ⊇ member
        assert!(
            owner.is_superset(admin) && admin.is_superset(reader) && reader.is_superset(member)
        );
        assert!(admin.contains("api.admin_keys.read"));

        // one user per role: system roles as base role, custom roles beside a `member` base
        let mut holders: Vec<(String, String, BTreeSet<String>)> = Vec::new();
        for (i, (role_id, perms)) in listing.iter().enumerate() {
            let base = match role_id.as_str() {
                OWNER => "owner",
                ADMIN => "admin",
                READER => "reader",
                _ => "member",
            };
            let uid = provision(&s, &k, &format!("holder{i}@example.com"), base).await;
            let mut expected = perms.clone();
            if ![OWNER, ADMIN, READER, MEMBER].contains(&role_id.as_str()) {
                s.post(
                    &format!("/v1/organization/users/{uid}/roles"),
                    json!({"role_id": role_id}),
                )
                .await
                .expect(200);
                expected.extend(member.iter().cloned());
            }
            holders.push((role_id.clone(), uid, expected));
        }
        for (role_id, uid, expected) in &holders {
            // checks, in one batch over the whole catalog
            let checks: Vec<Value> = all
                .iter()
                .map(|p| json!({"user_id": uid, "permission": p}))
                .collect();
            let answers = s
                .post(
                    "/v1/organization/permissions/check_batch",
                    json!({"checks": checks}),
                )
                .await
                .expect(200);
            for (p, a) in all.iter().zip(answers["data"].as_array().unwrap()) {
                assert_eq!(
                    a["allowed"].as_bool().unwrap(),
                    expected.contains(p),
                    "role {role_id}: {p}"
                );
            }
            // effective permissions
            let eff = s
                .get(&format!("/v1/organization/users/{uid}/permissions"))
                .await
                .expect(200);
            assert_eq!(&names(&eff), expected, "effective of {role_id}");
        }
        // reverse lookups agree with the listings
        for p in &all {
            let users = s
                .get(&format!(
                    "/v1/organization/permissions/{p}/users?limit=1000"
                ))
                .await
                .expect(200);
            let got: BTreeSet<&str> = users["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap())
                .collect();
            for (role_id, uid, expected) in &holders {
                assert_eq!(
                    got.contains(uid.as_str()),
                    expected.contains(p),
                    "{p} {role_id}"
                );
            }
        }
        // the dialects list the same sets: Timbal's full grant set of each system role
        for role_id in [OWNER, ADMIN, READER, MEMBER] {
            let t = s
                .get_with_key_in(
                    &format!("/compat/timbal/orgs/{}/iam/roles/{role_id}", s.org_id),
                    "authorization",
                    &k,
                )
                .await;
            assert_eq!(t.status(), 200);
            let body: Value = t.json().await.unwrap();
            let text = body.to_string();
            for p in &listing[role_id] {
                assert!(
                    text.contains(&format!("\"{p}\"")),
                    "timbal {role_id} lacks {p}: {text}"
                );
            }
            if role_id != OWNER {
                assert!(
                    !text.contains("\"api.admin_keys.write\""),
                    "{role_id}: {text}"
                );
            }
        }
        let aitronos = s
            .get_with_key_in(
                &format!("/compat/aitronos/v1/organizations/{}/roles", s.org_id),
                "x-api-key",
                &k,
            )
            .await;
        assert_eq!(aitronos.status(), 200);
        let roles: Value = aitronos.json().await.unwrap();
        let owner_row = roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == OWNER)
            .unwrap();
        assert!(
            owner_row["permissions"]
                .to_string()
                .contains("documents.write"),
            "{owner_row}"
        );
    }
);

backend_tests!(
    project_roles_grant_their_listing_in_the_project,
    |s: TestServer| async move {
        s.post(
            "/v1/organization/permissions",
            json!({"name": "deploy.run", "resource_type": "api.project"}),
        )
        .await
        .expect(200);
        let proj = s
            .post("/v1/organization/projects", json!({"name": "P"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // and a custom project role naming the organization's project permission
        s.post(
            &format!("/v1/projects/{proj}/roles"),
            json!({"role_name": "deployer", "permissions": ["deploy.run", "api.project.users.read"]}),
        )
        .await
        .expect(200);
        let roles = s
            .get(&format!("/v1/projects/{proj}/roles?limit=100"))
            .await
            .expect(200);
        let all = catalog(&s, &s.admin_key).await;
        let member = listings(&s, &s.admin_key).await[MEMBER].clone();
        let listed_of = |r: &Value| -> BTreeSet<String> {
            r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect()
        };
        let viewer = roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "viewer")
            .map(listed_of)
            .unwrap();
        assert_eq!(roles["data"].as_array().unwrap().len(), 4, "{roles}");
        for (i, r) in roles["data"].as_array().unwrap().iter().enumerate() {
            let mut listed = listed_of(r);
            let system = ["owner", "member", "viewer"]
                .into_iter()
                .find(|n| r["name"] == *n);
            assert_eq!(listed.contains("deploy.run"), system.is_none(), "{r}");
            let uid = provision(&s, &s.admin_key, &format!("p{i}@example.com"), "member").await;
            // a custom project role sits beside the `viewer` base project role
            s.post(
                &format!("/v1/organization/projects/{proj}/users"),
                json!({"user_id": uid, "role": system.unwrap_or("viewer")}),
            )
            .await
            .expect(200);
            if system.is_none() {
                s.post(
                    &format!("/v1/projects/{proj}/users/{uid}/roles"),
                    json!({"role_id": r["id"]}),
                )
                .await
                .expect(200);
                listed.extend(viewer.iter().cloned());
            }
            let base = r["name"].as_str().unwrap().to_owned();
            let checks: Vec<Value> = all
                .iter()
                .map(|p| json!({"user_id": uid, "permission": p, "project_id": proj}))
                .collect();
            let answers = s
                .post(
                    "/v1/organization/permissions/check_batch",
                    json!({"checks": checks}),
                )
                .await
                .expect(200);
            for (p, a) in all.iter().zip(answers["data"].as_array().unwrap()) {
                let expected = listed.contains(p) || member.contains(p);
                assert_eq!(
                    a["allowed"].as_bool().unwrap(),
                    expected,
                    "project {base}: {p}"
                );
            }
        }
    }
);

backend_tests!(
    an_admin_can_add_a_reader_and_read_admin_keys,
    |s: TestServer| async move {
        let admin = provision(&s, &s.admin_key, "adm@example.com", "admin").await;
        let key = mint(&s, &s.admin_key, &admin).await;
        provision(&s, &key, "rdr@example.com", "reader").await;
        s.call("GET", "/v1/organization/admin_api_keys", Some(&key), None)
            .await
            .expect(200);
        let refused = s
            .call(
                "POST",
                "/v1/organization/admin_api_keys",
                Some(&key),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(refused.status, 403);
    }
);

backend_tests!(
    keys_ask_about_themselves_and_others_need_the_permission,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let m = provision(&s, &k, "m@example.com", "member").await;
        let mk = mint(&s, &k, &m).await;
        let owner = s.owner_id.clone();
        let check = |key: String, user: String| {
            let s = &s;
            async move {
                s.call(
                    "POST",
                    "/v1/organization/permissions/check",
                    Some(&key),
                    Some(json!({"user_id": user, "permission": "api.users.read"})),
                )
                .await
            }
        };
        let me = check(mk.clone(), m.clone()).await.expect(200);
        assert_eq!(me["allowed"], false);
        let other = check(mk.clone(), owner.clone()).await;
        assert_eq!(other.status, 403, "{}", other.body);
        assert_eq!(other.error("param"), "user_id");
        let batch = s
            .call(
                "POST",
                "/v1/organization/permissions/check_batch",
                Some(&mk),
                Some(json!({"checks": [
                    {"user_id": m, "permission": "api.projects.read"},
                    {"user_id": owner, "permission": "api.projects.read"}
                ]})),
            )
            .await;
        assert_eq!(batch.status, 403);
        assert_eq!(batch.error("param"), "checks[1].user_id");
        let mine = s
            .call(
                "GET",
                &format!("/v1/organization/users/{m}/permissions"),
                Some(&mk),
                None,
            )
            .await
            .expect(200);
        assert_eq!(
            names(&mine),
            BTreeSet::from(["api.organization.read".into(), "api.projects.read".into()])
        );
        let theirs = s
            .call(
                "GET",
                &format!("/v1/organization/users/{owner}/permissions"),
                Some(&mk),
                None,
            )
            .await;
        assert_eq!(theirs.status, 403);
        let reverse = s
            .call(
                "GET",
                "/v1/organization/permissions/api.users.read/users",
                Some(&mk),
                None,
            )
            .await;
        assert_eq!(reverse.status, 403);
        // api.permissions.check alone: others' checks yes, the reverse lookup no
        s.post(
            "/v1/organization/roles",
            json!({"role_name": "checker", "permissions": ["api.permissions.check"]}),
        )
        .await
        .expect(200);
        let listing = listings(&s, &k).await;
        let checker = listing
            .iter()
            .find(|(_, p)| p.len() == 1 && p.contains("api.permissions.check"))
            .unwrap()
            .0
            .clone();
        let c = provision(&s, &k, "c@example.com", "member").await;
        s.post(
            &format!("/v1/organization/users/{c}/roles"),
            json!({"role_id": checker}),
        )
        .await
        .expect(200);
        let ck = mint(&s, &k, &c).await;
        check(ck.clone(), owner.clone()).await.expect(200);
        let reverse = s
            .call(
                "GET",
                "/v1/organization/permissions/api.users.read/users",
                Some(&ck),
                None,
            )
            .await;
        assert_eq!(reverse.status, 403);
        assert!(
            reverse
                .error("message")
                .to_string()
                .contains("api.users.read")
        );
        s.call(
            "GET",
            "/v1/organization/permissions/api.users.read/users",
            Some(&k),
            None,
        )
        .await
        .expect(200);
    }
);

backend_tests!(
    an_archived_project_grants_nothing,
    |s: TestServer| async move {
        let k = s.admin_key.clone();
        let proj = s
            .post("/v1/organization/projects", json!({"name": "P"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let u = provision(&s, &k, "po@example.com", "admin").await;
        s.post(
            &format!("/v1/organization/projects/{proj}/users"),
            json!({"user_id": u, "role": "owner"}),
        )
        .await
        .expect(200);
        let ask = |perm: &'static str| {
            let (s, u, proj) = (&s, u.clone(), proj.clone());
            async move {
                s.post(
                    "/v1/organization/permissions/check",
                    json!({"user_id": u, "permission": perm, "project_id": proj}),
                )
                .await
                .expect(200)
            }
        };
        assert_eq!(ask("api.project.users.write").await["allowed"], true);
        assert_eq!(ask("api.users.read").await["allowed"], true);
        s.post(
            &format!("/v1/organization/projects/{proj}/archive"),
            json!({}),
        )
        .await
        .expect(200);
        for perm in ["api.project.users.write", "api.users.read"] {
            let a = ask(perm).await;
            assert_eq!(a["allowed"], false, "{perm}: {a}");
            assert_eq!(a["reasons"], json!([]));
            assert!(
                a["denied_reason"].as_str().unwrap().contains("archived"),
                "{a}"
            );
        }
        let eff = s
            .get(&format!(
                "/v1/organization/users/{u}/permissions?project_id={proj}"
            ))
            .await
            .expect(200);
        assert_eq!(eff["data"], json!([]));
        let who = s
            .get(&format!(
                "/v1/organization/permissions/api.users.read/users?project_id={proj}"
            ))
            .await
            .expect(200);
        assert_eq!(who["data"], json!([]));
        // organization level is unaffected
        let org_level = s
            .post(
                "/v1/organization/permissions/check",
                json!({"user_id": u, "permission": "api.users.read"}),
            )
            .await
            .expect(200);
        assert_eq!(org_level["allowed"], true);
    }
);

backend_tests!(
    the_root_key_on_an_organization_route_says_what_it_serves,
    |s: TestServer| async move {
        let a = s
            .call("GET", "/v1/organization/users", Some(ROOT_KEY), None)
            .await;
        assert_eq!(a.status, 401);
        let msg = a.error("message").as_str().unwrap().to_owned();
        assert!(msg.contains("platform routes"), "{msg}");
        let bad = s
            .call("GET", "/v1/organization/users", Some("sk-admin-nope"), None)
            .await;
        assert_eq!(bad.status, 401);
        assert!(!bad.error("message").as_str().unwrap().contains("platform"));
    }
);
