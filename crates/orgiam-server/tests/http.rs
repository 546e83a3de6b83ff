//! The HTTP layer's contract: error shapes, bodies, limits, operator routes and storage
//! settings, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};

backend_tests!(
    bad_bodies_are_400s_that_name_the_field_and_write_nothing,
    |s: TestServer| async move {
        let key = s.admin_key.clone();
        let before = db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await;
        let cases: Vec<(Vec<u8>, &str, &str)> = vec![
            (b"{".to_vec(), "invalid_json", "body"),
            (b"not json".to_vec(), "invalid_json", "body"),
            (b"[1,2]".to_vec(), "invalid_body", "body"),
            (
                br#"{"permissions": []}"#.to_vec(),
                "invalid_request",
                "role_name",
            ),
            (
                br#"{"role_name": 5, "permissions": []}"#.to_vec(),
                "invalid_request",
                "role_name",
            ),
            (
                br#"{"role_name": "x", "permissions": "api.users.read"}"#.to_vec(),
                "invalid_request",
                "permissions",
            ),
            (
                br#"{"role_name": "x", "permissions": [1]}"#.to_vec(),
                "invalid_request",
                "permissions[0]",
            ),
            (
                br#"{"role_name": "", "permissions": []}"#.to_vec(),
                "invalid_request",
                "role_name",
            ),
            (
                br#"{"role_name": "a\u0000b", "permissions": []}"#.to_vec(),
                "invalid_request",
                "role_name",
            ),
            (
                vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
                "invalid_json",
                "body",
            ),
        ];
        for (body, code, param) in cases {
            let a = s
                .raw("POST", "/v1/organization/roles", &key, body.clone())
                .await;
            assert_eq!(
                a.status,
                400,
                "{}: {}",
                String::from_utf8_lossy(&body),
                a.body
            );
            assert_eq!(a.error("code"), code, "{}", String::from_utf8_lossy(&body));
            assert_eq!(
                a.error("param"),
                param,
                "{}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(a.error("type"), "invalid_request_error");
            assert_eq!(a.headers["x-should-retry"], "false");
        }
        let long = "é".repeat(257);
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": long, "permissions": []}),
            )
            .await;
        assert_eq!(a.status, 400);
        assert!(a.error("message").as_str().unwrap().contains("256"));
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "d", "permissions": [], "description": "x".repeat(4097)}),
            )
            .await;
        assert_eq!(a.error("param"), "description");
        let a = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "m", "permissions": [], "metadata": {"k": "x".repeat(17000)}}),
            )
            .await;
        assert_eq!(a.error("param"), "metadata");
        // unicode is fine where it is valid
        let ok = s
            .post(
                "/v1/organization/roles",
                json!({"role_name": "Équipe 東京 🚀", "permissions": []}),
            )
            .await
            .expect(200);
        assert_eq!(ok["name"], "Équipe 東京 🚀");
        let after = db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await;
        assert_eq!(after, before + 1, "only the valid create wrote");
        s.stop().await;
    }
);

backend_tests!(oversized_bodies_are_413, |s: TestServer| async move {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // a client that declares 12 MiB and starts sending: the answer is a 413 in our shape
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        s.admin_key,
        12 * 1024 * 1024
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let _ = tcp
        .write_all(br#"{"role_name": "big", "permissions": [], "description": ""#)
        .await;
    let _ = tcp.write_all(&vec![b'a'; 64 * 1024]).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    // a chunked body (no declared length) is counted and cut at the limit
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/organization/roles HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        s.admin_key
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 256 * 1024];
    for _ in 0..8 {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if tcp.write_all(&framed).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(
        db_scalar(
            &s.db.url,
            "SELECT COUNT(*) FROM roles WHERE name_key = 'big'"
        )
        .await,
        0
    );
    s.stop().await;
});

backend_tests!(
    operator_routes_and_unknown_routes,
    |s: TestServer| async move {
        assert_eq!(
            s.call("GET", "/healthz", None, None).await.expect(200)["status"],
            "ok"
        );
        assert_eq!(
            s.call("GET", "/readyz", None, None).await.expect(200)["status"],
            "ready"
        );
        let doc = s.call("GET", "/openapi.json", None, None).await.expect(200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        // every native route the router serves is in the document
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/v1/organizations",
            "/v1/organization/roles",
            "/v1/organization/roles/{role_id}",
            "/v1/organization/users",
            "/v1/organization/users/{user_id}",
            "/v1/organization/users/{user_id}/roles",
            "/v1/organization/users/{user_id}/roles/{role_id}",
        ] {
            assert!(paths.contains_key(p), "{p} missing from /openapi.json");
        }
        let docs = s.http.get(format!("{}/docs", s.base)).send().await.unwrap();
        assert_eq!(docs.status(), 200);
        assert!(docs.text().await.unwrap().contains("/openapi.json"));
        s.get("/v1/organization/roles").await.expect(200);
        let metrics = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("orgiam_http_requests_total"), "{metrics}");
        let nf = s.get("/v1/nowhere").await;
        assert_eq!(nf.status, 404);
        assert_eq!(nf.error("code"), "unknown_route");
        let na = s
            .call(
                "PUT",
                "/v1/organization/roles",
                Some(&s.admin_key.clone()),
                None,
            )
            .await;
        assert_eq!(na.status, 405);
        assert_eq!(na.error("code"), "method_not_allowed");
        assert_eq!(na.headers["allow"], "GET,HEAD,POST");
        assert_eq!(nf.headers["x-content-type-options"], "nosniff");
        s.stop().await;
    }
);

#[tokio::test]
async fn sqlite_commits_are_durable_by_default() {
    let s = TestServer::start(orgiam_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let (mode, sync, fk) = s.store().sqlite_settings().await.unwrap().unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
    assert_eq!(fk, 1);
    s.stop().await;
}
