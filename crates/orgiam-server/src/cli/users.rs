//! `orgiam users …`: members, their base role, and the roles granted to them.

use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Outcome, segment};
use super::output::{self, Column, text};

/// `orgiam users`.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// List the members.
    List,
    /// Show one member (by email or id).
    Get {
        /// Email or user id.
        user: String,
    },
    /// Provision a member directly with a base role; prints the user's id.
    Add {
        /// The person's email.
        email: String,
        /// Base role: owner, admin, member or reader.
        #[arg(long)]
        role: String,
        /// Display name in this organization.
        #[arg(long)]
        name: Option<String>,
    },
    /// Change a member's base role or display name.
    Update {
        /// Email or user id.
        user: String,
        /// New base role.
        #[arg(long)]
        role: Option<String>,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a member (with their group and project memberships, grants and keys).
    Remove {
        /// Email or user id.
        user: String,
    },
    /// The roles a member holds, and grants of more.
    #[command(subcommand)]
    Roles(UserRolesCommand),
}

/// `orgiam users roles`.
#[derive(Subcommand, Debug)]
pub enum UserRolesCommand {
    /// The organization roles a member holds (direct and through groups).
    List {
        /// Email or user id.
        user: String,
    },
    /// Grant an organization role; prints the role's id.
    Grant {
        /// Email or user id.
        user: String,
        /// Role name or id.
        role: String,
        /// When the grant ends (Unix seconds).
        #[arg(long)]
        expires_at: Option<i64>,
    },
    /// Revoke a directly granted role.
    Revoke {
        /// Email or user id.
        user: String,
        /// Role name or id.
        role: String,
    },
}

/// Columns of member lists.
pub const USER_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("email", output::email),
    ("name", output::name),
    ("role", output::role),
];

/// Columns of held-role lists (users, groups, projects).
pub const HELD_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("name", output::name),
    ("expires_at", |v| text(v.get("expires_at"))),
    ("via", |v| {
        v.get("assignment_sources")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|s| text(s.get("principal_type")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }),
];

pub(super) async fn run(ctx: &Ctx, c: UsersCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/users";
    match c {
        UsersCommand::List => {
            let items = ctx.list(PATH, &[]).await?;
            output::list(ctx.format, &items, USER_COLUMNS)
        }
        UsersCommand::Get { user } => {
            let id = ctx.user(&user).await?;
            let u = ctx.get(&format!("{PATH}/{}", segment(&id))).await?;
            output::object(ctx.format, &u)
        }
        UsersCommand::Add { email, role, name } => {
            let body = json!({ "email": email, "role": role, "name": name });
            let u = ctx.client.post(PATH, &body).await?;
            output::created(ctx.format, &u)
        }
        UsersCommand::Update { user, role, name } => {
            let id = ctx.user(&user).await?;
            let mut body = serde_json::Map::new();
            if let Some(r) = role {
                body.insert("role".into(), json!(r));
            }
            if let Some(n) = name {
                body.insert("name".into(), json!(n));
            }
            let u = ctx
                .client
                .post(&format!("{PATH}/{}", segment(&id)), &Value::Object(body))
                .await?;
            output::object(ctx.format, &u)
        }
        UsersCommand::Remove { user } => {
            let id = ctx.user(&user).await?;
            let r = ctx
                .client
                .delete(&format!("{PATH}/{}", segment(&id)))
                .await?;
            output::object(ctx.format, &r)
        }
        UsersCommand::Roles(c) => roles(ctx, c).await,
    }
}

async fn roles(ctx: &Ctx, c: UserRolesCommand) -> Outcome<()> {
    match c {
        UserRolesCommand::List { user } => {
            let id = ctx.user(&user).await?;
            let path = format!("/v1/organization/users/{}/roles", segment(&id));
            let items = ctx.list(&path, &[]).await?;
            output::list(ctx.format, &items, HELD_COLUMNS)
        }
        UserRolesCommand::Grant {
            user,
            role,
            expires_at,
        } => {
            let id = ctx.user(&user).await?;
            let role_id = ctx.org_role(&role).await?;
            let path = format!("/v1/organization/users/{}/roles", segment(&id));
            let body = json!({ "role_id": role_id, "expires_at": expires_at });
            let r = ctx.client.post(&path, &body).await?;
            granted(ctx, &r)
        }
        UserRolesCommand::Revoke { user, role } => {
            let id = ctx.user(&user).await?;
            let role_id = ctx.org_role(&role).await?;
            let path = format!(
                "/v1/organization/users/{}/roles/{}",
                segment(&id),
                segment(&role_id)
            );
            let r = ctx.client.delete(&path).await?;
            output::object(ctx.format, &r)
        }
    }
}

/// Prints a grant's answer: the role's id for people, the whole answer for scripts.
pub(super) fn granted(ctx: &Ctx, r: &Value) -> Outcome<()> {
    match r.get("role") {
        Some(role) if ctx.format == output::Format::Table => output::created(ctx.format, role),
        _ => output::created(ctx.format, r),
    }
}
