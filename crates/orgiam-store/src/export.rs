//! Moving a whole server between databases: `orgiam export` writes every organization, the
//! global catalog, every key (as its SHA-256, so it keeps working) and the audit logs as one
//! versioned JSON document; `orgiam import` loads it into an empty database, of either engine.
//!
//! The document is JSON with one row per line, so both sides stream it: the exporter reads
//! each table in pages of its key order and the importer parses a line at a time into the
//! bulk loader, so memory stays flat whatever the size:
//!
//! ```text
//! {"format": "orgiam-export", "version": 2, "platform_revision": 3, "tables": [
//! {"table": "organizations", "columns": ["id", "name", "created_at", "revision", "feed_from"], "rows": [
//! ["org_…", "Acme", 1733356800, 42, 0],
//! …
//! ]},
//! …
//! ]}
//! ```
//!
//! What the migrations create in every database (built-in permissions, system roles and
//! their built-in permissions) is not exported; the engine's change log is not either (a
//! snapshot is built from the tables, and an organization's revision, which the log and the
//! change feed follow, is a column of `organizations`; the platform's revision is in the
//! header). Console sign-ins (`console_sessions`) are not exported: they are ephemeral, and
//! whoever used the old server signs in again on the new one. Webhook deliveries keep their
//! order (the export writes them in outbox order) but not their `seq` numbers, which the
//! loading database assigns.

use std::io::{BufRead, Write};

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::OrgId;
use orgiam_core::{Error, Result};
use serde_json::Value;
use sqlx::Row as _;

use crate::bulk::{BulkTable, Cell};
use crate::db::{Store, db};

/// The export format's name and version.
pub const FORMAT: &str = "orgiam-export";
/// The version this build writes and reads: 2 added the feed (`organizations.feed_from`,
/// `audit_events.revision`), the audit log's resource index, SCIM (`memberships.suspended_at`
/// and `scim_managed`, the `scim_*` tables) and webhooks (endpoints with their signing
/// secrets, and their deliveries).
pub const VERSION: i64 = 2;

/// Rows per page read from a table.
const PAGE: usize = 2_000;

