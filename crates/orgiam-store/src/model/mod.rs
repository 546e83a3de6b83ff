//! Access as code: an organization's model (its own permissions, custom roles, groups with
//! their members, role grants) read as one document, and a desired model applied as one write.
//!
//! Guarantees: [`Store::apply_model`] reads the current model, plans the changes and applies
//! them inside ONE write transaction, recorded by one `access_model.applied` audit event that
//! lists every change; a plan that fails at any step (a person who is not a member, an unknown
//! permission, a permission the actor does not hold) applies nothing. Each step goes through
//! the same helpers as the single-object routes, so the same validation and no-escalation rules
//! hold (the actor holds every permission of each role it creates, changes or grants, and of
//! each group a member joins). A dry run executes the plan too and rolls it back, so that it
//! fails exactly where the real run would.

mod read;

use read::{Names, group_id, member_id, read_model, resolve, role_id};

use std::collections::BTreeSet;

use orgiam_authz::Holder;

use orgiam_core::access_model::{
    AccessModel, Action, Change, GrantSpec, Object, PermissionSpec, RoleSpec, plan,
};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::OrgId;
use orgiam_core::validate::quote;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::AnyConnection;

use crate::assignments::{Principal, check_expiry, delete_assignment, upsert_assignment};
use crate::db::{Store, db};
use crate::groups::{
    change_group_name, delete_group_member, insert_group, insert_group_member, remove_group,
};
use crate::permissions::{insert_permission, remove_permission};
use crate::projects::{project_user, writable_project};
use crate::roles::{
    NewRole, RoleChanges, RoleScope, change_role, insert_role, remove_role, scoped_role,
};
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// What applying a model did.
#[derive(Debug, Clone)]
pub struct AppliedModel {
    /// The plan, in the order it was (or would be) applied.
    pub changes: Vec<Change>,
    /// The organization's revision after the change; `None` for a dry run or an empty plan.
    pub revision: Option<i64>,
}

