//! Bulk loading for generated data sets: multi-row `INSERT`s in large transactions, on both
//! engines through the one SQL layer.
//!
//! Rows are buffered per table and written in statements of a fixed number of rows (per table
//! and engine), so each statement is prepared once per connection and then reused; a buffer
//! that is not full is written in power-of-two pieces, which keeps the number of distinct
//! statements small. Every
//! flush writes the tables in dependency order (parents first), so a row may be pushed as soon
//! as the rows it references have been pushed.
//!
//! Bulk loading bypasses the service functions (no audit event per row, no revision bump per
//! row): it is meant for an organization created by the same load, whose revision the loader
//! sets once. It also skips the change log, which no snapshot of a new organization needs:
//! each of the loader's transactions marks itself (SQLite: a row in `bulk_load`, deleted again
//! before the commit; PostgreSQL: `SET LOCAL orgiam.bulk_load`), and the change-log triggers
//! of migration 0005 skip while they see the mark. Only the loader's own transaction can see
//! it, so no concurrent ordinary write ever goes unlogged.

use orgiam_core::Result;
use sqlx::{Any, Transaction};

use crate::db::{Backend, Store, db};

/// A table the bulk loader writes, in dependency order (parents first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BulkTable {
    /// `organizations`
    Organizations,
    /// `users`
    Users,
    /// `memberships`
    Memberships,
    /// `permissions`
    Permissions,
    /// `projects`
    Projects,
    /// `roles`
    Roles,
    /// `role_permissions`
    RolePermissions,
    /// `org_groups`
    Groups,
    /// `group_members`
    GroupMembers,
    /// `project_members`
    ProjectMembers,
    /// `project_groups`
    ProjectGroups,
    /// `role_assignments`
    RoleAssignments,
    /// `api_keys`
    ApiKeys,
    /// `audit_events`
    AuditEvents,
    /// `audit_event_resources`
    AuditEventResources,
    /// `invitations`
    Invitations,
    /// `invitation_projects`
    InvitationProjects,
    /// `scim_tokens`
    ScimTokens,
    /// `scim_users`
    ScimUsers,
    /// `scim_groups`
    ScimGroups,
    /// `webhook_endpoints`
    WebhookEndpoints,
    /// `webhook_deliveries`
    WebhookDeliveries,
    /// `platform_api_keys`
    PlatformApiKeys,
    /// `platform_audit_events`
    PlatformAuditEvents,
}

