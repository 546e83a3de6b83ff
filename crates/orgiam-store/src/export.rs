//! Moving a whole server between databases: `orgiam export` writes every organization, the
//! global catalog, every key (as its SHA-256, so it keeps working) and the audit logs as one
//! versioned JSON document; `orgiam import` loads it into an empty database, of either engine.
//!
//! The document is JSON with one row per line, so both sides stream it: the exporter reads
//! each table in pages of its key order and the importer parses a line at a time into the
//! bulk loader, so memory stays flat whatever the size:
//!
//! ```text
//! {"format": "orgiam-export", "version": 1, "platform_revision": 3, "tables": [
//! {"table": "organizations", "columns": ["id", "name", "created_at", "revision"], "rows": [
//! ["org_…", "Acme", 1733356800, 42],
//! …
//! ]},
//! …
//! ]}
//! ```
//!
//! What the migrations create in every database (built-in permissions, system roles and
//! their built-in permissions) is not exported; the engine's change log is not either (a
//! snapshot is built from the tables).

use std::io::{BufRead, Write};

use orgiam_core::catalog::SystemRole;
use orgiam_core::{Error, Result};
use serde_json::Value;
use sqlx::Row as _;

use crate::bulk::{BulkTable, Cell};
use crate::db::{Store, db};

/// The export format's name and version.
pub const FORMAT: &str = "orgiam-export";
/// The version this build writes and reads.
pub const VERSION: i64 = 1;

/// Rows per page read from a table.
const PAGE: usize = 2_000;

/// Rows an export or import handled, per table.
pub type Counts = Vec<(&'static str, u64)>;

fn io(e: std::io::Error) -> Error {
    Error::invalid("file", format!("i/o error: {e}"))
}

/// The rows of `table` the migrations do not make themselves.
fn filter(table: BulkTable) -> String {
    let system: Vec<String> = SystemRole::ALL
        .iter()
        .map(|r| format!("'{}'", r.id_str()))
        .collect();
    let system = system.join(", ");
    match table {
        BulkTable::Permissions => "NOT (org_id IS NULL AND name LIKE 'api.%')".to_owned(),
        BulkTable::Roles => format!("id NOT IN ({system})"),
        BulkTable::RolePermissions => format!(
            "NOT (role_id IN ({system}) AND permission_id IN \
             (SELECT id FROM permissions WHERE org_id IS NULL AND name LIKE 'api.%'))"
        ),
        _ => "1 = 1".to_owned(),
    }
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

impl Store {
    /// Writes the whole server to `out` (see the module documentation); returns the rows
    /// written per table.
    pub async fn export(&self, out: &mut impl Write) -> Result<Counts> {
        let platform = self.platform_revision().await?;
        writeln!(
            out,
            "{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, \"platform_revision\": {platform}, \"tables\": ["
        )
        .map_err(io)?;
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
            let mut after: Option<Vec<Value>> = None;
            let mut n = 0u64;
            loop {
                let cursor = match &after {
                    Some(_) => format!(
                        " AND ({keys}) > ({})",
                        crate::sql::placeholders(1, key.len())
                    ),
                    None => String::new(),
                };
                let sql = format!(
                    "SELECT {} FROM {} WHERE {}{cursor} ORDER BY {keys} LIMIT {PAGE}",
                    columns.join(", "),
                    table.name(),
                    filter(table),
                );
                let mut q = sqlx::query(&sql);
                for v in after.iter().flatten() {
                    q = match v {
                        Value::String(s) => q.bind(s.clone()),
                        other => q.bind(other.as_i64()),
                    };
                }
                let rows = q.fetch_all(&self.read).await.map_err(db)?;
                for row in &rows {
                    let values = columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| cell_json(row, i, c))
                        .collect::<Result<Vec<_>>>()?;
                    writeln!(
                        out,
                        "{}{}",
                        if n > 0 { "," } else { "" },
                        serde_json::to_string(&values).map_err(Error::internal)?
                    )
                    .map_err(io)?;
                    n += 1;
                    after = Some(
                        key.iter()
                            .filter_map(|k| columns.iter().position(|c| c == k))
                            .map(|i| values[i].clone())
                            .collect(),
                    );
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
        let head: Value = serde_json::from_str(&format!("{header}]}}")).map_err(|e| {
            Error::invalid(
                "file",
                format!("line 1 is not an orgiam export header: {e}"),
            )
        })?;
        if head["format"] != FORMAT || head["version"] != VERSION {
            return Err(Error::invalid(
                "file",
                format!(
                    "not an orgiam export of version {VERSION} (format {}, version {})",
                    head["format"], head["version"]
                ),
            ));
        }
        let platform = head["platform_revision"].as_i64().unwrap_or(0);
        let mut writer = self.bulk_writer();
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
                let values: Vec<Value> = serde_json::from_str(text).map_err(|e| {
                    Error::invalid("file", format!("line {number}: not a row: {e}"))
                })?;
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
                let cells = values
                    .iter()
                    .zip(columns)
                    .map(|(v, c)| cell_from_json(v, c, number))
                    .collect::<Result<Vec<_>>>()?;
                writer.push(*table, cells).await?;
                if let Some(c) = counts.last_mut() {
                    c.1 += 1;
                }
                continue;
            }
            let start: Value = serde_json::from_str(&format!("{text}]}}")).map_err(|e| {
                Error::invalid("file", format!("line {number}: not a table header: {e}"))
            })?;
            let name = start["table"].as_str().unwrap_or_default();
            let table = BulkTable::ALL
                .into_iter()
                .find(|t| t.name() == name)
                .ok_or_else(|| {
                    Error::invalid("file", format!("line {number}: unknown table '{name}'"))
                })?;
            let columns: Vec<String> =
                serde_json::from_value(start["columns"].clone()).unwrap_or_default();
            if columns != table.columns() {
                return Err(Error::invalid(
                    "file",
                    format!("line {number}: the columns of '{name}' are not this version's"),
                ));
            }
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
