//! Group commit (SQLite's write lane) keeps every write's own guarantees: concurrent writes
//! where some fail leave exactly the successes, each with one revision and one audit event; a
//! write dropped mid-transaction leaves nothing and does not wedge the writer; a write whose
//! commit was requested is committed even if its caller goes away. On both engines where the
//! behaviour is shared; the lane's own scheduling is tested on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use orgiam_core::ids::OrgId;
use orgiam_store::{ActorRef, AuditEvent, Store};
use orgiam_testkit::{Backend, TestServer, backend_tests, db_scalar, json};

fn org(s: &TestServer) -> OrgId {
    OrgId::from_trusted(s.org_id.clone())
}

async fn scalar(s: &TestServer, sql: &str) -> i64 {
    db_scalar(&s.db.url, sql).await
}

fn event(resource: &str) -> AuditEvent {
    AuditEvent {
        event_type: "test.write",
        resource_id: resource.to_owned(),
        project_id: None,
        payload: json!({ "id": resource }),
    }
}

/// Waits (up to 10 s) until the committed revision of `org` reaches `revision`.
async fn revision_reaches(store: &Store, org: &OrgId, revision: i64) {
    for _ in 0..1000 {
        if store.org_revision(org).await.unwrap() >= revision {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the revision of {org:?} never reached {revision}");
}

backend_tests!(
    racing_writes_where_some_fail_leave_exactly_the_successes,
    |s: TestServer| async move {
        let s = Arc::new(s);
        let org = org(&s);
        let start = s.store().org_revision(&org).await.unwrap();
        // 48 writers, 16 names each tried three times: the duplicates fail on the unique
        // index after their revision bump, inside the shared batch
        let gate = Arc::new(tokio::sync::Barrier::new(48));
        let mut tasks = Vec::new();
        for i in 0..48 {
            let (s, gate, org) = (s.clone(), gate.clone(), org.clone());
            tasks.push(tokio::spawn(async move {
                gate.wait().await;
                let name = format!("team {}", i % 16);
                (
                    name.clone(),
                    s.store().create_group(&ActorRef::System, &org, &name).await,
                )
            }));
        }
        let mut revisions = BTreeSet::new();
        let mut won = BTreeSet::new();
        let mut failures = 0;
        for t in tasks {
            match t.await.unwrap() {
                (name, Ok((group, revision))) => {
                    assert!(won.insert(name), "two writers created one name");
                    assert!(
                        revisions.insert(revision),
                        "revision {revision} given twice"
                    );
                    let got = s.store().get_group(&org, group.id.as_str()).await.unwrap();
                    assert_eq!(got.name, group.name);
                }
                (_, Err(e)) => {
                    assert_eq!(e.code, "group_name_taken", "{e:?}");
                    failures += 1;
                }
            }
        }
        assert_eq!(won.len(), 16);
        assert_eq!(failures, 32);
        // the successes took the next 16 revisions, no gap, none for a failure
        let expected: BTreeSet<i64> = (start + 1..=start + 16).collect();
        assert_eq!(revisions, expected);
        assert_eq!(s.store().org_revision(&org).await.unwrap(), start + 16);
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM org_groups WHERE name LIKE 'team %'"
            )
            .await,
            16
        );
        // one event per success, each about a group that exists: no failure left its event
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM audit_events WHERE type = 'group.created'"
            )
            .await,
            16
        );
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM audit_events a WHERE a.type = 'group.created' \
                 AND NOT EXISTS (SELECT 1 FROM org_groups g WHERE g.id = a.resource_id)"
            )
            .await,
            0
        );
        Arc::into_inner(s).unwrap().stop().await;
    }
);