impl BulkTable {
    /// Every table, in dependency order.
    pub const ALL: [BulkTable; 24] = [
        Self::Organizations,
        Self::Users,
        Self::Memberships,
        Self::Permissions,
        Self::Projects,
        Self::Roles,
        Self::RolePermissions,
        Self::Groups,
        Self::GroupMembers,
        Self::ProjectMembers,
        Self::ProjectGroups,
        Self::RoleAssignments,
        Self::ApiKeys,
        Self::AuditEvents,
        Self::AuditEventResources,
        Self::Invitations,
        Self::InvitationProjects,
        Self::ScimTokens,
        Self::ScimUsers,
        Self::ScimGroups,
        Self::WebhookEndpoints,
        Self::WebhookDeliveries,
        Self::PlatformApiKeys,
        Self::PlatformAuditEvents,
    ];

    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Organizations => "organizations",
            Self::Users => "users",
            Self::Memberships => "memberships",
            Self::Permissions => "permissions",
            Self::Projects => "projects",
            Self::Roles => "roles",
            Self::RolePermissions => "role_permissions",
            Self::Groups => "org_groups",
            Self::GroupMembers => "group_members",
            Self::ProjectMembers => "project_members",
            Self::ProjectGroups => "project_groups",
            Self::RoleAssignments => "role_assignments",
            Self::ApiKeys => "api_keys",
            Self::AuditEvents => "audit_events",
            Self::Invitations => "invitations",
            Self::InvitationProjects => "invitation_projects",
            Self::AuditEventResources => "audit_event_resources",
            Self::ScimTokens => "scim_tokens",
            Self::ScimUsers => "scim_users",
            Self::ScimGroups => "scim_groups",
            Self::WebhookEndpoints => "webhook_endpoints",
            Self::WebhookDeliveries => "webhook_deliveries",
            Self::PlatformApiKeys => "platform_api_keys",
            Self::PlatformAuditEvents => "platform_audit_events",
        }
    }

    /// The columns a pushed row gives, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Organizations => &["id", "name", "created_at", "revision", "feed_from"],
            Self::Users => &["id", "email", "email_key", "created_at"],
            Self::Memberships => &[
                "org_id",
                "user_id",
                "name",
                "created_at",
                "suspended_at",
                "scim_managed",
            ],
            Self::Permissions => &[
                "id",
                "org_id",
                "name",
                "description",
                "resource_type",
                "created_at",
            ],
            Self::Projects => &["id", "org_id", "name", "created_at", "archived_at"],
            Self::Roles => &[
                "id",
                "org_id",
                "project_id",
                "resource_type",
                "name",
                "name_key",
                "description",
                "metadata",
                "created_at",
                "updated_at",
                "created_by",
            ],
            Self::RolePermissions => &["role_id", "permission_id"],
            Self::Groups => &[
                "id",
                "org_id",
                "name",
                "name_key",
                "created_at",
                "updated_at",
            ],
            Self::GroupMembers => &["org_id", "group_id", "user_id", "created_at"],
            Self::ProjectMembers => &["org_id", "project_id", "user_id", "created_at"],
            Self::ProjectGroups => &["org_id", "project_id", "group_id", "created_at"],
            Self::RoleAssignments => &[
                "id",
                "org_id",
                "role_id",
                "principal_type",
                "principal_id",
                "user_id",
                "group_id",
                "project_id",
                "is_base",
                "created_at",
                "created_by",
                "expires_at",
                "metadata",
            ],
            Self::ApiKeys => &[
                "id",
                "org_id",
                "kind",
                "name",
                "secret_hash",
                "redacted_value",
                "user_id",
                "created_by",
                "created_at",
                "last_used_at",
                "expires_at",
            ],
            Self::AuditEvents => &[
                "id",
                "org_id",
                "type",
                "effective_at",
                "actor_type",
                "actor_user_id",
                "actor_email",
                "actor_key_id",
                "project_id",
                "resource_id",
                "details",
                "revision",
            ],
            Self::AuditEventResources => &["org_id", "resource_id", "event_id"],
            Self::ScimTokens => &[
                "id",
                "org_id",
                "name",
                "secret_hash",
                "redacted_value",
                "default_role_id",
                "created_by",
                "created_at",
                "last_used_at",
            ],
            Self::ScimUsers => &[
                "org_id",
                "user_id",
                "external_id",
                "attributes",
                "updated_at",
            ],
            Self::ScimGroups => &["org_id", "group_id", "external_id", "updated_at"],
            Self::WebhookEndpoints => &[
                "id",
                "org_id",
                "url",
                "description",
                "event_types",
                "enabled",
                "ordered",
                "state",
                "failing_since",
                "secret",
                "previous_secret",
                "previous_secret_until",
                "created_at",
                "updated_at",
            ],
            // `seq` (the outbox's order) is not a column: the database numbers the rows as
            // they are loaded, which the export writes in `seq` order (see `key`)
            Self::WebhookDeliveries => &[
                "id",
                "org_id",
                "endpoint_id",
                "event_type",
                "revision",
                "body",
                "status",
                "attempts",
                "created_at",
                "next_attempt_at",
                "retry_from",
                "lease_until",
                "last_attempt_at",
                "response_status",
                "latency_ms",
                "response_body",
                "error",
                "delivered_at",
            ],
            Self::Invitations => &[
                "id",
                "org_id",
                "email",
                "email_key",
                "role_id",
                "token_hash",
                "invited_by",
                "created_at",
                "expires_at",
                "accepted_at",
                "accepted_by",
            ],
            Self::InvitationProjects => &["invite_id", "project_id", "role_id"],
            Self::PlatformApiKeys => &[
                "id",
                "name",
                "secret_hash",
                "redacted_value",
                "permissions",
                "created_at",
            ],
            Self::PlatformAuditEvents => &[
                "id",
                "org_id",
                "type",
                "effective_at",
                "actor_type",
                "actor_user_id",
                "actor_email",
                "actor_key_id",
                "project_id",
                "resource_id",
                "details",
            ],
        }
    }

    /// The columns that identify a row, in the order exports read the table (a key column
    /// that is not one of [`BulkTable::columns`] is read for the order only).
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Self::AuditEventResources => &["org_id", "resource_id", "event_id"],
            Self::ScimUsers => &["org_id", "user_id"],
            Self::ScimGroups => &["org_id", "group_id"],
            Self::WebhookDeliveries => &["seq"],
            Self::Memberships => &["org_id", "user_id"],
            Self::RolePermissions => &["role_id", "permission_id"],
            Self::GroupMembers => &["group_id", "user_id"],
            Self::ProjectMembers => &["project_id", "user_id"],
            Self::ProjectGroups => &["project_id", "group_id"],
            Self::InvitationProjects => &["invite_id", "project_id"],
            _ => &["id"],
        }
    }

    /// Whether `column` holds integers (`BIGINT`); every other column is text.
    pub fn is_int(column: &str) -> bool {
        matches!(
            column,
            "created_at"
                | "updated_at"
                | "revision"
                | "archived_at"
                | "is_base"
                | "expires_at"
                | "last_used_at"
                | "effective_at"
                | "accepted_at"
                | "feed_from"
                | "suspended_at"
                | "scim_managed"
                | "seq"
                | "enabled"
                | "ordered"
                | "failing_since"
                | "previous_secret_until"
                | "attempts"
                | "next_attempt_at"
                | "retry_from"
                | "lease_until"
                | "last_attempt_at"
                | "response_status"
                | "latency_ms"
                | "delivered_at"
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One column value of a pushed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A `TEXT` value.
    Text(String),
    /// A `BIGINT` value.
    Int(i64),
    /// `NULL` in a `TEXT` column.
    NullText,
    /// `NULL` in a `BIGINT` column.
    NullInt,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::NullText, Cell::Text)
    }
}

impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Cell::NullInt, Cell::Int)
    }
}

/// Parameters per statement. SQLite statements use unnumbered `?` parameters: sqlx then binds
/// them by position, without asking SQLite for each parameter's name (a walk of the list of
/// all names, which made `$n` binding quadratic in the statement's size). PostgreSQL allows
/// 65,535 parameters.
fn max_params(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 16_384,
        Backend::Postgres => 65_535,
    }
}

/// Rows buffered per table before a flush, and the most rows one statement writes (a power of
/// two).
fn max_rows(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1_024,
        Backend::Postgres => 4_096,
    }
}

/// Rows per full statement of `table`: the largest power of two within the parameter budget.
fn rows_per_statement(backend: Backend, table: BulkTable) -> usize {
    let fit = (max_params(backend) / table.columns().len()).clamp(1, max_rows(backend));
    let mut n = 1;
    while n * 2 <= fit {
        n *= 2;
    }
    n
}

/// Buffers rows and writes them in large transactions; see the module documentation.
pub struct BulkWriter {
    store: Store,
    tx: Option<Transaction<'static, Any>>,
    buffers: Vec<Vec<Vec<Cell>>>,
    written: [u64; BulkTable::ALL.len()],
    in_transaction: u64,
    /// Commit durably on PostgreSQL too (an acknowledged import must survive a crash).
    durable: bool,
}

impl std::fmt::Debug for BulkWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

fn insert_sql(backend: Backend, table: BulkTable, rows: usize) -> String {
    let cols = table.columns();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", table.name(), cols.join(", "));
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
            n += 1;
        }
        sql.push(')');
    }
    sql
}

impl Store {
    /// A bulk writer whose commits are durable on PostgreSQL too (imports acknowledge them).
    pub fn durable_bulk_writer(&self) -> BulkWriter {
        let mut w = self.bulk_writer();
        w.durable = true;
        w
    }

