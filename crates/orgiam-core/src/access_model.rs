//! An organization's access model as a document people keep in git and review in a pull
//! request: its own permissions, its custom roles, its groups with their members' emails and
//! the role grants to groups and users. Everything is named as a person names it (roles and
//! groups by name, users by email, projects by name), never by id, so that one file describes
//! the same model in any organization.
//!
//! [`AccessModel::normalized`] puts a model in its one canonical order (so that exporting it
//! twice gives the same bytes) and [`plan`] says what changes turn one model into another.
//! Membership and base roles are not part of it: they stay with invites and provisioning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate::fold_case;

/// The model of one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessModel {
    /// The organization's own permissions (built-in `api.*` ones are implied).
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    /// Custom roles, of the organization or of one project.
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// Groups and their members.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// Role grants to groups and users (base roles excepted).
    #[serde(default)]
    pub grants: Vec<GrantSpec>,
}

/// One of the organization's own permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    /// `documents.write`.
    pub name: String,
    /// What it allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `api.organization` (the default) or `api.project`.
    #[serde(default = "default_resource_type")]
    pub resource_type: String,
}

fn default_resource_type() -> String {
    "api.organization".to_owned()
}

/// A custom role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Unique in its scope, case-insensitively.
    pub name: String,
    /// The project (by name) for a project role; absent for an organization role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The permissions it grants.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Unique in the organization, case-insensitively.
    pub name: String,
    /// The members' emails (each already a member of the organization).
    #[serde(default)]
    pub members: Vec<String>,
}

/// A role granted to a group or a user, at organization level or on one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// The role, by name (a system role or a custom one of the grant's scope).
    pub role: String,
    /// The group receiving it (by name); exactly one of `group` and `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The user receiving it (by email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The project (by name) for a project grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// When the grant ends (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl GrantSpec {
    /// What identifies the grant: scope, principal and role, case-folded.
    fn key(&self) -> (String, String, String) {
        let who = match (&self.group, &self.user) {
            (Some(g), _) => format!("group:{}", fold_case(g)),
            (None, Some(u)) => format!("user:{}", fold_case(u)),
            (None, None) => String::new(),
        };
        (
            self.project.as_deref().map(fold_case).unwrap_or_default(),
            who,
            fold_case(&self.role),
        )
    }
}

impl RoleSpec {
    fn key(&self) -> (String, String) {
        (
            self.project.as_deref().map(fold_case).unwrap_or_default(),
            fold_case(&self.name),
        )
    }
}

impl AccessModel {
    /// The model in canonical order: every list sorted (permissions by name, roles by project
    /// and name, groups by name, grants by project, principal and role), members' emails
    /// lower-cased and sorted, each role's permissions sorted and deduplicated.
    pub fn normalized(mut self) -> Self {
        self.permissions.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &mut self.roles {
            r.permissions.sort();
            r.permissions.dedup();
        }
        self.roles.sort_by_key(RoleSpec::key);
        for g in &mut self.groups {
            for m in &mut g.members {
                *m = fold_case(m);
            }
            g.members.sort();
            g.members.dedup();
        }
        self.groups.sort_by_key(|g| fold_case(&g.name));
        for g in &mut self.grants {
            if let Some(u) = &mut g.user {
                *u = fold_case(u);
            }
        }
        self.grants.sort_by_key(GrantSpec::key);
        self
    }

    /// Every email the model names (group members and users with grants), lower-cased.
    pub fn emails(&self) -> std::collections::BTreeSet<String> {
        let members = self.groups.iter().flat_map(|g| g.members.iter());
        let users = self.grants.iter().filter_map(|g| g.user.as_ref());
        members.chain(users).map(|e| fold_case(e)).collect()
    }

