//! The built-in permission catalog and the system roles.
//!
//! This is frozen: the names, ids and permission sets below are what the migrations insert, and
//! a store test checks that the database and this table agree. Built-in permissions are
//! `api.<resource>.read|write` at organization level, `api.project.<resource>.read|write` at
//! project level, plus `api.permissions.check`. An organization's own permissions may not start
//! with `api.`.

use crate::ids::RoleId;

/// The resource type a permission or role is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// Applies to the organization (and, for `api.project` permissions held by org roles, to
    /// every project in it).
    Organization,
    /// Applies inside one project.
    Project,
}

impl ResourceType {
    /// The wire name: `api.organization` or `api.project`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "api.organization",
            Self::Project => "api.project",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api.organization" => Some(Self::Organization),
            "api.project" => Some(Self::Project),
            _ => None,
        }
    }
}

/// A permission of the built-in catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPermission {
    /// Its fixed id (`perm_000…NN`).
    pub id: &'static str,
    /// `api.users.read` etc.
    pub name: &'static str,
    /// What it allows.
    pub description: &'static str,
    /// Where it applies.
    pub resource_type: ResourceType,
}

macro_rules! perms {
    ($( $id:literal $name:literal $rt:ident $desc:literal ;)*) => {
        /// Every built-in permission, in catalog order.
        pub const BUILTIN_PERMISSIONS: &[BuiltinPermission] = &[
            $( BuiltinPermission { id: $id, name: $name, description: $desc, resource_type: ResourceType::$rt }, )*
        ];
    };
}

perms! {
    "perm_00000000000000000000000001" "api.organization.read" Organization "read the organization's settings";
    "perm_00000000000000000000000002" "api.organization.write" Organization "change the organization's settings";
    "perm_00000000000000000000000003" "api.users.read" Organization "list and read members";
    "perm_00000000000000000000000004" "api.users.write" Organization "add, change and remove members";
    "perm_00000000000000000000000005" "api.invites.read" Organization "list and read invitations";
    "perm_00000000000000000000000006" "api.invites.write" Organization "send and delete invitations";
    "perm_00000000000000000000000007" "api.groups.read" Organization "list and read groups and their members";
    "perm_00000000000000000000000008" "api.groups.write" Organization "create, change and delete groups and their members";
    "perm_00000000000000000000000009" "api.roles.read" Organization "list and read roles and the permission catalog";
    "perm_0000000000000000000000000A" "api.roles.write" Organization "create, change and delete roles and permissions";
    "perm_0000000000000000000000000B" "api.role_assignments.read" Organization "list and read role assignments";
    "perm_0000000000000000000000000C" "api.role_assignments.write" Organization "grant and revoke roles";
    "perm_0000000000000000000000000D" "api.projects.read" Organization "list and read projects";
    "perm_0000000000000000000000000E" "api.projects.write" Organization "create, change and archive projects";
    "perm_0000000000000000000000000F" "api.admin_keys.read" Organization "list and read admin API keys";
    "perm_0000000000000000000000000G" "api.admin_keys.write" Organization "create and delete admin API keys";
    "perm_0000000000000000000000000H" "api.audit_logs.read" Organization "read the audit log";
    "perm_0000000000000000000000000J" "api.audit_logs.write" Organization "manage the audit log";
    "perm_0000000000000000000000000K" "api.permissions.check" Organization "ask whether a user holds a permission";
    "perm_0000000000000000000000000M" "api.project.users.read" Project "list and read a project's members";
    "perm_0000000000000000000000000N" "api.project.users.write" Project "add, change and remove a project's members";
    "perm_0000000000000000000000000P" "api.project.groups.read" Project "list and read a project's groups";
    "perm_0000000000000000000000000Q" "api.project.groups.write" Project "add and remove a project's groups";
    "perm_0000000000000000000000000R" "api.project.roles.read" Project "list and read a project's roles";
    "perm_0000000000000000000000000S" "api.project.roles.write" Project "create, change and delete a project's roles";
    "perm_0000000000000000000000000T" "api.project.role_assignments.read" Project "list and read a project's role assignments";
    "perm_0000000000000000000000000V" "api.project.role_assignments.write" Project "grant and revoke a project's roles";
    "perm_0000000000000000000000000W" "api.webhooks.read" Organization "list and read webhook endpoints and their deliveries";
    "perm_0000000000000000000000000X" "api.webhooks.write" Organization "create, change, test and delete webhook endpoints; redeliver";
}