/// Applies one change inside `w`. `current` is the model before the write began.
async fn apply_change(
    w: &mut WriteTx,
    actor: &ActorRef<'_>,
    names: &Names,
    current: &AccessModel,
    change: &Change,
) -> Result<()> {
    let org = w.org_id.clone();
    let org = &org;
    require(actor, guard(&change.object))?;
    match (&change.object, change.action) {
        (Object::Permission(p), Action::Create) => {
            insert_permission(
                w,
                org,
                &p.name,
                p.description.as_deref(),
                Some(&p.resource_type),
            )
            .await?;
        }
        (Object::Permission(p), Action::Update) => {
            let before = current.permissions.iter().find(|c| c.name == p.name);
            if before.is_some_and(|b| b.resource_type != p.resource_type) {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "permission '{}' exists with another resource_type; a permission's \
                         resource_type cannot change (delete it first)",
                        quote(&p.name)
                    ),
                ));
            }
            let description =
                orgiam_core::validate::description("description", p.description.as_deref())?;
            sqlx::query("UPDATE permissions SET description = $1 WHERE org_id = $2 AND name = $3")
                .bind(description)
                .bind(org.as_str())
                .bind(p.name.as_str())
                .execute(&mut *w.tx)
                .await
                .map_err(db)?;
        }
        (Object::Permission(p), Action::Delete) => {
            remove_permission(w, org, &p.name).await?;
        }
        (Object::Role(r), action) => {
            let project = r.project.as_deref().map(|p| names.project(p)).transpose()?;
            let scope = match &project {
                None => RoleScope::Organization,
                Some(p) => RoleScope::Project(p),
            };
            let new = || NewRole {
                name: r.name.clone(),
                description: r.description.clone(),
                permissions: r.permissions.clone(),
                metadata: None,
            };
            match action {
                Action::Create => {
                    insert_role(w, actor, org, scope, new()).await?;
                }
                Action::Update => {
                    let id = role_id(&mut w.tx, org, scope, &r.name, true).await?;
                    let changes = RoleChanges {
                        name: Some(r.name.clone()),
                        description: Some(r.description.clone()),
                        permissions: Some(r.permissions.clone()),
                    };
                    change_role(w, actor, org, scope, &id, &changes).await?;
                }
                Action::Delete => {
                    let id = role_id(&mut w.tx, org, scope, &r.name, true).await?;
                    remove_role(w, actor, org, scope, &id).await?;
                }
            }
        }
        (Object::Group { name }, Action::Create) => {
            insert_group(w, org, name).await?;
        }
        (Object::Group { name }, Action::Update) => {
            let id = group_id(&mut w.tx, org, name).await?;
            change_group_name(w, org, &id, name).await?;
        }
        (Object::Group { name }, Action::Delete) => {
            let id = group_id(&mut w.tx, org, name).await?;
            remove_group(w, org, &id).await?;
        }
        (Object::GroupMember { group, email }, action) => {
            let gid = group_id(&mut w.tx, org, group).await?;
            let user = match action {
                Action::Delete => member_id(&mut w.tx, org, email).await?,
                _ => names.user(email)?.to_owned(),
            };
            match action {
                Action::Delete => delete_group_member(w, org, &gid, &user).await?,
                _ => {
                    insert_group_member(w, actor, org, &gid, &user).await?;
                }
            }
        }
        (Object::Grant(g), action) => {
            let project = g.project.as_deref().map(|p| names.project(p)).transpose()?;
            let scope = match &project {
                None => RoleScope::Organization,
                Some(p) => RoleScope::Project(p),
            };
            let rid = role_id(&mut w.tx, org, scope, &g.role, false).await?;
            let (gid, uid);
            let principal = match (&g.group, &g.user) {
                (Some(group), _) => {
                    gid = group_id(&mut w.tx, org, group).await?;
                    Principal::Group(&gid)
                }
                (None, Some(email)) => {
                    uid = match action {
                        Action::Delete => member_id(&mut w.tx, org, email).await?,
                        _ => names.user(email)?.to_owned(),
                    };
                    // the target rule, as on the grant routes: changing a member's grants
                    // needs every permission the member holds (there)
                    w.ensure_covers_in(actor, &uid, project.as_deref()).await?;
                    Principal::User(&uid)
                }
                (None, None) => return Err(Error::internal("a grant without a principal")),
            };
            if action == Action::Delete {
                delete_assignment(w, principal, project.as_deref(), &rid).await?;
                return Ok(());
            }
            check_expiry(g.expires_at)?;
            let role = scoped_role(&mut w.tx, org, scope, &rid)
                .await?
                .ok_or_else(|| Error::internal("a resolved role vanished"))?;
            actor.ensure_holds_in(project.as_deref(), &role.permissions)?;
            if let Some(p) = &project {
                writable_project(&mut w.tx, org, p).await?;
                project_access(w, principal, p, g).await?;
            }
            upsert_assignment(
                w,
                actor,
                principal,
                project.as_deref(),
                &rid,
                g.expires_at,
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// The built-in permission the single-object routes need for this kind of change (the
/// organization's or, for project roles and grants, the project routes').
fn guard(object: &Object) -> &'static str {
    match object {
        Object::Role(RoleSpec {
            project: Some(_), ..
        })
        | Object::Grant(GrantSpec {
            project: Some(_), ..
        }) => "api.projects.write",
        Object::Permission(_) | Object::Role(_) => "api.roles.write",
        Object::Group { .. } | Object::GroupMember { .. } => "api.groups.write",
        Object::Grant(_) => "api.role_assignments.write",
    }
}

/// 403 unless the actor holds `permission` (as the route guard answers).
fn require(actor: &ActorRef<'_>, permission: &str) -> Result<()> {
    match actor {
        ActorRef::Key { grants, .. } if !grants.holds(permission, None, now_unix()) => {
            Err(Error::missing_permission(permission))
        }
        _ => Ok(()),
    }
}

/// What the actor holds during the write: what it held when the request began, and the
/// permissions the plan creates that its system roles will hold once they exist (an owner
/// may put a permission it creates into a role it creates in the same plan, as it could in
/// two requests).
struct WithCreated<'a> {
    held: &'a dyn Holder,
    created: BTreeSet<String>,
}

impl Holder for WithCreated<'_> {
    fn holds(&self, permission: &str, project: Option<&str>, now: i64) -> bool {
        self.created.contains(permission) || self.held.holds(permission, project, now)
    }
}

/// The permissions `changes` create that the actor will hold through its organization-level
/// system roles (direct or through a group), by the catalog's rule for system roles.
async fn created_held(
    conn: &mut AnyConnection,
    org: &OrgId,
    actor: &ActorRef<'_>,
    changes: &[Change],
) -> Result<BTreeSet<String>> {
    let ActorRef::Key { actor, .. } = actor else {
        return Ok(BTreeSet::new());
    };
    let created: Vec<&PermissionSpec> = changes
        .iter()
        .filter_map(|c| match (&c.object, c.action) {
            (Object::Permission(p), Action::Create) => Some(p),
            _ => None,
        })
        .collect();
    if created.is_empty() {
        return Ok(BTreeSet::new());
    }
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT ra.role_id FROM role_assignments ra WHERE ra.org_id = $1 \
         AND ra.project_id IS NULL AND (ra.expires_at IS NULL OR ra.expires_at > $2) \
         AND ra.principal_id IN (SELECT $3 UNION ALL \
         SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $3)",
    )
    .bind(org.as_str())
    .bind(now_unix())
    .bind(actor.user_id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let system: Vec<SystemRole> = SystemRole::ALL
        .into_iter()
        .filter(|r| held.iter().any(|h| h == r.id_str()))
        .collect();
    Ok(created
        .into_iter()
        .filter(|p| {
            let rt = ResourceType::parse(&p.resource_type).unwrap_or(ResourceType::Organization);
            system.iter().any(|r| r.holds_permission(&p.name, rt))
        })
        .map(|p| p.name.clone())
        .collect())
}

