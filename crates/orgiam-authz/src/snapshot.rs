//! A per-organization compiled snapshot of who holds what, and its copy-on-write updates.
//!
//! Guarantees:
//! - default deny: an unknown user, permission or project gets `false`;
//! - an assignment with `expires_at` stops granting at that instant (the precomputed sets carry
//!   the earliest expiry they depend on; past it, the answer is computed from the assignments);
//! - an archived project grants nothing, through any role at any level; organization-scope
//!   grants apply in every unarchived project;
//! - readers hold an immutable [`Snapshot`]; [`Snapshot::apply`] returns a new one that shares
//!   every part it did not change (persistent maps), so an update costs in proportion to what
//!   it changes and nobody ever sees half of one.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::flat::KeyTable;
use crate::permset::PermSet;
use crate::sharded::ShardedMap;
use crate::{Decision, Reason, Via};

/// A role as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    /// `role_…`
    pub id: String,
    /// Display name (for explanations).
    pub name: String,
    /// Permission names.
    pub permissions: Vec<String>,
}

/// One assignment held by a user or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignDef {
    /// The role.
    pub role_id: String,
    /// `None`: organization scope; `Some`: that project.
    pub project_id: Option<String>,
    /// When it stops granting (Unix seconds).
    pub expires_at: Option<i64>,
}

/// A member: their direct assignments and the groups they are in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDef {
    /// Direct assignments (the base roles included).
    pub assignments: Vec<AssignDef>,
    /// Ids of the groups the user is in.
    pub groups: Vec<String>,
}

/// A group: its members and its assignments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDef {
    /// Member user ids.
    pub members: Vec<String>,
    /// The group's assignments.
    pub assignments: Vec<AssignDef>,
}

/// Everything needed to build an organization's snapshot.
#[derive(Debug, Clone, Default)]
pub struct OrgData {
    /// The organization's change counter this data reflects.
    pub revision: i64,
    /// Every permission name the organization can use (built-in and its own).
    pub permissions: Vec<String>,
    /// Every role the organization can see.
    pub roles: Vec<RoleDef>,
    /// Members.
    pub users: Vec<(String, UserDef)>,
    /// Groups.
    pub groups: Vec<(String, GroupDef)>,
    /// Archived project ids.
    pub archived_projects: Vec<String>,
    /// Unarchived project ids.
    pub active_projects: Vec<String>,
}

/// One reloaded piece of state: the new value of an entity (`None`: it is gone).
#[derive(Debug, Clone)]
pub enum Delta {
    /// Permission names now in the catalog (new ones are added; indices are never reused).
    Permissions(Vec<String>),
    /// A role's new definition, or its removal (its assignments go with it).
    Role(String, Option<RoleDef>),
    /// A member's new state, or the end of the membership.
    User(String, Option<UserDef>),
    /// A group's new state, or its deletion.
    Group(String, Option<GroupDef>),
    /// A project's archived flag.
    Project(String, bool),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Principal {
    User(Arc<str>),
    Group(Arc<str>),
}

/// A persistent set that stays a small shared slice while small (most roles' holders, most
/// groups' members) and becomes a persistent hash set when large (a system role every member
/// has), so that one change costs at most O(64) or O(log n), never O(n).
#[derive(Debug, Clone)]
enum HybridSet<T: Clone + Eq + std::hash::Hash> {
    Small(Arc<[T]>),
    Large(ShardedMap<T, ()>),
}

const SMALL_SET: usize = 64;

impl<T: Clone + Eq + std::hash::Hash> HybridSet<T> {
    fn new() -> Self {
        HybridSet::Small(Arc::from(Vec::new()))
    }

    fn for_each(&self, mut f: impl FnMut(&T)) {
        match self {
            HybridSet::Small(v) => v.iter().for_each(&mut f),
            HybridSet::Large(s) => s.iter().for_each(|(k, _)| f(k)),
        }
    }

    fn contains(&self, p: &T) -> bool {
        match self {
            HybridSet::Small(v) => v.contains(p),
            HybridSet::Large(s) => s.contains_key(p),
        }
    }