/// Rows an export or import handled, per table.
pub type Counts = Vec<(&'static str, u64)>;

fn io(e: std::io::Error) -> Error {
    Error::invalid("file", format!("i/o error: {e}"))
}

/// The rows of `table` the migrations do not make themselves, and (for one organization's
/// export, `$1` the organization) only that organization's.
fn filter(table: BulkTable, one_org: bool) -> String {
    let system: Vec<String> = SystemRole::ALL
        .iter()
        .map(|r| format!("'{}'", r.id_str()))
        .collect();
    let system = system.join(", ");
    let base = match table {
        BulkTable::Permissions => "NOT (org_id IS NULL AND name LIKE 'api.%')".to_owned(),
        BulkTable::Roles => format!("id NOT IN ({system})"),
        BulkTable::RolePermissions => format!(
            "NOT (role_id IN ({system}) AND permission_id IN \
             (SELECT id FROM permissions WHERE org_id IS NULL AND name LIKE 'api.%'))"
        ),
        _ => "1 = 1".to_owned(),
    };
    if !one_org {
        return base;
    }
    let scope = match table {
        BulkTable::Organizations => "id = $1",
        BulkTable::Users => "id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
        BulkTable::RolePermissions => "role_id IN (SELECT id FROM roles WHERE org_id = $1)",
        BulkTable::InvitationProjects => {
            "invite_id IN (SELECT id FROM invitations WHERE org_id = $1)"
        }
        BulkTable::PlatformApiKeys | BulkTable::PlatformAuditEvents => "1 = 0",
        _ => "org_id = $1",
    };
    format!("{base} AND {scope}")
}

fn cell_json(row: &sqlx::any::AnyRow, i: usize, column: &str) -> Result<Value> {
    Ok(if BulkTable::is_int(column) {
        row.try_get::<Option<i64>, _>(i)
            .map_err(db)?
            .map_or(Value::Null, Value::from)
    } else {
        row.try_get::<Option<String>, _>(i)
            .map_err(db)?
            .map_or(Value::Null, Value::from)
    })
}

fn cell_from_json(v: &Value, column: &str, line: usize) -> Result<Cell> {
    let bad = || {
        Error::invalid(
            "file",
            format!("line {line}: column '{column}' has a value of the wrong type"),
        )
    };
    Ok(match (BulkTable::is_int(column), v) {
        (true, Value::Null) => Cell::NullInt,
        (false, Value::Null) => Cell::NullText,
        (true, Value::Number(n)) => Cell::Int(n.as_i64().ok_or_else(bad)?),
        (false, Value::String(s)) => Cell::Text(s.clone()),
        _ => return Err(bad()),
    })
}

/// The export's first line, checked: an orgiam export of this version.
fn parse_header(line: &str) -> Result<Value> {
    let head: Value = serde_json::from_str(&format!("{line}]}}")).map_err(|e| {
        Error::invalid(
            "file",
            format!("line 1 is not an orgiam export header: {e}"),
        )
    })?;
    if head["format"] != FORMAT {
        return Err(Error::invalid(
            "file",
            format!("not an orgiam export (format {})", head["format"]),
        ));
    }
    if head["version"] != VERSION {
        let older = head["version"].as_i64().is_some_and(|v| v < VERSION);
        return Err(Error::invalid(
            "file",
            format!(
                "this server reads orgiam exports of version {VERSION} only, and this one is                  of version {} ({}); export it again with a build of this version",
                head["version"],
                if older {
                    "older: it lacks data this version has"
                } else {
                    "newer or unknown: it may hold data this version cannot load"
                }
            ),
        ));
    }
    Ok(head)
}

/// A table's opening line: the table and its columns, which must be this version's.
fn parse_table_start(text: &str, number: usize) -> Result<(BulkTable, Vec<String>)> {
    let start: Value = serde_json::from_str(&format!("{text}]}}"))
        .map_err(|e| Error::invalid("file", format!("line {number}: not a table header: {e}")))?;
    let name = start["table"].as_str().unwrap_or_default();
    let table = BulkTable::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| Error::invalid("file", format!("line {number}: unknown table '{name}'")))?;
    let columns: Vec<String> = serde_json::from_value(start["columns"].clone()).unwrap_or_default();
    if columns != table.columns() {
        return Err(Error::invalid(
            "file",
            format!("line {number}: the columns of '{name}' are not this version's"),
        ));
    }
    Ok((table, columns))
}

/// A row line's cells for `columns`.
fn parse_row(text: &str, columns: &[String], number: usize) -> Result<Vec<Cell>> {
    let values: Vec<Value> = serde_json::from_str(text)
        .map_err(|e| Error::invalid("file", format!("line {number}: not a row: {e}")))?;
    if values.len() != columns.len() {
        return Err(Error::invalid(
            "file",
            format!(
                "line {number}: {} values for {} columns",
                values.len(),
                columns.len()
            ),
        ));
    }
    values
        .iter()
        .zip(columns)
        .map(|(v, c)| cell_from_json(v, c, number))
        .collect()
}

impl Store {
    /// Writes the whole server to `out` (see the module documentation); returns the rows
    /// written per table.
    pub async fn export(&self, out: &mut impl Write) -> Result<Counts> {
        self.export_scoped(None, out).await
    }

    /// Writes one organization to `out`, in the same format, its header naming it (its
    /// platform tables empty); 404 if there is no such organization.
    pub async fn export_org(&self, org: &OrgId, out: &mut impl Write) -> Result<Counts> {
        self.get_organization(org).await?;
        self.export_scoped(Some(org), out).await
    }

