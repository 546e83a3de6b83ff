//! What the authorization engine loads: a whole organization, or only the entities changed
//! since a revision (from the `engine_changes` log the triggers fill).

use std::collections::{BTreeMap, BTreeSet};

use orgiam_authz::{AssignDef, Delta, GroupDef, OrgData, RoleDef, UserDef};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::OrgId;
use orgiam_core::{Result, now_unix};
use rustc_hash::FxHashMap;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::sql::{packed_text, placeholders, records, unpack_text};

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
/// `app` are the app permissions the platform gave system roles (reader and member), as
/// (role id, permission).
fn system_roles(catalog: &[(String, ResourceType)], app: &[(String, String)]) -> Vec<RoleDef> {
    SystemRole::ALL
        .into_iter()
        .map(|r| RoleDef {
            id: r.id_str().to_owned(),
            name: r.name().to_owned(),
            permissions: catalog
                .iter()
                .filter(|(n, rt)| r.holds_permission(n, *rt))
                .map(|(n, _)| n.clone())
                .chain(
                    app.iter()
                        .filter(|(id, _)| id == r.id_str())
                        .map(|(_, p)| p.clone()),
                )
                .collect(),
        })
        .collect()
}

/// The app permissions (global ones) the platform gave system roles: (role id, permission).
pub(crate) async fn system_app_permissions(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT rp.role_id, p.name FROM role_permissions rp \
         JOIN permissions p ON p.id = rp.permission_id \
         WHERE rp.role_id IN ($1, $2) AND p.org_id IS NULL AND p.name NOT LIKE 'api.%' \
         ORDER BY rp.role_id, p.name",
    )
    .bind(SystemRole::OrgReader.id_str())
    .bind(SystemRole::OrgMember.id_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)
}

