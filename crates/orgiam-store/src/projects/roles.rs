//! Project roles: the system project roles (read-only, shared) and each project's own custom
//! roles, which hold only `api.project` permissions; the scoped operations of roles.rs.

use orgiam_core::Result;
use orgiam_core::ids::OrgId;
use orgiam_core::model::Role;
use orgiam_core::page::{Page, PageRequest};

use crate::db::Store;
use crate::roles::{NewRole, RoleChanges, RoleScope};
use crate::write::ActorRef;

impl Store {
    /// The roles of project `project` (system project roles first: their ids sort first,
    /// then the project's custom roles); 404 if `org` has no such project.
    pub async fn list_project_roles(
        &self,
        org: &OrgId,
        project: &str,
        page: &PageRequest,
    ) -> Result<Page<Role>> {
        self.list_roles_in(org, RoleScope::Project(project), page)
            .await
    }

    /// One role of a project (a system project role or the project's own).
    pub async fn get_project_role(&self, org: &OrgId, project: &str, id: &str) -> Result<Role> {
        self.get_role_in(org, RoleScope::Project(project), id).await
    }

    /// Creates a custom role of a project; it may hold only `api.project` permissions.
    pub async fn create_project_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        new: NewRole,
    ) -> Result<(Role, i64)> {
        self.create_role_in(actor, org, RoleScope::Project(project), new)
            .await
    }

    /// Changes a custom role of a project; system roles are read-only (403).
    pub async fn update_project_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        id: &str,
        changes: RoleChanges,
    ) -> Result<(Role, i64)> {
        self.update_role_in(actor, org, RoleScope::Project(project), id, changes)
            .await
    }

    /// Deletes a custom role of a project and every assignment of it.
    pub async fn delete_project_role(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        project: &str,
        id: &str,
    ) -> Result<i64> {
        self.delete_role_in(actor, org, RoleScope::Project(project), id)
            .await
    }
}