    async fn export_scoped(&self, org: Option<&OrgId>, out: &mut impl Write) -> Result<Counts> {
        let platform = self.platform_revision().await?;
        let scope = match org {
            Some(o) => format!(", \"organization_id\": \"{}\"", o.as_str()),
            None => String::new(),
        };
        writeln!(
            out,
            "{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, \"platform_revision\": {platform}{scope}, \"tables\": ["
        )
        .map_err(io)?;
        let first = usize::from(org.is_some()) + 1;
        let mut counts = Vec::new();
        for (t, table) in BulkTable::ALL.into_iter().enumerate() {
            let columns = table.columns();
            let key = table.key();
            writeln!(
                out,
                "{}{{\"table\": \"{}\", \"columns\": {}, \"rows\": [",
                if t > 0 { "," } else { "" },
                table.name(),
                serde_json::to_string(columns).map_err(Error::internal)?
            )
            .map_err(io)?;
            let keys = key.join(", ");
            // the key columns the rows do not carry are read for the order only
            let select: Vec<&str> = columns
                .iter()
                .chain(key.iter().filter(|k| !columns.contains(k)))
                .copied()
                .collect();
            let mut after: Option<Vec<Value>> = None;
            let mut n = 0u64;
            loop {
                let cursor = match &after {
                    Some(_) => format!(
                        " AND ({keys}) > ({})",
                        crate::sql::placeholders(first, key.len())
                    ),
                    None => String::new(),
                };
                let sql = format!(
                    "SELECT {} FROM {} WHERE {}{cursor} ORDER BY {keys} LIMIT {PAGE}",
                    select.join(", "),
                    table.name(),
                    filter(table, org.is_some()),
                );
                let mut q = sqlx::query(&sql);
                if let Some(o) = org {
                    q = q.bind(o.as_str().to_owned());
                }
                for v in after.iter().flatten() {
                    q = match v {
                        Value::String(s) => q.bind(s.clone()),
                        other => q.bind(other.as_i64()),
                    };
                }
                let rows = q.fetch_all(&self.read).await.map_err(db)?;
                for row in &rows {
                    let mut values = select
                        .iter()
                        .enumerate()
                        .map(|(i, c)| cell_json(row, i, c))
                        .collect::<Result<Vec<_>>>()?;
                    after = Some(
                        key.iter()
                            .filter_map(|k| select.iter().position(|c| c == k))
                            .filter_map(|i| values.get(i).cloned())
                            .collect(),
                    );
                    values.truncate(columns.len());
                    writeln!(
                        out,
                        "{}{}",
                        if n > 0 { "," } else { "" },
                        serde_json::to_string(&values).map_err(Error::internal)?
                    )
                    .map_err(io)?;
                    n += 1;
                }
                if rows.len() < PAGE {
                    break;
                }
            }
            writeln!(out, "]}}").map_err(io)?;
            counts.push((table.name(), n));
        }
        writeln!(out, "]}}").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(counts)
    }

