//! `orgiam` as a client: subcommands that speak the HTTP API (never the database), with the
//! connection from `--url`/`--key`, `ORGIAM_URL`/`ORGIAM_KEY` or a saved profile, and output
//! as tables, JSON or YAML. One file per resource family; this one holds the shared parts
//! (connection, name resolution) and the dispatcher.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

mod access;
mod config;
mod groups;
mod http;
mod model;
mod org;
mod output;
mod projects;
mod roles;
mod users;

use http::{Client, Failure, Outcome, segment};
use output::Format;

/// The connection and output flags, accepted before or after the subcommand.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Server URL, e.g. http://127.0.0.1:8080 (else the profile's).
    #[arg(long, env = "ORGIAM_URL", global = true)]
    pub url: Option<String>,
    /// API key (else the profile's).
    #[arg(long, env = "ORGIAM_KEY", global = true, hide_env_values = true)]
    pub key: Option<String>,
    /// Saved profile to use (see `orgiam login`).
    #[arg(long, env = "ORGIAM_PROFILE", global = true, default_value = "default")]
    pub profile: String,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value = "table"
    )]
    pub output: Format,
    /// Follow every page of a list (else the first page only).
    #[arg(long, global = true)]
    pub all: bool,
}

/// The client subcommands.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Save --url and --key as the profile named by --profile (default `default`), after
    /// checking that the key works.
    Login,
    /// Forget a saved profile.
    Logout,
    /// Organization roles.
    #[command(subcommand)]
    Roles(roles::RolesCommand),
    /// The permission catalog: built-in permissions and the organization's own.
    #[command(subcommand)]
    Permissions(roles::PermissionsCommand),
    /// Members, their base roles and their other roles.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Groups, their members and their roles.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Projects, their users, groups and roles.
    #[command(subcommand)]
    Projects(projects::ProjectsCommand),
    /// Invitations.
    #[command(subcommand)]
    Invites(org::InvitesCommand),
    /// Admin API keys and user keys.
    #[command(subcommand)]
    Keys(org::KeysCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(org::AuditCommand),
    /// Organizations (platform root key).
    #[command(subcommand)]
    Orgs(org::OrgsCommand),
    /// May USER do PERMISSION? Exit 0 allowed, 1 denied, 2 on an error.
    Check(access::CheckArgs),
    /// Every user holding PERMISSION.
    WhoCan(access::WhoCanArgs),
    /// Print the organization's access model (YAML unless `-o json`).
    ExportModel,
    /// Make the organization match a model file, in one transaction.
    Apply(model::ApplyArgs),
}

/// A client command's context: the connection and the output format.
pub struct Ctx {
    client: Client,
    format: Format,
    all: bool,
}

impl Ctx {
    /// `GET` of one object.
    async fn get(&self, path: &str) -> Outcome<Value> {
        self.client.get(path, &[]).await
    }

    /// Every item (with `--all`) or the first page of a list.
    async fn list(&self, path: &str, query: &[(&str, String)]) -> Outcome<Vec<Value>> {
        self.client.list(path, query, self.all).await
    }

    /// Every item of a list, whatever `--all` says (to find a name).
    async fn list_all(&self, path: &str) -> Outcome<Vec<Value>> {
        self.client.list(path, &[], true).await
    }

    /// The id of an object given by id (`prefix…`) or by its `field` (case-insensitively)
    /// among the items of `path`.
    async fn resolve(&self, path: &str, prefix: &str, field: &str, given: &str) -> Outcome<String> {
        if given.starts_with(prefix) {
            return Ok(given.to_owned());
        }
        let wanted = given.trim().to_lowercase();
        self.list_all(path)
            .await?
            .into_iter()
            .find(|i| {
                i.get(field).and_then(Value::as_str).map(str::to_lowercase) == Some(wanted.clone())
            })
            .and_then(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| Failure::new(format!("no {field} '{given}' in {path}")))
    }

