//! Test kit: starts the real orgiam server on a free loopback port, on a fresh SQLite file or a
//! fresh PostgreSQL database, and talks to it over HTTP.
//!
//! PostgreSQL comes from `ORGIAM_TEST_POSTGRES_URL` (an admin URL; each server gets its own new
//! database). Without it, PostgreSQL tests are skipped with a line on stderr, unless
//! `ORGIAM_REQUIRE_POSTGRES=1`, which makes them fail instead (the full test script sets it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orgiam_server::{ServeConfig, Server};
use serde_json::Value;
use sqlx::Connection as _;

pub use serde_json::json;

/// The database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL at `ORGIAM_TEST_POSTGRES_URL`.
    Postgres,
}

/// The domain's tables (every table the migrations make but the engine's change log and the
/// migrations' own), for tests that count rows or inspect plans.
pub const DOMAIN_TABLES: &[&str] = &[
    "organizations",
    "users",
    "memberships",
    "projects",
    "project_members",
    "org_groups",
    "group_members",
    "project_groups",
    "permissions",
    "roles",
    "role_permissions",
    "role_assignments",
    "invitations",
    "invitation_projects",
    "api_keys",
    "audit_events",
    "audit_event_resources",
    "scim_tokens",
    "scim_users",
    "scim_groups",
];

/// The root key every test server is started with.
pub const ROOT_KEY: &str = "sk-root-test-0123456789abcdefghijklmnopqrstuvwxyz";

/// A database for a test server; the SQLite temp dir lives as long as this value.
pub struct TestDb {
    /// The URL to give `--database`.
    pub url: String,
    /// Which engine.
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

/// Makes a fresh database, or `None` (after printing why) when PostgreSQL is not configured
/// and not required.
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("orgiam.db").display());
            Some(TestDb {
                url,
                backend,
                _dir: Some(dir),
            })
        }
        Backend::Postgres => {
            let Ok(admin) = std::env::var("ORGIAM_TEST_POSTGRES_URL") else {
                if std::env::var("ORGIAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                    panic!("ORGIAM_REQUIRE_POSTGRES=1 but ORGIAM_TEST_POSTGRES_URL is not set");
                }
                eprintln!(
                    "SKIPPED (postgres): ORGIAM_TEST_POSTGRES_URL is not set; run scripts/test.sh for the PostgreSQL suite"
                );
                return None;
            };
            let name = format!("orgiam_t_{}", ulid::Ulid::new().to_string().to_lowercase());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            let base = match admin.rfind('/') {
                Some(i) if i > "postgres://".len() => &admin[..i],
                _ => admin.as_str(),
            };
            let query = admin.find('?').map(|i| &admin[i..]).unwrap_or("");
            Some(TestDb {
                url: format!("{base}/{name}{query}"),
                backend,
                _dir: None,
            })
        }
    }
}

/// A running server and a client for it.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The bootstrap organization's id.
    pub org_id: String,
    /// The bootstrap owner's user id.
    pub owner_id: String,
    /// The bootstrap owner's admin key.
    pub admin_key: String,
    /// The running server.
    pub server: Option<Server>,
    /// Its database (kept alive).
    pub db: TestDb,
    /// HTTP client.
    pub http: reqwest::Client,
}

/// An HTTP answer: status, headers and JSON body (`Value::Null` if not JSON).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Parsed body.
    pub body: Value,
}

impl Answer {
    /// Asserts the status, printing the body on mismatch; returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// The error object's field (`message`, `param`, `code`, `type`).
    pub fn error(&self, field: &str) -> Value {
        self.body["error"][field].clone()
    }
}

