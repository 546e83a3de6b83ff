//! `orgiam export-model` and `orgiam apply -f FILE`: the organization's access model as a
//! file (docs/CLI.md describes the format), and making the organization match one.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use orgiam_core::access_model::AccessModel;
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Failure, Outcome};
use super::output::{self, Format, text};

/// `orgiam apply -f FILE [--dry-run] [--prune]`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The model file (YAML or JSON); `-` reads stdin.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also remove what the file does not name (grants, group members, groups, custom roles,
    /// permissions).
    #[arg(long)]
    prune: bool,
}

/// Prints the model: YAML, or JSON with `-o json`.
pub(super) async fn export(ctx: &Ctx) -> Outcome<()> {
    let mut m = ctx.get("/v1/organization/model").await?;
    if let Some(o) = m.as_object_mut() {
        o.remove("object");
    }
    // typed, so that the file keeps the model's field order (permissions, roles, groups,
    // grants; names first), whatever order the JSON arrived in
    let model: AccessModel = serde_json::from_value(m)
        .map_err(|e| Failure::new(format!("the server's model is not readable: {e}")))?;
    let text = match ctx.format {
        Format::Json => serde_json::to_string_pretty(&model)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        _ => serde_yaml_ng::to_string(&model).map_err(|e| e.to_string()),
    };
    print!("{}", text.map_err(Failure::new)?);
    Ok(())
}

/// Sends the file to the server, which plans and applies it in one transaction; prints the
/// plan.
pub(super) async fn apply(ctx: &Ctx, a: ApplyArgs) -> Outcome<()> {
    let read_fail =
        |e: std::io::Error| Failure::new(format!("cannot read {}: {e}", a.file.display()));
    let text_in = if a.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(read_fail)?;
        s
    } else {
        std::fs::read_to_string(&a.file).map_err(read_fail)?
    };
    // YAML is a superset of JSON: one parser reads both
    let model: Value = serde_yaml_ng::from_str(&text_in)
        .map_err(|e| Failure::new(format!("{}: {e}", a.file.display())))?;
    let model = if model.is_null() { json!({}) } else { model };
    let body = json!({ "model": model, "dry_run": a.dry_run, "prune": a.prune });
    let plan = ctx
        .client
        .post("/v1/organization/model/apply", &body)
        .await?;
    if ctx.format != Format::Table {
        return output::document(ctx.format, &plan);
    }
    let changes = plan
        .get("changes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &changes {
        println!("{}", describe(c));
    }
    let applied = plan.get("applied").and_then(Value::as_bool) == Some(true);
    let n = changes.len();
    let s = if n == 1 { "" } else { "s" };
    match (n, applied) {
        (0, _) => println!("no changes: the organization matches the model"),
        (_, true) => println!("applied {n} change{s}"),
        (_, false) => println!("dry run: {n} change{s} planned, nothing applied"),
    }
    Ok(())
}

/// One plan line: `+ role Editor (documents.read, documents.write)`.
fn describe(c: &Value) -> String {
    let sign = match c.get("action").and_then(Value::as_str) {
        Some("create") => "+",
        Some("update") => "~",
        _ => "-",
    };
    let field = |k: &str| text(c.get(k));
    let project = match c.get("project").and_then(Value::as_str) {
        Some(p) => format!(" in project {p}"),
        None => String::new(),
    };
    let what = match c.get("kind").and_then(Value::as_str).unwrap_or_default() {
        "permission" => format!("permission {} ({})", field("name"), field("resource_type")),
        "role" => format!("role {}{project} [{}]", field("name"), field("permissions")),
        "group" => format!("group {}", field("name")),
        "group_member" => format!("member {} of group {}", field("email"), field("group")),
        "grant" => {
            let who = match c.get("group").and_then(Value::as_str) {
                Some(g) => format!("group {g}"),
                None => format!("user {}", field("user")),
            };
            let until = match c.get("expires_at").and_then(Value::as_i64) {
                Some(t) => format!(" until {t}"),
                None => String::new(),
            };
            format!("grant {} to {who}{project}{until}", field("role"))
        }
        other => other.to_owned(),
    };
    format!("{sign} {what}")
}
