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
    /// Only events that touched one of these objects (the object changed, its project, or any
    /// user, role, group, project, key or invitation the change involved).
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

/// An audit row (with its project's name) as an entry.
fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
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
}

/// An event as a webhook carries it: the audit log's shape (the payload under the type key)
/// plus the organization revision the change made.
/// The actor as OpenAI's `AuditLogActor` has it (`session` or `api_key`): the server's own
/// actions, stored as `{"type": "system"}`, are the service account `orgiam`.
pub fn wire_actor(actor: serde_json::Value) -> serde_json::Value {
    if actor.get("type").and_then(serde_json::Value::as_str) == Some("system") {
        return serde_json::json!({
            "type": "api_key",
            "api_key": { "type": "service_account", "service_account": { "id": "orgiam" } },
        });
    }
    actor
}

pub(crate) fn feed_data(
    id: &str,
    event_type: &str,
    effective_at: i64,
    revision: i64,
    actor: &serde_json::Value,
    project_id: Option<&str>,
    payload: &serde_json::Value,
) -> serde_json::Value {
    let mut data = serde_json::json!({
        "id": id,
        "type": event_type,
        "effective_at": effective_at,
        "revision": revision,
        "actor": wire_actor(actor.clone()),
    });
    if let Some(map) = data.as_object_mut() {
        if let Some(p) = project_id {
            map.insert("project".into(), serde_json::json!({ "id": p }));
        }
        map.insert(event_type.to_owned(), payload.clone());
    }
    data
}

/// A page of the change feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// The events after the requested revision, in revision order, each with its revision.
    pub events: Vec<(i64, AuditEntry)>,
    /// Whether more events follow the last one.
    pub has_more: bool,
    /// The oldest revision the feed can resume from (older ones answer 410).
    pub oldest: i64,
    /// The organization's current revision.
    pub revision: i64,
}

impl Store {
    /// `org`'s changes with a revision above `after`, oldest first, at most `limit`; `None`
    /// if the organization does not exist.
    pub async fn list_feed(&self, org: &OrgId, after: i64, limit: u32) -> Result<Option<FeedPage>> {
        let head: Option<(i64, i64)> =
            sqlx::query_as("SELECT feed_from, revision FROM organizations WHERE id = $1")
                .bind(org.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        let Some((oldest, revision)) = head else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT e.id, e.type, e.effective_at, e.project_id, e.resource_id, e.details, \
             e.revision, p.name AS project_name \
             FROM audit_events e LEFT JOIN projects p ON p.id = e.project_id AND p.org_id = e.org_id \
             WHERE e.org_id = $1 AND e.revision > $2 ORDER BY e.revision LIMIT {}",
            limit + 1
        );
        let rows = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(after)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let events = rows
            .iter()
            .map(|row| Ok((row.try_get("revision").map_err(db)?, entry_from_row(row)?)))
            .collect::<Result<Vec<_>>>()?;
        let page = Page::from_overfetch(events, limit);
        Ok(Some(FeedPage {
            events: page.items,
            has_more: page.has_more,
            oldest,
            revision,
        }))
    }

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
        if !filter.resource_ids.is_empty() {
            // by any object the event touched (see `audit_event_resources`)
            let list = placeholders(c.next(), filter.resource_ids.len());
            c.sql.push_str(&format!(
                " AND e.id IN (SELECT r.event_id FROM audit_event_resources r \
                 WHERE r.org_id = $1 AND r.resource_id IN ({list}))"
            ));
            c.args
                .extend(filter.resource_ids.into_iter().map(Arg::Text));
        }
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
            .map(entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut page_out = Page::from_overfetch(entries, page.limit);
        if towards_newer {
            page_out.items.reverse();
        }
        Ok(page_out)
    }
}