    fn insert(&mut self, p: T) {
        match self {
            HybridSet::Small(v) => {
                if v.contains(&p) {
                    return;
                }
                if v.len() < SMALL_SET {
                    let mut n = v.to_vec();
                    n.push(p);
                    *v = n.into();
                } else {
                    let mut set = ShardedMap::default();
                    for x in v.iter() {
                        set.insert(x.clone(), ());
                    }
                    set.insert(p, ());
                    *self = HybridSet::Large(set);
                }
            }
            HybridSet::Large(s) => {
                s.insert(p, ());
            }
        }
    }

    fn remove(&mut self, p: &T) {
        match self {
            HybridSet::Small(v) => {
                if v.contains(p) {
                    *v = v
                        .iter()
                        .filter(|x| *x != p)
                        .cloned()
                        .collect::<Vec<_>>()
                        .into();
                }
            }
            HybridSet::Large(s) => {
                s.remove(p);
            }
        }
    }
}

type Holders = HybridSet<Principal>;

/// One assignment. Most are organization-wide and never expire, so scope and expiry sit
/// behind one optional pointer that is absent for them.
#[derive(Debug, Clone)]
struct Assign {
    role: Arc<str>,
    scoped: Option<Box<Scoped>>,
}

#[derive(Debug, Clone)]
struct Scoped {
    project: Option<Arc<str>>,
    /// `i64::MAX` when it never expires.
    expires_at: i64,
}

impl Assign {
    fn project(&self) -> Option<&Arc<str>> {
        self.scoped.as_ref().and_then(|s| s.project.as_ref())
    }

    fn expires_at(&self) -> i64 {
        self.scoped.as_ref().map_or(i64::MAX, |s| s.expires_at)
    }

