//! `orgiam invites …`, `orgiam keys …`, `orgiam audit list` and `orgiam orgs create`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Outcome, segment};
use super::output::{self, Column, text};

/// `orgiam invites`.
#[derive(Subcommand, Debug)]
pub enum InvitesCommand {
    /// List the invitations.
    List,
    /// Invite an email with a base role; prints the invite with its token (shown once).
    Create {
        /// The invitee's email.
        email: String,
        /// Base role on joining: owner, admin, member or reader.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Revoke a pending invitation.
    Revoke {
        /// The invite's id.
        invite: String,
    },
}

/// `orgiam keys`.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Admin API keys (they act as the owner who made them).
    #[command(subcommand)]
    Admin(AdminKeysCommand),
    /// Keys acting as one user, with exactly that user's permissions.
    #[command(subcommand)]
    User(UserKeysCommand),
}

/// `orgiam keys admin`.
#[derive(Subcommand, Debug)]
pub enum AdminKeysCommand {
    /// List the admin keys.
    List,
    /// Create an admin key (owners only); prints it with its value (shown once).
    Create {
        /// The key's name.
        name: String,
        /// Lifetime in seconds.
        #[arg(long)]
        expires_in_seconds: Option<i64>,
    },
    /// Delete an admin key.
    Delete {
        /// The key's id.
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}

/// `orgiam keys user`.
#[derive(Subcommand, Debug)]
pub enum UserKeysCommand {
    /// List a user's keys.
    List {
        /// Email or user id.
        user: String,
    },
    /// Create a key acting as the user; prints it with its value (shown once).
    Create {
        /// Email or user id.
        user: String,
        /// The key's name.
        name: String,
        /// Lifetime in seconds.
        #[arg(long)]
        expires_in_seconds: Option<i64>,
    },
    /// Revoke a user's key.
    Delete {
        /// Email or user id.
        user: String,
        /// The key's id.
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}

/// `orgiam audit`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// List events, newest first.
    List {
        /// Only this event type (repeat for more), e.g. role.created.
        #[arg(long = "type")]
        types: Vec<String>,
        /// Only events by this actor (email or user id; repeat for more).
        #[arg(long = "actor")]
        actors: Vec<String>,
        /// Only events at or after this Unix time.
        #[arg(long)]
        since: Option<i64>,
        /// Only events at or before this Unix time.
        #[arg(long)]
        until: Option<i64>,
    },
}

/// `orgiam orgs`.
#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// Create an organization with its owner (needs the platform root key as --key); prints
    /// it with its first admin key (shown once).
    Create {
        /// The organization's name.
        name: String,
        /// The owner's email.
        #[arg(long)]
        owner_email: String,
        /// The owner's display name.
        #[arg(long)]
        owner_name: Option<String>,
    },
}

const KEY_COLUMNS: &[Column] = &[
    ("id", output::id),
    ("name", output::name),
    ("redacted_value", |v| text(v.get("redacted_value"))),
    ("owner", |v| text(v.pointer("/owner/email"))),
    ("expires_at", |v| text(v.get("expires_at"))),
];

pub(super) async fn invites(ctx: &Ctx, c: InvitesCommand) -> Outcome<()> {
    const PATH: &str = "/v1/organization/invites";
    match c {
        InvitesCommand::List => {
            let items = ctx.list(PATH, &[]).await?;
            output::list(
                ctx.format,
                &items,
                &[
                    ("id", output::id),
                    ("email", output::email),
                    ("role", output::role),
                    ("status", |v| text(v.get("status"))),
                    ("expires_at", |v| text(v.get("expires_at"))),
                ],
            )
        }
        InvitesCommand::Create { email, role } => {
            let r = ctx
                .client
                .post(PATH, &json!({ "email": email, "role": role }))
                .await?;
            output::object(ctx.format, &r)
        }
        InvitesCommand::Revoke { invite } => {
            let r = ctx
                .client
                .delete(&format!("{PATH}/{}", segment(&invite)))
                .await?;
            output::object(ctx.format, &r)
        }
    }
}

pub(super) async fn keys(ctx: &Ctx, c: KeysCommand) -> Outcome<()> {
    const ADMIN: &str = "/v1/organization/admin_api_keys";
    let body =
        |name: String, expires: Option<i64>| json!({ "name": name, "expires_in_seconds": expires });
    match c {
        KeysCommand::Admin(c) => match c {
            AdminKeysCommand::List => {
                let items = ctx.list(ADMIN, &[]).await?;
                output::list(ctx.format, &items, KEY_COLUMNS)
            }
            AdminKeysCommand::Create {
                name,
                expires_in_seconds,
            } => {
                let r = ctx
                    .client
                    .post(ADMIN, &body(name, expires_in_seconds))
                    .await?;
                output::object(ctx.format, &r)
            }
            AdminKeysCommand::Delete { key_id } => {
                let r = ctx
                    .client
                    .delete(&format!("{ADMIN}/{}", segment(&key_id)))
                    .await?;
                output::object(ctx.format, &r)
            }
        },
        KeysCommand::User(c) => {
            let path =
                |user_id: &str| format!("/v1/organization/users/{}/api_keys", segment(user_id));
            match c {
                UserKeysCommand::List { user } => {
                    let id = ctx.user(&user).await?;
                    let items = ctx.list(&path(&id), &[]).await?;
                    output::list(ctx.format, &items, KEY_COLUMNS)
                }
                UserKeysCommand::Create {
                    user,
                    name,
                    expires_in_seconds,
                } => {
                    let id = ctx.user(&user).await?;
                    let r = ctx
                        .client
                        .post(&path(&id), &body(name, expires_in_seconds))
                        .await?;
                    output::object(ctx.format, &r)
                }
                UserKeysCommand::Delete { user, key_id } => {
                    let id = ctx.user(&user).await?;
                    let r = ctx
                        .client
                        .delete(&format!("{}/{}", path(&id), segment(&key_id)))
                        .await?;
                    output::object(ctx.format, &r)
                }
            }
        }
    }
}

pub(super) async fn audit(ctx: &Ctx, c: AuditCommand) -> Outcome<()> {
    let AuditCommand::List {
        types,
        actors,
        since,
        until,
    } = c;
    let mut q: Vec<(&str, String)> = Vec::new();
    q.extend(types.into_iter().map(|t| ("event_types[]", t)));
    for a in actors {
        if a.starts_with("user_") {
            q.push(("actor_ids[]", a));
        } else {
            q.push(("actor_emails[]", a));
        }
    }
    q.extend(since.map(|t| ("effective_at[gte]", t.to_string())));
    q.extend(until.map(|t| ("effective_at[lte]", t.to_string())));
    let items = ctx.list("/v1/organization/audit_logs", &q).await?;
    output::list(
        ctx.format,
        &items,
        &[
            ("id", output::id),
            ("type", |v| text(v.get("type"))),
            ("effective_at", |v| text(v.get("effective_at"))),
            ("actor", |v: &Value| {
                text(
                    v.pointer("/actor/api_key/user/email")
                        .or(v.pointer("/actor/type")),
                )
            }),
        ],
    )
}

pub(super) async fn orgs(ctx: &Ctx, c: OrgsCommand) -> Outcome<()> {
    let OrgsCommand::Create {
        name,
        owner_email,
        owner_name,
    } = c;
    let body = json!({ "name": name, "owner_email": owner_email, "owner_name": owner_name });
    let r = ctx.client.post("/v1/organizations", &body).await?;
    output::object(ctx.format, &r)
}