    /// Loads an export into this database, which must hold no organization and no platform
    /// key, in one transaction (a file that ends early or holds a bad line imports nothing);
    /// returns the rows loaded per table.
    pub async fn import(&self, input: impl BufRead) -> Result<Counts> {
        let used: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM organizations) + (SELECT COUNT(*) FROM platform_api_keys) \
             + (SELECT COUNT(*) FROM permissions WHERE org_id IS NULL AND name NOT LIKE 'api.%')",
        )
        .fetch_one(&self.read)
        .await
        .map_err(db)?;
        if used > 0 {
            return Err(Error::conflict(
                "database_not_empty",
                "import needs an empty database: this one already has organizations, platform \
                 keys or global permissions",
            ));
        }
        let mut lines = input.lines().enumerate();
        let (_, header) = lines
            .next()
            .ok_or_else(|| Error::invalid("file", "the file is empty"))?;
        let header = header.map_err(io)?;
        let head = parse_header(&header)?;
        let platform = head["platform_revision"].as_i64().unwrap_or(0);
        let mut writer = self.durable_bulk_writer();
        let mut counts: Counts = Vec::new();
        let mut current: Option<(BulkTable, Vec<String>)> = None;
        let mut complete = false;
        for (i, line) in lines {
            let number = i + 1;
            let line = line.map_err(io)?;
            let text = line.trim().trim_start_matches(',');
            if text.is_empty() {
                continue;
            }
            if text == "]}" {
                match current.take() {
                    Some(_) => continue,
                    None => {
                        complete = true;
                        break;
                    }
                }
            }
            if let Some((table, columns)) = &current {
                let cells = parse_row(text, columns, number)?;
                writer.push(*table, cells).await?;
                if let Some(c) = counts.last_mut() {
                    c.1 += 1;
                }
                continue;
            }
            let (table, columns) = parse_table_start(text, number)?;
            counts.push((table.name(), 0));
            current = Some((table, columns));
        }
        if !complete {
            return Err(Error::invalid(
                "file",
                "the file ends before the export does (truncated?); nothing was imported",
            ));
        }
        writer.commit_if(0).await?;
        sqlx::query("UPDATE platform_state SET revision = $1 WHERE id = 1")
            .bind(platform)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(counts)
    }
}

