//! `orgiam check` and `orgiam who-can`: the access questions.

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Outcome, segment};
use super::output::{self, Format, text};

/// `orgiam check USER PERMISSION [--project P]`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Email or user id.
    user: String,
    /// The permission, e.g. documents.write.
    permission: String,
    /// Ask about this project (name or id).
    #[arg(long)]
    project: Option<String>,
}

/// `orgiam who-can PERMISSION [--project P]`.
#[derive(Args, Debug)]
pub struct WhoCanArgs {
    /// The permission.
    permission: String,
    /// Ask about this project (name or id).
    #[arg(long)]
    project: Option<String>,
}

/// Prints the decision with the grants that made it; exit 0 allowed, 1 denied (errors: 2,
/// from the caller).
pub(super) async fn check(ctx: &Ctx, a: CheckArgs) -> Outcome<ExitCode> {
    let user_id = ctx.user(&a.user).await?;
    let project_id = match &a.project {
        Some(p) => Some(ctx.project(p).await?),
        None => None,
    };
    let body = json!({ "user_id": user_id, "permission": a.permission, "project_id": project_id });
    let r = ctx
        .client
        .post("/v1/organization/permissions/check", &body)
        .await?;
    let allowed = r.get("allowed").and_then(Value::as_bool).unwrap_or(false);
    if ctx.format == Format::Table {
        println!("{}", if allowed { "allowed" } else { "denied" });
        for reason in r
            .get("reasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let via = match reason.get("group_id").and_then(Value::as_str) {
                Some(g) => format!("via group {g}"),
                None => "direct".to_owned(),
            };
            let scope = match reason.get("project_id").and_then(Value::as_str) {
                Some(p) => format!("in project {p}"),
                None => "in the organization".to_owned(),
            };
            println!(
                "  role {} ({}), {via}, {scope}",
                text(reason.get("role_name")),
                text(reason.get("role_id"))
            );
        }
    } else {
        output::document(ctx.format, &r)?;
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every holder of a permission (every page), with their emails in a table.
pub(super) async fn who_can(ctx: &Ctx, a: WhoCanArgs) -> Outcome<()> {
    let mut q = Vec::new();
    if let Some(p) = &a.project {
        q.push(("project_id", ctx.project(p).await?));
    }
    let path = format!(
        "/v1/organization/permissions/{}/users",
        segment(&a.permission)
    );
    let mut items = ctx.client.list(&path, &q, true).await?;
    if ctx.format == Format::Table {
        for item in &mut items {
            let id = text(item.get("id"));
            let user = ctx
                .get(&format!("/v1/organization/users/{}", segment(&id)))
                .await?;
            if let Some(o) = item.as_object_mut() {
                o.insert(
                    "email".into(),
                    user.get("email").cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    output::list(
        ctx.format,
        &items,
        &[("id", output::id), ("email", output::email)],
    )
}
