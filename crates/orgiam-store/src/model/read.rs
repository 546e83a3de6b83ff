//! Reading an organization's access model, and resolving the names a desired model uses
//! (projects, members, roles, groups) to ids inside the open write.

use std::collections::{BTreeMap, HashMap};

use orgiam_core::access_model::{AccessModel, GrantSpec, GroupSpec, PermissionSpec, RoleSpec};
use orgiam_core::ids::OrgId;
use orgiam_core::validate::{fold_case, quote};
use orgiam_core::{Error, Result, now_unix};
use sqlx::{AnyConnection, Row as _};

use crate::db::db;
use crate::roles::RoleScope;

/// The ids behind the names a model uses, as the write goes on.
pub(super) struct Names {
    /// Active projects: name (case-folded) or id → id.
    projects: HashMap<String, String>,
    /// Members named by the model: email (case-folded) → user id.
    users: HashMap<String, String>,
}

impl Names {
    pub(super) fn project(&self, name: &str) -> Result<String> {
        self.projects
            .get(&fold_case(name))
            .or_else(|| self.projects.get(name))
            .cloned()
            .ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!(
                        "no active project named '{}' (or with that id)",
                        quote(name)
                    ),
                )
            })
    }

    pub(super) fn user(&self, email: &str) -> Result<&str> {
        self.users
            .get(&fold_case(email))
            .map(String::as_str)
            .ok_or_else(|| Error::internal("a model email was not resolved"))
    }
}

/// Reads the organization's current model (archived projects' roles and grants, base roles,
/// and expired grants are not part of it).
pub(super) async fn read_model(conn: &mut AnyConnection, org: &OrgId) -> Result<AccessModel> {
    let o = org.as_str();
    let mut projects = HashMap::new();
    for row in
        sqlx::query("SELECT id, name FROM projects WHERE org_id = $1 AND archived_at IS NULL")
            .bind(o)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
    {
        projects.insert(
            row.try_get::<String, _>(0).map_err(db)?,
            row.try_get::<String, _>(1).map_err(db)?,
        );
    }
    // a project present (active) or none at all: `Some(None)` is the organization
    let scope = |p: Option<String>| -> Option<Option<String>> {
        match p {
            None => Some(None),
            Some(id) => projects.get(&id).map(|name| Some(name.clone())),
        }
    };
    let mut model = AccessModel::default();
    for row in
        sqlx::query("SELECT name, description, resource_type FROM permissions WHERE org_id = $1")
            .bind(o)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
    {
        model.permissions.push(PermissionSpec {
            name: row.try_get(0).map_err(db)?,
            description: row.try_get(1).map_err(db)?,
            resource_type: row.try_get(2).map_err(db)?,
        });
    }
    let mut role_perms: HashMap<String, Vec<String>> = HashMap::new();
    for row in sqlx::query(
        "SELECT rp.role_id, p.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id \
         JOIN permissions p ON p.id = rp.permission_id WHERE r.org_id = $1",
    )
    .bind(o)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        role_perms
            .entry(row.try_get(0).map_err(db)?)
            .or_default()
            .push(row.try_get(1).map_err(db)?);
    }
    for row in sqlx::query("SELECT id, name, description, project_id FROM roles WHERE org_id = $1")
        .bind(o)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
    {
        let id: String = row.try_get(0).map_err(db)?;
        let Some(project) = scope(row.try_get(3).map_err(db)?) else {
            continue;
        };
        model.roles.push(RoleSpec {
            name: row.try_get(1).map_err(db)?,
            project,
            description: row.try_get(2).map_err(db)?,
            permissions: role_perms.remove(&id).unwrap_or_default(),
        });
    }
    let mut groups: BTreeMap<String, GroupSpec> = BTreeMap::new();
    for row in sqlx::query("SELECT id, name FROM org_groups WHERE org_id = $1")
        .bind(o)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
    {
        groups.insert(
            row.try_get(0).map_err(db)?,
            GroupSpec {
                name: row.try_get(1).map_err(db)?,
                members: Vec::new(),
            },
        );
    }
    for row in sqlx::query(
        "SELECT gm.group_id, u.email FROM group_members gm JOIN users u ON u.id = gm.user_id \
         WHERE gm.org_id = $1",
    )
    .bind(o)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        let gid: String = row.try_get(0).map_err(db)?;
        if let Some(g) = groups.get_mut(&gid) {
            g.members.push(row.try_get(1).map_err(db)?);
        }
    }
    model.groups = groups.into_values().collect();
    for row in sqlx::query(
        "SELECT r.name, u.email, g.name, ra.project_id, ra.expires_at FROM role_assignments ra \
         JOIN roles r ON r.id = ra.role_id \
         LEFT JOIN users u ON u.id = ra.user_id \
         LEFT JOIN org_groups g ON g.id = ra.group_id \
         WHERE ra.org_id = $1 AND ra.is_base = 0 AND (ra.expires_at IS NULL OR ra.expires_at > $2)",
    )
    .bind(o)
    .bind(now_unix())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        let Some(project) = scope(row.try_get(3).map_err(db)?) else {
            continue;
        };
        let group: Option<String> = row.try_get(2).map_err(db)?;
        model.grants.push(GrantSpec {
            role: row.try_get(0).map_err(db)?,
            user: if group.is_some() {
                None
            } else {
                row.try_get(1).map_err(db)?
            },
            group,
            project,
            expires_at: row.try_get(4).map_err(db)?,
        });
    }
    Ok(model.normalized())
}

