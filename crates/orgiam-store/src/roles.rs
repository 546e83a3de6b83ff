//! Roles: system roles (shared, read-only) and custom roles, either of an organization or of
//! one of its projects. Every operation takes a [`RoleScope`]: an organization scope sees the
//! system organization roles and the organization's custom roles; a project scope sees the
//! system project roles and that project's custom roles (which hold only `api.project`
//! permissions).

use std::collections::{BTreeSet, HashMap};

use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{OrgId, ProjectId, RoleId};
use orgiam_core::model::Role;
use orgiam_core::page::{Order, Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db, is_unique_violation};
use crate::projects::{existing_project, writable_project};
use crate::sql::{keyset, order_by, packed_text, placeholders, records, unpack_text};
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// Where a role lives: the organization or one of its projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleScope<'a> {
    /// Organization roles (`api.organization`).
    Organization,
    /// The roles of one project (`api.project`).
    Project(&'a str),
}

impl<'a> RoleScope<'a> {
    /// The resource type of the scope's roles.
    pub(crate) fn resource_type(self) -> ResourceType {
        match self {
            RoleScope::Organization => ResourceType::Organization,
            RoleScope::Project(_) => ResourceType::Project,
        }
    }

    /// The project, for a project scope.
    pub(crate) fn project(self) -> Option<&'a str> {
        match self {
            RoleScope::Organization => None,
            RoleScope::Project(p) => Some(p),
        }
    }

    /// The SQL condition selecting the roles `org` sees in this scope, with the organization
    /// as `$first` and (for a project) the project as `$first + 1`; returns it with the number
    /// of parameters it takes.
    fn condition(self, first: usize) -> (String, usize) {
        match self {
            RoleScope::Organization => (
                format!(
                    "project_id IS NULL AND resource_type = 'api.organization' \
                     AND (org_id IS NULL OR org_id = ${first})"
                ),
                1,
            ),
            RoleScope::Project(_) => (
                format!(
                    "resource_type = 'api.project' AND ((org_id IS NULL AND project_id IS NULL) \
                     OR (org_id = ${first} AND project_id = ${}))",
                    first + 1
                ),
                2,
            ),
        }
    }

    /// The condition selecting the shared system roles of this scope (no parameters).
    fn shared_condition(self) -> &'static str {
        match self {
            RoleScope::Organization => {
                "org_id IS NULL AND project_id IS NULL AND resource_type = 'api.organization'"
            }
            RoleScope::Project(_) => {
                "org_id IS NULL AND project_id IS NULL AND resource_type = 'api.project'"
            }
        }
    }

    /// The condition selecting the scope's own custom roles, with the parameters of
    /// [`bind`](Self::bind) from `$first`; returns it with the number of parameters.
    fn own_condition(self, first: usize) -> (String, usize) {
        match self {
            RoleScope::Organization => (
                format!(
                    "org_id = ${first} AND project_id IS NULL \
                     AND resource_type = 'api.organization'"
                ),
                1,
            ),
            RoleScope::Project(_) => (
                format!(
                    "org_id = ${first} AND project_id = ${} AND resource_type = 'api.project'",
                    first + 1
                ),
                2,
            ),
        }
    }

    /// The parameters of [`condition`](Self::condition) and
    /// [`own_condition`](Self::own_condition), in order.
    fn params(self, org: &OrgId) -> Vec<String> {
        let mut out = vec![org.as_str().to_owned()];
        out.extend(self.project().map(str::to_owned));
        out
    }

    /// Binds the parameters of [`condition`](Self::condition).
    fn bind<'q>(
        self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        org: &OrgId,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for p in self.params(org) {
            q = q.bind(p);
        }
        q
    }

    /// Checks that the scope exists in `org` (and, for a change, that its project is not
    /// archived).
    async fn check(self, conn: &mut AnyConnection, org: &OrgId, write: bool) -> Result<()> {
        match self {
            RoleScope::Organization => Ok(()),
            RoleScope::Project(p) if write => writable_project(conn, org, p).await.map(drop),
            RoleScope::Project(p) => existing_project(conn, org, p).await.map(drop),
        }
    }

    /// The `resource_id` of audit payloads: the organization or the project.
    fn resource_id(self, org: &'a OrgId) -> &'a str {
        self.project().unwrap_or(org.as_str())
    }
}

