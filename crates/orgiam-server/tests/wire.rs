//! The wire as clients and operators meet it, on SQLite and PostgreSQL: lists page backwards
//! only where the SDK does (and refuse `before` elsewhere), the audit log finds an event by
//! every object it touched and refuses unknown event types, `/docs` needs nothing from the
//! internet, and a too-large body's 413 reaches a client that writes its whole body first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, json};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn provision(s: &TestServer, email: &str, role: &str) -> String {
    s.post(
        "/v1/organization/users",
        json!({"email": email, "name": "N", "role": role}),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {page}"))
        .iter()
        .map(|e| e[field].as_str().unwrap().to_owned())
        .collect()
}

/// The field that is a list item's cursor.
fn cursor_field(path: &str) -> &'static str {
    if path.ends_with("/projects/{project_id}/groups") {
        "group_id"
    } else if path.ends_with("/permissions") && !path.contains("{user_id}") {
        "name"
    } else {
        "id"
    }
}

backend_tests!(
    lists_refuse_before_unless_they_page_backwards,
    |s: TestServer| async move {
        // something in every list
        let user = provision(&s, "pager@example.com", "member").await;
        let group = s
            .post("/v1/organization/groups", json!({"name": "pagers"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/groups/{group}/users"),
            json!({"user_id": user}),
        )
        .await
        .expect(200);
        let project = s
            .post("/v1/organization/projects", json!({"name": "Pages"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/projects/{project}/users"),
            json!({"user_id": user, "role": "member"}),
        )
        .await
        .expect(200);
        let mut roles = Vec::new();
        for name in ["Pager A", "Pager B", "Pager C"] {
            let r = s
                .post(
                    "/v1/organization/roles",
                    json!({"role_name": name, "permissions": ["api.users.read"]}),
                )
                .await
                .expect(200);
            roles.push(r["id"].as_str().unwrap().to_owned());
        }
        for r in &roles {
            s.post(
                &format!("/v1/organization/groups/{group}/roles"),
                json!({"role_id": r}),
            )
            .await
            .expect(200);
        }
        let prole = s
            .post(
                &format!("/v1/projects/{project}/roles"),
                json!({"role_name": "PPager", "permissions": ["api.project.users.read"]}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/projects/{project}/groups"),
            json!({"group_id": group, "role": prole}),
        )
        .await
        .expect(200);
        for path in [
            format!("/v1/projects/{project}/users/{user}/roles"),
            format!("/v1/projects/{project}/groups/{group}/roles"),
        ] {
            s.post(&path, json!({"role_id": prole})).await.expect(200);
        }
        s.post(
            &format!("/v1/organization/users/{user}/api_keys"),
            json!({"name": "k"}),
        )
        .await
        .expect(200);
        for email in ["pi1@example.com", "pi2@example.com"] {
            s.post(
                "/v1/organization/invites",
                json!({"email": email, "role": "reader"}),
            )
            .await
            .expect(200);
        }
        let hook = s
            .post(
                "/v1/organization/webhooks",
                json!({"url": "https://hooks.example.com/orgiam"}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // a change after the webhook: one delivery to list
        s.post("/v1/organization/scim_tokens", json!({"name": "idp"}))
            .await
            .expect(200);
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        let mut lists = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            let Some(get) = item.get("get") else { continue };
            let params: Vec<&str> = get["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            if !params.contains(&"after") || path.starts_with("/v1/platform/") {
                // platform lists take the root or a platform key: tests/platform.rs pages them
                continue;
            }
            lists += 1;
            let url = path
                .replace("{user_id}", &user)
                .replace("{group_id}", &group)
                .replace("{project_id}", &project)
                .replace("{permission}", "api.users.read")
                .replace("{webhook_id}", &hook);
            // every item at once (each of these lists allows 100 a page)
            let first = s.get(&format!("{url}?limit=100")).await.expect(200);
            let field = cursor_field(path);
            let all = ids(&first, field);
            assert!(!all.is_empty(), "{url} lists nothing");
            let pivot = all[all.len() / 2].clone();
            let before = s.get(&format!("{url}?before={pivot}&limit=2")).await;
            if params.contains(&"before") {
                // newest first (the audit log): `before` is the page just newer than it
                let page = before.expect(200);
                let got = ids(&page, field);
                let at = all.iter().position(|x| *x == pivot).unwrap();
                assert_eq!(got, all[at.saturating_sub(2)..at].to_vec(), "{url}");
            } else {
                assert_eq!(before.status, 400, "{url}?before= answered {}", before.body);
                assert_eq!(before.error("param"), "before", "{url}");
            }
            if path == "/v1/organization/events" {
                // the change feed pages by revision, not by item id: its paging is tested
                // with the feed (tests/python/test_webhooks.py)
                continue;
            }
            // forwards in each order the list has: page by page, every item once, and
            // descending is ascending reversed
            let walk = |order: &'static str| {
                let s = &s;
                let url = url.clone();
                async move {
                    let mut out: Vec<String> = Vec::new();
                    let mut q = String::new();
                    loop {
                        let page = s.get(&format!("{url}?limit=1{order}{q}")).await.expect(200);
                        let got = ids(&page, field);
                        out.extend(got.iter().cloned());
                        if page["has_more"] != true || got.is_empty() {
                            return out;
                        }
                        q = format!("&after={}", got[0]);
                    }
                }
            };
            if params.contains(&"order") {
                let asc = walk("&order=asc").await;
                let mut desc = walk("&order=desc").await;
                desc.reverse();
                assert_eq!(asc, desc, "{url}");
                assert!(!asc.is_empty(), "{url}");
            } else {
                assert_eq!(walk("").await, all, "{url}");
            }
        }
        assert!(lists >= 15, "only {lists} lists found in /openapi.json");
    }
);

backend_tests!(
    audit_events_are_found_by_every_object_they_touch,
    |s: TestServer| async move {
        let user = provision(&s, "touched@example.com", "member").await;
        let role = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Touching", "permissions": ["api.users.read"]}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/users/{user}/roles"),
            json!({"role_id": role}),
        )
        .await
        .expect(200);
        let group = s
            .post("/v1/organization/groups", json!({"name": "touchers"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/groups/{group}/users"),
            json!({"user_id": user}),
        )
        .await
        .expect(200);
        let project = s
            .post("/v1/organization/projects", json!({"name": "Touched"}))
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.post(
            &format!("/v1/organization/projects/{project}/users"),
            json!({"user_id": user, "role": "member"}),
        )
        .await
        .expect(200);
        let key = s
            .post(
                &format!("/v1/organization/users/{user}/api_keys"),
                json!({"name": "k"}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let invite = s
            .post(
                "/v1/organization/invites",
                json!({"email": "touch-invitee@example.com", "role": "reader"}),
            )
            .await
            .expect(200)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let types = |q: String| {
            let s = &s;
            async move {
                let page = s
                    .get(&format!("/v1/organization/audit_logs?limit=100&{q}"))
                    .await
                    .expect(200);
                let mut t = ids(&page, "type");
                t.sort();
                t
            }
        };
        let by_user = types(format!("resource_ids[]={user}")).await;
        for t in [
            "user.added",
            "role.assignment.created",
            "group.user.added",
            "project.user.added",
            "api_key.created",
        ] {
            assert!(by_user.contains(&t.to_owned()), "{t} not in {by_user:?}");
        }
        assert!(!by_user.contains(&"invite.sent".to_owned()));
        assert_eq!(
            types(format!("resource_ids[]={role}")).await,
            ["role.assignment.created", "role.created"]
        );
        assert_eq!(
            types(format!("resource_ids[]={group}")).await,
            ["group.created", "group.user.added"]
        );
        assert_eq!(
            types(format!("resource_ids[]={project}")).await,
            ["project.created", "project.user.added"]
        );
        assert_eq!(
            types(format!("resource_ids[]={key}")).await,
            ["api_key.created"]
        );
        assert_eq!(
            types(format!("resource_ids[]={invite}")).await,
            ["invite.sent"]
        );
        // with other filters, and several ids at once
        assert_eq!(
            types(format!(
                "resource_ids[]={user}&event_types[]=role.assignment.created"
            ))
            .await,
            ["role.assignment.created"]
        );
        assert_eq!(
            types(format!("resource_ids[]={key}&resource_ids[]={invite}")).await,
            ["api_key.created", "invite.sent"]
        );

        // an event type orgiam never writes is a 400 that says so; a known one is fine
        let bad = s
            .get("/v1/organization/audit_logs?event_types[]=no.such.type")
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert_eq!(bad.error("param"), "event_types");
        assert!(
            bad.error("message")
                .as_str()
                .unwrap()
                .contains("no.such.type")
        );
        s.get("/v1/organization/audit_logs?event_types[]=group.user.added")
            .await
            .expect(200);
    }
);

backend_tests!(docs_page_needs_no_internet, |s: TestServer| async move {
    let res = s.http.get(format!("{}/docs", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(
        !html.to_lowercase().contains("<script"),
        "a script on /docs"
    );
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!html.contains(attr), "/docs loads {attr}…");
    }
    // every operation of the document is on the page, by path and operationId
    let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(html.contains(id), "{id} missing from /docs");
                assert!(html.contains(path.as_str()), "{path} missing from /docs");
            }
        }
    }
});

backend_tests!(
    a_too_large_body_gets_a_readable_413,
    |s: TestServer| async move {
        // as Python's urllib sends it: headers, then the whole 12 MiB body, then it reads
        let body = vec![b' '; 12 * 1024 * 1024];
        let addr = s.base.trim_start_matches("http://").to_owned();
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/organization/roles HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            s.admin_key,
            body.len()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&body)
            .await
            .expect("the server reads the body it refuses");
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer)
            .await
            .expect("the answer is readable");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(
            answer.contains("\"code\":\"payload_too_large\"")
                || answer.contains("payload_too_large"),
            "{answer}"
        );
        // nothing was written, and the server still answers
        s.get("/v1/organization/roles").await.expect(200);
    }
);

backend_tests!(
    a_conflict_is_answered_once_the_winner_is_durable,
    |s: TestServer| async move {
        // a reader of committed rows only: its own connection to the database
        sqlx::any::install_default_drivers();
        let mut reader = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url)
            .await
            .unwrap();
        let mut conflicts = 0;
        for round in 0..30 {
            let name = format!("Contested {round}");
            let tries = (0..8).map(|_| {
                let s = &s;
                let name = name.clone();
                async move {
                    s.post(
                        "/v1/organization/roles",
                        json!({"role_name": name, "permissions": ["api.users.read"]}),
                    )
                    .await
                }
            });
            let mut pending: futures_unordered::Pending<_> = tries.collect();
            let mut won = 0;
            while let Some(a) = pending.next().await {
                match a.status {
                    200 => won += 1,
                    409 => {
                        conflicts += 1;
                        // the row it conflicted with is durable by the time the 409 arrives
                        let n: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE name = $1")
                                .bind(&name)
                                .fetch_one(&mut reader)
                                .await
                                .unwrap();
                        assert_eq!(n, 1, "a 409 for '{name}' before the winner was committed");
                    }
                    other => panic!("{other}: {}", a.body),
                }
            }
            assert_eq!(won, 1, "{name}");
        }
        assert!(conflicts >= 30 * 7);
    }
);

/// Runs futures concurrently and yields their outputs as they finish (a small stand-in for
/// `FuturesUnordered`: few futures, each polled on every wake-up).
mod futures_unordered {
    use std::future::Future;
    use std::pin::Pin;

    pub struct Pending<'a, T> {
        futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>,
    }

    impl<'a, T, F: Future<Output = T> + Send + 'a> FromIterator<F> for Pending<'a, T> {
        fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
            Pending {
                futures: iter
                    .into_iter()
                    .map(|f| Box::pin(f) as Pin<Box<dyn Future<Output = T> + Send + 'a>>)
                    .collect(),
            }
        }
    }

    impl<T> Pending<'_, T> {
        pub async fn next(&mut self) -> Option<T> {
            if self.futures.is_empty() {
                return None;
            }
            let (out, i) = std::future::poll_fn(|cx| {
                for (i, f) in self.futures.iter_mut().enumerate() {
                    if let std::task::Poll::Ready(out) = f.as_mut().poll(cx) {
                        return std::task::Poll::Ready((out, i));
                    }
                }
                std::task::Poll::Pending
            })
            .await;
            drop(self.futures.swap_remove(i));
            Some(out)
        }
    }
}

backend_tests!(
    a_cold_load_cut_off_is_kept_for_the_next_request,
    |s: TestServer| async move {
        let engine = s.server.as_ref().unwrap().engine.clone();
        let org = orgiam_core::ids::OrgId::parse(&s.org_id).unwrap();
        assert_eq!(engine.memory().1, 0, "start-up loads no organization");
        // the request that started the load is cut off at once (as the request timeout does)
        let cut = tokio::time::timeout(
            std::time::Duration::from_micros(1),
            engine.snapshot(&org, 0),
        )
        .await;
        assert!(cut.is_err(), "the load finished within a microsecond");
        // the load runs on and publishes its snapshot, without any other request
        let mut loaded = false;
        for _ in 0..200 {
            if engine.memory().1 == 1 {
                loaded = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(loaded, "the cut-off load was thrown away");
        s.get("/v1/organization/roles").await.expect(200);
    }
);