impl TestServer {
    /// Starts a server on `backend`, or `None` if that backend is skipped.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        let db = fresh_db(backend).await?;
        Some(Self::start_on(db, |_| {}).await)
    }

    /// Starts a server on `db` with a configuration tweak.
    pub async fn start_on(db: TestDb, tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let mut config = ServeConfig::new(db.url.clone());
        config.listen = "127.0.0.1:0".into();
        config.root_key = Some(ROOT_KEY.into());
        tweak(&mut config);
        let server = orgiam_server::start(config).await.expect("server starts");
        let b = server
            .bootstrap
            .as_ref()
            .expect("a fresh database bootstraps an organization");
        let (org_id, owner_id, admin_key) = (
            b.organization.id.to_string(),
            b.owner.user_id.to_string(),
            b.secret.clone(),
        );
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestServer {
            base,
            org_id,
            owner_id,
            admin_key,
            server: Some(server),
            db,
            http,
        }
    }

    /// A second server process on the same database (as another machine would run it), with
    /// this one's organization and admin key.
    pub async fn another_process(&self) -> TestServer {
        let mut config = ServeConfig::new(self.db.url.clone());
        config.listen = "127.0.0.1:0".into();
        config.root_key = Some(ROOT_KEY.into());
        let server = orgiam_server::start(config)
            .await
            .expect("second server starts");
        assert!(
            server.bootstrap.is_none(),
            "a used database is not bootstrapped again"
        );
        let base = format!("http://{}", server.addr);
        TestServer {
            base,
            org_id: self.org_id.clone(),
            owner_id: self.owner_id.clone(),
            admin_key: self.admin_key.clone(),
            server: Some(server),
            db: TestDb {
                url: self.db.url.clone(),
                backend: self.db.backend,
                _dir: None,
            },
            http: self.http.clone(),
        }
    }

    /// The store behind the server.
    pub fn store(&self) -> &orgiam_store::Store {
        &self.server.as_ref().unwrap().store
    }

    /// Sends a request with `key` (Bearer) and an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.unwrap()).await
    }

    /// Sends raw bytes as the body.
    pub async fn raw(&self, method: &str, path: &str, key: &str, body: Vec<u8>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        Self::answer(req.send().await.unwrap()).await
    }

    async fn answer(res: reqwest::Response) -> Answer {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// GET with the bootstrap admin key.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, Some(&self.admin_key.clone()), None)
            .await
    }

    /// GET with `key` in `header`: `authorization` (as a bearer token), or a header such as
    /// `x-api-key` that carries the bare key, as the dialects' clients send it.
    pub async fn get_with_key_in(&self, path: &str, header: &str, key: &str) -> reqwest::Response {
        let value = if header.eq_ignore_ascii_case("authorization") {
            format!("Bearer {key}")
        } else {
            key.to_owned()
        };
        self.http
            .get(format!("{}{path}", self.base))
            .header(header, value)
            .send()
            .await
            .unwrap()
    }

    /// POST with the bootstrap admin key.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(&self.admin_key.clone()), Some(body))
            .await
    }

    /// DELETE with the bootstrap admin key.
    pub async fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, Some(&self.admin_key.clone()), None)
            .await
    }

    /// Creates another organization through the platform route; returns (org id, owner id,
    /// admin key).
    pub async fn new_org(&self, name: &str, owner_email: &str) -> (String, String, String) {
        let b = self
            .call(
                "POST",
                "/v1/organizations",
                Some(ROOT_KEY),
                Some(json!({ "name": name, "owner_email": owner_email, "owner_name": "Owner" })),
            )
            .await
            .expect(200);
        (
            b["id"].as_str().unwrap().to_owned(),
            b["owner"]["id"].as_str().unwrap().to_owned(),
            b["admin_api_key"]["value"].as_str().unwrap().to_owned(),
        )
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Runs an async test body against SQLite and PostgreSQL: `backend_tests!(name, |s| async move {…})`
/// makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(s) = $crate::TestServer::start($crate::Backend::Sqlite).await {
                    ($body)(s).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(s) = $crate::TestServer::start($crate::Backend::Postgres).await {
                    ($body)(s).await;
                }
            }
        }
    };
}

/// Runs a scalar SQL query directly on a test database (for checks the API cannot make, such
/// as "no orphan rows" or "one audit event per write").
pub async fn db_scalar(url: &str, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    v
}

/// Runs a one-text-column SQL query directly on a test database.
pub async fn db_strings(url: &str, sql: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let v: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    v
}

/// A running `orgiam serve` process (the real binary), its address, its bootstrap admin key
/// and everything it wrote to stderr so far.
pub struct BinaryServer {
    /// The process; killed if this value is dropped.
    pub child: tokio::process::Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The admin key printed on first start (`None` on a used database).
    pub admin_key: Option<String>,
    /// stdout lines so far.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// stderr lines so far.
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Starts the `orgiam` binary at `bin` (an integration test's `env!("CARGO_BIN_EXE_orgiam")`)
/// with `serve --listen 127.0.0.1:0 --database URL`, `extra` arguments and `env` variables,
/// and waits until it listens.
pub async fn spawn_binary(
    bin: &str,
    db: &TestDb,
    extra: &[&str],
    env: &[(&str, &str)],
) -> BinaryServer {
    use tokio::io::AsyncBufReadExt as _;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db.url,
        "--log-format",
        "text",
    ])
    .args(extra)
    .env("ORGIAM_ROOT_KEY", ROOT_KEY)
    .env_remove("ORGIAM_LOG")
    .envs(env.iter().copied())
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().expect("the orgiam binary starts");
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    {
        let stdout = stdout.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                stdout.lock().unwrap().push(l);
            }
        });
    }
    {
        let stderr = stderr.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if l.contains("listening") {
                    let _ = tx.send(l.clone());
                }
                stderr.lock().unwrap().push(l);
            }
        });
    }
    let line = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the binary listens within a minute")
        .unwrap_or_else(|| panic!("the binary exited: {:?}", stderr.lock().unwrap()));
    let addr = line
        .split("address=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // the bootstrap lines are printed before the listening line; give the reader (a task that
    // a loaded machine may schedule late) a few seconds; a restart prints none
    let mut admin_key = None;
    for _ in 0..150 {
        admin_key = stdout
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.split("store it now): ").nth(1).map(str::to_owned));
        if admin_key.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    BinaryServer {
        child,
        base: format!("http://{addr}"),
        addr,
        admin_key,
        stdout,
        stderr,
    }
}

impl BinaryServer {
    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the process is running");
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -TERM {pid}");
    }

    /// Sends SIGKILL and reaps the process.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// Waits for the process to exit; its status.
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the process exits within 30 s")
            .expect("wait")
    }

    /// Whether a stderr line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }
}
