//! Connecting to SQLite or PostgreSQL behind one SQL layer.
//!
//! The backend is chosen from the URL (`sqlite://…` or `postgres://…`). Queries are written
//! once, in the SQL both engines accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`), and
//! run through sqlx's `Any` driver. Each engine has its own migration folder, embedded in the
//! binary and run at start.
//!
//! Durability: SQLite runs in WAL mode with `synchronous=FULL` by default, so a write whose
//! commit returned survives `kill -9` and power loss. SQLite has one writer: writes go through
//! a pool of one connection (no `SQLITE_BUSY` between our own writers), reads through a
//! separate pool that WAL lets run beside it. Concurrent writes share commits (and fsyncs)
//! through the write lane (`lane.rs`).

use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use orgiam_core::ids::OrgId;
use orgiam_core::{Error, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};

use crate::lane::Lane;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server (or a compatible engine).
    Postgres,
}

/// How SQLite commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `synchronous=FULL`: every commit is on disk when it returns (the default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power loss.
    Normal,
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path` or `postgres://…`.
    pub url: String,
    /// SQLite durability level.
    pub sqlite_sync: SqliteSync,
    /// Maximum connections for reads (PostgreSQL: for everything).
    pub max_connections: u32,
    /// Emit every statement as a `tracing` debug event (target `sqlx::query`), for tests that
    /// collect the SQL the server issues; off by default.
    pub log_statements: bool,
}

impl StoreOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sqlite_sync: SqliteSync::Full,
            max_connections: 16,
            log_statements: false,
        }
    }
}

/// Called after every committed write with the organization and its new revision.
pub type CommitHook = Arc<dyn Fn(&OrgId, i64) + Send + Sync>;

/// The database: a read pool and a write pool (the same pool on PostgreSQL).
#[derive(Clone)]
pub struct Store {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    backend: Backend,
    pub(crate) on_commit: Arc<OnceLock<CommitHook>>,
    /// SQLite's group commit for writes (None on PostgreSQL).
    pub(crate) lane: Option<Arc<Lane>>,
    /// Cold loads that may read on three connections at once (see `load_org_data`); sized
    /// so that they together hold at most three quarters of the read pool.
    pub(crate) parallel_loads: Arc<tokio::sync::Semaphore>,
    /// Signals of committed changes and outbox writes (see `signals.rs`).
    pub(crate) signals: Arc<crate::signals::Signals>,
}

/// Permits for cold loads reading side by side on three connections, out of `pool` reads.
fn parallel_loads(pool: u32) -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new((pool / 4) as usize))
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Maps a database failure to an internal error; the cause is logged by the server.
pub(crate) fn db(e: sqlx::Error) -> Error {
    Error::internal(format!("database: {e}"))
}

/// Whether `e` is a violation of a unique constraint (a duplicate).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

impl Store {
    /// Opens (creating a missing SQLite file) and migrates the database at `options.url`.
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(&options.url)?;
        let store = match backend {
            Backend::Sqlite => {
                create_private(&options.url)?;
                let url = sqlite_url(&options.url);
                let connect = statement_logging(
                    AnyConnectOptions::from_str(&url).map_err(|e| {
                        Error::invalid("database", format!("invalid database url: {e}"))
                    })?,
                    options.log_statements,
                );
                let sync = match options.sqlite_sync {
                    SqliteSync::Full => "FULL",
                    SqliteSync::Normal => "NORMAL",
                };
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"
                );
                let pool = |max: u32| {
                    let pragmas = pragmas.clone();
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(move |conn, _| {
                            let pragmas = pragmas.clone();
                            Box::pin(async move {
                                conn.execute(pragmas.as_str()).await?;
                                Ok(())
                            })
                        })
                        .connect_with(connect.clone())
                };
                // the writer is opened (and the file created) first
                let write = pool(1).await.map_err(db)?;
                let read = pool(options.max_connections.max(2)).await.map_err(db)?;
                Store {
                    read,
                    lane: Some(Lane::new(write.clone())),
                    write,
                    backend,
                    on_commit: Arc::default(),
                    parallel_loads: parallel_loads(options.max_connections.max(2)),
                    signals: Arc::default(),
                }
            }
            Backend::Postgres => {
                let connect = statement_logging(
                    AnyConnectOptions::from_str(&options.url).map_err(|e| {
                        Error::invalid("database", format!("invalid database url: {e}"))
                    })?,
                    options.log_statements,
                );
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    // packed reads escape with '\' literals (crate::sql::packed_text): make
                    // sure a server or role default cannot turn backslash escapes back on
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET standard_conforming_strings = on").await?;
                            Ok(())
                        })
                    })
                    .connect_with(connect)
                    .await
                    .map_err(db)?;
                Store {
                    read: pool.clone(),
                    write: pool,
                    backend,
                    on_commit: Arc::default(),
                    lane: None,
                    parallel_loads: parallel_loads(options.max_connections.max(2)),
                    signals: Arc::default(),
                }
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// On SQLite, waits until the write batch the current task last wrote in (under
    /// [`crate::remember_batches`]) is durable: for an answer, such as a 409, drawn from
    /// another write of that batch. Nothing to wait for on PostgreSQL, where a write only
    /// sees committed rows.
    pub async fn settle_seen(&self) -> Result<()> {
        match &self.lane {
            Some(lane) => lane.settle_seen().await,
            None => Ok(()),
        }
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| Error::internal(format!("migrations: {e}")))
    }

    /// Sets the function told of every committed write (once; later calls are ignored).
    pub fn set_commit_hook(&self, hook: CommitHook) {
        let _ = self.on_commit.set(hook);
    }

    /// A plain PostgreSQL connection URL of this store, for `LISTEN` (None on SQLite).
    pub fn backend_is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Signals of committed changes and outbox writes, for waiters in this process.
    pub fn signals(&self) -> &crate::signals::Signals {
        &self.signals
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn statement_logging(options: AnyConnectOptions, on: bool) -> AnyConnectOptions {
    if on {
        options
            .log_statements(log::LevelFilter::Debug)
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(3600))
    } else {
        options.disable_statement_logging()
    }
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(Error::invalid(
            "database",
            "the database url must start with sqlite:// or postgres://",
        ))
    }
}

/// Adds `mode=rwc` (create the file if missing) unless the URL sets a mode.
/// Creates a missing SQLite file readable by its owner only (`0600`): it holds every key's
/// hash and every member's email. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions. An existing file keeps the permissions its operator gave it.
fn create_private(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::invalid(
            "database",
            format!("cannot create the SQLite file {path}: {e}"),
        )),
    }
}

fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl Store {
    /// SQLite's `journal_mode`, `synchronous` (2 = FULL) and `foreign_keys` on the writer;
    /// `None` on PostgreSQL.
    pub async fn sqlite_settings(&self) -> Result<Option<(String, i64, i64)>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let mut conn = self.write.acquire().await.map_err(db)?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        Ok(Some((mode, sync, fk)))
    }
}