/// The roles among `ids` (of the organization's own; system roles come from the catalog),
/// with their permissions; for reloading changed ones (a cold load reads them packed).
async fn roles(conn: &mut AnyConnection, org: &OrgId, ids: &[String]) -> Result<Vec<RoleDef>> {
    let mut out: BTreeMap<String, RoleDef> = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT r.id, r.name, p.name AS permission FROM roles r \
             LEFT JOIN role_permissions rp ON rp.role_id = r.id \
             LEFT JOIN permissions p ON p.id = rp.permission_id \
             WHERE r.org_id = $1 AND r.id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for id in chunk {
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

/// Assignments of the principals `ids` of `kind` (`user`/`group`).
async fn assignments(
    conn: &mut AnyConnection,
    org: &OrgId,
    kind: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<AssignDef>>> {
    let mut out: BTreeMap<String, Vec<AssignDef>> = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT principal_id, role_id, project_id, expires_at FROM role_assignments \
             WHERE org_id = $1 AND principal_type = $2 AND principal_id IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str()).bind(kind);
        for id in chunk {
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

/// (group, user) pairs of group membership with `column` among `ids`.
async fn group_members(
    conn: &mut AnyConnection,
    org: &OrgId,
    column: &str,
    ids: &[String],
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT group_id, user_id FROM group_members WHERE org_id = $1 AND {column} IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        for id in chunk {
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

/// Members of `org` suspended through SCIM (`active: false`): they stay members but the engine
/// loads them holding nothing (no assignments, no groups) until they are restored.
async fn suspended(conn: &mut AnyConnection, org: &OrgId) -> Result<BTreeSet<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE org_id = $1 AND suspended_at IS NOT NULL",
    )
    .bind(org.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(ids.into_iter().collect())
}

/// All of an organization's rows of `from` packed in one text value ([`records`]): a cold
/// load of a large organization is about a million rows. The 1 GB limit of a text value
/// bounds one organization at roughly twelve million assignments.
async fn packed(conn: &mut AnyConnection, record: &str, from: &str, org: &OrgId) -> Result<String> {
    let sql = format!("SELECT string_agg({record}, ';') FROM {from} WHERE org_id = $1");
    let packed: Option<String> = sqlx::query_scalar(&sql)
        .bind(org.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok(packed.unwrap_or_default())
}

/// The organization's own roles (organization and project ones) with their permissions.
async fn own_roles(conn: &mut AnyConnection, org: &OrgId) -> Result<Vec<RoleDef>> {
    let record = format!(
        "r.id || ',' || {} || ',' || COALESCE((SELECT string_agg(p.name, ' ') \
         FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
         WHERE rp.role_id = r.id), '')",
        packed_text("r.name")
    );
    let packed = packed(conn, &record, "roles r", org).await?;
    Ok(records::<3>(&packed)
        .map(|[id, name, perms]| RoleDef {
            id: id.to_owned(),
            name: unpack_text(name).unwrap_or_default(),
            permissions: perms
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        })
        .collect())
}

/// Assignments by principal id.
type AssignMap = FxHashMap<String, Vec<AssignDef>>;

/// Every assignment of the organization: the users' and the groups'.
async fn all_assignments(conn: &mut AnyConnection, org: &OrgId) -> Result<(AssignMap, AssignMap)> {
    let packed = packed(
        conn,
        "principal_type || ',' || principal_id || ',' || role_id || ',' || \
         COALESCE(project_id, '') || ',' || COALESCE(CAST(expires_at AS TEXT), '')",
        "role_assignments",
        org,
    )
    .await?;
    let (mut users, mut groups) = (AssignMap::default(), AssignMap::default());
    for [kind, principal, role, project, expires] in records::<5>(&packed) {
        let map = if kind == "group" {
            &mut groups
        } else {
            &mut users
        };
        let expires_at =
            match expires {
                "" => None,
                t => Some(t.parse::<i64>().map_err(|e| {
                    orgiam_core::Error::internal(format!("packed expiry '{t}': {e}"))
                })?),
            };
        map.entry(principal.to_owned())
            .or_default()
            .push(AssignDef {
                role_id: role.to_owned(),
                project_id: (!project.is_empty()).then(|| project.to_owned()),
                expires_at,
            });
    }
    Ok((users, groups))
}

/// Members, groups, group memberships and projects of an organization.
#[derive(Default)]
struct Structure {
    members: Vec<String>,
    group_ids: Vec<String>,
    user_groups: FxHashMap<String, Vec<String>>,
    group_members: FxHashMap<String, Vec<String>>,
    archived_projects: Vec<String>,
    active_projects: Vec<String>,
}

async fn structure(conn: &mut AnyConnection, org: &OrgId) -> Result<Structure> {
    let mut s = Structure::default();
    let members = packed(conn, "user_id", "memberships", org).await?;
    s.members = records::<1>(&members).map(|[u]| u.to_owned()).collect();
    let groups = packed(conn, "id", "org_groups", org).await?;
    s.group_ids = records::<1>(&groups).map(|[g]| g.to_owned()).collect();
    let pairs = packed(conn, "group_id || ',' || user_id", "group_members", org).await?;
    for [g, u] in records::<2>(&pairs) {
        s.user_groups
            .entry(u.to_owned())
            .or_default()
            .push(g.to_owned());
        s.group_members
            .entry(g.to_owned())
            .or_default()
            .push(u.to_owned());
    }
    let projects = packed(
        conn,
        "id || ',' || CASE WHEN archived_at IS NULL THEN '0' ELSE '1' END",
        "projects",
        org,
    )
    .await?;
    for [id, archived] in records::<2>(&projects) {
        if archived == "1" {
            s.archived_projects.push(id.to_owned());
        } else {
            s.active_projects.push(id.to_owned());
        }
    }
    Ok(s)
}

impl Store {
    /// Everything the engine needs for `org`; `None` if the organization does not exist.
    ///
    /// After the revision and the catalog, three reads run side by side on their own
    /// connections (the roles with their permissions, the assignments, and memberships,
    /// groups and projects), each reading its tables packed ([`packed`]).
    pub async fn load_org_data(&self, org: &OrgId) -> Result<Option<OrgData>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        // the revision first: the data read after it is at least that new
        let Some(revision) = revision(&mut conn, org).await? else {
            return Ok(None);
        };
        let catalog = catalog(&mut conn, org).await?;
        // Side by side on three connections when a permit says the pool has them to spare;
        // otherwise one after the other on this one (never waiting for a second connection
        // while holding one, which many concurrent cold loads could turn into a deadlock).
        let permit = self.parallel_loads.clone().try_acquire_owned().ok();
        let (mut roles, (mut user_assigns, mut group_assigns), structure) = match permit {
            Some(_permit) => tokio::try_join!(
                own_roles(&mut conn, org),
                async {
                    let mut c = self.read.acquire().await.map_err(db)?;
                    all_assignments(&mut c, org).await
                },
                async {
                    let mut c = self.read.acquire().await.map_err(db)?;
                    structure(&mut c, org).await
                },
            )?,
            None => (
                own_roles(&mut conn, org).await?,
                all_assignments(&mut conn, org).await?,
                structure(&mut conn, org).await?,
            ),
        };
        let app = system_app_permissions(&mut conn).await?;
        roles.extend(system_roles(&catalog, &app));
        roles.extend(crate::platform_roles::global_role_defs(&mut conn).await?);
        let Structure {
            members,
            group_ids,
            mut user_groups,
            mut group_members,
            archived_projects,
            active_projects,
        } = structure;
        let suspended = suspended(&mut conn, org).await?;
        for u in &suspended {
            user_assigns.remove(u);
            user_groups.remove(u);
        }
        if !suspended.is_empty() {
            for list in group_members.values_mut() {
                list.retain(|u| !suspended.contains(u));
            }
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
                    members: group_members.remove(&g).unwrap_or_default(),
                    assignments: group_assigns.remove(&g).unwrap_or_default(),
                };
                (g, def)
            })
            .collect();
        Ok(Some(OrgData {
            revision,
            permissions: catalog.into_iter().map(|(n, _)| n).collect(),
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
            let app = system_app_permissions(&mut conn).await?;
            for r in system_roles(&catalog, &app) {
                out.deltas.push(Delta::Role(r.id.clone(), Some(r)));
            }
        }
        if let Some(ids) = by_kind.get("role") {
            let found = roles(&mut conn, org, ids).await?;
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
        let suspended = if by_kind.contains_key("group") || by_kind.contains_key("user") {
            suspended(&mut conn, org).await?
        } else {
            BTreeSet::new()
        };
        if let Some(ids) = by_kind.get("group") {
            let present = existing(&mut conn, org, "org_groups", "id", ids).await?;
            let live: Vec<String> = ids
                .iter()
                .filter(|g| present.contains(*g))
                .cloned()
                .collect();
            let mut assigns = assignments(&mut conn, org, "group", &live).await?;
            let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (g, u) in group_members(&mut conn, org, "group_id", &live).await? {
                if suspended.contains(&u) {
                    continue;
                }
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
                .filter(|u| present.contains(*u) && !suspended.contains(*u))
                .cloned()
                .collect();
            let mut assigns = assignments(&mut conn, org, "user", &live).await?;
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (g, u) in group_members(&mut conn, org, "user_id", &live).await? {
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

    /// The platform's change counter (moved by every change of the global catalog).
    pub async fn platform_revision(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT revision FROM platform_state WHERE id = 1")
            .fetch_one(&self.read)
            .await
            .map_err(db)
    }

    /// What a snapshot of `org` needs after a change of the global catalog: the catalog, the
    /// system roles and the global roles as they are now (a deleted global role was assigned
    /// nowhere, so the definition it leaves behind grants nothing). Costs the catalog's size, not the organization's.
    pub async fn catalog_deltas(&self, org: &OrgId) -> Result<Vec<Delta>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let catalog = catalog(&mut conn, org).await?;
        let mut out = vec![Delta::Permissions(
            catalog.iter().map(|(n, _)| n.clone()).collect(),
        )];
        let app = system_app_permissions(&mut conn).await?;
        for r in system_roles(&catalog, &app) {
            out.push(Delta::Role(r.id.clone(), Some(r)));
        }
        for r in crate::platform_roles::global_role_defs(&mut conn).await? {
            out.push(Delta::Role(r.id.clone(), Some(r)));
        }
        Ok(out)
    }
}