    /// Problems of the model itself, before it is compared with anything: duplicates and
    /// grants that name no principal or two. Each message names the item.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if serde_json::to_string(self).is_ok_and(|s| s.contains("\\u0000")) {
            out.push("text in the model may not contain NUL characters".to_owned());
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.permissions {
            if !seen.insert(p.name.clone()) {
                out.push(format!("permission '{}' is listed twice", p.name));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.roles {
            if !seen.insert(r.key()) {
                out.push(format!("role '{}' is listed twice in its scope", r.name));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.groups {
            if !seen.insert(fold_case(&g.name)) {
                out.push(format!("group '{}' is listed twice", g.name));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.grants {
            if g.group.is_some() == g.user.is_some() {
                out.push(format!(
                    "grant of role '{}' needs exactly one of 'group' and 'user'",
                    g.role
                ));
            } else if !seen.insert(g.key()) {
                out.push(format!("grant of role '{}' is listed twice", g.role));
            }
        }
        out
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The object is made.
    Create,
    /// The object exists and some of its fields change.
    Update,
    /// The object is removed (only with prune).
    Delete,
}

/// The object a change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    /// A permission.
    Permission(PermissionSpec),
    /// A custom role.
    Role(RoleSpec),
    /// A group (its members are changes of their own).
    Group {
        /// The group's name.
        name: String,
    },
    /// A user's membership of a group.
    GroupMember {
        /// The group's name.
        group: String,
        /// The member's email.
        email: String,
    },
    /// A role grant.
    Grant(GrantSpec),
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Create, update or delete.
    pub action: Action,
    /// The object as it will be (as it was, for a delete).
    #[serde(flatten)]
    pub object: Object,
}

/// The changes that make `current` into `desired`, in the order they can be applied:
/// permissions, roles, groups, members, grants are created and updated first; with `prune`,
/// what `desired` does not name is then removed in the reverse order (grants, members, groups,
/// roles, permissions; a group removed takes its members with it). Names compare case-insensitively (as the server compares them); an
/// empty plan means the organization already matches.
pub fn plan(current: &AccessModel, desired: &AccessModel, prune: bool) -> Vec<Change> {
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    let change = |action, object| Change { action, object };

    let have: BTreeMap<_, _> = current.permissions.iter().map(|p| (&p.name, p)).collect();
    let want: BTreeMap<_, _> = desired.permissions.iter().map(|p| (&p.name, p)).collect();
    for (k, p) in &want {
        match have.get(k) {
            None => ups.push(change(Action::Create, Object::Permission((*p).clone()))),
            Some(h) if h != p => ups.push(change(Action::Update, Object::Permission((*p).clone()))),
            Some(_) => {}
        }
    }
    let perm_downs: Vec<Change> = have
        .iter()
        .filter(|(k, _)| !want.contains_key(*k))
        .map(|(_, p)| change(Action::Delete, Object::Permission((*p).clone())))
        .collect();

    let have: BTreeMap<_, _> = current.roles.iter().map(|r| (r.key(), r)).collect();
    let want: BTreeMap<_, _> = desired.roles.iter().map(|r| (r.key(), r)).collect();
    for (k, r) in &want {
        match have.get(k) {
            None => ups.push(change(Action::Create, Object::Role((*r).clone()))),
            Some(h) if !same_role(h, r) => {
                ups.push(change(Action::Update, Object::Role((*r).clone())))
            }
            Some(_) => {}
        }
    }
    let role_downs: Vec<Change> = have
        .iter()
        .filter(|(k, _)| !want.contains_key(*k))
        .map(|(_, r)| change(Action::Delete, Object::Role((*r).clone())))
        .collect();

    let have: BTreeMap<_, _> = current
        .groups
        .iter()
        .map(|g| (fold_case(&g.name), g))
        .collect();
    let want: BTreeMap<_, _> = desired
        .groups
        .iter()
        .map(|g| (fold_case(&g.name), g))
        .collect();
    let members = |g: &GroupSpec| -> std::collections::BTreeSet<String> {
        g.members.iter().map(|m| fold_case(m)).collect()
    };
    let mut member_ups = Vec::new();
    let mut member_downs = Vec::new();
    for (k, g) in &want {
        let before = have.get(k).map(|h| members(h)).unwrap_or_default();
        let group = || Object::Group {
            name: g.name.clone(),
        };
        match have.get(k) {
            None => ups.push(change(Action::Create, group())),
            // the same group (names compare case-insensitively) spelled otherwise: renamed
            Some(h) if h.name != g.name => ups.push(change(Action::Update, group())),
            Some(_) => {}
        }
        let after = members(g);
        for email in after.difference(&before) {
            member_ups.push(change(
                Action::Create,
                Object::GroupMember {
                    group: g.name.clone(),
                    email: email.clone(),
                },
            ));
        }
        for email in before.difference(&after) {
            member_downs.push(change(
                Action::Delete,
                Object::GroupMember {
                    group: g.name.clone(),
                    email: email.clone(),
                },
            ));
        }
    }
    let group_downs: Vec<Change> = have
        .iter()
        .filter(|(k, _)| !want.contains_key(*k))
        .map(|(_, g)| {
            change(
                Action::Delete,
                Object::Group {
                    name: g.name.clone(),
                },
            )
        })
        .collect();
    ups.extend(member_ups);

    let have: BTreeMap<_, _> = current.grants.iter().map(|g| (g.key(), g)).collect();
    let want: BTreeMap<_, _> = desired.grants.iter().map(|g| (g.key(), g)).collect();
    for (k, g) in &want {
        match have.get(k) {
            None => ups.push(change(Action::Create, Object::Grant((*g).clone()))),
            Some(h) if h.expires_at != g.expires_at => {
                ups.push(change(Action::Update, Object::Grant((*g).clone())))
            }
            Some(_) => {}
        }
    }
    let grant_downs: Vec<Change> = have
        .iter()
        .filter(|(k, _)| !want.contains_key(*k))
        .map(|(_, g)| change(Action::Delete, Object::Grant((*g).clone())))
        .collect();

    if prune {
        downs.extend(grant_downs);
        downs.extend(member_downs);
        downs.extend(group_downs);
        downs.extend(role_downs);
        downs.extend(perm_downs);
    }
    ups.extend(downs);
    ups
}

/// Whether two roles of the same key say the same (name case, description, permissions).
fn same_role(a: &RoleSpec, b: &RoleSpec) -> bool {
    let set = |r: &RoleSpec| {
        r.permissions
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    a.name == b.name && a.description == b.description && set(a) == set(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> AccessModel {
        AccessModel {
            permissions: vec![PermissionSpec {
                name: "documents.read".into(),
                description: None,
                resource_type: default_resource_type(),
            }],
            roles: vec![RoleSpec {
                name: "Reader".into(),
                project: None,
                description: None,
                permissions: vec!["documents.read".into()],
            }],
            groups: vec![GroupSpec {
                name: "Eng".into(),
                members: vec!["A@x.io".into()],
            }],
            grants: vec![GrantSpec {
                role: "Reader".into(),
                group: Some("Eng".into()),
                user: None,
                project: None,
                expires_at: None,
            }],
        }
    }

    #[test]
    fn the_same_model_plans_nothing() {
        let m = model().normalized();
        assert!(plan(&m, &m, true).is_empty());
    }

    #[test]
    fn an_empty_organization_plans_every_object_in_order() {
        let m = model().normalized();
        let p = plan(&AccessModel::default(), &m, true);
        let kinds: Vec<_> = p
            .iter()
            .map(|c| match &c.object {
                Object::Permission(_) => "permission",
                Object::Role(_) => "role",
                Object::Group { .. } => "group",
                Object::GroupMember { .. } => "member",
                Object::Grant(_) => "grant",
            })
            .collect();
        assert_eq!(kinds, ["permission", "role", "group", "member", "grant"]);
        assert!(p.iter().all(|c| c.action == Action::Create));
    }

    #[test]
    fn removals_only_with_prune() {
        let m = model().normalized();
        assert!(plan(&m, &AccessModel::default(), false).is_empty());
        // a group removed takes its members with it: no member change of its own
        let p = plan(&m, &AccessModel::default(), true);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().all(|c| c.action == Action::Delete));
        assert!(matches!(p[0].object, Object::Grant(_)));
        assert!(matches!(p[1].object, Object::Group { .. }));
        assert!(matches!(p[3].object, Object::Permission(_)));
    }

    #[test]
    fn a_group_spelled_otherwise_is_renamed() {
        let m = model().normalized();
        let mut renamed = m.clone();
        renamed.groups[0].name = "ENG".into();
        renamed.grants[0].group = Some("eng".into());
        let p = plan(&m, &renamed, true);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].action, Action::Update);
        assert_eq!(p[0].object, Object::Group { name: "ENG".into() });
    }

    #[test]
    fn problems_name_nul_characters() {
        let mut m = model();
        m.groups[0].members.push("a\0b@x.io".into());
        assert_eq!(m.problems().len(), 1);
    }

    #[test]
    fn problems_name_duplicates_and_bad_grants() {
        let mut m = model();
        m.groups.push(GroupSpec {
            name: "eng".into(),
            members: vec![],
        });
        m.grants[0].user = Some("a@x.io".into());
        let problems = m.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
