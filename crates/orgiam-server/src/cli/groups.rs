//! `orgiam groups …`: groups, their members and the roles granted to them.

use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use super::http::{Outcome, segment};
use super::output::{self, Column};
use super::users::{HELD_COLUMNS, USER_COLUMNS, granted};

/// `orgiam groups`.
#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// List the groups.
    List,
    /// Show one group (by name or id).
    Get {
        /// Group name or id.
        group: String,
    },
    /// Create a group; prints its id.
    Create {
        /// The group's name.
        name: String,
    },
    /// Rename a group.
    Rename {
        /// Group name or id.
        group: String,
        /// The new name.
        name: String,
    },
    /// Delete a group (its memberships and grants go with it).
    Delete {
        /// Group name or id.
        group: String,
    },
    /// A group's members.
    #[command(subcommand)]
    Members(GroupMembersCommand),
    /// The organization roles granted to a group.
    #[command(subcommand)]
    Roles(GroupRolesCommand),
}

/// `orgiam groups members`.
#[derive(Subcommand, Debug)]
pub enum GroupMembersCommand {
    /// List a group's members.
    List {
        /// Group name or id.
        group: String,
    },
    /// Add a member of the organization to a group.
    Add {
        /// Group name or id.
        group: String,
        /// Email or user id.
        user: String,
    },
    /// Remove a user from a group.
    Remove {
        /// Group name or id.
        group: String,
        /// Email or user id.
        user: String,
    },
}

/// `orgiam groups roles`.
#[derive(Subcommand, Debug)]
pub enum GroupRolesCommand {
    /// The roles a group holds.
    List {
        /// Group name or id.
        group: String,
    },
    /// Grant an organization role to a group; prints the role's id.
    Grant {
        /// Group name or id.
        group: String,
        /// Role name or id.
        role: String,
        /// When the grant ends (Unix seconds).
        #[arg(long)]
        expires_at: Option<i64>,
    },
    /// Revoke a group's role.
    Revoke {
        /// Group name or id.
        group: String,
        /// Role name or id.
        role: String,
    },
}

const GROUP_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("name", output::name),
    ("created_at", output::created_at),
];

pub(super) async fn run(ctx: &Ctx, c: GroupsCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/groups";
    let one = |id: &str| format!("{PATH}/{}", segment(id));
    match c {
        GroupsCommand::List => {
            let items = ctx.list(PATH, &[]).await?;
            output::list(ctx.format, &items, GROUP_COLUMNS)
        }
        GroupsCommand::Get { group } => {
            let id = ctx.group(&group).await?;
            output::object(ctx.format, &ctx.get(&one(&id)).await?)
        }
        GroupsCommand::Create { name } => {
            let g = ctx.client.post(PATH, &json!({ "name": name })).await?;
            output::created(ctx.format, &g)
        }
        GroupsCommand::Rename { group, name } => {
            let id = ctx.group(&group).await?;
            let g = ctx.client.post(&one(&id), &json!({ "name": name })).await?;
            output::object(ctx.format, &g)
        }
        GroupsCommand::Delete { group } => {
            let id = ctx.group(&group).await?;
            output::object(ctx.format, &ctx.client.delete(&one(&id)).await?)
        }
        GroupsCommand::Members(c) => match c {
            GroupMembersCommand::List { group } => {
                let id = ctx.group(&group).await?;
                let items = ctx.list(&format!("{}/users", one(&id)), &[]).await?;
                output::list(ctx.format, &items, USER_COLUMNS)
            }
            GroupMembersCommand::Add { group, user } => {
                let id = ctx.group(&group).await?;
                let user_id = ctx.user(&user).await?;
                let r = ctx
                    .client
                    .post(
                        &format!("{}/users", one(&id)),
                        &json!({ "user_id": user_id }),
                    )
                    .await?;
                output::object(ctx.format, &r)
            }
            GroupMembersCommand::Remove { group, user } => {
                let id = ctx.group(&group).await?;
                let user_id = ctx.user(&user).await?;
                let path = format!("{}/users/{}", one(&id), segment(&user_id));
                output::object(ctx.format, &ctx.client.delete(&path).await?)
            }
        },
        GroupsCommand::Roles(c) => match c {
            GroupRolesCommand::List { group } => {
                let id = ctx.group(&group).await?;
                let items = ctx.list(&format!("{}/roles", one(&id)), &[]).await?;
                output::list(ctx.format, &items, HELD_COLUMNS)
            }
            GroupRolesCommand::Grant {
                group,
                role,
                expires_at,
            } => {
                let id = ctx.group(&group).await?;
                let role_id = ctx.org_role(&role).await?;
                let body = json!({ "role_id": role_id, "expires_at": expires_at });
                let r = ctx
                    .client
                    .post(&format!("{}/roles", one(&id)), &body)
                    .await?;
                granted(ctx, &r)
            }
            GroupRolesCommand::Revoke { group, role } => {
                let id = ctx.group(&group).await?;
                let role_id = ctx.org_role(&role).await?;
                let path = format!("{}/roles/{}", one(&id), segment(&role_id));
                output::object(ctx.format, &ctx.client.delete(&path).await?)
            }
        },
    }
}
