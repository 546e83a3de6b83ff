//! The `orgiam` command: `serve` runs the server, `migrate` applies migrations and exits; the
//! client subcommands (`roles`, `users`, `check`, `apply`, …; see `cli/`) speak the HTTP API.

mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use orgiam_server::generate::Size;
use orgiam_server::{DEFAULT_BODY_LIMIT, ServeConfig, limits, redact_url};
use orgiam_store::{SqliteSync, Store, StoreOptions};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "orgiam", version, about = "Organization IAM server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, env = "ORGIAM_LOG_FORMAT", default_value = "text", global = true)]
    log_format: LogFormat,
    /// Connection and output of the client subcommands.
    #[command(flatten)]
    client: cli::Global,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sync {
    Full,
    Normal,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ORGIAM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Database URL: sqlite://FILE (created if missing) or postgres://…
        #[arg(
            long,
            env = "ORGIAM_DATABASE_URL",
            default_value = "sqlite://orgiam.db"
        )]
        database: String,
        /// Platform root key: enables POST /v1/organizations.
        #[arg(long, env = "ORGIAM_ROOT_KEY", hide_env_values = true)]
        root_key: Option<String>,
        /// Largest request body in bytes.
        #[arg(long, env = "ORGIAM_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
        body_limit: usize,
        /// SQLite durability: full (every commit on disk) or normal.
        #[arg(long, env = "ORGIAM_SQLITE_SYNCHRONOUS", default_value = "full")]
        sqlite_synchronous: Sync,
        /// Email of the owner created on first start with an empty database.
        #[arg(
            long,
            env = "ORGIAM_BOOTSTRAP_OWNER_EMAIL",
            default_value = "owner@example.com"
        )]
        bootstrap_owner_email: String,
        /// Requests per second per API key on average (token bucket); 0 disables the limit.
        #[arg(long, env = "ORGIAM_RATE_LIMIT_PER_SECOND", default_value_t = limits::DEFAULT_RATE_PER_SECOND)]
        rate_limit_per_second: u32,
        /// Requests per API key admitted at once before the rate applies.
        #[arg(long, env = "ORGIAM_RATE_LIMIT_BURST", default_value_t = limits::DEFAULT_BURST)]
        rate_limit_burst: u32,
        /// Seconds a request may run before it is answered with a 503; 0 for no limit.
        #[arg(long, env = "ORGIAM_REQUEST_TIMEOUT_SECONDS", default_value_t = limits::DEFAULT_REQUEST_TIMEOUT_SECONDS)]
        request_timeout_seconds: u64,
        /// Memory budget of the authorization engine's loaded snapshots, in (estimated)
        /// bytes; the least recently used organizations are evicted past it.
        #[arg(long, env = "ORGIAM_ENGINE_MEMORY_BYTES", default_value_t = orgiam_server::engine::DEFAULT_MEMORY_BUDGET)]
        engine_memory_budget_bytes: u64,
        /// Failed authentications (401s) per client address per minute on average; past the
        /// burst the address gets 429s with Retry-After; 0 turns the limit off.
        #[arg(long, env = "ORGIAM_AUTH_FAILURES_PER_MINUTE", default_value_t = limits::DEFAULT_AUTH_FAILURES_PER_MINUTE)]
        auth_failures_per_minute: u32,
        /// Failed authentications per client address admitted at once.
        #[arg(long, env = "ORGIAM_AUTH_FAILURE_BURST", default_value_t = limits::DEFAULT_AUTH_FAILURE_BURST)]
        auth_failure_burst: u32,
        /// Most connections open at once; past it new connections wait to be accepted; 0 for
        /// no cap.
        #[arg(long, env = "ORGIAM_MAX_CONNECTIONS", default_value_t = orgiam_server::listener::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
        /// The URL people reach this server at (https://iam.example.com): invitation links are
        /// built from it only; without it they are paths (/invites/accept?token=…).
        #[arg(long, env = "ORGIAM_PUBLIC_URL")]
        public_url: Option<String>,
        /// Deliver webhooks to http:// and to private, loopback and link-local addresses too
        /// (tests, private deployments); by default only https:// on public addresses.
        #[arg(long, env = "ORGIAM_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        webhooks_allow_private: bool,
        /// Delay before a failed webhook delivery's first retry, in seconds; each further
        /// retry doubles it, with jitter.
        #[arg(long, env = "ORGIAM_WEBHOOKS_RETRY_BASE_SECONDS", default_value_t = orgiam_server::webhooks::DEFAULT_RETRY_BASE_SECONDS)]
        webhooks_retry_base_seconds: u64,
        /// How long a webhook delivery is retried before it fails and its endpoint is marked
        /// failing, in seconds.
        #[arg(long, env = "ORGIAM_WEBHOOKS_RETRY_WINDOW_SECONDS", default_value_t = orgiam_server::webhooks::DEFAULT_RETRY_WINDOW_SECONDS)]
        webhooks_retry_window_seconds: u64,
        /// How long a webhook endpoint may stay failing before it is disabled, in seconds.
        #[arg(long, env = "ORGIAM_WEBHOOKS_DISABLE_AFTER_SECONDS", default_value_t = orgiam_server::webhooks::DEFAULT_DISABLE_AFTER_SECONDS)]
        webhooks_disable_after_seconds: u64,
        /// A TOML file with any of these settings (named as the flags, with underscores);
        /// flags and the environment override it; unknown keys are an error.
        #[arg(long, env = "ORGIAM_CONFIG")]
        config: Option<std::path::PathBuf>,
        /// Print the effective configuration (secrets redacted) and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Developer tools: generated data sets for benchmarks.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    #[command(flatten)]
    Client(cli::ClientCommand),
    /// Write the whole server (organizations, global catalog, keys as their hashes, audit
    /// logs) to a JSON file, created readable by its owner only.
    Export {
        /// Database URL.
        #[arg(long, env = "ORGIAM_DATABASE_URL")]
        database: String,
        /// The file to write (it holds secrets' hashes).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Load an export into an empty database (of either engine).
    Import {
        /// Database URL (migrated first if need be).
        #[arg(long, env = "ORGIAM_DATABASE_URL")]
        database: String,
        /// The export file.
        file: std::path::PathBuf,
    },
    /// Apply the database migrations and exit.
    Migrate {
        /// Database URL.
        #[arg(
            long,
            env = "ORGIAM_DATABASE_URL",
            default_value = "sqlite://orgiam.db"
        )]
        database: String,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Fill a database with a deterministic data set (S, M or L; see docs/PERFORMANCE.md).
    Generate {
        /// Database URL (best a fresh one).
        #[arg(long, env = "ORGIAM_DATABASE_URL")]
        database: String,
        /// S: 10 orgs x 100 members; M: 1,000 orgs x 1,000 members; L: M plus one org of
        /// 100,000 members and 100,000 roles.
        #[arg(long, value_parser = parse_size)]
        size: Size,
        /// Seed: the same size and seed give the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write one line per organization (org id, members, custom roles, owner id, admin
        /// key, sample user id; tab-separated) to this file. It holds secrets.
        #[arg(long)]
        keys_file: Option<std::path::PathBuf>,
    },
}