pub(crate) const ROLE_COLUMNS: &str =
    "id, org_id, project_id, resource_type, name, description, metadata, created_at, updated_at";

/// What a new custom role holds.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// Display name (validated here).
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Optional JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// A partial update of a custom role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New permission set (replaces the old one).
    pub permissions: Option<Vec<String>>,
}

fn role_from_row(row: &sqlx::any::AnyRow) -> Result<Role> {
    let rt: String = row.try_get("resource_type").map_err(db)?;
    Ok(Role {
        id: RoleId::from_trusted(row.try_get("id").map_err(db)?),
        org_id: row
            .try_get::<Option<String>, _>("org_id")
            .map_err(db)?
            .map(OrgId::from_trusted),
        project_id: row
            .try_get::<Option<String>, _>("project_id")
            .map_err(db)?
            .map(ProjectId::from_trusted),
        resource_type: ResourceType::parse(&rt)
            .ok_or_else(|| Error::internal(format!("unknown resource type {rt}")))?,
        name: row.try_get("name").map_err(db)?,
        description: row.try_get("description").map_err(db)?,
        metadata: row.try_get("metadata").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
        permissions: Vec::new(),
    })
}

/// Loads roles' rows and fills in their permissions, keeping the order of `rows`.
pub(crate) async fn with_permissions(
    conn: &mut AnyConnection,
    rows: Vec<sqlx::any::AnyRow>,
) -> Result<Vec<Role>> {
    let mut roles = rows.iter().map(role_from_row).collect::<Result<Vec<_>>>()?;
    if roles.is_empty() {
        return Ok(roles);
    }
    let sql = format!(
        "SELECT rp.role_id, p.name FROM role_permissions rp \
         JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id IN ({})",
        placeholders(1, roles.len())
    );
    let mut q = sqlx::query(&sql);
    for r in &roles {
        q = q.bind(r.id.as_str().to_owned());
    }
    let mut by_role: HashMap<String, Vec<String>> = HashMap::new();
    for row in q.fetch_all(&mut *conn).await.map_err(db)? {
        let role_id: String = row.try_get(0).map_err(db)?;
        by_role
            .entry(role_id)
            .or_default()
            .push(row.try_get(1).map_err(db)?);
    }
    for r in &mut roles {
        r.permissions = by_role.remove(r.id.as_str()).unwrap_or_default();
        // byte order, as role lists give them (not the database's collation)
        r.permissions.sort_unstable();
    }
    Ok(roles)
}

/// A role from the ten fields of its packed record (see `list_roles_in`).
fn packed_role(f: [&str; 10]) -> Result<Role> {
    let [
        id,
        org,
        project,
        rt,
        name,
        description,
        metadata,
        created,
        updated,
        perms,
    ] = f;
    let int = |t: &str| {
        t.parse::<i64>()
            .map_err(|e| Error::internal(format!("packed role time '{t}': {e}")))
    };
    let mut permissions: Vec<String> = perms
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    permissions.sort_unstable();
    Ok(Role {
        id: RoleId::from_trusted(id.to_owned()),
        org_id: (!org.is_empty()).then(|| OrgId::from_trusted(org.to_owned())),
        project_id: (!project.is_empty()).then(|| ProjectId::from_trusted(project.to_owned())),
        resource_type: ResourceType::parse(rt)
            .ok_or_else(|| Error::internal(format!("unknown resource type {rt}")))?,
        name: unpack_text(name).unwrap_or_default(),
        description: unpack_text(description),
        metadata: unpack_text(metadata),
        created_at: int(created)?,
        updated_at: int(updated)?,
        permissions,
    })
}

