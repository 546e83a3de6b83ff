//! What the authorization engine loads: a whole organization, or only the entities changed
//! since a revision (from the `engine_changes` log the triggers fill).

use std::collections::{BTreeMap, BTreeSet};

use orgiam_authz::{AssignDef, Delta, GroupDef, OrgData, RoleDef, UserDef};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::OrgId;
use orgiam_core::{Result, now_unix};
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::sql::placeholders;

/// Rows per `IN (…)` list.
const CHUNK: usize = 500;

/// Entities changed since a revision, reloaded.
#[derive(Debug, Default)]
pub struct Changes {
    /// The organization's revision the deltas bring a snapshot to.
    pub revision: i64,
    /// The reloaded entities.
    pub deltas: Vec<Delta>,
    /// Whether keys or memberships changed (cached keys of the organization must be dropped).
    pub keys_changed: bool,
}

async fn revision(conn: &mut AnyConnection, org: &OrgId) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT revision FROM organizations WHERE id = $1")
        .bind(org.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)
}

/// The catalog as (name, resource type): built-in ones first (fixed ids), then the
/// organization's own in creation order, so that equal catalogs give equal lists, which the
/// engine shares.
async fn catalog(conn: &mut AnyConnection, org: &OrgId) -> Result<Vec<(String, ResourceType)>> {
    let rows = sqlx::query(
        "SELECT name, resource_type FROM permissions WHERE org_id IS NULL OR org_id = $1 \
         ORDER BY CASE WHEN org_id IS NULL THEN 0 ELSE 1 END, id",
    )
    .bind(org.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|r| {
            let rt: String = r.try_get(1).map_err(db)?;
            Ok((
                r.try_get(0).map_err(db)?,
                ResourceType::parse(&rt).unwrap_or(ResourceType::Organization),
            ))
        })
        .collect()
}

/// The system roles as the engine sees them in this organization: holding, by their rule,
/// the organization's own permissions too (owners can grant everything the product defines).
fn system_roles(catalog: &[(String, ResourceType)]) -> Vec<RoleDef> {
    SystemRole::ALL
        .into_iter()
        .map(|r| RoleDef {
            id: r.id_str().to_owned(),
            name: r.name().to_owned(),
            permissions: catalog
                .iter()
                .filter(|(n, rt)| r.holds_permission(n, *rt))
                .map(|(n, _)| n.clone())
                .collect(),
        })
        .collect()
}