    /// A user's id, from an id or an email.
    async fn user(&self, given: &str) -> Outcome<String> {
        if given.starts_with("user_") {
            return Ok(given.to_owned());
        }
        let page = self
            .client
            .get("/v1/organization/users", &[("emails[]", given.to_owned())])
            .await?;
        page.pointer("/data/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(format!("no member with email '{given}'")))
    }

    /// An organization role's id, from an id or a name.
    async fn org_role(&self, given: &str) -> Outcome<String> {
        self.resolve("/v1/organization/roles", "role_", "name", given)
            .await
    }

    /// A group's id, from an id or a name.
    async fn group(&self, given: &str) -> Outcome<String> {
        self.resolve("/v1/organization/groups", "group_", "name", given)
            .await
    }

    /// A project's id, from an id or a name.
    async fn project(&self, given: &str) -> Outcome<String> {
        let q = [("include_archived", "true".to_owned())];
        if given.starts_with("proj_") {
            return Ok(given.to_owned());
        }
        let wanted = given.trim().to_lowercase();
        self.client
            .list("/v1/organization/projects", &q, true)
            .await?
            .into_iter()
            .find(|i| {
                i.get("name").and_then(Value::as_str).map(str::to_lowercase) == Some(wanted.clone())
            })
            .and_then(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| Failure::new(format!("no project named '{given}'")))
    }

    /// A project role's id, from an id or a name.
    async fn project_role(&self, project: &str, given: &str) -> Outcome<String> {
        let path = format!("/v1/projects/{}/roles", segment(project));
        self.resolve(&path, "role_", "name", given).await
    }
}

/// The connection for a command: flags and environment first, then the profile.
fn connect(g: &Global) -> Outcome<Client> {
    let saved = config::load()?.profiles.remove(&g.profile);
    let url = g
        .url
        .clone()
        .or_else(|| saved.as_ref().map(|p| p.url.clone()));
    let key = g
        .key
        .clone()
        .or_else(|| saved.as_ref().map(|p| p.key.clone()));
    match (url, key) {
        (Some(u), Some(k)) => Client::new(&u, &k),
        _ => Err(Failure::new(format!(
            "no server to talk to: give --url and --key, set ORGIAM_URL and ORGIAM_KEY, or \
             save a profile with `orgiam login --url URL --key KEY` (profile '{}' is not saved)",
            g.profile
        ))),
    }
}

/// Runs a client command; prints failures on stderr. `check` has exit codes of its own.
pub async fn run(global: Global, command: ClientCommand) -> ExitCode {
    let is_check = matches!(command, ClientCommand::Check(_));
    match dispatch(global, command).await {
        Ok(code) => code,
        Err(f) => {
            eprintln!("orgiam: {}", f.message);
            ExitCode::from(if is_check { 2 } else { 1 })
        }
    }
}

async fn dispatch(g: Global, command: ClientCommand) -> Outcome<ExitCode> {
    match command {
        ClientCommand::Login => return login(&g).await,
        ClientCommand::Logout => return logout(&g),
        _ => {}
    }
    let ctx = Ctx {
        client: connect(&g)?,
        format: g.output,
        all: g.all,
    };
    match command {
        ClientCommand::Login | ClientCommand::Logout => {}
        ClientCommand::Roles(c) => roles::roles(&ctx, c).await?,
        ClientCommand::Permissions(c) => roles::permissions(&ctx, c).await?,
        ClientCommand::Users(c) => users::run(&ctx, c).await?,
        ClientCommand::Groups(c) => groups::run(&ctx, c).await?,
        ClientCommand::Projects(c) => projects::run(&ctx, c).await?,
        ClientCommand::Invites(c) => org::invites(&ctx, c).await?,
        ClientCommand::Keys(c) => org::keys(&ctx, c).await?,
        ClientCommand::Audit(c) => org::audit(&ctx, c).await?,
        ClientCommand::Orgs(c) => org::orgs(&ctx, c).await?,
        ClientCommand::Check(a) => return access::check(&ctx, a).await,
        ClientCommand::WhoCan(a) => access::who_can(&ctx, a).await?,
        ClientCommand::ExportModel => model::export(&ctx).await?,
        ClientCommand::Apply(a) => model::apply(&ctx, a).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn login(g: &Global) -> Outcome<ExitCode> {
    let (Some(url), Some(key)) = (&g.url, &g.key) else {
        return Err(Failure::new("login needs --url URL and --key KEY"));
    };
    let name = g.profile.clone();
    // the key must work before it is saved: any route it may read will do, and a key
    // without permission to list roles still authenticates (403, not 401)
    let client = Client::new(url, key)?;
    if let Err(f) = client
        .get("/v1/organization/roles", &[("limit", "1".into())])
        .await
    {
        if f.message.contains("(HTTP 401)") || !f.message.contains("(HTTP 4") {
            return Err(f);
        }
    }
    let mut all = config::load()?;
    all.profiles.insert(
        name.clone(),
        config::Profile {
            url: url.clone(),
            key: key.clone(),
        },
    );
    let path = config::save(&all)?;
    eprintln!("orgiam: saved profile '{name}' in {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn logout(g: &Global) -> Outcome<ExitCode> {
    let mut all = config::load()?;
    if all.profiles.remove(&g.profile).is_none() {
        return Err(Failure::new(format!("no saved profile '{}'", g.profile)));
    }
    config::save(&all)?;
    eprintln!("orgiam: removed profile '{}'", g.profile);
    Ok(ExitCode::SUCCESS)
}