/// Completes the listings of the system roles among `roles` as `org` sees them: owner and
/// admin hold every permission the organization defines (the stored rows carry only their
/// built-in sets, shared by every organization), so that a role's listing is exactly what it
/// grants (the engine reads the same rule, `SystemRole::holds_permission`).
pub(crate) async fn complete_system_roles(
    conn: &mut AnyConnection,
    org: &OrgId,
    roles: &mut [Role],
) -> Result<()> {
    let wide = |r: &Role| {
        r.org_id.is_none()
            && SystemRole::from_id(r.id.as_str()).is_some_and(SystemRole::holds_custom)
    };
    if !roles.iter().any(wide) {
        return Ok(());
    }
    // the organization's own permissions and the platform's global ones
    let own: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, resource_type FROM permissions \
         WHERE org_id = $1 OR (org_id IS NULL AND name NOT LIKE 'api.%')",
    )
    .bind(org.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in roles.iter_mut().filter(|r| wide(r)) {
        let Some(system) = SystemRole::from_id(r.id.as_str()) else {
            continue;
        };
        r.permissions.extend(
            own.iter()
                .filter(|(n, rt)| {
                    system.holds_permission(
                        n,
                        ResourceType::parse(rt).unwrap_or(ResourceType::Organization),
                    )
                })
                .map(|(n, _)| n.clone()),
        );
        r.permissions.sort_unstable();
        r.permissions.dedup();
    }
    Ok(())
}

/// Roles by id (any scope) as `org` sees them, in no particular order.
pub(crate) async fn roles_by_ids(
    conn: &mut AnyConnection,
    org: &OrgId,
    ids: &[String],
) -> Result<Vec<Role>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ROLE_COLUMNS} FROM roles WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
    let mut roles = with_permissions(conn, rows).await?;
    complete_system_roles(conn, org, &mut roles).await?;
    Ok(roles)
}

/// The organization-level role `id` as `org` sees it: a system org role or one of its own.
pub(crate) async fn org_role(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> Result<Option<Role>> {
    scoped_role(conn, org, RoleScope::Organization, id).await
}

/// The role `id` as `org` sees it in `scope`: a system role of the scope's resource type or a
/// custom role of that scope.
pub(crate) async fn scoped_role(
    conn: &mut AnyConnection,
    org: &OrgId,
    scope: RoleScope<'_>,
    id: &str,
) -> Result<Option<Role>> {
    let (cond, _) = scope.condition(2);
    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1 AND {cond}");
    let q = scope.bind(sqlx::query(&sql).bind(id.to_owned()), org);
    let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
    let mut roles = with_permissions(conn, rows).await?;
    complete_system_roles(conn, org, &mut roles).await?;
    Ok(roles.pop())
}

/// Resolves permission names for a role of `resource_type` in `org`, naming `permissions[i]`
/// on error. Returns (id, name) pairs, de-duplicated.
async fn resolve_permissions(
    conn: &mut AnyConnection,
    org: &OrgId,
    resource_type: ResourceType,
    names: &[String],
) -> Result<Vec<(String, String)>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let param = format!("permissions[{i}]");
        validate::permission_name(&param, name)?;
        if !seen.insert(name.clone()) {
            continue;
        }
        let row = sqlx::query(
            "SELECT id, resource_type FROM permissions \
             WHERE name = $1 AND (org_id IS NULL OR org_id = $2)",
        )
        .bind(name.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Err(Error::invalid_code(
                "unknown_permission",
                param,
                format!(
                    "permission '{}' does not exist in this organization",
                    quote(name)
                ),
            ));
        };
        let rt: String = row.try_get(1).map_err(db)?;
        if resource_type == ResourceType::Project && rt != ResourceType::Project.as_str() {
            return Err(Error::invalid(
                param,
                format!(
                    "permission '{}' applies to the organization; a project role holds only api.project permissions",
                    quote(name)
                ),
            ));
        }
        out.push((row.try_get(0).map_err(db)?, name.clone()));
    }
    Ok(out)
}

pub(crate) fn check_custom_name(name: &str) -> Result<String> {
    let name = validate::name("role_name", name)?;
    if SystemRole::is_reserved_name(&name) {
        return Err(Error::conflict(
            "role_name_taken",
            format!("'{}' is the name of a system role", quote(&name)),
        ));
    }
    Ok(name)
}

fn name_taken(name: &str) -> Error {
    Error::conflict(
        "role_name_taken",
        format!("a role named '{}' already exists", quote(name)),
    )
}