/// A project grant needs the principal on the project: a user must already be a project
/// member (400 otherwise; project membership stays with the project routes); a group is given
/// access with its first grant, as adding a group to a project does.
async fn project_access(
    w: &mut WriteTx,
    principal: Principal<'_>,
    project: &str,
    g: &GrantSpec,
) -> Result<()> {
    let org = w.org_id.clone();
    match principal {
        Principal::User(u) => {
            if project_user(&mut w.tx, &org, project, u).await?.is_none() {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "user '{}' is not a member of project '{}'; add them to the project first",
                        quote(g.user.as_deref().unwrap_or(u)),
                        quote(g.project.as_deref().unwrap_or(project))
                    ),
                ));
            }
        }
        Principal::Group(gid) => {
            sqlx::query(
                "INSERT INTO project_groups (org_id, project_id, group_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, group_id) DO NOTHING",
            )
            .bind(org.as_str())
            .bind(project)
            .bind(gid)
            .bind(now_unix())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        }
    }
    Ok(())
}

impl Store {
    /// The organization's access model, in canonical order.
    pub async fn export_model(&self, org: &OrgId) -> Result<AccessModel> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        read_model(&mut conn, org).await
    }

    /// Makes the organization match `desired` in one write: plans the changes (removals only
    /// with `prune`), applies them with one `access_model.applied` audit event, commits. With
    /// `dry_run` the plan is applied and rolled back: the answer (or the error) is the real
    /// run's, and nothing changes. An empty plan writes nothing.
    pub async fn apply_model(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        desired: AccessModel,
        prune: bool,
        dry_run: bool,
    ) -> Result<AppliedModel> {
        let desired = desired.normalized();
        let problems = desired.problems();
        if !problems.is_empty() {
            return Err(Error::invalid("model", problems.join("; ")));
        }
        let mut w = self.begin_write(org).await?;
        let current = read_model(&mut w.tx, org).await?;
        let names = resolve(&mut w.tx, org, &desired).await?;
        let changes = plan(&current, &desired, prune);
        let created = created_held(&mut w.tx, org, actor, &changes).await?;
        let with_created;
        let actor = match actor {
            ActorRef::Key { actor, grants } if !created.is_empty() => {
                with_created = WithCreated {
                    held: *grants,
                    created,
                };
                ActorRef::Key {
                    actor,
                    grants: &with_created,
                }
            }
            other => *other,
        };
        let actor = &actor;
        for change in &changes {
            apply_change(&mut w, actor, &names, &current, change)
                .await
                .map_err(|e| in_change(e, change))?;
        }
        if dry_run || changes.is_empty() {
            w.settle().await?;
            return Ok(AppliedModel {
                changes,
                revision: None,
            });
        }
        w.audit(
            actor,
            AuditEvent {
                event_type: "access_model.applied",
                resource_id: org.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": org.as_str(),
                    "prune": prune,
                    "changes": changes,
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok(AppliedModel {
            changes,
            revision: Some(revision),
        })
    }
}

/// Prefixes an error's message with the change it stopped at.
fn in_change(mut e: Error, change: &Change) -> Error {
    let action = match change.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    };
    let what = match &change.object {
        Object::Permission(p) => format!("permission '{}'", quote(&p.name)),
        Object::Role(r) => format!("role '{}'", quote(&r.name)),
        Object::Group { name } => format!("group '{}'", quote(name)),
        Object::GroupMember { group, email } => {
            format!("member '{}' of group '{}'", quote(email), quote(group))
        }
        Object::Grant(g) => format!(
            "grant of role '{}' to {}",
            quote(&g.role),
            g.group
                .as_deref()
                .map(|x| format!("group '{}'", quote(x)))
                .or_else(|| g.user.as_deref().map(|x| format!("user '{}'", quote(x))))
                .unwrap_or_default()
        ),
    };
    e.message = format!("{action} {what}: {}", e.message);
    e
}