backend_tests!(
    concurrent_role_grants_over_http_where_some_fail_land_exactly,
    |s: TestServer| async move {
        let s = Arc::new(s);
        let org = org(&s);
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "grant racer", "permissions": ["api.users.read"]}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut users = Vec::new();
        for i in 0..16 {
            let b = s
                .post(
                    "/v1/organization/users",
                    json!({"email": format!("g{i}@example.com"), "role": "member"}),
                )
                .await
                .expect(200);
            users.push(b["id"].as_str().unwrap().to_owned());
        }
        let start = s.store().org_revision(&org).await.unwrap();
        let before = scalar(&s, "SELECT COUNT(*) FROM role_assignments").await;
        // 32 clients: each user granted the real role once, and a missing role once (404
        // after the revision bump)
        let gate = Arc::new(tokio::sync::Barrier::new(32));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (s, gate) = (s.clone(), gate.clone());
            let user = users[i % 16].clone();
            let role = if i < 16 {
                role.clone()
            } else {
                "role_00000000000000000000000000".to_owned()
            };
            tasks.push(tokio::spawn(async move {
                gate.wait().await;
                let a = s
                    .post(
                        &format!("/v1/organization/users/{user}/roles"),
                        json!({ "role_id": role }),
                    )
                    .await;
                (i, a.status)
            }));
        }
        for t in tasks {
            let (i, status) = t.await.unwrap();
            assert_eq!(status, if i < 16 { 200 } else { 404 }, "client {i}");
        }
        for user in &users {
            let roles = s
                .get(&format!("/v1/organization/users/{user}/roles"))
                .await
                .expect(200);
            let ids: Vec<&str> = roles["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["id"].as_str())
                .collect();
            assert!(ids.contains(&role.as_str()), "{user}: {roles}");
        }
        assert_eq!(
            scalar(&s, "SELECT COUNT(*) FROM role_assignments").await,
            before + 16
        );
        assert_eq!(s.store().org_revision(&org).await.unwrap(), start + 16);
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM audit_events WHERE type = 'role.assignment.created'"
            )
            .await,
            16
        );
        Arc::into_inner(s).unwrap().stop().await;
    }
);

backend_tests!(
    a_write_dropped_before_commit_leaves_nothing_and_frees_the_writer,
    |s: TestServer| async move {
        let store = s.store().clone();
        let org = org(&s);
        let start = store.org_revision(&org).await.unwrap();
        let held = store.begin_write(&org).await.unwrap();
        assert_eq!(held.revision, start + 1);
        // a second write waits behind the open one (the lane on SQLite, the row lock on
        // PostgreSQL) ...
        let (store2, org2) = (store.clone(), org.clone());
        let next = tokio::spawn(async move {
            store2
                .create_group(&ActorRef::System, &org2, "after the drop")
                .await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!next.is_finished(), "a write ran beside an open one");
        // ... until the open one is dropped: its revision bump is undone and the next write
        // gets the same revision
        drop(held);
        let (_, revision) = tokio::time::timeout(Duration::from_secs(10), next)
            .await
            .expect("the writer was freed")
            .unwrap()
            .unwrap();
        assert_eq!(revision, start + 1);
        // a write that tries to commit without its audit event fails and leaves nothing
        let w = store.begin_write(&org).await.unwrap();
        assert!(w.commit().await.is_err());
        let (_, revision) = store
            .create_group(&ActorRef::System, &org, "after the refusal")
            .await
            .unwrap();
        assert_eq!(revision, start + 2);
        assert_eq!(store.org_revision(&org).await.unwrap(), start + 2);
        s.stop().await;
    }
);

backend_tests!(
    writes_cut_off_by_timeouts_are_whole_or_absent,
    |s: TestServer| async move {
        let store = s.store().clone();
        let org = org(&s);
        let start = store.org_revision(&org).await.unwrap();
        // timeouts from 0 to ~3 ms cut writes off at every step: waiting for the writer,
        // inside their statements, and waiting for the commit; four streams at once, so the
        // cut writes share batches with writes that succeed
        let mut streams = Vec::new();
        for stream in 0..4u64 {
            let (store, org) = (store.clone(), org.clone());
            streams.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..60u64 {
                    let name = format!("cut {stream}.{i}");
                    let write = store.create_group(&ActorRef::System, &org, &name);
                    let limit = Duration::from_micros(((i * 7 + stream * 13) % 60) * 50);
                    match tokio::time::timeout(limit, write).await {
                        Ok(Ok((group, _))) => acknowledged.push(group.id),
                        Ok(Err(e)) => panic!("write {stream}.{i} failed: {e:?}"),
                        Err(_) => {}
                    }
                }
                acknowledged
            }));
        }
        let mut acknowledged = Vec::new();
        for s in streams {
            acknowledged.extend(s.await.unwrap());
        }
        // the writer is not wedged: a write after them all succeeds
        let (last, revision) = tokio::time::timeout(
            Duration::from_secs(10),
            store.create_group(&ActorRef::System, &org, "after the cuts"),
        )
        .await
        .expect("the writer is not wedged")
        .unwrap();
        revision_reaches(&store, &org, revision).await;
        for id in &acknowledged {
            store.get_group(&org, id.as_str()).await.unwrap();
        }
        store.get_group(&org, last.id.as_str()).await.unwrap();
        // every group that exists has its one event and its one revision; nothing else
        // (no event without its group, no revision without a write) was left behind
        let groups = scalar(
            &s,
            "SELECT COUNT(*) FROM org_groups WHERE name LIKE '%cut%'",
        )
        .await;
        assert!(
            groups > acknowledged.len() as i64,
            "the last write counts too"
        );
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM audit_events WHERE type = 'group.created'"
            )
            .await,
            groups
        );
        assert_eq!(
            scalar(
                &s,
                "SELECT COUNT(*) FROM audit_events a WHERE a.type = 'group.created' \
                 AND NOT EXISTS (SELECT 1 FROM org_groups g WHERE g.id = a.resource_id)"
            )
            .await,
            0
        );
        assert_eq!(revision, start + groups);
        assert_eq!(store.org_revision(&org).await.unwrap(), start + groups);
        s.stop().await;
    }
);