    /// A bulk writer on this store's writer connection.
    pub fn bulk_writer(&self) -> BulkWriter {
        BulkWriter {
            store: self.clone(),
            tx: None,
            buffers: BulkTable::ALL.iter().map(|_| Vec::new()).collect(),
            written: [0; BulkTable::ALL.len()],
            in_transaction: 0,
            durable: false,
        }
    }
}

impl BulkWriter {
    /// Buffers one row of `table` (its cells in [`BulkTable::columns`] order); writes every
    /// buffer once this one is full.
    pub async fn push(&mut self, table: BulkTable, row: Vec<Cell>) -> Result<()> {
        if row.len() != table.columns().len() {
            return Err(orgiam_core::Error::internal(format!(
                "bulk row for {} has {} cells, not {}",
                table.name(),
                row.len(),
                table.columns().len()
            )));
        }
        let buf = &mut self.buffers[table.index()];
        buf.push(row);
        if buf.len() >= max_rows(self.store.backend()) {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes every buffered row, parents first, inside the open transaction.
    pub async fn flush(&mut self) -> Result<()> {
        if self.buffers.iter().all(Vec::is_empty) {
            return Ok(());
        }
        if self.tx.is_none() {
            self.tx = Some(begin(&self.store, self.durable).await?);
        }
        let backend = self.store.backend();
        let Some(tx) = self.tx.as_mut() else {
            return Ok(());
        };
        for table in BulkTable::ALL {
            let rows = std::mem::take(&mut self.buffers[table.index()]);
            let count = rows.len();
            let mut rows = rows.into_iter();
            let mut left = count;
            while left > 0 {
                // the largest power of two that fits: few distinct statements to prepare
                let mut n = rows_per_statement(backend, table);
                while n > left {
                    n /= 2;
                }
                let sql = insert_sql(backend, table, n);
                let mut q = sqlx::query(&sql);
                for row in rows.by_ref().take(n) {
                    for cell in row {
                        q = match cell {
                            Cell::Text(s) => q.bind(s),
                            Cell::Int(v) => q.bind(v),
                            Cell::NullText => q.bind(None::<String>),
                            Cell::NullInt => q.bind(None::<i64>),
                        };
                    }
                }
                q.execute(&mut **tx).await.map_err(db)?;
                left -= n;
            }
            self.written[table.index()] += count as u64;
            self.in_transaction += count as u64;
        }
        Ok(())
    }

    /// Commits the transaction if it holds at least `min_rows` rows (0: always).
    pub async fn commit_if(&mut self, min_rows: u64) -> Result<()> {
        if self.in_transaction < min_rows {
            return Ok(());
        }
        self.flush().await?;
        if let Some(mut tx) = self.tx.take() {
            if self.store.backend() == Backend::Sqlite {
                // the mark never outlives the transaction that set it
                sqlx::query("DELETE FROM bulk_load")
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
        }
        self.in_transaction = 0;
        Ok(())
    }

    /// Rows written so far (flushed), all tables together.
    pub fn rows_written(&self) -> u64 {
        self.written.iter().sum()
    }

    /// Rows written so far to `table`.
    pub fn written(&self, table: BulkTable) -> u64 {
        self.written[table.index()]
    }
}

impl Store {
    /// The number of rows of every table of the schema, by name (for reports).
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        let tables = BulkTable::ALL.iter().map(|t| t.name()).chain([
            "invitations",
            "invitation_projects",
            "engine_changes",
        ]);
        for t in tables {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
            out.push((t, n));
        }
        Ok(out)
    }
}

/// A transaction marked as a bulk load: the change-log triggers skip its rows.
async fn begin(store: &Store, durable: bool) -> Result<Transaction<'static, Any>> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let marks: &[&str] = match store.backend() {
        Backend::Sqlite => &["INSERT INTO bulk_load (marker) VALUES (1)"],
        // a lost commit loses generated rows only, which a rerun makes again
        Backend::Postgres if durable => &["SET LOCAL orgiam.bulk_load = 'on'"],
        Backend::Postgres => &[
            "SET LOCAL orgiam.bulk_load = 'on'",
            "SET LOCAL synchronous_commit = off",
        ],
    };
    for sql in marks {
        sqlx::query(sql).execute(&mut *tx).await.map_err(db)?;
    }
    Ok(tx)
}
