//! The `orgiam` command: `serve` runs the server, `migrate` applies migrations and exits.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
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
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
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
            config.sqlite_sync = match sqlite_synchronous {
                Sync::Full => SqliteSync::Full,
                Sync::Normal => SqliteSync::Normal,
            };
            serve(config).await
        }
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
