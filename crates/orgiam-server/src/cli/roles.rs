//! `orgiam roles …` and `orgiam permissions …`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Outcome, segment};
use super::output::{self, Column, text};

/// `orgiam roles`.
#[derive(Subcommand, Debug)]
pub enum RolesCommand {
    /// List the organization's roles (system roles first).
    List,
    /// Show one role (by name or id).
    Get {
        /// Role name or id.
        role: String,
    },
    /// Create a custom role; prints its id.
    Create {
        /// The role's name.
        name: String,
        /// A permission it grants (repeat for more).
        #[arg(long = "permission", short = 'p', required = true)]
        permissions: Vec<String>,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a custom role: its name, description or permission set (replaced whole).
    Update {
        /// Role name or id.
        role: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// The new permission set (repeat; replaces the old set).
        #[arg(long = "permission", short = 'p')]
        permissions: Vec<String>,
    },
    /// Delete a custom role and every assignment of it.
    Delete {
        /// Role name or id.
        role: String,
    },
}

/// `orgiam permissions`.
#[derive(Subcommand, Debug)]
pub enum PermissionsCommand {
    /// List the catalog (built-in and the organization's own).
    List,
    /// Register one of the organization's own permissions; prints its id.
    Create {
        /// Its name, e.g. documents.write.
        name: String,
        /// What it allows.
        #[arg(long)]
        description: Option<String>,
        /// api.organization (default) or api.project.
        #[arg(long)]
        resource_type: Option<String>,
    },
    /// Delete one of the organization's own permissions (refused while a role holds it).
    Delete {
        /// Its name.
        name: String,
    },
}

/// Columns of role lists (organization and project roles).
pub const ROLE_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("name", output::name),
    ("predefined", |v| text(v.get("predefined_role"))),
    ("permissions", |v| text(v.get("permissions"))),
];

pub(super) async fn roles(ctx: &Ctx, c: RolesCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/roles";
    match c {
        RolesCommand::List => {
            let items = ctx.list(PATH, &[]).await?;
            output::list(ctx.format, &items, ROLE_COLUMNS)
        }
        RolesCommand::Get { role } => {
            let id = ctx.org_role(&role).await?;
            let r = ctx.get(&format!("{PATH}/{}", segment(&id))).await?;
            output::object(ctx.format, &r)
        }
        RolesCommand::Create {
            name,
            permissions,
            description,
        } => {
            let body = json!({ "role_name": name, "permissions": permissions, "description": description });
            let r = ctx.client.post(PATH, &body).await?;
            output::created(ctx.format, &r)
        }
        RolesCommand::Update {
            role,
            name,
            description,
            permissions,
        } => {
            let id = ctx.org_role(&role).await?;
            let mut body = serde_json::Map::new();
            if let Some(n) = name {
                body.insert("role_name".into(), json!(n));
            }
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            if !permissions.is_empty() {
                body.insert("permissions".into(), json!(permissions));
            }
            let r = ctx
                .client
                .post(&format!("{PATH}/{}", segment(&id)), &Value::Object(body))
                .await?;
            output::object(ctx.format, &r)
        }
        RolesCommand::Delete { role } => {
            let id = ctx.org_role(&role).await?;
            let r = ctx
                .client
                .delete(&format!("{PATH}/{}", segment(&id)))
                .await?;
            output::created(ctx.format, &r)
        }
    }
}

pub(super) async fn permissions(ctx: &Ctx, c: PermissionsCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/permissions";
    match c {
        PermissionsCommand::List => {
            let items = ctx.list(PATH, &[]).await?;
            output::list(
                ctx.format,
                &items,
                &[
                    ("name", output::name),
                    ("resource_type", |v| text(v.get("resource_type"))),
                    ("description", output::description),
                ],
            )
        }
        PermissionsCommand::Create {
            name,
            description,
            resource_type,
        } => {
            let body =
                json!({ "name": name, "description": description, "resource_type": resource_type });
            let r = ctx.client.post(PATH, &body).await?;
            output::created(ctx.format, &r)
        }
        PermissionsCommand::Delete { name } => {
            let r = ctx
                .client
                .delete(&format!("{PATH}/{}", segment(&name)))
                .await?;
            output::object(ctx.format, &r)
        }
    }
}