/// Looks a built-in permission up by name.
pub fn builtin_permission(name: &str) -> Option<&'static BuiltinPermission> {
    BUILTIN_PERMISSIONS.iter().find(|p| p.name == name)
}

/// Which system roles exist; each has a fixed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemRole {
    /// Organization owner: every permission.
    OrgOwner,
    /// Organization admin: everything but creating and deleting admin keys.
    OrgAdmin,
    /// Organization member: reads the organization and its projects.
    OrgMember,
    /// Organization reader: every built-in `.read` permission.
    OrgReader,
    /// Project owner: every built-in `api.project.*` permission.
    ProjectOwner,
    /// Project member: every `api.project.*.read` permission.
    ProjectMember,
    /// Project viewer: reads the project's members and roles.
    ProjectViewer,
}

impl SystemRole {
    /// All system roles, organization roles first.
    pub const ALL: [SystemRole; 7] = [
        Self::OrgOwner,
        Self::OrgAdmin,
        Self::OrgMember,
        Self::OrgReader,
        Self::ProjectOwner,
        Self::ProjectMember,
        Self::ProjectViewer,
    ];

    /// The fixed id the migrations give this role.
    pub fn id_str(self) -> &'static str {
        match self {
            Self::OrgOwner => "role_00000000000000000000000001",
            Self::OrgAdmin => "role_00000000000000000000000002",
            Self::OrgMember => "role_00000000000000000000000003",
            Self::OrgReader => "role_00000000000000000000000004",
            Self::ProjectOwner => "role_00000000000000000000000005",
            Self::ProjectMember => "role_00000000000000000000000006",
            Self::ProjectViewer => "role_00000000000000000000000007",
        }
    }

    /// The fixed id as a [`RoleId`].
    pub fn id(self) -> RoleId {
        RoleId::from_trusted(self.id_str().to_owned())
    }

    /// The role's name (`owner`, `admin`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::OrgOwner | Self::ProjectOwner => "owner",
            Self::OrgAdmin => "admin",
            Self::OrgMember | Self::ProjectMember => "member",
            Self::OrgReader => "reader",
            Self::ProjectViewer => "viewer",
        }
    }

    /// Where the role applies.
    pub fn resource_type(self) -> ResourceType {
        match self {
            Self::OrgOwner | Self::OrgAdmin | Self::OrgMember | Self::OrgReader => {
                ResourceType::Organization
            }
            Self::ProjectOwner | Self::ProjectMember | Self::ProjectViewer => ResourceType::Project,
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        match self {
            Self::OrgOwner => "Full control of the organization, including admin API keys.",
            Self::OrgAdmin => {
                "Manages members, groups, projects and roles; cannot create or delete admin API keys."
            }
            Self::OrgMember => "Belongs to the organization; reads it and its projects.",
            Self::OrgReader => "Reads everything in the organization; changes nothing.",
            Self::ProjectOwner => "Full control of the project.",
            Self::ProjectMember => "Reads everything in the project.",
            Self::ProjectViewer => "Sees the project's members and roles.",
        }
    }

    /// Whether the role holds the built-in permission `p`.
    pub fn holds(self, p: &BuiltinPermission) -> bool {
        self.holds_permission(p.name, p.resource_type)
    }

    /// Whether the role holds a permission of the organization's catalog (built-in or the
    /// organization's own). This is the one rule for system roles: checks, listings, effective
    /// permissions, reverse lookups and dialects all read it, so a system role grants exactly
    /// what its listing shows.
    ///
    /// - `owner`: every permission of the organization, built-in or its own;
    /// - `admin`: the same, but `api.admin_keys.write`;
    /// - `reader`: every built-in `.read` (an organization's own `*.read` is not a reader's
    ///   because of its name);
    /// - `member`: `api.organization.read` and `api.projects.read`;
    /// - project `owner`: every built-in `api.project` permission; project `member` every
    ///   built-in `api.project` `.read`; `viewer` the project's users and roles.
    ///
    /// So owner ⊇ admin ⊇ reader ⊇ member. The resource type is kept for permissions that are
    /// neither built-in nor the organization's own (global ones), which owner and admin hold.
    pub fn holds_permission(self, name: &str, resource_type: ResourceType) -> bool {
        let builtin = builtin_permission(name);
        let read = name.ends_with(".read");
        match self {
            Self::OrgOwner => true,
            Self::OrgAdmin => name != "api.admin_keys.write",
            Self::OrgReader => builtin.is_some() && read,
            Self::OrgMember => matches!(name, "api.organization.read" | "api.projects.read"),
            Self::ProjectOwner => builtin.is_some() && resource_type == ResourceType::Project,
            Self::ProjectMember => {
                builtin.is_some() && resource_type == ResourceType::Project && read
            }
            Self::ProjectViewer => {
                matches!(name, "api.project.users.read" | "api.project.roles.read")
            }
        }
    }

    /// Whether the role may hold permissions beyond the built-in ones (owner and admin hold
    /// every permission the organization defines), so listings must read the catalog.
    pub fn holds_custom(self) -> bool {
        matches!(self, Self::OrgOwner | Self::OrgAdmin)
    }

    /// The built-in permissions the role holds, in catalog order.
    pub fn permissions(self) -> impl Iterator<Item = &'static BuiltinPermission> {
        BUILTIN_PERMISSIONS.iter().filter(move |p| self.holds(p))
    }

    /// Finds the system role with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id_str() == id)
    }

    /// Finds the system role of `resource_type` with this name (case-insensitive).
    pub fn by_name(resource_type: ResourceType, name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.resource_type() == resource_type && r.name().eq_ignore_ascii_case(name))
    }

    /// Whether `name` is the name of any system role (custom roles may not take one).
    pub fn is_reserved_name(name: &str) -> bool {
        Self::ALL
            .into_iter()
            .any(|r| r.name().eq_ignore_ascii_case(name.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PermissionId, RoleId};

    #[test]
    fn fixed_ids_are_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in BUILTIN_PERMISSIONS {
            assert!(PermissionId::parse(p.id).is_some(), "{}", p.id);
            assert!(seen.insert(p.id));
            assert!(seen.insert(p.name));
        }
        for r in SystemRole::ALL {
            assert!(RoleId::parse(r.id_str()).is_some(), "{}", r.id_str());
            assert!(seen.insert(r.id_str()));
        }
    }

    #[test]
    fn role_sets_follow_the_decisions() {
        let count = |r: SystemRole| r.permissions().count();
        assert_eq!(count(SystemRole::OrgOwner), BUILTIN_PERMISSIONS.len());
        assert!(
            SystemRole::OrgAdmin
                .permissions()
                .all(|p| p.name != "api.admin_keys.write")
        );
        assert_eq!(count(SystemRole::OrgAdmin), BUILTIN_PERMISSIONS.len() - 1);
        assert!(
            SystemRole::OrgReader
                .permissions()
                .all(|p| p.name.ends_with(".read"))
        );
        assert_eq!(count(SystemRole::OrgMember), 2);
        // owner ⊇ admin ⊇ reader ⊇ member, over built-in and custom names alike
        let chain = [
            SystemRole::OrgOwner,
            SystemRole::OrgAdmin,
            SystemRole::OrgReader,
            SystemRole::OrgMember,
        ];
        let names = BUILTIN_PERMISSIONS
            .iter()
            .map(|p| (p.name, p.resource_type))
            .chain([
                ("documents.read", ResourceType::Organization),
                ("documents.write", ResourceType::Project),
            ]);
        for (name, rt) in names {
            for pair in chain.windows(2) {
                if pair[1].holds_permission(name, rt) {
                    assert!(pair[0].holds_permission(name, rt), "{pair:?} {name}");
                }
            }
        }
        assert!(
            !SystemRole::OrgReader.holds_permission("documents.read", ResourceType::Organization)
        );
        assert!(
            SystemRole::OrgAdmin.holds_permission("documents.write", ResourceType::Organization)
        );
        assert!(
            SystemRole::ProjectOwner
                .permissions()
                .all(|p| p.resource_type == ResourceType::Project)
        );
    }
}
