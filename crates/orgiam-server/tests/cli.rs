//! The `orgiam` binary as a client: every command family run as a subprocess against the real
//! server on SQLite and PostgreSQL, JSON output parsed back and compared with what the HTTP
//! API says; `check`'s exit codes; `export-model` and `apply` (round trip into an empty
//! organization, a second apply plans nothing, `--dry-run` changes nothing, `--prune`, people
//! who are not members, one transaction).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use orgiam_testkit::{TestServer, backend_tests, db_scalar, json};
use serde_json::Value;

/// Runs the binary with `key` against `s`, in a config directory of its own (`home`).
async fn run(s: &TestServer, home: &Path, key: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orgiam"))
        .args(args)
        .env("ORGIAM_URL", &s.base)
        .env("ORGIAM_KEY", key)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("ORGIAM_PROFILE")
        .output()
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
async fn ok(s: &TestServer, home: &Path, args: &[&str]) -> String {
    let o = run(s, home, &s.admin_key, args).await;
    assert!(
        o.status.success(),
        "orgiam {args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a command with `-o json` that must succeed; returns the parsed document.
async fn json_out(s: &TestServer, home: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let out = ok(s, home, &a).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn events(s: &TestServer) -> i64 {
    db_scalar(&s.db.url, "SELECT COUNT(*) FROM audit_events").await
}

backend_tests!(resource_commands, |s: TestServer| async move {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // permissions: create prints the id; list parses back as the API's objects
    let pid = ok(
        &s,
        h,
        &[
            "permissions",
            "create",
            "documents.read",
            "--description",
            "Read documents",
        ],
    )
    .await;
    assert!(pid.trim().starts_with("perm_"), "{pid}");
    ok(&s, h, &["permissions", "create", "documents.write"]).await;
    let perms = json_out(&s, h, &["permissions", "list", "--all"]).await;
    let names: Vec<&str> = perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"documents.read") && names.contains(&"documents.write"));

    // roles: create prints the id the API then serves; get by name; update; list
    let rid = ok(
        &s,
        h,
        &[
            "roles",
            "create",
            "Editor",
            "--permission",
            "documents.read",
            "--description",
            "Edits",
        ],
    )
    .await;
    let rid = rid.trim().to_owned();
    let api = s
        .get(&format!("/v1/organization/roles/{rid}"))
        .await
        .expect(200);
    assert_eq!(api["name"], "Editor");
    let got = json_out(&s, h, &["roles", "get", "editor"]).await;
    assert_eq!(got["id"], rid.as_str());
    assert_eq!(got, api, "-o json prints the API's object");
    let updated = json_out(
        &s,
        h,
        &[
            "roles",
            "update",
            "Editor",
            "-p",
            "documents.read",
            "-p",
            "documents.write",
        ],
    )
    .await;
    assert_eq!(
        updated["permissions"],
        json!(["documents.read", "documents.write"])
    );
    let roles = json_out(&s, h, &["roles", "list"]).await;
    assert!(ids(&roles).contains(&rid));
    // flags after the subcommand and before it are the same flags
    let yaml = ok(&s, h, &["-o", "yaml", "roles", "get", &rid]).await;
    let from_yaml: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(from_yaml["name"], "Editor");

    // users: add prints the id; get by email; update the base role; their roles
    let uid = ok(
        &s,
        h,
        &[
            "users",
            "add",
            "alice@example.com",
            "--role",
            "member",
            "--name",
            "Alice",
        ],
    )
    .await;
    let uid = uid.trim().to_owned();
    assert!(uid.starts_with("user_"));
    let alice = json_out(&s, h, &["users", "get", "ALICE@example.com"]).await;
    assert_eq!(alice["id"], uid.as_str());
    assert_eq!(alice["name"], "Alice");
    let alice = json_out(
        &s,
        h,
        &["users", "update", "alice@example.com", "--role", "reader"],
    )
    .await;
    assert_eq!(alice["role"], "reader");
    let granted = ok(
        &s,
        h,
        &[
            "users",
            "roles",
            "grant",
            "alice@example.com",
            "Editor",
            "--expires-at",
            "4102444800",
        ],
    )
    .await;
    assert_eq!(granted.trim(), rid);
    let held = json_out(&s, h, &["users", "roles", "list", &uid]).await;
    let editor = held
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rid.as_str())
        .unwrap()
        .clone();
    assert_eq!(editor["expires_at"], 4102444800i64);
    ok(
        &s,
        h,
        &["users", "roles", "revoke", "alice@example.com", "Editor"],
    )
    .await;
    let held = s
        .get(&format!("/v1/organization/users/{uid}/roles"))
        .await
        .expect(200);
    assert!(!ids(&held["data"]).contains(&rid), "revoked: {held}");
    let users = json_out(&s, h, &["users", "list", "--all"]).await;
    assert!(ids(&users).contains(&uid));

    // groups: create, members, roles, rename, delete
    let gid = ok(&s, h, &["groups", "create", "Writers"])
        .await
        .trim()
        .to_owned();
    assert!(gid.starts_with("group_"));
    ok(
        &s,
        h,
        &["groups", "members", "add", "Writers", "alice@example.com"],
    )
    .await;
    let members = json_out(&s, h, &["groups", "members", "list", &gid]).await;
    assert_eq!(ids(&members), vec![uid.clone()]);
    assert_eq!(
        ok(&s, h, &["groups", "roles", "grant", "writers", "Editor"])
            .await
            .trim(),
        rid
    );
    let groles = s
        .get(&format!("/v1/organization/groups/{gid}/roles"))
        .await
        .expect(200);
    assert_eq!(ids(&groles["data"]), vec![rid.clone()]);
    let listed = json_out(&s, h, &["groups", "roles", "list", "Writers"]).await;
    assert_eq!(ids(&listed), vec![rid.clone()]);
    ok(&s, h, &["groups", "roles", "revoke", "Writers", "Editor"]).await;
    let renamed = json_out(&s, h, &["groups", "rename", "Writers", "Authors"]).await;
    assert_eq!(renamed["name"], "Authors");
    ok(&s, h, &["groups", "members", "remove", "Authors", &uid]).await;
    assert_eq!(
        json_out(&s, h, &["groups", "get", "Authors"]).await["id"],
        gid.as_str()
    );
    ok(&s, h, &["groups", "delete", "Authors"]).await;
    s.get(&format!("/v1/organization/groups/{gid}"))
        .await
        .expect(404);

    // projects: create, rename, users, roles and grants of them, groups, archive
    let proj = ok(&s, h, &["projects", "create", "Docs"])
        .await
        .trim()
        .to_owned();
    assert!(proj.starts_with("proj_"));
    ok(&s, h, &["projects", "rename", "Docs", "Documents"]).await;
    ok(
        &s,
        h,
        &[
            "projects",
            "users",
            "add",
            "Documents",
            "alice@example.com",
            "--role",
            "member",
        ],
    )
    .await;
    let pusers = json_out(&s, h, &["projects", "users", "list", "Documents"]).await;
    assert!(ids(&pusers).contains(&uid));
    ok(
        &s,
        h,
        &[
            "projects",
            "users",
            "update",
            "Documents",
            "alice@example.com",
            "--role",
            "viewer",
        ],
    )
    .await;
    let prid = ok(
        &s,
        h,
        &[
            "projects",
            "roles",
            "create",
            "Documents",
            "Reviewer",
            "-p",
            "api.project.users.read",
        ],
    )
    .await;
    let prid = prid.trim().to_owned();
    let proles = json_out(&s, h, &["projects", "roles", "list", &proj]).await;
    assert!(ids(&proles).contains(&prid));
    ok(
        &s,
        h,
        &[
            "projects",
            "roles",
            "grant",
            "Documents",
            "Reviewer",
            "--user",
            "alice@example.com",
        ],
    )
    .await;
    let held = s
        .get(&format!("/v1/projects/{proj}/users/{uid}/roles"))
        .await
        .expect(200);
    assert!(ids(&held["data"]).contains(&prid), "{held}");
    ok(
        &s,
        h,
        &[
            "projects",
            "roles",
            "revoke",
            "Documents",
            "Reviewer",
            "--user",
            &uid,
        ],
    )
    .await;
    let g2 = ok(&s, h, &["groups", "create", "Reviewers"])
        .await
        .trim()
        .to_owned();
    ok(
        &s,
        h,
        &[
            "projects",
            "groups",
            "add",
            "Documents",
            "Reviewers",
            "--role",
            "Reviewer",
        ],
    )
    .await;
    let pgroups = json_out(&s, h, &["projects", "groups", "list", "Documents"]).await;
    assert_eq!(pgroups[0]["group_id"], g2.as_str());
    ok(
        &s,
        h,
        &["projects", "groups", "remove", "Documents", "Reviewers"],
    )
    .await;
    ok(
        &s,
        h,
        &["projects", "roles", "delete", "Documents", "Reviewer"],
    )
    .await;
    ok(
        &s,
        h,
        &[
            "projects",
            "users",
            "remove",
            "Documents",
            "alice@example.com",
        ],
    )
    .await;
    let archived = json_out(&s, h, &["projects", "archive", "Documents"]).await;
    assert_eq!(archived["status"], "archived");
    let active = json_out(&s, h, &["projects", "list"]).await;
    assert!(!ids(&active).contains(&proj));
    let all = json_out(&s, h, &["projects", "list", "--archived"]).await;
    assert!(ids(&all).contains(&proj));

    // invites
    let inv = json_out(
        &s,
        h,
        &["invites", "create", "bob@example.com", "--role", "member"],
    )
    .await;
    assert!(inv["token"].is_string(), "the token is shown once: {inv}");
    let invites = json_out(&s, h, &["invites", "list"]).await;
    assert!(ids(&invites).contains(&inv["id"].as_str().unwrap().to_owned()));
    ok(&s, h, &["invites", "revoke", inv["id"].as_str().unwrap()]).await;

    // keys: an admin key and a user key, each working until deleted
    let admin = json_out(&s, h, &["keys", "admin", "create", "ci"]).await;
    let value = admin["value"].as_str().unwrap().to_owned();
    let o = run(&s, h, &value, &["roles", "get", "Editor", "-o", "json"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = json_out(&s, h, &["keys", "admin", "list"]).await;
    assert!(ids(&keys).contains(&admin["id"].as_str().unwrap().to_owned()));
    ok(
        &s,
        h,
        &["keys", "admin", "delete", admin["id"].as_str().unwrap()],
    )
    .await;
    let o = run(&s, h, &value, &["roles", "list"]).await;
    assert_eq!(o.status.code(), Some(1), "a deleted key fails");
    assert!(stderr(&o).contains("HTTP 401"), "{}", stderr(&o));
    let ukey = json_out(
        &s,
        h,
        &["keys", "user", "create", "alice@example.com", "tools"],
    )
    .await;
    assert!(ukey["value"].as_str().unwrap().starts_with("sk-user-"));
    let ukeys = json_out(&s, h, &["keys", "user", "list", "alice@example.com"]).await;
    assert_eq!(ids(&ukeys), vec![ukey["id"].as_str().unwrap().to_owned()]);
    ok(
        &s,
        h,
        &[
            "keys",
            "user",
            "delete",
            "alice@example.com",
            ukey["id"].as_str().unwrap(),
        ],
    )
    .await;

    // audit: filtered by type and actor
    let audit = json_out(
        &s,
        h,
        &[
            "audit",
            "list",
            "--type",
            "role.created",
            "--actor",
            "owner@example.com",
            "--all",
        ],
    )
    .await;
    let list = audit.as_array().unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e["type"] == "role.created"), "{audit}");
    let none = json_out(
        &s,
        h,
        &["audit", "list", "--type", "role.created", "--until", "1"],
    )
    .await;
    assert_eq!(none, json!([]));

    // deletes, and a user removed
    ok(&s, h, &["roles", "delete", "Editor"]).await;
    s.get(&format!("/v1/organization/roles/{rid}"))
        .await
        .expect(404);
    ok(&s, h, &["permissions", "delete", "documents.write"]).await;
    ok(&s, h, &["users", "remove", "alice@example.com"]).await;
    s.get(&format!("/v1/organization/users/{uid}"))
        .await
        .expect(404);

    // orgs: the platform root key creates an organization
    let o = run(
        &s,
        h,
        orgiam_testkit::ROOT_KEY,
        &[
            "orgs",
            "create",
            "Acme",
            "--owner-email",
            "root@acme.test",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let org: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(org["id"].as_str().unwrap().starts_with("org_"));
});

backend_tests!(errors_and_output, |s: TestServer| async move {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // the server's message on stderr, a non-zero exit, nothing on stdout
    let o = run(
        &s,
        h,
        &s.admin_key,
        &["roles", "create", "Bad", "-p", "no.such.permission"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no.such.permission"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let o = run(&s, h, "sk-admin-wrong", &["users", "list"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("HTTP 401"));
    // no connection at all: says how to give one
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgiam"))
        .args(["roles", "list"])
        .env_remove("ORGIAM_URL")
        .env_remove("ORGIAM_KEY")
        .env("XDG_CONFIG_HOME", h)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("orgiam login"), "{}", stderr(&o));
    // a table: a header and one aligned row per role
    let table = ok(&s, h, &["roles", "list"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID "), "{table}");
    let listed = s.get("/v1/organization/roles").await.expect(200);
    assert_eq!(lines.len(), 1 + listed["data"].as_array().unwrap().len());
    let col = lines[0].find("NAME").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[col..].split_whitespace().next().is_some())
    );
    // --all follows pages: the audit log's page is 20 events, the organization has more
    for i in 0..25 {
        ok(&s, h, &["groups", "create", &format!("g{i}")]).await;
    }
    let page = json_out(&s, h, &["audit", "list"]).await;
    assert_eq!(page.as_array().unwrap().len(), 20);
    let all = json_out(&s, h, &["audit", "list", "--all"]).await;
    assert_eq!(all.as_array().unwrap().len() as i64, events(&s).await);
    let mut seen = ids(&all);
    seen.dedup();
    assert_eq!(seen.len() as i64, events(&s).await, "no event twice");
    // completions for each shell
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&s, h, &["completions", shell]).await;
        assert!(
            script.contains("who-can") && script.contains("export-model"),
            "{shell}"
        );
    }
});

backend_tests!(profiles, |s: TestServer| async move {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let login = |key: String, extra: Vec<&'static str>| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgiam"));
        c.args(["login", "--url", &s.base, "--key", &key])
            .args(extra)
            .env_remove("ORGIAM_URL")
            .env_remove("ORGIAM_KEY")
            .env_remove("ORGIAM_PROFILE")
            .env("XDG_CONFIG_HOME", h);
        c
    };
    // a key that does not work is not saved
    let o = login("sk-admin-wrong".into(), vec![])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!h.join("orgiam/profiles.yaml").exists());
    let o = login(s.admin_key.clone(), vec!["--profile", "work"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let file = h.join("orgiam/profiles.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its owner only");
    }
    let profiled = |args: Vec<&'static str>| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgiam"));
        c.args(args)
            .env_remove("ORGIAM_URL")
            .env_remove("ORGIAM_KEY")
            .env_remove("ORGIAM_PROFILE")
            .env("XDG_CONFIG_HOME", h);
        c
    };
    let o = profiled(vec!["roles", "list", "--profile", "work", "-o", "json"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let roles: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "owner")
    );
    // another profile name is not saved
    let o = profiled(vec!["roles", "list"]).output().await.unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = profiled(vec!["logout", "--profile", "work"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success());
    let o = profiled(vec!["roles", "list", "--profile", "work"])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // (uses the whole server, so that the test's future owns it to the end)
    s.stop().await;
});

backend_tests!(check_and_who_can, |s: TestServer| async move {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(&s, h, &["permissions", "create", "reports.read"]).await;
    ok(&s, h, &["roles", "create", "Analyst", "-p", "reports.read"]).await;
    let ann = ok(
        &s,
        h,
        &["users", "add", "ann@example.com", "--role", "member"],
    )
    .await
    .trim()
    .to_owned();
    let ben = ok(
        &s,
        h,
        &["users", "add", "ben@example.com", "--role", "member"],
    )
    .await
    .trim()
    .to_owned();
    let cat = ok(
        &s,
        h,
        &["users", "add", "cat@example.com", "--role", "member"],
    )
    .await
    .trim()
    .to_owned();
    ok(
        &s,
        h,
        &["users", "roles", "grant", "ann@example.com", "Analyst"],
    )
    .await;
    ok(&s, h, &["groups", "create", "Finance"]).await;
    ok(
        &s,
        h,
        &["groups", "members", "add", "Finance", "ben@example.com"],
    )
    .await;
    ok(&s, h, &["groups", "roles", "grant", "Finance", "Analyst"]).await;

    // allowed: exit 0, with the grant that decided it
    let o = run(
        &s,
        h,
        &s.admin_key,
        &["check", "ann@example.com", "reports.read"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("allowed"));
    assert!(stdout(&o).contains("Analyst"));
    let o = run(
        &s,
        h,
        &s.admin_key,
        &["check", &ben, "reports.read", "-o", "json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["allowed"], true);
    assert_eq!(d["reasons"][0]["via"], "group");
    // denied: exit 1
    let o = run(
        &s,
        h,
        &s.admin_key,
        &["check", "cat@example.com", "reports.read"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("denied"));
    // errors: exit 2
    let o = run(
        &s,
        h,
        &s.admin_key,
        &["check", "nobody@example.com", "reports.read"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    let o = run(&s, h, "sk-admin-wrong", &["check", &ann, "reports.read"]).await;
    assert_eq!(o.status.code(), Some(2));
    let o = run(&s, h, &s.admin_key, &["check", &ann, "Not A Permission"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // who-can: every holder (direct and through a group), nobody else
    let holders = json_out(&s, h, &["who-can", "reports.read"]).await;
    let got = ids(&holders);
    assert!(got.contains(&ann) && got.contains(&ben), "{holders}");
    assert!(!got.contains(&cat));
    let table = ok(&s, h, &["who-can", "reports.read"]).await;
    assert!(table.contains("ann@example.com") && table.contains("ben@example.com"));
    assert!(!table.contains("cat@example.com"));
});

/// A model with a project role, a group and grants of every kind.
const MODEL: &str = r#"
permissions:
  - name: documents.read
    description: Read documents
  - name: documents.write
  - name: documents.review
    resource_type: api.project
roles:
  - name: Editor
    description: Edits documents
    permissions: [documents.read, documents.write]
  - name: Browser
    permissions: [documents.read]
  - name: Reviewer
    project: Handbook
    permissions: [documents.review]
groups:
  - name: Writers
    members: [ann@example.com, ben@example.com]
grants:
  - role: Editor
    group: Writers
  - role: Browser
    user: cat@example.com
    expires_at: 4102444800
  - role: Reviewer
    group: Writers
    project: Handbook
  - role: Reviewer
    user: cat@example.com
    project: handbook
"#;

/// Members and a project in the organization of `key`, as the model needs them.
async fn people(s: &TestServer, h: &Path, key: &str) {
    for who in ["ann", "ben", "cat"] {
        let o = run(
            s,
            h,
            key,
            &[
                "users",
                "add",
                &format!("{who}@example.com"),
                "--role",
                "member",
            ],
        )
        .await;
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run(s, h, key, &["projects", "create", "Handbook"]).await;
    assert!(o.status.success());
    let o = run(
        s,
        h,
        key,
        &["projects", "users", "add", "Handbook", "cat@example.com"],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
}

backend_tests!(apply_round_trip, |s: TestServer| async move {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let file = h.join("model.yaml");
    std::fs::write(&file, MODEL).unwrap();
    let f = file.to_str().unwrap();
    people(&s, h, &s.admin_key).await;

    // first apply: everything is created, in one transaction with one audit event
    let before = events(&s).await;
    let plan = json_out(&s, h, &["apply", "-f", f]).await;
    assert_eq!(plan["applied"], true);
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3 + 3 + 1 + 2 + 4, "{plan}");
    assert!(changes.iter().all(|c| c["action"] == "create"));
    assert_eq!(
        events(&s).await,
        before + 1,
        "one audit event for the whole apply"
    );
    // what it made works: ann edits through the group, cat views until her grant ends
    assert_eq!(
        run(
            &s,
            h,
            &s.admin_key,
            &["check", "ann@example.com", "documents.write"]
        )
        .await
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(
            &s,
            h,
            &s.admin_key,
            &["check", "cat@example.com", "documents.write"]
        )
        .await
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        run(
            &s,
            h,
            &s.admin_key,
            &[
                "check",
                "cat@example.com",
                "documents.review",
                "--project",
                "Handbook"
            ]
        )
        .await
        .status
        .code(),
        Some(0)
    );

    // the same file again: an empty plan, nothing written
    let before = events(&s).await;
    let again = json_out(&s, h, &["apply", "-f", f]).await;
    assert_eq!(again["changes"], json!([]), "{again}");
    assert_eq!(again["applied"], false);
    assert_eq!(events(&s).await, before);
    assert!(ok(&s, h, &["apply", "-f", f]).await.contains("no changes"));

    // export, apply to an empty organization with the same people and project, export again
    let exported = ok(&s, h, &["export-model"]).await;
    let parsed: Value = serde_yaml_ng::from_str(&exported).unwrap();
    assert_eq!(parsed["roles"].as_array().unwrap().len(), 3);
    let (_, _, key_b) = s.new_org("Empty", "owner-b@example.com").await;
    people(&s, h, &key_b).await;
    let out = h.join("exported.yaml");
    std::fs::write(&out, &exported).unwrap();
    let o = run(&s, h, &key_b, &["apply", "-f", out.to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&s, h, &key_b, &["export-model"]).await;
    assert_eq!(
        stdout(&o),
        exported,
        "export → apply to an empty org → export gives the same file"
    );
    // and in JSON
    let a = json_out(&s, h, &["export-model"]).await;
    let o = run(&s, h, &key_b, &["export-model", "-o", "json"]).await;
    assert_eq!(serde_json::from_slice::<Value>(&o.stdout).unwrap(), a);
});

backend_tests!(
    apply_dry_run_prune_and_refusals,
    |s: TestServer| async move {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let file = h.join("model.yaml");
        let f = file.to_str().unwrap().to_owned();
        people(&s, h, &s.admin_key).await;
        std::fs::write(&file, MODEL).unwrap();

        // dry run: the plan, nothing changed, no event
        let empty = ok(&s, h, &["export-model"]).await;
        let before = events(&s).await;
        let plan = json_out(&s, h, &["apply", "-f", &f, "--dry-run"]).await;
        assert_eq!(plan["applied"], false);
        assert_eq!(plan["changes"].as_array().unwrap().len(), 13);
        assert_eq!(ok(&s, h, &["export-model"]).await, empty);
        assert_eq!(events(&s).await, before);
        let text = ok(&s, h, &["apply", "-f", &f, "--dry-run"]).await;
        assert!(
            text.contains("+ role Editor") && text.contains("nothing applied"),
            "{text}"
        );
        ok(&s, h, &["apply", "-f", &f]).await;

        // a file without a member and Browser: kept without --prune, removed with it
        let smaller = MODEL
            .replace("  - name: Browser\n    permissions: [documents.read]\n", "")
            .replace(
                "  - role: Browser\n    user: cat@example.com\n    expires_at: 4102444800\n",
                "",
            )
            .replace(
                "    members: [ann@example.com, ben@example.com]",
                "    members: [ann@example.com]",
            );
        std::fs::write(&file, &smaller).unwrap();
        let plan = json_out(&s, h, &["apply", "-f", &f]).await;
        assert_eq!(
            plan["changes"],
            json!([]),
            "nothing is removed without --prune: {plan}"
        );
        let plan = json_out(&s, h, &["apply", "-f", &f, "--prune", "--dry-run"]).await;
        let kinds: Vec<(String, String)> = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["action"].as_str().unwrap().to_owned(),
                    c["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let d = |k: &str| ("delete".to_owned(), k.to_owned());
        assert_eq!(
            kinds,
            vec![d("grant"), d("group_member"), d("role")],
            "{plan}"
        );
        ok(&s, h, &["apply", "-f", &f, "--prune"]).await;
        let m: Value = serde_yaml_ng::from_str(&ok(&s, h, &["export-model"]).await).unwrap();
        assert_eq!(m["groups"][0]["members"], json!(["ann@example.com"]));
        assert!(
            m["roles"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["name"] != "Browser")
        );
        assert_eq!(
            run(
                &s,
                h,
                &s.admin_key,
                &["check", "ben@example.com", "documents.write"]
            )
            .await
            .status
            .code(),
            Some(1)
        );

        // a group spelled otherwise is the same group, renamed
        std::fs::write(&file, smaller.replace("- name: Writers", "- name: WRITERS")).unwrap();
        let plan = json_out(&s, h, &["apply", "-f", &f]).await;
        assert_eq!(
            plan["changes"],
            json!([{"action": "update", "kind": "group", "name": "WRITERS"}])
        );
        let m: Value = serde_yaml_ng::from_str(&ok(&s, h, &["export-model"]).await).unwrap();
        assert_eq!(m["groups"][0]["name"], "WRITERS");
        assert_eq!(m["groups"][0]["members"], json!(["ann@example.com"]));
        std::fs::write(&file, &smaller).unwrap();
        ok(&s, h, &["apply", "-f", &f]).await;

        // people who are not members: the plan fails listing them, and applies nothing
        let ghosts = format!(
        "{smaller}  - role: Editor\n    user: ghost@example.com\n  - role: Editor\n    user: zed@example.com\n"
    )
    .replace("permissions:\n", "permissions:\n  - name: ghost.permission\n");
        std::fs::write(&file, ghosts).unwrap();
        let before_model = ok(&s, h, &["export-model"]).await;
        let before = events(&s).await;
        let o = run(&s, h, &s.admin_key, &["apply", "-f", &f]).await;
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("ghost@example.com") && err.contains("zed@example.com"),
            "{err}"
        );
        assert_eq!(ok(&s, h, &["export-model"]).await, before_model);
        assert_eq!(events(&s).await, before);

        // a malformed file: a clear error naming the field, nothing applied
        std::fs::write(&file, "roles:\n  - name: X\n    permisions: [a]\n").unwrap();
        let o = run(&s, h, &s.admin_key, &["apply", "-f", &f]).await;
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("permisions"), "{}", stderr(&o));
        assert_eq!(events(&s).await, before);
    }
);

backend_tests!(
    apply_is_one_transaction_and_escalates_nothing,
    |s: TestServer| async move {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        // a delegate who may write roles, groups and grants, but holds no documents.* permission
        ok(&s, h, &["permissions", "create", "documents.read"]).await;
        ok(&s, h, &["permissions", "create", "documents.secret"]).await;
        ok(
            &s,
            h,
            &[
                "roles",
                "create",
                "Delegate",
                "-p",
                "api.roles.read",
                "-p",
                "api.roles.write",
                "-p",
                "api.groups.write",
                "-p",
                "api.role_assignments.write",
                "-p",
                "api.users.read",
                "-p",
                "documents.read",
            ],
        )
        .await;
        ok(
            &s,
            h,
            &["users", "add", "dee@example.com", "--role", "member"],
        )
        .await;
        ok(
            &s,
            h,
            &["users", "roles", "grant", "dee@example.com", "Delegate"],
        )
        .await;
        let key = json_out(&s, h, &["keys", "user", "create", "dee@example.com", "cli"]).await;
        let key = key["value"].as_str().unwrap().to_owned();

        // a plan whose first steps are allowed and whose last is not: nothing of it applies
        let file = h.join("model.yaml");
        std::fs::write(
        &file,
        "roles:\n  - name: DocReader\n    permissions: [documents.read]\n  - name: Snoop\n    permissions: [documents.secret]\ngroups:\n  - name: Readers\n",
    )
    .unwrap();
        let f = file.to_str().unwrap();
        let before_model = ok(&s, h, &["export-model"]).await;
        let before = events(&s).await;
        let o = run(&s, h, &key, &["apply", "-f", f]).await;
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("documents.secret") && stderr(&o).contains("HTTP 403"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            ok(&s, h, &["export-model"]).await,
            before_model,
            "nothing applied"
        );
        assert_eq!(events(&s).await, before);
        // the same delegate applies what it may
        std::fs::write(&file, "roles:\n  - name: DocReader\n    permissions: [documents.read]\ngroups:\n  - name: Readers\n").unwrap();
        let o = run(&s, h, &key, &["apply", "-f", f, "-o", "json"]).await;
        assert!(o.status.success(), "{}", stderr(&o));
        let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(plan["changes"].as_array().unwrap().len(), 2);
        // a key without api.roles.write cannot apply at all
        ok(
            &s,
            h,
            &["users", "add", "eve@example.com", "--role", "member"],
        )
        .await;
        let eve = json_out(&s, h, &["keys", "user", "create", "eve@example.com", "cli"]).await;
        let o = run(
            &s,
            h,
            eve["value"].as_str().unwrap(),
            &["apply", "-f", f, "--dry-run"],
        )
        .await;
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("HTTP 403"));
    }
);

backend_tests!(model_routes_refuse_bad_input, |s: TestServer| async move {
    let before = events(&s).await;
    for model in [
        json!(5),
        json!({"roles": [{"name": "X", "permisions": []}]}),
        json!({"groups": [{"name": "nul\u{0}group"}]}),
        json!({"groups": [{"name": ""}]}),
        json!({"grants": [{"role": "member", "user": "owner@example.com", "group": "G"}]}),
        json!({"grants": [{"role": "no such role", "user": "owner@example.com"}]}),
        json!({"grants": [{"role": "reader", "user": "owner@example.com", "expires_at": 1}]}),
        json!({"roles": [{"name": "R", "project": "no such project", "permissions": []}]}),
        json!({"permissions": [{"name": "api.mine"}]}),
        json!({"permissions": [{"name": "ok.name", "resource_type": "api.nothing"}]}),
    ] {
        let a = s
            .post("/v1/organization/model/apply", json!({ "model": model }))
            .await;
        assert_eq!(a.status, 400, "{model}: {}", a.body);
        assert!(a.error("message").as_str().unwrap().len() > 10);
    }
    assert_eq!(events(&s).await, before, "nothing written");
    // the export is the same empty model it was
    let m = s.get("/v1/organization/model").await.expect(200);
    assert_eq!(m["object"], "organization.access_model");
    assert_eq!(m["roles"], json!([]));
    assert_eq!(m["grants"], json!([]));
});