/// Creates a custom role in `scope` inside the open write `w` (a project scope: only
/// `api.project` permissions); the actor must hold every permission it grants.
pub(crate) async fn insert_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    org: &OrgId,
    scope: RoleScope<'_>,
    new: NewRole,
) -> Result<Role> {
    let name = check_custom_name(&new.name)?;
    let description = validate::description("description", new.description.as_deref())?;
    let metadata = validate::metadata("metadata", new.metadata.as_ref())?;
    scope.check(&mut w.tx, org, true).await?;
    let resource_type = scope.resource_type();
    let perms = resolve_permissions(&mut w.tx, org, resource_type, &new.permissions).await?;
    actor.ensure_holds_in(
        scope.project(),
        &perms.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
    )?;
    let id = RoleId::generate();
    let now = now_unix();
    let inserted = sqlx::query(
        "INSERT INTO roles (id, org_id, project_id, resource_type, name, name_key, description, \
         metadata, created_at, updated_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
    )
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(scope.project().map(str::to_owned))
    .bind(resource_type.as_str())
    .bind(name.as_str())
    .bind(validate::fold_case(&name))
    .bind(description.clone())
    .bind(metadata)
    .bind(now)
    .bind(actor.user_id().map(str::to_owned))
    .execute(&mut *w.tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&name)),
        other => other.map_err(db)?,
    };
    for (pid, _) in &perms {
        sqlx::query("INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(pid.as_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
    }
    scoped_role(&mut w.tx, org, scope, id.as_str())
        .await?
        .ok_or_else(|| Error::internal("created role vanished"))
}

/// The custom role `id` of `scope`, for a change: 404 if `org` cannot see it there, 403 for a
/// system role, 409 in an archived project.
async fn writable_role(
    w: &mut WriteTx,
    org: &OrgId,
    scope: RoleScope<'_>,
    id: &str,
) -> Result<Role> {
    scope.check(&mut w.tx, org, true).await?;
    let role = scoped_role(&mut w.tx, org, scope, id)
        .await?
        .ok_or_else(|| Error::not_found("role", id))?;
    if role.is_system() {
        return Err(system_role_read_only(id));
    }
    Ok(role)
}