/// Resolves the names `desired` uses that must already exist: active projects, and the people
/// it names, who must be members (400 listing every one who is not).
pub(super) async fn resolve(
    conn: &mut AnyConnection,
    org: &OrgId,
    desired: &AccessModel,
) -> Result<Names> {
    let mut projects = HashMap::new();
    let mut ambiguous = Vec::new();
    for row in
        sqlx::query("SELECT id, name FROM projects WHERE org_id = $1 AND archived_at IS NULL")
            .bind(org.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
    {
        let id: String = row.try_get(0).map_err(db)?;
        let name: String = row.try_get(1).map_err(db)?;
        if projects.insert(fold_case(&name), id.clone()).is_some() {
            ambiguous.push(name);
        }
        projects.insert(id.clone(), id);
    }
    for name in ambiguous {
        projects.remove(&fold_case(&name));
    }
    let mut users = HashMap::new();
    let mut missing = Vec::new();
    for email in desired.emails() {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.org_id = $1 AND u.email_key = $2",
        )
        .bind(org.as_str())
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        match id {
            Some(id) => {
                users.insert(email, id);
            }
            None => missing.push(email),
        }
    }
    if !missing.is_empty() {
        return Err(Error::invalid_code(
            "not_members",
            "model",
            format!(
                "the model names people who are not members of the organization: {}; \
                 invite or provision them first",
                missing.join(", ")
            ),
        ));
    }
    Ok(Names { projects, users })
}

/// The id of the role named `name` that a grant in `scope` can give (a system role of the
/// scope or one of its custom roles), or of a custom role only (`custom`).
pub(super) async fn role_id(
    conn: &mut AnyConnection,
    org: &OrgId,
    scope: RoleScope<'_>,
    name: &str,
    custom: bool,
) -> Result<String> {
    let system = if custom {
        ""
    } else {
        "(org_id IS NULL AND project_id IS NULL) OR "
    };
    let sql = format!(
        "SELECT id FROM roles WHERE name_key = $1 AND resource_type = $2 \
         AND ({system}(org_id = $3 AND COALESCE(project_id, '') = $4))"
    );
    sqlx::query_scalar(&sql)
        .bind(fold_case(name))
        .bind(scope.resource_type().as_str())
        .bind(org.as_str())
        .bind(scope.project().unwrap_or(""))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            Error::invalid(
                "model",
                format!("no role named '{}' {}", quote(name), scope_words(scope)),
            )
        })
}

fn scope_words(scope: RoleScope<'_>) -> String {
    match scope.project() {
        None => "in the organization".to_owned(),
        Some(p) => format!("in project '{}'", quote(p)),
    }
}

pub(super) async fn group_id(conn: &mut AnyConnection, org: &OrgId, name: &str) -> Result<String> {
    sqlx::query_scalar("SELECT id FROM org_groups WHERE org_id = $1 AND name_key = $2")
        .bind(org.as_str())
        .bind(fold_case(name))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::invalid("model", format!("no group named '{}'", quote(name))))
}

/// The id of the member with `email` (for removals: the current model named them).
pub(super) async fn member_id(
    conn: &mut AnyConnection,
    org: &OrgId,
    email: &str,
) -> Result<String> {
    sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.org_id = $1 AND u.email_key = $2",
    )
    .bind(org.as_str())
    .bind(fold_case(email))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or_else(|| Error::not_found("user", email))
}