/// SQLite: a write whose caller went away after asking to commit is committed by the next
/// writer's batch, or on its own when no writer comes, and its commit hook still fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_requested_commit_survives_its_caller() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let store = s.store().clone();
    let org = org(&s);
    let start = store.org_revision(&org).await.unwrap();

    // alone: the caller polls the commit once and goes away
    let mut w = store.begin_write(&org).await.unwrap();
    w.audit(&ActorRef::System, event("alone")).await.unwrap();
    let _ = tokio::time::timeout(Duration::ZERO, w.commit()).await;
    revision_reaches(&store, &org, start + 1).await;

    // beside a second writer that queued for the lane first: the dropped write is released
    // into the batch the second writer joins, and committed with it, not before
    let mut w1 = store.begin_write(&org).await.unwrap();
    w1.audit(&ActorRef::System, event("dropped")).await.unwrap();
    let (store2, org2) = (store.clone(), org.clone());
    let second = tokio::spawn(async move { store2.begin_write(&org2).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = tokio::time::timeout(Duration::ZERO, w1.commit()).await;
    let mut w2 = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second writer got the lane")
        .unwrap()
        .unwrap();
    assert_eq!(w2.revision, start + 3);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.org_revision(&org).await.unwrap(),
        start + 1,
        "the batch was committed while a writer of it was still running"
    );
    w2.audit(&ActorRef::System, event("second")).await.unwrap();
    assert_eq!(w2.commit().await.unwrap(), start + 3);
    assert_eq!(store.org_revision(&org).await.unwrap(), start + 3);
    assert_eq!(
        scalar(
            &s,
            "SELECT COUNT(*) FROM audit_events WHERE type = 'test.write'"
        )
        .await,
        3
    );
    s.stop().await;
}

// "Already a member" is an answer drawn from what the write saw, which on SQLite may be a
// batch-mate's membership that is not committed yet: it is given only once that is durable,
// with a revision at least the membership's own.
backend_tests!(
    racing_adds_of_one_member_answer_after_the_add_is_durable,
    |s: TestServer| async move {
        let s = Arc::new(s);
        for round in 0..4 {
            let group = s
                .post(
                    "/v1/organization/groups",
                    json!({"name": format!("racers {round}")}),
                )
                .await
                .expect(200)["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let user = s
                .post(
                    "/v1/organization/users",
                    json!({"email": format!("r{round}@example.com"), "role": "member"}),
                )
                .await
                .expect(200)["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let mut racers = Vec::new();
            for _ in 0..12 {
                let (s, group, user) = (s.clone(), group.clone(), user.clone());
                racers.push(tokio::spawn(async move {
                    let a = s
                        .post(
                            &format!("/v1/organization/groups/{group}/users"),
                            json!({"user_id": user}),
                        )
                        .await;
                    let rev: i64 = a.headers["orgiam-revision"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    (a.expect(200), rev)
                }));
            }
            let mut answers = Vec::new();
            for r in racers {
                answers.push(r.await.unwrap());
            }
            let members = scalar(
                &s,
                &format!("SELECT COUNT(*) FROM group_members WHERE group_id = '{group}'"),
            )
            .await;
            assert_eq!(members, 1, "one membership");
            // the add is the round's only change (the others undo their revision bumps), so
            // every answer, the add's and the "already a member"s, is at the revision after it
            let after = s.store().org_revision(&org(&s)).await.unwrap();
            for (_, rev) in &answers {
                assert_eq!(*rev, after, "an answer before the add it saw was durable");
            }
        }
        Arc::try_unwrap(s).ok().unwrap().stop().await;
    }
);