async fn roles(
    conn: &mut AnyConnection,
    org: &OrgId,
    ids: Option<&[String]>,
) -> Result<Vec<RoleDef>> {
    let mut out: BTreeMap<String, RoleDef> = BTreeMap::new();
    let chunks: Vec<Option<&[String]>> = match ids {
        None => vec![None],
        Some(ids) => ids.chunks(CHUNK).map(Some).collect(),
    };
    for chunk in chunks {
        let filter = match chunk {
            None => "(r.org_id IS NULL OR r.org_id = $1)".to_owned(),
            Some(c) => format!("r.org_id = $1 AND r.id IN ({})", placeholders(2, c.len())),
        };
        let sql = format!(
            "SELECT r.id, r.name, p.name AS permission FROM roles r \
             LEFT JOIN role_permissions rp ON rp.role_id = r.id \
             LEFT JOIN permissions p ON p.id = rp.permission_id WHERE {filter}"
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for id in chunk.unwrap_or_default() {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await.map_err(db)? {
            let id: String = row.try_get("id").map_err(db)?;
            let entry = match out.get_mut(&id) {
                Some(e) => e,
                None => {
                    let name: String = row.try_get("name").map_err(db)?;
                    out.entry(id.clone()).or_insert(RoleDef {
                        id,
                        name,
                        permissions: Vec::new(),
                    })
                }
            };
            if let Some(p) = row.try_get::<Option<String>, _>("permission").map_err(db)? {
                entry.permissions.push(p);
            }
        }
    }
    Ok(out.into_values().collect())
}

/// Assignments of principals of `kind` (`user`/`group`), all or only `ids`.
async fn assignments(
    conn: &mut AnyConnection,
    org: &OrgId,
    kind: &str,
    ids: Option<&[String]>,
) -> Result<BTreeMap<String, Vec<AssignDef>>> {
    let mut out: BTreeMap<String, Vec<AssignDef>> = BTreeMap::new();
    let chunks: Vec<Option<&[String]>> = match ids {
        None => vec![None],
        Some(ids) => ids.chunks(CHUNK).map(Some).collect(),
    };
    for chunk in chunks {
        let filter = match chunk {
            None => String::new(),
            Some(c) => format!(" AND principal_id IN ({})", placeholders(3, c.len())),
        };
        let sql = format!(
            "SELECT principal_id, role_id, project_id, expires_at FROM role_assignments \
             WHERE org_id = $1 AND principal_type = $2{filter}"
        );
        let mut q = sqlx::query(&sql).bind(org.as_str()).bind(kind);
        for id in chunk.unwrap_or_default() {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await.map_err(db)? {
            out.entry(row.try_get("principal_id").map_err(db)?)
                .or_default()
                .push(AssignDef {
                    role_id: row.try_get("role_id").map_err(db)?,
                    project_id: row.try_get("project_id").map_err(db)?,
                    expires_at: row.try_get("expires_at").map_err(db)?,
                });
        }
    }
    Ok(out)
}

/// (group, user) pairs of group membership, filtered by `column IN ids` if given.
async fn group_members(
    conn: &mut AnyConnection,
    org: &OrgId,
    column: &str,
    ids: Option<&[String]>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let chunks: Vec<Option<&[String]>> = match ids {
        None => vec![None],
        Some(ids) => ids.chunks(CHUNK).map(Some).collect(),
    };
    for chunk in chunks {
        let filter = match chunk {
            None => String::new(),
            Some(c) => format!(" AND {column} IN ({})", placeholders(2, c.len())),
        };
        let sql = format!("SELECT group_id, user_id FROM group_members WHERE org_id = $1{filter}");
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for id in chunk.unwrap_or_default() {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await.map_err(db)? {
            out.push((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?));
        }
    }
    Ok(out)
}

/// Ids among `ids` present in `table.column` for the organization.
async fn existing(
    conn: &mut AnyConnection,
    org: &OrgId,
    table: &str,
    column: &str,
    ids: &[String],
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {column} FROM {table} WHERE org_id = $1 AND {column} IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(org.as_str());
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await.map_err(db)?);
    }
    Ok(out)
}

impl Store {
    /// Everything the engine needs for `org`; `None` if the organization does not exist.
    pub async fn load_org_data(&self, org: &OrgId) -> Result<Option<OrgData>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        // the revision first: the data read after it is at least that new
        let Some(revision) = revision(&mut conn, org).await? else {
            return Ok(None);
        };
        let catalog = catalog(&mut conn, org).await?;
        let permissions = catalog.iter().map(|(n, _)| n.clone()).collect();
        let mut roles = roles(&mut conn, org, None).await?;
        roles.retain(|r| SystemRole::from_id(&r.id).is_none());
        roles.extend(system_roles(&catalog));
        let mut user_assigns = assignments(&mut conn, org, "user", None).await?;
        let mut group_assigns = assignments(&mut conn, org, "group", None).await?;
        let members: Vec<String> =
            sqlx::query_scalar("SELECT user_id FROM memberships WHERE org_id = $1")
                .bind(org.as_str())
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        let group_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM org_groups WHERE org_id = $1")
                .bind(org.as_str())
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        let pairs = group_members(&mut conn, org, "group_id", None).await?;
        let mut archived_projects = Vec::new();
        let mut active_projects = Vec::new();
        for row in sqlx::query("SELECT id, archived_at FROM projects WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
        {
            let id: String = row.try_get(0).map_err(db)?;
            let at: Option<i64> = row.try_get(1).map_err(db)?;
            if at.is_some() {
                archived_projects.push(id);
            } else {
                active_projects.push(id);
            }
        }
        let mut user_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut group_members_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (g, u) in pairs {
            user_groups.entry(u.clone()).or_default().push(g.clone());
            group_members_of.entry(g).or_default().push(u);
        }
        let users = members
            .into_iter()
            .map(|u| {
                let def = UserDef {
                    assignments: user_assigns.remove(&u).unwrap_or_default(),
                    groups: user_groups.remove(&u).unwrap_or_default(),
                };
                (u, def)
            })
            .collect();
        let groups = group_ids
            .into_iter()
            .map(|g| {
                let def = GroupDef {
                    members: group_members_of.remove(&g).unwrap_or_default(),
                    assignments: group_assigns.remove(&g).unwrap_or_default(),
                };
                (g, def)
            })
            .collect();
        Ok(Some(OrgData {
            revision,
            permissions,
            roles,
            users,
            groups,
            archived_projects,
            active_projects,
        }))
    }

    /// The entities of `org` changed after `since`, reloaded; `None` if the organization is gone.
    pub async fn load_changes(&self, org: &OrgId, since: i64) -> Result<Option<Changes>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let Some(current) = revision(&mut conn, org).await? else {
            return Ok(None);
        };
        if current <= since {
            return Ok(Some(Changes {
                revision: current,
                ..Changes::default()
            }));
        }
        let rows = sqlx::query(
            "SELECT DISTINCT kind, entity_id FROM engine_changes \
             WHERE org_id = $1 AND revision > $2 AND revision <= $3",
        )
        .bind(org.as_str())
        .bind(since)
        .bind(current)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in rows {
            by_kind
                .entry(row.try_get(0).map_err(db)?)
                .or_default()
                .push(row.try_get(1).map_err(db)?);
        }
        let mut out = Changes {
            revision: current,
            ..Changes::default()
        };
        out.keys_changed = by_kind.contains_key("key") || by_kind.contains_key("user");
        if by_kind.contains_key("permissions") {
            let catalog = catalog(&mut conn, org).await?;
            out.deltas.push(Delta::Permissions(
                catalog.iter().map(|(n, _)| n.clone()).collect(),
            ));
            for r in system_roles(&catalog) {
                out.deltas.push(Delta::Role(r.id.clone(), Some(r)));
            }
        }
        if let Some(ids) = by_kind.get("role") {
            let found = roles(&mut conn, org, Some(ids)).await?;
            let mut found: BTreeMap<String, RoleDef> =
                found.into_iter().map(|r| (r.id.clone(), r)).collect();
            for id in ids {
                out.deltas.push(Delta::Role(id.clone(), found.remove(id)));
            }
        }
        if let Some(ids) = by_kind.get("project") {
            for chunk in ids.chunks(CHUNK) {
                let sql = format!(
                    "SELECT id, archived_at FROM projects WHERE org_id = $1 AND id IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(org.as_str());
                for id in chunk {
                    q = q.bind(id.clone());
                }
                for row in q.fetch_all(&mut *conn).await.map_err(db)? {
                    let at: Option<i64> = row.try_get(1).map_err(db)?;
                    out.deltas
                        .push(Delta::Project(row.try_get(0).map_err(db)?, at.is_some()));
                }
            }
        }
        if let Some(ids) = by_kind.get("group") {
            let present = existing(&mut conn, org, "org_groups", "id", ids).await?;
            let live: Vec<String> = ids
                .iter()
                .filter(|g| present.contains(*g))
                .cloned()
                .collect();
            let mut assigns = assignments(&mut conn, org, "group", Some(&live)).await?;
            let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (g, u) in group_members(&mut conn, org, "group_id", Some(&live)).await? {
                members.entry(g).or_default().push(u);
            }
            for g in ids {
                let def = present.contains(g).then(|| GroupDef {
                    members: members.remove(g).unwrap_or_default(),
                    assignments: assigns.remove(g).unwrap_or_default(),
                });
                out.deltas.push(Delta::Group(g.clone(), def));
            }
        }
        if let Some(ids) = by_kind.get("user") {
            let present = existing(&mut conn, org, "memberships", "user_id", ids).await?;
            let live: Vec<String> = ids
                .iter()
                .filter(|u| present.contains(*u))
                .cloned()
                .collect();
            let mut assigns = assignments(&mut conn, org, "user", Some(&live)).await?;
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (g, u) in group_members(&mut conn, org, "user_id", Some(&live)).await? {
                groups.entry(u).or_default().push(g);
            }
            for u in ids {
                let def = present.contains(u).then(|| UserDef {
                    assignments: assigns.remove(u).unwrap_or_default(),
                    groups: groups.remove(u).unwrap_or_default(),
                });
                out.deltas.push(Delta::User(u.clone(), def));
            }
        }
        Ok(Some(out))
    }

    /// Forgets change-log rows older than `max_age_seconds` (every process has long caught up
    /// or rebuilt by then).
    pub async fn sweep_changes(&self, max_age_seconds: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM engine_changes WHERE created_at < $1")
            .bind(now_unix() - max_age_seconds)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(r.rows_affected())
    }

    /// Current revisions of `orgs` (for noticing other processes' writes).
    pub async fn revisions(&self, orgs: &[String]) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for chunk in orgs.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, revision FROM organizations WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for row in q.fetch_all(&self.read).await.map_err(db)? {
                out.push((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?));
            }
        }
        Ok(out)
    }
}