/// Changes a custom role of `scope` inside the open write `w`; system roles are read-only
/// (403). Returns the role before and after.
pub(crate) async fn change_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    org: &OrgId,
    scope: RoleScope<'_>,
    id: &str,
    changes: &RoleChanges,
) -> Result<(Role, Role, Option<String>)> {
    let name = changes.name.as_deref().map(check_custom_name).transpose()?;
    let description = match &changes.description {
        Some(d) => Some(validate::description("description", d.as_deref())?),
        None => None,
    };
    let before = writable_role(w, org, scope, id).await?;
    // editing a role needs every permission it holds (and, below, every one it will hold)
    actor.ensure_holds_in(scope.project(), &before.permissions)?;
    let now = now_unix();
    if let Some(name) = &name {
        let r = sqlx::query("UPDATE roles SET name = $1, name_key = $2 WHERE id = $3")
            .bind(name.as_str())
            .bind(validate::fold_case(name))
            .bind(id)
            .execute(&mut *w.tx)
            .await;
        match r {
            Err(e) if is_unique_violation(&e) => return Err(name_taken(name)),
            other => other.map_err(db)?,
        };
    }
    if let Some(d) = description {
        sqlx::query("UPDATE roles SET description = $1 WHERE id = $2")
            .bind(d)
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
    }
    if let Some(names) = &changes.permissions {
        let perms = resolve_permissions(&mut w.tx, org, before.resource_type, names).await?;
        let after: Vec<String> = perms.iter().map(|(_, n)| n.clone()).collect();
        actor.ensure_holds_in(scope.project(), &after)?;
        sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        for (pid, _) in &perms {
            sqlx::query("INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)")
                .bind(id)
                .bind(pid.as_str())
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
    }
    sqlx::query("UPDATE roles SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    let after = scoped_role(&mut w.tx, org, scope, id)
        .await?
        .ok_or_else(|| Error::internal("role vanished"))?;
    Ok((before, after, name))
}

/// Deletes a custom role of `scope` and every assignment of it inside the open write `w`;
/// returns the role and how many assignments went with it.
pub(crate) async fn remove_role(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    org: &OrgId,
    scope: RoleScope<'_>,
    id: &str,
) -> Result<(Role, i64)> {
    let before = writable_role(w, org, scope, id).await?;
    // deleting a role needs every permission it holds
    actor.ensure_holds_in(scope.project(), &before.permissions)?;
    let assignments: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM role_assignments WHERE role_id = $1")
            .bind(id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db)?;
    sqlx::query("DELETE FROM roles WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org.as_str())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    Ok((before, assignments))
}

impl Store {
    /// Organization-level roles visible to `org` (system roles first: their ids sort first).
    pub async fn list_org_roles(&self, org: &OrgId, page: &PageRequest) -> Result<Page<Role>> {
        self.list_roles_in(org, RoleScope::Organization, page).await
    }

    /// One organization-level role, 404 if `org` cannot see it.
    pub async fn get_org_role(&self, org: &OrgId, id: &str) -> Result<Role> {
        self.get_role_in(org, RoleScope::Organization, id).await
    }

    /// Creates an organization custom role.
    pub async fn create_org_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        new: NewRole,
    ) -> Result<(Role, i64)> {
        self.create_role_in(actor, org, RoleScope::Organization, new)
            .await
    }

    /// Changes an organization custom role; system roles are read-only (403).
    pub async fn update_org_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
        changes: RoleChanges,
    ) -> Result<(Role, i64)> {
        self.update_role_in(actor, org, RoleScope::Organization, id, changes)
            .await
    }

    /// Deletes an organization custom role and every assignment of it.
    pub async fn delete_org_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        id: &str,
    ) -> Result<i64> {
        self.delete_role_in(actor, org, RoleScope::Organization, id)
            .await
    }

    /// The roles `org` sees in `scope`, by id (system roles first: their ids sort first).
    pub(crate) async fn list_roles_in(
        &self,
        org: &OrgId,
        scope: RoleScope<'_>,
        page: &PageRequest,
    ) -> Result<Page<Role>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        scope.check(&mut conn, org, false).await?;
        // Two index-ordered range reads of `roles_scope (org_id, project_id, id)`, the shared
        // system roles and the scope's own, each stopping after the page; merged here. One
        // read with `org_id IS NULL OR org_id = $1` would have to sort the whole scope first.
        let shared_cond = scope.shared_condition();
        let (own_cond, n) = scope.own_condition(1);
        // Each half comes packed in one value (`crate::sql::records`): a page is 1,001 rows,
        // and rows through the driver one by one cost more than the reads themselves.
        let record = format!(
            "id || ',' || COALESCE(org_id, '') || ',' || COALESCE(project_id, '') || ',' || \
             resource_type || ',' || {} || ',' || {} || ',' || {} || ',' || \
             CAST(created_at AS TEXT) || ',' || CAST(updated_at AS TEXT) || ',' || \
             COALESCE((SELECT string_agg(p.name, ' ') FROM role_permissions rp \
             JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = roles.id), '')",
            packed_text("name"),
            packed_text("description"),
            packed_text("metadata"),
        );
        let mut roles = Vec::new();
        for (cond_sql, params, binds_scope) in
            [(shared_cond.to_owned(), 0, false), (own_cond, n, true)]
        {
            let (cond, _) = keyset("id", page, params + 1);
            // the index's own order (org_id and project_id are fixed here, so it is the id
            // order): PostgreSQL otherwise walks the primary key and filters
            let order = order_by(&["org_id", "project_id", "id"], page);
            let sql = format!(
                "SELECT string_agg(rec, ';') FROM (SELECT {record} AS rec FROM roles \
                 WHERE {cond_sql}{cond}{order} LIMIT {}) page",
                page.limit + 1
            );
            let mut q = sqlx::query_scalar::<_, Option<String>>(&sql);
            if binds_scope {
                for p in scope.params(org) {
                    q = q.bind(p);
                }
            }
            if let Some(after) = &page.after {
                q = q.bind(after.clone());
            }
            let packed = q
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?
                .unwrap_or_default();
            for fields in records::<10>(&packed) {
                roles.push(packed_role(fields)?);
            }
        }
        // both halves are in id order; together, sorted, they are the page
        roles.sort_by(|x, y| match page.order {
            Order::Asc => x.id.as_str().cmp(y.id.as_str()),
            Order::Desc => y.id.as_str().cmp(x.id.as_str()),
        });
        roles.truncate(page.limit as usize + 1);
        complete_system_roles(&mut conn, org, &mut roles).await?;
        Ok(Page::from_overfetch(roles, page.limit))
    }

    /// One role of `scope`; 404 if `org` cannot see it there.
    pub(crate) async fn get_role_in(
        &self,
        org: &OrgId,
        scope: RoleScope<'_>,
        id: &str,
    ) -> Result<Role> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        scope.check(&mut conn, org, false).await?;
        scoped_role(&mut conn, org, scope, id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))
    }

    /// Creates a custom role in `scope` (a project scope: only `api.project` permissions).
    pub(crate) async fn create_role_in(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        scope: RoleScope<'_>,
        new: NewRole,
    ) -> Result<(Role, i64)> {
        let mut w = self.begin_write(org).await?;
        let role = insert_role(&mut w, actor, org, scope, new).await?;
        let id = &role.id;
        let resource_type = scope.resource_type();
        w.audit(
            actor,
            AuditEvent {
                event_type: "role.created",
                resource_id: id.as_str().to_owned(),
                project_id: scope.project().map(str::to_owned),
                payload: json!({
                    "id": id.as_str(),
                    "role_name": role.name,
                    "permissions": role.permissions,
                    "resource_type": resource_type.as_str(),
                    "resource_id": scope.resource_id(org),
                    "after": role_json(&role),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((role, revision))
    }

    /// Changes a custom role of `scope`; system roles are read-only (403).
    pub(crate) async fn update_role_in(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        scope: RoleScope<'_>,
        id: &str,
        changes: RoleChanges,
    ) -> Result<(Role, i64)> {
        let mut w = self.begin_write(org).await?;
        let (before, after, name) = change_role(&mut w, actor, org, scope, id, &changes).await?;
        let added: Vec<&String> = after
            .permissions
            .iter()
            .filter(|p| !before.permissions.contains(p))
            .collect();
        let removed: Vec<&String> = before
            .permissions
            .iter()
            .filter(|p| !after.permissions.contains(p))
            .collect();
        // only what the request changed (the SDK's shape has no nulls: a field that did not
        // change is absent; a cleared description is the empty string)
        let mut changes_requested = serde_json::Map::new();
        if let Some(n) = name {
            changes_requested.insert("role_name".into(), json!(n));
        }
        if let Some(d) = &changes.description {
            changes_requested.insert("description".into(), json!(d.clone().unwrap_or_default()));
        }
        if changes.permissions.is_some() {
            changes_requested.insert("permissions_added".into(), json!(added));
            changes_requested.insert("permissions_removed".into(), json!(removed));
        }
        changes_requested.insert(
            "resource_type".into(),
            json!(scope.resource_type().as_str()),
        );
        changes_requested.insert("resource_id".into(), json!(scope.resource_id(org)));
        w.audit(
            actor,
            AuditEvent {
                event_type: "role.updated",
                resource_id: id.to_owned(),
                project_id: scope.project().map(str::to_owned),
                payload: json!({
                    "id": id,
                    "changes_requested": changes_requested,
                    "before": role_json(&before),
                    "after": role_json(&after),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((after, revision))
    }

    /// Deletes a custom role of `scope` and every assignment of it.
    pub(crate) async fn delete_role_in(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        scope: RoleScope<'_>,
        id: &str,
    ) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let (before, assignments) = remove_role(&mut w, actor, org, scope, id).await?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "role.deleted",
                resource_id: id.to_owned(),
                project_id: scope.project().map(str::to_owned),
                payload: json!({
                    "id": id,
                    "assignments_removed": assignments,
                    "before": role_json(&before),
                }),
            },
        )
        .await?;
        w.commit().await
    }
}

fn system_role_read_only(id: &str) -> Error {
    Error::forbidden(
        "system_role_read_only",
        format!(
            "role '{}' is a system role; system roles are read-only",
            quote(id)
        ),
    )
}

/// The audit rendering of a role.
pub(crate) fn role_json(r: &Role) -> serde_json::Value {
    json!({
        "id": r.id.as_str(),
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions,
        "resource_type": r.resource_type.as_str(),
    })
}
