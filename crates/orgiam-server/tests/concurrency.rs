//! Racing writes end in a state some serial order of them would have produced: one winner for
//! a contested name, no lost update among concurrent adds or edits, assignments neither
//! duplicated nor lost, and one audit event per acknowledged write; on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use orgiam_testkit::{Answer, TestServer, backend_tests, db_scalar, json};
use serde_json::Value;

/// Runs `n` copies of `f(i)` at once (all released together) and returns their answers by `i`.
async fn race<F, Fut>(s: &Arc<TestServer>, n: usize, f: F) -> Vec<Answer>
where
    F: Fn(Arc<TestServer>, usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Answer> + Send + 'static,
{
    let gate = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, gate, f) = (s.clone(), gate.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            f(s, i).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn events(s: &TestServer, kind: &str) -> i64 {
    db_scalar(
        &s.db.url,
        &format!("SELECT COUNT(*) FROM audit_events WHERE type = '{kind}'"),
    )
    .await
}

async fn provision(s: &TestServer, email: &str) -> String {
    s.post(
        "/v1/organization/users",
        json!({"email": email, "name": email, "role": "member"}),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

backend_tests!(
    racing_creates_of_one_role_name_have_one_winner,
    |s: TestServer| async move {
        let s = Arc::new(s);
        let before = events(&s, "role.created").await;
        let answers = race(&s, 24, |s, i| async move {
            // the names differ only in case: the same name to the uniqueness rule
            let name = if i % 2 == 0 {
                "Billing Admin"
            } else {
                "billing admin"
            };
            s.post(
                "/v1/organization/roles",
                json!({"role_name": name, "permissions": ["api.users.read"]}),
            )
            .await
        })
        .await;
        assert_eq!(count(&answers, 200), 1, "{:?}", statuses(&answers));
        assert_eq!(count(&answers, 409), 23, "{:?}", statuses(&answers));
        for a in answers.iter().filter(|a| a.status == 409) {
            assert_eq!(a.body["error"]["type"], "conflict_error", "{}", a.body);
        }
        assert_eq!(events(&s, "role.created").await, before + 1);
        assert_eq!(
            db_scalar(
                &s.db.url,
                "SELECT COUNT(*) FROM roles WHERE name_key = 'billing admin'"
            )
            .await,
            1
        );
        Arc::into_inner(s).unwrap().stop().await;
    }
);

fn statuses(answers: &[Answer]) -> Vec<u16> {
    answers.iter().map(|a| a.status).collect()
}

backend_tests!(
    concurrent_adds_of_distinct_members_and_assignments_all_land,
    |s: TestServer| async move {
        let s = Arc::new(s);
        let group = s
            .post("/v1/organization/groups", json!({"name": "crowd"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut users = Vec::new();
        for i in 0..16 {
            users.push(provision(&s, &format!("crowd{i}@example.com")).await);
        }
        let mut roles = Vec::new();
        for i in 0..16 {
            roles.push(
                s.post(
                    "/v1/organization/roles",
                    json!({"role_name": format!("r{i}"), "permissions": ["api.users.read"]}),
                )
                .await
                .expect(200)["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let (added0, assigned0) = (
            events(&s, "group.user.added").await,
            events(&s, "role.assignment.created").await,
        );
        let users = Arc::new(users);
        let roles = Arc::new(roles);
        // 16 members added to one group and 16 roles assigned to one user, all at once
        let answers = race(&s, 32, {
            let (group, users, roles) = (group.clone(), users.clone(), roles.clone());
            move |s, i| {
                let (group, users, roles) = (group.clone(), users.clone(), roles.clone());
                async move {
                    if i < 16 {
                        s.post(
                            &format!("/v1/organization/groups/{group}/users"),
                            json!({"user_id": users[i]}),
                        )
                        .await
                    } else {
                        s.post(
                            &format!("/v1/organization/users/{}/roles", users[0]),
                            json!({"role_id": roles[i - 16]}),
                        )
                        .await
                    }
                }
            }
        })
        .await;
        assert_eq!(count(&answers, 200), 32, "{:?}", statuses(&answers));
        let members: BTreeSet<String> = s
            .get(&format!("/v1/organization/groups/{group}/users?limit=1000"))
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(members, users.iter().cloned().collect());
        let held: BTreeSet<String> = s
            .get(&format!(
                "/v1/organization/users/{}/roles?limit=1000",
                users[0]
            ))
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        for r in roles.iter() {
            assert!(held.contains(r), "{r} lost: {held:?}");
        }
        assert_eq!(events(&s, "group.user.added").await, added0 + 16);
        assert_eq!(events(&s, "role.assignment.created").await, assigned0 + 16);
        Arc::into_inner(s).unwrap().stop().await;
    }
);

async fn check(s: &TestServer, user: &str, permission: &str) -> bool {
    s.post(
        "/v1/organization/permissions/check",
        json!({"user_id": user, "permission": permission}),
    )
    .await
    .expect(200)["allowed"]
        .as_bool()
        .unwrap()
}

backend_tests!(
    racing_assign_and_unassign_leave_a_serial_state,
    |s: TestServer| async move {
        let s = Arc::new(s);
        s.post(
            "/v1/organization/permissions",
            json!({"name": "docs.publish", "description": "publish", "resource_type": "api.organization"}),
        )
        .await
        .expect(200);
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "publisher", "permissions": ["docs.publish"]}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = provision(&s, "racer@example.com").await;
        let mut present = false;
        for round in 0..3 {
            let (c0, u0, d0) = (
                events(&s, "role.assignment.created").await,
                events(&s, "role.assignment.updated").await,
                events(&s, "role.assignment.deleted").await,
            );
            let path = format!("/v1/organization/users/{user}/roles");
            let answers = race(&s, 24, {
                let (path, role) = (path.clone(), role.clone());
                move |s, i| {
                    let (path, role) = (path.clone(), role.clone());
                    async move {
                        if (i + round) % 2 == 0 {
                            s.post(&path, json!({"role_id": role})).await
                        } else {
                            s.delete(&format!("{path}/{role}")).await
                        }
                    }
                }
            })
            .await;
            let (mut assigned_ok, mut unassigned_ok) = (0, 0);
            for (i, a) in answers.iter().enumerate() {
                if (i + round) % 2 == 0 {
                    assert_eq!(a.status, 200, "assign: {}", a.body);
                    assigned_ok += 1;
                } else {
                    assert!(
                        matches!(a.status, 200 | 404),
                        "unassign: {} {}",
                        a.status,
                        a.body
                    );
                    unassigned_ok += usize::from(a.status == 200);
                }
            }
            let created = events(&s, "role.assignment.created").await - c0;
            let updated = events(&s, "role.assignment.updated").await - u0;
            let deleted = events(&s, "role.assignment.deleted").await - d0;
            // one event per acknowledged write
            assert_eq!((created + updated) as usize, assigned_ok);
            assert_eq!(deleted as usize, unassigned_ok);
            // rows: never a duplicate
            let rows = db_scalar(
                &s.db.url,
                &format!(
                    "SELECT COUNT(*) FROM role_assignments WHERE user_id = '{user}' AND role_id = '{role}'"
                ),
            )
            .await;
            assert!(rows <= 1, "{rows} rows for one (user, role)");
            // a serial order: each delete follows a create, each create an absence
            let was = i64::from(present);
            assert!(
                (0..=1).contains(&(was + created - deleted)),
                "created {created}, deleted {deleted}, from {was}"
            );
            assert_eq!(
                was + created - deleted,
                rows,
                "the events add up to the final state"
            );
            // the API and the engine agree with the database
            let listed = s.get(&format!("{path}?limit=1000")).await.expect(200)["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == role.as_str());
            assert_eq!(listed, rows == 1);
            assert_eq!(check(&s, &user, "docs.publish").await, rows == 1);
            present = rows == 1;
        }
        Arc::into_inner(s).unwrap().stop().await;
    }
);

backend_tests!(
    racing_role_edits_leave_one_written_version,
    |s: TestServer| async move {
        let s = Arc::new(s);
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "edited", "permissions": ["api.users.read"]}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = events(&s, "role.updated").await;
        let choices = [
            "api.users.read",
            "api.groups.read",
            "api.roles.read",
            "api.invites.read",
            "api.projects.read",
            "api.audit_logs.read",
        ];
        // writer i writes a distinct permission set and a description naming it
        let version = move |i: usize| -> (Vec<&'static str>, String) {
            let perms: Vec<&str> = choices
                .iter()
                .enumerate()
                .filter(|(b, _)| (i + 1) & (1 << b) != 0)
                .map(|(_, p)| *p)
                .collect();
            (perms, format!("version {i}"))
        };
        let answers = race(&s, 16, {
            let role = role.clone();
            move |s, i| {
                let role = role.clone();
                async move {
                    let (perms, description) = version(i);
                    s.post(
                        &format!("/v1/organization/roles/{role}"),
                        json!({"permissions": perms, "description": description}),
                    )
                    .await
                }
            }
        })
        .await;
        assert_eq!(count(&answers, 200), 16, "{:?}", statuses(&answers));
        assert_eq!(events(&s, "role.updated").await, before + 16);
        let got = s
            .get(&format!("/v1/organization/roles/{role}"))
            .await
            .expect(200);
        let description = got["description"].as_str().unwrap().to_owned();
        let i: usize = description
            .strip_prefix("version ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a written version: {got}"));
        let mut want: Vec<&str> = version(i).0;
        want.sort_unstable();
        let mut have: Vec<String> = got["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        have.sort_unstable();
        assert_eq!(
            have, want,
            "permissions and description come from one write: {got}"
        );
        // the last event's "after" is the final state
        let last: Value = s
            .get(&format!(
                "/v1/organization/audit_logs?event_types[]=role.updated&resource_ids[]={role}&limit=1"
            ))
            .await
            .expect(200)["data"][0]
            .clone();
        assert!(
            last.to_string().contains(&format!("\"version {i}\"")),
            "the newest event records the final version: {last}"
        );
        Arc::into_inner(s).unwrap().stop().await;
    }
);
