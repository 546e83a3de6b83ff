//! `orgiam projects …`: projects, their users and groups, their roles and grants of them.

use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;
use super::http::{Failure, Outcome, segment};
use super::output::{self, Column, text};
use super::roles::ROLE_COLUMNS;
use super::users::{USER_COLUMNS, granted};

/// `orgiam projects`.
#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// List the projects (with --archived, archived ones too).
    List {
        /// Include archived projects.
        #[arg(long)]
        archived: bool,
    },
    /// Show one project (by name or id).
    Get {
        /// Project name or id.
        project: String,
    },
    /// Create a project; prints its id.
    Create {
        /// The project's name.
        name: String,
    },
    /// Rename a project.
    Rename {
        /// Project name or id.
        project: String,
        /// The new name.
        name: String,
    },
    /// Archive a project (it then grants nothing; there is no delete).
    Archive {
        /// Project name or id.
        project: String,
    },
    /// A project's users.
    #[command(subcommand)]
    Users(ProjectUsersCommand),
    /// The groups with access to a project.
    #[command(subcommand)]
    Groups(ProjectGroupsCommand),
    /// A project's roles, and grants of them.
    #[command(subcommand)]
    Roles(ProjectRolesCommand),
}

/// `orgiam projects users`.
#[derive(Subcommand, Debug)]
pub enum ProjectUsersCommand {
    /// List a project's users.
    List {
        /// Project name or id.
        project: String,
    },
    /// Add a member of the organization to a project with a base project role.
    Add {
        /// Project name or id.
        project: String,
        /// Email or user id.
        user: String,
        /// owner, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Change a project user's base role.
    Update {
        /// Project name or id.
        project: String,
        /// Email or user id.
        user: String,
        /// owner, member or viewer.
        #[arg(long)]
        role: String,
    },
    /// Remove a user from a project.
    Remove {
        /// Project name or id.
        project: String,
        /// Email or user id.
        user: String,
    },
}

/// `orgiam projects groups`.
#[derive(Subcommand, Debug)]
pub enum ProjectGroupsCommand {
    /// List the groups with access to a project.
    List {
        /// Project name or id.
        project: String,
    },
    /// Give a group access to a project with a project role.
    Add {
        /// Project name or id.
        project: String,
        /// Group name or id.
        group: String,
        /// Project role name or id.
        #[arg(long)]
        role: String,
    },
    /// End a group's access to a project.
    Remove {
        /// Project name or id.
        project: String,
        /// Group name or id.
        group: String,
    },
}

/// Who a project grant is for.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Grantee {
    /// A user (email or id).
    #[arg(long)]
    user: Option<String>,
    /// A group (name or id).
    #[arg(long)]
    group: Option<String>,
}

/// `orgiam projects roles`.
#[derive(Subcommand, Debug)]
pub enum ProjectRolesCommand {
    /// List a project's roles (system project roles first).
    List {
        /// Project name or id.
        project: String,
    },
    /// Create a project role (api.project permissions only); prints its id.
    Create {
        /// Project name or id.
        project: String,
        /// The role's name.
        name: String,
        /// A permission it grants (repeat for more).
        #[arg(long = "permission", short = 'p', required = true)]
        permissions: Vec<String>,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a project role.
    Delete {
        /// Project name or id.
        project: String,
        /// Role name or id.
        role: String,
    },
    /// Grant a project role to a project user or group; prints the role's id.
    Grant {
        /// Project name or id.
        project: String,
        /// Role name or id.
        role: String,
        #[command(flatten)]
        to: Grantee,
        /// When the grant ends (Unix seconds).
        #[arg(long)]
        expires_at: Option<i64>,
    },
    /// Revoke a project role from a user or group.
    Revoke {
        /// Project name or id.
        project: String,
        /// Role name or id.
        role: String,
        #[command(flatten)]
        from: Grantee,
    },
}

const PROJECT_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("name", output::name),
    ("status", |v| text(v.get("status"))),
    ("created_at", output::created_at),
];

/// `users/{id}` or `groups/{id}` under a project's role-assignment routes.
async fn grantee_path(ctx: &Ctx, to: &Grantee) -> Outcome<String> {
    match (&to.user, &to.group) {
        (Some(u), _) => Ok(format!("users/{}", segment(&ctx.user(u).await?))),
        (None, Some(g)) => Ok(format!("groups/{}", segment(&ctx.group(g).await?))),
        (None, None) => Err(Failure::new("give --user or --group")),
    }
}