/// Whether a flag or the environment set `id` (they override the configuration file); an
/// empty environment variable sets nothing.
fn explicit(matches: &ArgMatches, id: &str) -> bool {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => true,
        Some(ValueSource::EnvVariable) => matches
            .get_raw(id)
            .is_some_and(|mut v| v.any(|s| !s.is_empty())),
        _ => false,
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    Size::parse(s).ok_or_else(|| format!("unknown size '{s}': use S, M or L"))
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("ORGIAM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let command = match cli.command {
        Command::Client(c) => return cli::run(cli.client, c).await,
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "orgiam", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        other => other,
    };
    // the configuration file, if any: read before logging starts (it may set the format)
    let file = match matches
        .subcommand_matches("serve")
        .and_then(|m| m.get_one::<std::path::PathBuf>("config"))
    {
        Some(path) => match orgiam_server::config::load(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("orgiam: {}", e.message);
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let mut log_format = cli.log_format;
    if let Some(f) = file.as_ref().and_then(|f| f.log_format.as_deref()) {
        if !explicit(&matches, "log_format") {
            match LogFormat::from_str(f, false) {
                Ok(v) => log_format = v,
                Err(_) => {
                    eprintln!("orgiam: log_format must be 'text' or 'json', not '{f}'");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    init_logs(log_format);
    let result = match command {
        Command::Serve {
            listen,
            database,
            root_key,
            body_limit,
            sqlite_synchronous,
            bootstrap_owner_email,
            rate_limit_per_second,
            rate_limit_burst,
            request_timeout_seconds,
            engine_memory_budget_bytes,
            auth_failures_per_minute,
            auth_failure_burst,
            max_connections,
            public_url,
            webhooks_allow_private,
            webhooks_retry_base_seconds,
            webhooks_retry_window_seconds,
            webhooks_disable_after_seconds,
            config: _,
            print_config,
        } => {
            let mut config = ServeConfig::new(database);
            config.listen = listen;
            config.root_key = root_key;
            config.body_limit = body_limit;
            config.bootstrap_owner_email = bootstrap_owner_email;
            config.rate_limit_per_second = rate_limit_per_second;
            config.rate_limit_burst = rate_limit_burst;
            config.request_timeout = (request_timeout_seconds > 0)
                .then(|| std::time::Duration::from_secs(request_timeout_seconds));
            config.engine_memory_budget = engine_memory_budget_bytes;
            config.auth_failures_per_minute = auth_failures_per_minute;
            config.auth_failure_burst = auth_failure_burst;
            config.max_connections = max_connections;
            config.public_url = public_url;
            config.webhooks = orgiam_server::webhooks::WebhookConfig {
                allow_private: webhooks_allow_private,
                retry_base: std::time::Duration::from_secs(webhooks_retry_base_seconds.max(1)),
                retry_window: std::time::Duration::from_secs(webhooks_retry_window_seconds),
                disable_after: std::time::Duration::from_secs(webhooks_disable_after_seconds),
            };
            config.sqlite_sync = match sqlite_synchronous {
                Sync::Full => SqliteSync::Full,
                Sync::Normal => SqliteSync::Normal,
            };
            let applied = match (file, matches.subcommand_matches("serve")) {
                (Some(file), Some(sub)) => {
                    orgiam_server::config::apply(file, |name| explicit(sub, name), &mut config)
                }
                _ => Ok(()),
            };
            match applied {
                Err(e) => Err(e),
                Ok(()) if print_config => {
                    let format = match log_format {
                        LogFormat::Text => "text",
                        LogFormat::Json => "json",
                    };
                    print!("{}", orgiam_server::config::render(&config, format));
                    Ok(())
                }
                Ok(()) => serve(config).await,
            }
        }
        Command::Dev {
            command:
                DevCommand::Generate {
                    database,
                    size,
                    seed,
                    keys_file,
                },
        } => dev_generate(&database, size, seed, keys_file.as_deref()).await,
        Command::Export { database, out } => export(&database, &out).await,
        Command::Import { database, file } => import(&database, &file).await,
        Command::Migrate { database } => {
            match Store::open(&StoreOptions::new(database.clone())).await {
                Ok(store) => {
                    tracing::info!(database = %redact_url(&database), "migrations applied");
                    store.close().await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Command::Client(_) | Command::Completions { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e.message, "orgiam failed");
            eprintln!("orgiam: {}", e.message);
            ExitCode::FAILURE
        }
    }
}

async fn dev_generate(
    database: &str,
    size: Size,
    seed: u64,
    keys_file: Option<&std::path::Path>,
) -> orgiam_core::Result<()> {
    let store = Store::open(&StoreOptions::new(database)).await?;
    let report = orgiam_server::generate::generate(&store, size, seed, true).await?;
    if let Some(path) = keys_file {
        let mut out = String::new();
        for o in &report.orgs {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                o.org_id, o.members, o.custom_roles, o.owner_id, o.admin_key, o.sample_user_id
            ));
        }
        std::fs::write(path, out).map_err(|e| {
            orgiam_core::Error::invalid(
                "keys_file",
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    let secs = report.elapsed.as_secs_f64().max(1e-3);
    eprintln!(
        "orgiam: generated {} rows in {secs:.1} s ({:.0} rows/s)",
        report.rows,
        report.rows as f64 / secs
    );
    for (table, n) in store.table_counts().await? {
        println!("{table:<22} {n:>12}");
    }
    store.close().await;
    Ok(())
}

async fn serve(config: ServeConfig) -> orgiam_core::Result<()> {
    tracing::info!(listen = %config.listen, database = %redact_url(&config.database), "starting");
    let server = orgiam_server::start(config).await?;
    let base = format!("http://{}", server.addr);
    if let Some(b) = &server.bootstrap {
        // stdout, once: the only time this secret is ever shown
        println!(
            "orgiam: created organization {} ({})",
            b.organization.id, b.organization.name
        );
        println!("orgiam: owner {} ({})", b.owner.email, b.owner.user_id);
        println!(
            "orgiam: admin API key (shown once, store it now): {}",
            b.secret
        );
        println!(
            "orgiam: try: curl -H 'Authorization: Bearer {}' {base}/v1/organization/roles",
            b.secret
        );
    }
    tracing::info!(address = %server.addr, "listening");
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
    });
    server.wait().await.map_err(orgiam_core::Error::internal)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `orgiam export`: the file is created (or truncated) with mode 0600 before anything is
/// written to it.
async fn export(database: &str, out: &std::path::Path) -> Result<(), orgiam_core::Error> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let fail = |e: std::io::Error| {
        orgiam_core::Error::invalid("out", format!("cannot write {}: {e}", out.display()))
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(fail)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    let store = Store::open(&StoreOptions::new(database.to_owned())).await?;
    let started = std::time::Instant::now();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let counts = store.export(&mut w).await;
    store.close().await;
    let counts = counts?;
    let rows: u64 = counts.iter().map(|c| c.1).sum();
    tracing::info!(rows, seconds = started.elapsed().as_secs_f64(), file = %out.display(), "exported");
    Ok(())
}

/// `orgiam import`: one transaction; the database must be empty.
async fn import(database: &str, path: &std::path::Path) -> Result<(), orgiam_core::Error> {
    let file = std::fs::File::open(path).map_err(|e| {
        orgiam_core::Error::invalid("file", format!("cannot read {}: {e}", path.display()))
    })?;
    let store = Store::open(&StoreOptions::new(database.to_owned())).await?;
    let started = std::time::Instant::now();
    let counts = store
        .import(std::io::BufReader::with_capacity(1 << 20, file))
        .await;
    store.close().await;
    let counts = counts?;
    let rows: u64 = counts.iter().map(|c| c.1).sum();
    tracing::info!(rows, seconds = started.elapsed().as_secs_f64(), database = %redact_url(database), "imported");
    Ok(())
}