    fn live(&self, now: i64) -> bool {
        self.expires_at() > now
    }
}

#[derive(Debug)]
struct RoleEntry {
    name: Arc<str>,
    perms: PermSet,
}

/// A list that costs one pointer when empty (most users are in no group and hold no project
/// grant).
#[derive(Debug, Clone, Default)]
struct Compact<T>(Option<Box<Box<[T]>>>);

impl<T: Clone> Compact<T> {
    fn from_vec(v: Vec<T>) -> Self {
        if v.is_empty() {
            Compact(None)
        } else {
            Compact(Some(Box::new(v.into_boxed_slice())))
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, T> {
        match &self.0 {
            Some(b) => b.iter(),
            None => [].iter(),
        }
    }

    fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }
}

/// A user's precomputed project-scoped sets (organization-level ones sit in [`UserSlot`]).
#[derive(Debug, Clone, Default)]
struct Effective {
    projects: Compact<(Arc<str>, PermSet)>,
}

#[derive(Debug)]
struct UserEntry {
    direct: Box<[Assign]>,
    groups: Compact<Arc<str>>,
    eff: Effective,
}

/// What the user map holds: the organization-level effective set and its validity inline, so
/// that the common check reads no further than the map entry, and the rest behind a pointer.
#[derive(Debug, Clone)]
struct UserSlot {
    org: PermSet,
    /// The earliest expiry the sets depend on; past it, answers are computed from the grants.
    valid_until: i64,
    entry: Arc<UserEntry>,
}

impl UserSlot {
    fn new(entry: UserEntry, org: PermSet, valid_until: i64) -> Self {
        UserSlot {
            org,
            valid_until,
            entry: Arc::new(entry),
        }
    }
}

impl std::ops::Deref for UserSlot {
    type Target = UserEntry;
    fn deref(&self) -> &UserEntry {
        &self.entry
    }
}

#[derive(Debug, Clone)]
struct GroupEntry {
    members: HybridSet<Arc<str>>,
    assigns: Box<[Assign]>,
}

/// Permission name → bit index. Organizations whose catalogs are equal (the same product's
/// permissions in every tenant, plus the built-in ones) share one index, so the lookup a check
/// starts with stays in cache however many organizations are loaded.
#[derive(Debug, Default)]
struct PermIndex {
    ids: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl PermIndex {
    /// The index for exactly these names, in this order: shared if one is alive.
    fn shared(names: Vec<Arc<str>>) -> Arc<PermIndex> {
        type Table = FxHashMap<Vec<Arc<str>>, std::sync::Weak<PermIndex>>;
        static TABLE: std::sync::Mutex<Option<Table>> = std::sync::Mutex::new(None);
        let build = |names: Vec<Arc<str>>| {
            let ids = names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect();
            Arc::new(PermIndex { ids, names })
        };
        let Ok(mut guard) = TABLE.lock() else {
            return build(names);
        };
        let table = guard.get_or_insert_with(Table::default);
        if let Some(idx) = table.get(&names).and_then(std::sync::Weak::upgrade) {
            return idx;
        }
        if table.len() > 4096 {
            table.retain(|_, w| w.strong_count() > 0);
        }
        let idx = build(names.clone());
        table.insert(names, Arc::downgrade(&idx));
        idx
    }
}

/// The compiled authorization state of one organization at one revision.
#[derive(Clone)]
pub struct Snapshot {
    revision: i64,
    perms: Arc<PermIndex>,
    roles: ShardedMap<Arc<str>, Arc<RoleEntry>>,
    /// Inline-keyed and flat while the organization is small (see [`KeyTable`]): the common
    /// check reads the snapshot, then the one slot its user id hashes to.
    users: KeyTable<UserSlot>,
    groups: ShardedMap<Arc<str>, Arc<GroupEntry>>,
    holders: ShardedMap<Arc<str>, Holders>,
    /// Project id → archived.
    projects: ShardedMap<Arc<str>, bool>,
}

/// Interns strings while building, so equal ids share one allocation.
#[derive(Default)]
struct Interner(FxHashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

impl Snapshot {
    /// Compiles an organization's data.
    pub fn build(data: &OrgData, now: i64) -> Snapshot {
        Self::from_data(data.clone(), now)
    }

    /// Compiles an organization's data, consuming it (no copy of its strings).
    pub fn from_data(data: OrgData, now: i64) -> Snapshot {
        let mut snap = Snapshot {
            revision: data.revision,
            perms: Arc::new(PermIndex::default()),
            roles: ShardedMap::default(),
            users: KeyTable::default(),
            groups: ShardedMap::default(),
            holders: ShardedMap::default(),
            projects: ShardedMap::default(),
        };
        let OrgData {
            revision,
            permissions,
            roles,
            users,
            groups,
            archived_projects,
            active_projects,
        } = data;
        let mut deltas = Vec::with_capacity(
            1 + roles.len()
                + groups.len()
                + users.len()
                + archived_projects.len()
                + active_projects.len(),
        );
        deltas.push(Delta::Permissions(permissions));
        deltas.extend(
            roles
                .into_iter()
                .map(|r| Delta::Role(r.id.clone(), Some(r))),
        );
        // every project, active ones too (a query naming an unknown project is a 404);
        // archived last, so a project listed as both counts as archived
        deltas.extend(
            active_projects
                .into_iter()
                .map(|p| Delta::Project(p, false))
                .chain(
                    archived_projects
                        .into_iter()
                        .map(|p| Delta::Project(p, true)),
                ),
        );
        deltas.extend(groups.into_iter().map(|(id, g)| Delta::Group(id, Some(g))));
        deltas.extend(users.into_iter().map(|(id, u)| Delta::User(id, Some(u))));
        snap.apply_in_place(revision, deltas, now);
        snap
    }

    /// The revision this snapshot reflects.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// How many members the snapshot knows.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// An estimate of the heap this snapshot holds, in bytes, from its entry counts alone
    /// (O(1), so it can be asked after every update). It counts a member with the few
    /// assignments and groups typical members have, a role with its permission set and holder
    /// set, a group with its members; shared parts (the permission index, interned ids) are
    /// counted once per entry that points at them, so the estimate errs high. Calibrated
    /// against the resident memory of fully loaded generated organizations
    /// (docs/PERFORMANCE.md).
    pub fn approx_bytes(&self) -> usize {
        /// Id, map slot, entry, ~3 direct assignments, ~2 groups, its place in holder sets,
        /// and the allocator's share: measured as the resident memory of size M's 1,000
        /// organizations of 1,000 members loaded together (docs/PERFORMANCE.md, Scale).
        const PER_USER: usize = 960;
        /// Id, name, permission set, holder set header.
        const PER_ROLE: usize = 200;
        /// Id, entry, member set, assignments.
        const PER_GROUP: usize = 300;
        /// Holder-set entry of a role.
        const PER_HOLDER_SET: usize = 64;
        const PER_PROJECT: usize = 64;
        const FIXED: usize = 4096;
        FIXED
            + self.users.len() * PER_USER
            + self.roles.len() * PER_ROLE
            + self.groups.len() * PER_GROUP
            + self.holders.len() * PER_HOLDER_SET
            + self.projects.len() * PER_PROJECT
    }

    /// Whether `user` holds `permission` (in `project`, or at organization level) at `now`.
    #[inline]
    pub fn check(&self, user: &str, permission: &str, project: Option<&str>, now: i64) -> bool {
        let Some(&p) = self.perms.ids.get(permission) else {
            return false;
        };
        let Some(u) = self.users.get(user) else {
            return false;
        };
        if project.is_some_and(|pr| self.is_archived(pr)) {
            return false;
        }
        if now >= u.valid_until {
            return self.explain_entry(u, p, project, now, true).allowed;
        }
        if u.org.contains(p) {
            return true;
        }
        match project {
            Some(pr) if !self.is_archived(pr) => u
                .eff
                .projects
                .iter()
                .any(|(id, set)| &**id == pr && set.contains(p)),
            _ => false,
        }
    }

    /// The decision with every grant that carries it.
    pub fn explain(
        &self,
        user: &str,
        permission: &str,
        project: Option<&str>,
        now: i64,
    ) -> Decision {
        let deny = Decision {
            allowed: false,
            reasons: Vec::new(),
        };
        let Some(&p) = self.perms.ids.get(permission) else {
            return deny;
        };
        let Some(u) = self.users.get(user) else {
            return deny;
        };
        self.explain_entry(u, p, project, now, false)
    }

    /// Whether the permission name is known to this organization.
    pub fn knows_permission(&self, permission: &str) -> bool {
        self.perms.ids.contains_key(permission)
    }

    /// Whether the project is archived (archived projects grant nothing).
    pub fn project_archived(&self, project: &str) -> bool {
        self.is_archived(project)
    }

    /// Whether the project exists in this organization (archived or not).
    pub fn knows_project(&self, project: &str) -> bool {
        self.projects.contains_key(project)
    }

    #[inline]
    fn is_archived(&self, project: &str) -> bool {
        self.projects.get(project).copied().unwrap_or(false)
    }

    /// Whether the user is a member.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The user's effective permissions (in `project`, or at organization level) with the
    /// grants that carry each, sorted by name.
    pub fn effective(
        &self,
        user: &str,
        project: Option<&str>,
        now: i64,
    ) -> Vec<(String, Vec<Reason>)> {
        let Some(u) = self.users.get(user) else {
            return Vec::new();
        };
        let mut out: std::collections::BTreeMap<String, Vec<Reason>> = Default::default();
        self.for_each_grant(u, project, now, |role, reason| {
            for i in role.perms.iter() {
                if let Some(name) = self.perms.names.get(i as usize) {
                    out.entry(name.to_string())
                        .or_default()
                        .push(reason.clone());
                }
            }
        });
        out.into_iter().collect()
    }

    /// Every user who holds `permission` (in `project`, or at organization level), sorted.
    pub fn users_with(&self, permission: &str, project: Option<&str>, now: i64) -> Vec<String> {
        let Some(&p) = self.perms.ids.get(permission) else {
            return Vec::new();
        };
        let mut candidates: FxHashSet<Arc<str>> = FxHashSet::default();
        for (role_id, role) in self.roles.iter() {
            if !role.perms.contains(p) {
                continue;
            }
            if let Some(hs) = self.holders.get(role_id) {
                hs.for_each(|h| match h {
                    Principal::User(u) => {
                        candidates.insert(u.clone());
                    }
                    Principal::Group(g) => {
                        if let Some(g) = self.groups.get(g) {
                            g.members.for_each(|m| {
                                candidates.insert(m.clone());
                            });
                        }
                    }
                });
            }
        }
        let mut users: Vec<String> = candidates
            .into_iter()
            .filter(|u| self.check(u, permission, project, now))
            .map(|u| u.to_string())
            .collect();
        users.sort_unstable();
        users
    }

    fn for_each_grant(
        &self,
        u: &UserEntry,
        project: Option<&str>,
        now: i64,
        mut f: impl FnMut(&RoleEntry, Reason),
    ) {
        if project.is_some_and(|p| self.is_archived(p)) {
            return;
        }
        let applies = |a: &Assign| {
            a.live(now)
                && match (a.project(), project) {
                    (None, _) => true,
                    (Some(ap), Some(p)) => &**ap == p,
                    (Some(_), None) => false,
                }
        };
        let mut visit = |a: &Assign, via: Via| {
            if !applies(a) {
                return;
            }
            if let Some(role) = self.roles.get(&a.role) {
                let reason = Reason {
                    role_id: a.role.to_string(),
                    role_name: role.name.to_string(),
                    via,
                    project_id: a.project().map(|p| p.to_string()),
                };
                f(role, reason);
            }
        };
        for a in u.direct.iter() {
            visit(a, Via::Direct);
        }
        for g in u.groups.iter() {
            if let Some(ge) = self.groups.get(g) {
                for a in ge.assigns.iter() {
                    visit(a, Via::Group(g.to_string()));
                }
            }
        }
    }

    fn explain_entry(
        &self,
        u: &UserEntry,
        p: u32,
        project: Option<&str>,
        now: i64,
        first_only: bool,
    ) -> Decision {
        let mut reasons = Vec::new();
        self.for_each_grant(u, project, now, |role, reason| {
            if (reasons.is_empty() || !first_only) && role.perms.contains(p) {
                reasons.push(reason);
            }
        });
        Decision {
            allowed: !reasons.is_empty(),
            reasons,
        }
    }

    /// A new snapshot at `revision` with `deltas` applied; `self` is unchanged.
    pub fn apply(&self, revision: i64, deltas: Vec<Delta>, now: i64) -> Snapshot {
        let mut next = self.clone();
        next.apply_in_place(revision, deltas, now);
        next
    }

    fn intern_assigns(&self, defs: &[AssignDef], interner: &mut Interner) -> Box<[Assign]> {
        defs.iter()
            .map(|a| Assign {
                role: match self.roles.get_key_value(a.role_id.as_str()) {
                    Some((k, _)) => k.clone(),
                    None => interner.get(&a.role_id),
                },
                scoped: (a.project_id.is_some() || a.expires_at.is_some()).then(|| {
                    Box::new(Scoped {
                        project: a.project_id.as_deref().map(|p| interner.get(p)),
                        expires_at: a.expires_at.unwrap_or(i64::MAX),
                    })
                }),
            })
            .collect()
    }

    fn set_holders(&mut self, who: &Principal, old: &[Assign], new: &[Assign]) {
        for a in old {
            if let Some(set) = self.holders.get_mut(&a.role) {
                set.remove(who);
            }
        }
        for a in new {
            match self.holders.get_mut(&a.role) {
                Some(h) => h.insert(who.clone()),
                None => {
                    self.holders.insert(a.role.clone(), {
                        let mut h = Holders::new();
                        h.insert(who.clone());
                        h
                    });
                }
            }
        }
    }

    fn apply_in_place(&mut self, revision: i64, deltas: Vec<Delta>, now: i64) {
        self.revision = self.revision.max(revision);
        let mut interner = Interner::default();
        let mut affected: FxHashSet<Arc<str>> = FxHashSet::default();
        // permissions, roles and projects first: users and groups refer to them
        for d in &deltas {
            match d {
                Delta::Permissions(names) => {
                    let fresh: Vec<&String> = names
                        .iter()
                        .filter(|n| !self.perms.ids.contains_key(n.as_str()))
                        .collect();
                    if !fresh.is_empty() {
                        let mut names: Vec<Arc<str>> = self.perms.names.clone();
                        names.extend(fresh.into_iter().map(|n| Arc::from(n.as_str())));
                        self.perms = PermIndex::shared(names);
                    }
                }
                Delta::Project(id, archived) => {
                    self.projects.insert(interner.get(id), *archived);
                }
                _ => {}
            }
        }
        for d in &deltas {
            if let Delta::Role(id, def) = d {
                self.collect_holders(id, &mut affected);
                match def {
                    Some(r) => {
                        let perms = r
                            .permissions
                            .iter()
                            .filter_map(|n| self.perms.ids.get(n.as_str()).copied())
                            .collect();
                        let key = match self.roles.get_key_value(id.as_str()) {
                            Some((k, _)) => k.clone(),
                            None => interner.get(id),
                        };
                        self.roles.insert(
                            key,
                            Arc::new(RoleEntry {
                                name: Arc::from(r.name.as_str()),
                                perms,
                            }),
                        );
                    }
                    None => self.remove_role(id),
                }
            }
        }
        for d in &deltas {
            if let Delta::Group(id, def) = d {
                let key = interner.get(id);
                let who = Principal::Group(key.clone());
                let old = self.groups.get(id.as_str()).cloned();
                if let Some(old) = &old {
                    old.members.for_each(|m| {
                        affected.insert(m.clone());
                    });
                }
                let old_assigns: Box<[Assign]> =
                    old.as_ref().map(|g| g.assigns.clone()).unwrap_or_default();
                let old_members: HybridSet<Arc<str>> = old
                    .as_ref()
                    .map(|g| g.members.clone())
                    .unwrap_or_else(HybridSet::new);
                let mut members = HybridSet::new();
                match def {
                    Some(g) => {
                        let assigns = self.intern_assigns(&g.assignments, &mut interner);
                        self.set_holders(&who, &old_assigns, &assigns);
                        for m in &g.members {
                            let m = interner.get(m);
                            // members not loaded yet are computed when their own delta comes
                            if self.users.get(&m).is_some() {
                                affected.insert(m.clone());
                            }
                            members.insert(m);
                        }
                        self.groups.insert(
                            key.clone(),
                            Arc::new(GroupEntry {
                                members: members.clone(),
                                assigns,
                            }),
                        );
                    }
                    None => {
                        self.set_holders(&who, &old_assigns, &[]);
                        self.groups.remove(id.as_str());
                    }
                }
                // the group's member list is authoritative for membership: mirror it on users
                let mut left = Vec::new();
                old_members.for_each(|m| {
                    if !members.contains(m) {
                        left.push(m.clone());
                    }
                });
                let mut joined = Vec::new();
                members.for_each(|m| {
                    if !old_members.contains(m) {
                        joined.push(m.clone());
                    }
                });
                for m in &left {
                    self.edit_user_groups(m, |gs| gs.retain(|g| g != &key));
                }
                for m in &joined {
                    self.edit_user_groups(m, |gs| {
                        if !gs.contains(&key) {
                            gs.push(key.clone());
                        }
                    });
                }
            }
        }
        for d in &deltas {
            if let Delta::User(id, def) = d {
                let key = interner.get(id);
                let who = Principal::User(key.clone());
                let old = self.users.get(id.as_str()).cloned();
                let old_assigns: Box<[Assign]> =
                    old.as_ref().map(|u| u.direct.clone()).unwrap_or_default();
                match def {
                    Some(u) => {
                        let direct = self.intern_assigns(&u.assignments, &mut interner);
                        self.set_holders(&who, &old_assigns, &direct);
                        let groups =
                            Compact::from_vec(u.groups.iter().map(|g| interner.get(g)).collect());
                        // roles and groups are already final: compute the sets once, now
                        let (org, eff, valid_until) = self.effective_of(&direct, &groups, now);
                        self.users.insert(
                            &key,
                            UserSlot::new(
                                UserEntry {
                                    direct,
                                    groups,
                                    eff,
                                },
                                org,
                                valid_until,
                            ),
                        );
                        if !affected.is_empty() {
                            affected.remove(&key);
                        }
                    }
                    None => {
                        self.set_holders(&who, &old_assigns, &[]);
                        if let Some(old) = &old {
                            for g in old.groups.iter() {
                                if let Some(ge) = self.groups.get(g).cloned() {
                                    let mut ge = (*ge).clone();
                                    ge.members.remove(&key);
                                    self.groups.insert(g.clone(), Arc::new(ge));
                                }
                            }
                        }
                        self.users.remove(id.as_str());
                        affected.remove(id.as_str());
                    }
                }
            }
        }
        for u in affected {
            self.recompute(&u, now);
        }
    }

    /// Changes the group list of a user, if they are a member.
    fn edit_user_groups(&mut self, user: &Arc<str>, f: impl FnOnce(&mut Vec<Arc<str>>)) {
        if let Some(e) = self.users.get(user).cloned() {
            let mut groups = e.groups.to_vec();
            f(&mut groups);
            self.users.insert(
                user,
                UserSlot::new(
                    UserEntry {
                        direct: e.direct.clone(),
                        groups: Compact::from_vec(groups),
                        eff: e.eff.clone(),
                    },
                    e.org.clone(),
                    e.valid_until,
                ),
            );
        }
    }

    /// Users who hold `role` directly or through a group.
    fn collect_holders(&self, role: &str, out: &mut FxHashSet<Arc<str>>) {
        if let Some(hs) = self.holders.get(role) {
            hs.for_each(|h| match h {
                Principal::User(u) => {
                    out.insert(u.clone());
                }
                Principal::Group(g) => {
                    if let Some(g) = self.groups.get(g) {
                        g.members.for_each(|m| {
                            out.insert(m.clone());
                        });
                    }
                }
            });
        }
    }

    /// Drops a role and every assignment of it (the database cascaded them).
    fn remove_role(&mut self, id: &str) {
        if let Some(hs) = self.holders.remove(id) {
            let mut all = Vec::new();
            hs.for_each(|h| all.push(h.clone()));
            for h in &all {
                match h {
                    Principal::User(u) => {
                        if let Some(e) = self.users.get(u).cloned() {
                            let direct = e
                                .direct
                                .iter()
                                .filter(|a| &*a.role != id)
                                .cloned()
                                .collect();
                            self.users.insert(
                                u,
                                UserSlot::new(
                                    UserEntry {
                                        direct,
                                        groups: e.groups.clone(),
                                        eff: e.eff.clone(),
                                    },
                                    e.org.clone(),
                                    e.valid_until,
                                ),
                            );
                        }
                    }
                    Principal::Group(g) => {
                        if let Some(e) = self.groups.get(g).cloned() {
                            let assigns = e
                                .assigns
                                .iter()
                                .filter(|a| &*a.role != id)
                                .cloned()
                                .collect();
                            self.groups.insert(
                                g.clone(),
                                Arc::new(GroupEntry {
                                    members: e.members.clone(),
                                    assigns,
                                }),
                            );
                        }
                    }
                }
            }
        }
        self.roles.remove(id);
    }

    /// Recomputes one user's effective sets from their assignments.
    fn recompute(&mut self, user: &Arc<str>, now: i64) {
        let Some(e) = self.users.get(user).cloned() else {
            return;
        };
        let (org, eff, valid_until) = self.effective_of(&e.direct, &e.groups, now);
        self.users.insert(
            user,
            UserSlot::new(
                UserEntry {
                    direct: e.direct.clone(),
                    groups: e.groups.clone(),
                    eff,
                },
                org,
                valid_until,
            ),
        );
    }

    /// The effective sets of a user with these direct assignments and groups: the
    /// organization-level set, the project ones, and the earliest expiry they depend on.
    fn effective_of(
        &self,
        direct: &[Assign],
        groups: &Compact<Arc<str>>,
        now: i64,
    ) -> (PermSet, Effective, i64) {
        let mut org = PermSet::default();
        let mut projects: Vec<(Arc<str>, PermSet)> = Vec::new();
        let mut valid_until = i64::MAX;
        let mut add = |a: &Assign, roles: &ShardedMap<Arc<str>, Arc<RoleEntry>>| {
            if !a.live(now) {
                return;
            }
            valid_until = valid_until.min(a.expires_at());
            let Some(role) = roles.get(&a.role) else {
                return;
            };
            match a.project() {
                None => org.union_with(&role.perms),
                Some(p) => match projects.iter_mut().find(|(id, _)| id == p) {
                    Some((_, set)) => set.union_with(&role.perms),
                    None => projects.push((p.clone(), role.perms.clone())),
                },
            }
        };
        for a in direct {
            add(a, &self.roles);
        }
        for g in groups.iter() {
            if let Some(ge) = self.groups.get(g) {
                for a in ge.assigns.iter() {
                    add(a, &self.roles);
                }
            }
        }
        let eff = Effective {
            projects: Compact::from_vec(projects),
        };
        (org, eff, valid_until)
    }
}