fn text(row: &[Cell], i: usize) -> Option<&str> {
    match row.get(i) {
        Some(Cell::Text(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Whether a row of the shared catalog (no organization) has `id` in `table`.
async fn shared(store: &Store, table: &str, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE id = $1 AND org_id IS NULL"
    ))
    .bind(id)
    .fetch_optional(&store.read)
    .await
    .map_err(db)?;
    Ok(found.is_some())
}

impl Store {
    /// Loads one organization's export ([`Store::export_org`]) into this server beside the
    /// organizations it has, in one transaction: 409 if the organization exists here or one of
    /// its users' emails belongs to another identity here; 400 if it names global permissions
    /// or roles this server lacks. Users that exist here with the same id and email are shared.
    pub async fn import_org(
        &self,
        actor: &orgiam_core::platform::PlatformActor,
        input: &[u8],
    ) -> Result<orgiam_core::model::Organization> {
        let text_in = std::str::from_utf8(input)
            .map_err(|_| Error::invalid("body", "the export is not UTF-8"))?;
        let mut lines = text_in.lines().enumerate();
        let (_, header) = lines
            .next()
            .ok_or_else(|| Error::invalid("body", "the body is empty"))?;
        let head = parse_header(header)?;
        let org = head["organization_id"]
            .as_str()
            .and_then(OrgId::parse)
            .ok_or_else(|| {
                Error::invalid(
                    "body",
                    "not one organization's export (its header names no organization_id)",
                )
            })?;
        let mut tables: Vec<(BulkTable, Vec<Vec<Cell>>)> = Vec::new();
        let mut open = false;
        let mut complete = false;
        for (i, line) in lines {
            let number = i + 1;
            let t = line.trim().trim_start_matches(',');
            if t.is_empty() {
                continue;
            }
            if t == "]}" {
                if open {
                    open = false;
                    continue;
                }
                complete = true;
                break;
            }
            if open {
                let Some((table, rows)) = tables.last_mut() else {
                    return Err(Error::internal("a row before its table"));
                };
                if matches!(
                    table,
                    BulkTable::PlatformApiKeys | BulkTable::PlatformAuditEvents
                ) {
                    return Err(Error::invalid(
                        "body",
                        format!("line {number}: one organization's export holds no platform rows"),
                    ));
                }
                rows.push(parse_row(t, &table_columns(*table), number)?);
                continue;
            }
            let (table, _) = parse_table_start(t, number)?;
            tables.push((table, Vec::new()));
            open = true;
        }
        if !complete {
            return Err(Error::invalid(
                "body",
                "the export ends early (truncated?); nothing was imported",
            ));
        }
        let rows_of = |t: BulkTable| {
            tables
                .iter()
                .filter(move |(tt, _)| *tt == t)
                .flat_map(|(_, r)| r.iter())
        };
        if rows_of(BulkTable::Organizations).count() != 1
            || rows_of(BulkTable::Organizations).any(|r| text(r, 0) != Some(org.as_str()))
        {
            return Err(Error::invalid(
                "body",
                "the export must hold exactly the organization its header names",
            ));
        }
        if self.get_organization(&org).await.is_ok() {
            return Err(Error::conflict(
                "organization_exists",
                format!("organization '{}' already exists here", org.as_str()),
            ));
        }
        // what the organization names of the shared catalog must be here
        let own_perms: std::collections::HashSet<&str> = rows_of(BulkTable::Permissions)
            .filter_map(|r| text(r, 0))
            .collect();
        let own_roles: std::collections::HashSet<&str> = rows_of(BulkTable::Roles)
            .filter_map(|r| text(r, 0))
            .collect();
        let mut needed: Vec<(&str, &str)> = Vec::new();
        needed.extend(
            rows_of(BulkTable::RolePermissions)
                .filter_map(|r| text(r, 1))
                .filter(|p| !own_perms.contains(p))
                .map(|p| ("permissions", p)),
        );
        for (table, col) in [
            (BulkTable::RoleAssignments, 2),
            (BulkTable::Invitations, 4),
            (BulkTable::InvitationProjects, 2),
            (BulkTable::ScimTokens, 5),
        ] {
            needed.extend(
                rows_of(table)
                    .filter_map(|r| text(r, col))
                    .filter(|id| !own_roles.contains(id))
                    .map(|id| ("roles", id)),
            );
        }
        needed.sort_unstable();
        needed.dedup();
        for (table, id) in needed {
            if !shared(self, table, id).await? {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "the organization uses {} '{id}', which this server does not have; \
                         define it at platform level first",
                        if table == "roles" {
                            "global role"
                        } else {
                            "permission"
                        }
                    ),
                ));
            }
        }
        // users: shared identities stay shared; an email of another identity is a conflict
        let mut skip_users: std::collections::HashSet<String> = Default::default();
        for r in rows_of(BulkTable::Users) {
            let (Some(id), Some(key)) = (text(r, 0), text(r, 2)) else {
                continue;
            };
            let here: Option<String> = sqlx::query_scalar(
                "SELECT id FROM users WHERE id = $1 OR email_key = $2 ORDER BY id LIMIT 1",
            )
            .bind(id)
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
            match here {
                None => {}
                Some(h) if h == id => {
                    skip_users.insert(h);
                }
                Some(_) => {
                    return Err(Error::conflict(
                        "user_exists",
                        format!(
                            "user '{id}': its email belongs to another identity on this server"
                        ),
                    ));
                }
            }
        }
        let mut writer = self.durable_bulk_writer();
        for (table, rows) in &tables {
            for r in rows {
                if *table == BulkTable::Users
                    && text(r, 0).is_some_and(|id| skip_users.contains(id))
                {
                    continue;
                }
                writer.push(*table, r.clone()).await?;
            }
        }
        writer.commit_if(0).await?;
        let organization = self.get_organization(&org).await?;
        let mut tx = self.begin_tx().await?;
        crate::platform::platform_event(
            &mut tx,
            actor,
            Some(&org),
            crate::write::AuditEvent {
                event_type: "organization.imported",
                resource_id: org.as_str().to_owned(),
                project_id: None,
                payload: serde_json::json!({ "id": org.as_str(), "data": { "name": organization.name } }),
            },
        )
        .await?;
        tx.commit_platform().await?;
        Ok(organization)
    }
}

fn table_columns(table: BulkTable) -> Vec<String> {
    table.columns().iter().map(|c| (*c).to_owned()).collect()
}
