//! Reading the audit log: one organization's events, newest first, filtered, keyset-paged by
//! event id (ULIDs increase with time, so id order is time order).

use orgiam_core::ids::OrgId;
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate;
use orgiam_core::{Error, Result};
use sqlx::Row as _;

use crate::db::{Store, db};
use crate::sql::placeholders;

/// One audit event as stored: the payload sits under `event_type` on the wire.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// `audit_…`
    pub id: String,
    /// `role.created`, `invite.sent`, …
    pub event_type: String,
    /// Unix seconds.
    pub effective_at: i64,
    /// Who acted, in the SDK's `actor` shape.
    pub actor: serde_json::Value,
    /// The details of the change.
    pub payload: serde_json::Value,
    /// The project, for project-scoped changes.
    pub project_id: Option<String>,
    /// That project's name, if it still exists.
    pub project_name: Option<String>,
    /// The object changed.
    pub resource_id: Option<String>,
}

/// Which events to list; empty lists and `None` bounds do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only these event types.
    pub event_types: Vec<String>,
    /// Only events by these users or keys (a user id or an API key id).
    pub actor_ids: Vec<String>,
    /// Only events by these users' emails (case-insensitive).
    pub actor_emails: Vec<String>,
    /// Only events in these projects.
    pub project_ids: Vec<String>,
    /// Only events about these objects.
    pub resource_ids: Vec<String>,
    /// `effective_at > gt`
    pub gt: Option<i64>,
    /// `effective_at >= gte`
    pub gte: Option<i64>,
    /// `effective_at < lt`
    pub lt: Option<i64>,
    /// `effective_at <= lte`
    pub lte: Option<i64>,
}

/// Collects SQL conditions with their (text or integer) arguments, numbering placeholders.
struct Conditions {
    sql: String,
    args: Vec<Arg>,
}

enum Arg {
    Text(String),
    Int(i64),
}

impl Conditions {
    fn next(&self) -> usize {
        self.args.len() + 1
    }

    fn push(&mut self, cond: &str, arg: Arg) {
        let n = self.next();
        self.sql.push_str(&format!(" AND {cond} ${n}"));
        self.args.push(arg);
    }

    fn any_of(&mut self, column: &str, values: Vec<String>) {
        if values.is_empty() {
            return;
        }
        let list = placeholders(self.next(), values.len());
        self.sql.push_str(&format!(" AND {column} IN ({list})"));
        self.args.extend(values.into_iter().map(Arg::Text));
    }
}

/// Moves `key` out of a JSON object (null if absent).
fn take(v: &mut serde_json::Value, key: &str) -> serde_json::Value {
    v.get_mut(key)
        .map(serde_json::Value::take)
        .unwrap_or_default()
}

impl Store {
    /// `org`'s events matching `filter`, newest first. `page.after` continues towards older
    /// events; `page.before` alone returns the events just newer than it (still newest first).
    pub async fn list_audit_events(
        &self,
        org: &OrgId,
        filter: AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        self.list_events(Some(org), filter, page).await
    }

    /// The platform audit log's events matching `filter`, paged as [`Store::list_audit_events`].
    pub async fn list_platform_audit_events(
        &self,
        filter: AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        self.list_events(None, filter, page).await
    }

    /// One organization's log (`Some`), or the platform's (`None`).
    async fn list_events(
        &self,
        org: Option<&OrgId>,
        filter: AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        let (table, scope, args) = match org {
            Some(org) => (
                "audit_events",
                "e.org_id = $1",
                vec![Arg::Text(org.as_str().to_owned())],
            ),
            None => ("platform_audit_events", "1 = 1", Vec::new()),
        };
        let mut c = Conditions {
            sql: String::new(),
            args,
        };
        c.any_of("e.type", filter.event_types);
        if !filter.actor_ids.is_empty() {
            let n = filter.actor_ids.len();
            let users = placeholders(c.next(), n);
            let keys = placeholders(c.next() + n, n);
            c.sql.push_str(&format!(
                " AND (e.actor_user_id IN ({users}) OR e.actor_key_id IN ({keys}))"
            ));
            for _ in 0..2 {
                c.args
                    .extend(filter.actor_ids.iter().cloned().map(Arg::Text));
            }
        }
        if !filter.actor_emails.is_empty() {
            // through the identities' case-folded emails, folded the same way as on insert
            let list = placeholders(c.next(), filter.actor_emails.len());
            c.sql.push_str(&format!(
                " AND e.actor_user_id IN (SELECT u.id FROM users u WHERE u.email_key IN ({list}))"
            ));
            c.args.extend(
                filter
                    .actor_emails
                    .iter()
                    .map(|e| Arg::Text(validate::fold_case(e))),
            );
        }
        c.any_of("e.project_id", filter.project_ids);
        c.any_of("e.resource_id", filter.resource_ids);
        for (op, bound) in [
            (">", filter.gt),
            (">=", filter.gte),
            ("<", filter.lt),
            ("<=", filter.lte),
        ] {
            if let Some(b) = bound {
                c.push(&format!("e.effective_at {op}"), Arg::Int(b));
            }
        }
        if let Some(after) = &page.after {
            c.push("e.id <", Arg::Text(after.clone()));
        }
        if let Some(before) = &page.before {
            c.push("e.id >", Arg::Text(before.clone()));
        }
        // `before` without `after` pages towards newer events: fetch those nearest the cursor
        let towards_newer = page.before.is_some() && page.after.is_none();
        let dir = if towards_newer { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT e.id, e.type, e.effective_at, e.project_id, e.resource_id, e.details, \
             p.name AS project_name \
             FROM {table} e LEFT JOIN projects p ON p.id = e.project_id AND p.org_id = e.org_id \
             WHERE {scope}{} ORDER BY e.id {dir} LIMIT {}",
            c.sql,
            page.limit + 1
        );
        let mut q = sqlx::query(&sql);
        for a in c.args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.read).await.map_err(db)?;
        let entries = rows
            .iter()
            .map(|row| {
                let details: String = row.try_get("details").map_err(db)?;
                let mut details: serde_json::Value = serde_json::from_str(&details)
                    .map_err(|e| Error::internal(format!("audit details: {e}")))?;
                Ok(AuditEntry {
                    id: row.try_get("id").map_err(db)?,
                    event_type: row.try_get("type").map_err(db)?,
                    effective_at: row.try_get("effective_at").map_err(db)?,
                    actor: take(&mut details, "actor"),
                    payload: take(&mut details, "payload"),
                    project_id: row.try_get("project_id").map_err(db)?,
                    project_name: row.try_get("project_name").map_err(db)?,
                    resource_id: row.try_get("resource_id").map_err(db)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut page_out = Page::from_overfetch(entries, page.limit);
        if towards_newer {
            page_out.items.reverse();
        }
        Ok(page_out)
    }
}
