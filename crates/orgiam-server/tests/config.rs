//! `orgiam serve --config FILE` through the real binary: every setting from the file, the
//! environment and flags overriding it, unknown keys refused, `--print-config` with secrets
//! redacted, and a server that really runs with the file's settings (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use orgiam_testkit::{Backend, fresh_db, json, spawn_binary};

const BIN: &str = env!("CARGO_BIN_EXE_orgiam");

/// A root key only the configuration file names.
const FILE_ROOT: &str = "sk-root-from-the-file-abcdefghijklmnopqrstuvwxyz";

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("orgiam.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `orgiam serve --config FILE --print-config ARGS` with `env`; returns (success,
/// stdout, stderr).
fn print(file: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config", file, "--print-config"])
        .args(args)
        .env_remove("ORGIAM_ROOT_KEY")
        .env_remove("ORGIAM_LISTEN")
        .env_remove("ORGIAM_BODY_LIMIT")
        .env_remove("ORGIAM_DATABASE_URL")
        .env_remove("ORGIAM_LOG_FORMAT")
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_file_sets_every_flag_and_flags_and_environment_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        r#"
listen = "127.0.0.1:9999"
database = "postgres://orgiam:hunter2secret@db.internal/orgiam"
root_key = "sk-root-from-the-file-0123456789"
body_limit = 4096
sqlite_synchronous = "normal"
bootstrap_owner_email = "boss@example.org"
rate_limit_per_second = 7
rate_limit_burst = 9
request_timeout_seconds = 0
engine_memory_budget_bytes = 123456
public_url = "https://iam.example.org"
log_format = "json"
"#,
    );
    let (ok, out, err) = print(&file, &[], &[]);
    assert!(ok, "{err}");
    let eff: toml::Value = toml::from_str(&out).unwrap();
    assert_eq!(eff["listen"].as_str(), Some("127.0.0.1:9999"));
    assert_eq!(eff["body_limit"].as_integer(), Some(4096));
    assert_eq!(eff["sqlite_synchronous"].as_str(), Some("normal"));
    assert_eq!(
        eff["bootstrap_owner_email"].as_str(),
        Some("boss@example.org")
    );
    assert_eq!(eff["rate_limit_per_second"].as_integer(), Some(7));
    assert_eq!(eff["rate_limit_burst"].as_integer(), Some(9));
    assert_eq!(eff["request_timeout_seconds"].as_integer(), Some(0));
    assert_eq!(eff["engine_memory_budget_bytes"].as_integer(), Some(123456));
    assert_eq!(eff["public_url"].as_str(), Some("https://iam.example.org"));
    assert_eq!(eff["log_format"].as_str(), Some("json"));
    // secrets redacted
    assert_eq!(eff["root_key"].as_str(), Some("<redacted>"));
    assert!(
        !out.contains("hunter2secret") && !out.contains("from-the-file"),
        "{out}"
    );
    assert!(eff["database"].as_str().unwrap().contains("db.internal"));

    // the environment overrides the file; a flag overrides both
    let (ok, out, err) = print(
        &file,
        &["--listen", "127.0.0.1:7777"],
        &[
            ("ORGIAM_BODY_LIMIT", "2048"),
            ("ORGIAM_LISTEN", "127.0.0.1:8888"),
        ],
    );
    assert!(ok, "{err}");
    let eff: toml::Value = toml::from_str(&out).unwrap();
    assert_eq!(eff["listen"].as_str(), Some("127.0.0.1:7777"));
    assert_eq!(eff["body_limit"].as_integer(), Some(2048));
    assert_eq!(eff["rate_limit_burst"].as_integer(), Some(9));

    // without a file: the defaults
    let out = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env_remove("ORGIAM_ROOT_KEY")
        .env_remove("ORGIAM_BODY_LIMIT")
        .env_remove("ORGIAM_LISTEN")
        .env_remove("ORGIAM_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success());
    let eff: toml::Value = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(eff["listen"].as_str(), Some("127.0.0.1:8080"));
    assert!(eff.get("root_key").is_none());
}

#[test]
fn unknown_or_mistyped_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("listne = \"127.0.0.1:1\"\n", "listne"),
        ("body_limit = \"big\"\n", "body_limit"),
        ("sqlite_synchronous = \"sometimes\"\n", "sqlite_synchronous"),
        ("log_format = \"xml\"\n", "log_format"),
        ("listen = \n", "orgiam.toml"),
    ] {
        let file = write(&dir, text);
        let (ok, out, err) = print(&file, &[], &[]);
        assert!(!ok, "{text} was accepted: {out}");
        assert!(err.contains(needle), "{text}: {err}");
    }
    let (ok, _, err) = print("/nonexistent/orgiam.toml", &[], &[]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/orgiam.toml"), "{err}");
}

async fn serves_with_the_file(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // the root key and a small body limit come from the file only
    let file = write(
        &dir,
        &format!(
            "root_key = \"{FILE_ROOT}\"\nbody_limit = 300\nbootstrap_owner_email = \"file@example.org\"\n"
        ),
    );
    let server = spawn_binary(BIN, &db, &["--config", &file], &[("ORGIAM_ROOT_KEY", "")]).await;
    let http = reqwest::Client::new();
    let orgs = http
        .get(format!("{}/v1/platform/organizations", server.base))
        .bearer_auth(FILE_ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(orgs.status(), 200);
    let big = http
        .post(format!("{}/v1/organizations", server.base))
        .bearer_auth(FILE_ROOT)
        .json(&json!({"name": "x".repeat(400), "owner_email": "a@b.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let key = server.admin_key.clone().expect("bootstrap key");
    let me = http
        .get(format!("{}/v1/organization/users", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["data"][0]["email"], "file@example.org");
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_with_the_file_sqlite() {
    serves_with_the_file(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_with_the_file_postgres() {
    serves_with_the_file(Backend::Postgres).await;
}