pub(super) async fn run(ctx: &Ctx, c: ProjectsCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/projects";
    let one = |id: &str| format!("{PATH}/{}", segment(id));
    match c {
        ProjectsCommand::List { archived } => {
            let q = [("include_archived", archived.to_string())];
            let items = ctx.list(PATH, &q).await?;
            output::list(ctx.format, &items, PROJECT_COLUMNS)
        }
        ProjectsCommand::Get { project } => {
            let id = ctx.project(&project).await?;
            output::object(ctx.format, &ctx.get(&one(&id)).await?)
        }
        ProjectsCommand::Create { name } => {
            let p = ctx.client.post(PATH, &json!({ "name": name })).await?;
            output::created(ctx.format, &p)
        }
        ProjectsCommand::Rename { project, name } => {
            let id = ctx.project(&project).await?;
            let p = ctx.client.post(&one(&id), &json!({ "name": name })).await?;
            output::object(ctx.format, &p)
        }
        ProjectsCommand::Archive { project } => {
            let id = ctx.project(&project).await?;
            let p = ctx
                .client
                .post(&format!("{}/archive", one(&id)), &json!({}))
                .await?;
            output::object(ctx.format, &p)
        }
        ProjectsCommand::Users(c) => match c {
            ProjectUsersCommand::List { project } => {
                let id = ctx.project(&project).await?;
                let items = ctx.list(&format!("{}/users", one(&id)), &[]).await?;
                output::list(ctx.format, &items, USER_COLUMNS)
            }
            ProjectUsersCommand::Add {
                project,
                user,
                role,
            } => {
                let id = ctx.project(&project).await?;
                let user_id = ctx.user(&user).await?;
                let body = json!({ "user_id": user_id, "role": role });
                let r = ctx
                    .client
                    .post(&format!("{}/users", one(&id)), &body)
                    .await?;
                output::created(ctx.format, &r)
            }
            ProjectUsersCommand::Update {
                project,
                user,
                role,
            } => {
                let id = ctx.project(&project).await?;
                let user_id = ctx.user(&user).await?;
                let path = format!("{}/users/{}", one(&id), segment(&user_id));
                let r = ctx.client.post(&path, &json!({ "role": role })).await?;
                output::object(ctx.format, &r)
            }
            ProjectUsersCommand::Remove { project, user } => {
                let id = ctx.project(&project).await?;
                let user_id = ctx.user(&user).await?;
                let path = format!("{}/users/{}", one(&id), segment(&user_id));
                output::object(ctx.format, &ctx.client.delete(&path).await?)
            }
        },
        ProjectsCommand::Groups(c) => match c {
            ProjectGroupsCommand::List { project } => {
                let id = ctx.project(&project).await?;
                let items = ctx.list(&format!("{}/groups", one(&id)), &[]).await?;
                output::list(
                    ctx.format,
                    &items,
                    &[
                        ("group_id", |v| text(v.get("group_id"))),
                        ("group_name", |v| text(v.get("group_name"))),
                        ("created_at", output::created_at),
                    ],
                )
            }
            ProjectGroupsCommand::Add {
                project,
                group,
                role,
            } => {
                let id = ctx.project(&project).await?;
                let group_id = ctx.group(&group).await?;
                let role_id = ctx.project_role(&id, &role).await?;
                let body = json!({ "group_id": group_id, "role": role_id });
                let r = ctx
                    .client
                    .post(&format!("{}/groups", one(&id)), &body)
                    .await?;
                output::object(ctx.format, &r)
            }
            ProjectGroupsCommand::Remove { project, group } => {
                let id = ctx.project(&project).await?;
                let group_id = ctx.group(&group).await?;
                let path = format!("{}/groups/{}", one(&id), segment(&group_id));
                output::object(ctx.format, &ctx.client.delete(&path).await?)
            }
        },
        ProjectsCommand::Roles(c) => roles(ctx, c).await,
    }
}

async fn roles(ctx: &Ctx, c: ProjectRolesCommand) -> Outcome<()> {
    let base = |id: &str| format!("/v1/projects/{}", segment(id));
    match c {
        ProjectRolesCommand::List { project } => {
            let id = ctx.project(&project).await?;
            let items = ctx.list(&format!("{}/roles", base(&id)), &[]).await?;
            output::list(ctx.format, &items, ROLE_COLUMNS)
        }
        ProjectRolesCommand::Create {
            project,
            name,
            permissions,
            description,
        } => {
            let id = ctx.project(&project).await?;
            let body = json!({ "role_name": name, "permissions": permissions, "description": description });
            let r = ctx
                .client
                .post(&format!("{}/roles", base(&id)), &body)
                .await?;
            output::created(ctx.format, &r)
        }
        ProjectRolesCommand::Delete { project, role } => {
            let id = ctx.project(&project).await?;
            let role_id = ctx.project_role(&id, &role).await?;
            let path = format!("{}/roles/{}", base(&id), segment(&role_id));
            output::object(ctx.format, &ctx.client.delete(&path).await?)
        }
        ProjectRolesCommand::Grant {
            project,
            role,
            to,
            expires_at,
        } => {
            let id = ctx.project(&project).await?;
            let role_id = ctx.project_role(&id, &role).await?;
            let path = format!("{}/{}/roles", base(&id), grantee_path(ctx, &to).await?);
            let body = json!({ "role_id": role_id, "expires_at": expires_at });
            granted(ctx, &ctx.client.post(&path, &body).await?)
        }
        ProjectRolesCommand::Revoke {
            project,
            role,
            from,
        } => {
            let id = ctx.project(&project).await?;
            let role_id = ctx.project_role(&id, &role).await?;
            let path = format!(
                "{}/{}/roles/{}",
                base(&id),
                grantee_path(ctx, &from).await?,
                segment(&role_id)
            );
            output::object(ctx.format, &ctx.client.delete(&path).await?)
        }
    }
}
