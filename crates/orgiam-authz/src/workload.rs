//! A deterministic benchmark workload: many organizations of users with system and custom
//! roles, some held through groups, and a stream of checks of which about half are allowed.
//! Shared by this crate's benchmarks and the comparison benchmarks.

use crate::{AssignDef, GroupDef, OrgData, RoleDef, UserDef};

/// Sizes of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Organizations.
    pub orgs: usize,
    /// Users per organization.
    pub users: usize,
    /// Custom roles per organization (3 system roles come on top).
    pub custom_roles: usize,
    /// Custom permissions per organization.
    pub permissions: usize,
    /// Groups per organization.
    pub groups: usize,
}

impl Shape {
    /// The reference shape: 1,000 orgs × 100 users, 20 custom roles, 50 permissions.
    pub const REFERENCE: Shape = Shape {
        orgs: 1000,
        users: 100,
        custom_roles: 20,
        permissions: 50,
        groups: 10,
    };
}

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// Organization `o`'s id.
pub fn org_id(o: usize) -> String {
    format!("org_{o:026}")
}

/// User `u` of organization `o`.
pub fn user_id(o: usize, u: usize) -> String {
    format!("user_{o:013}{u:013}")
}

/// Custom permission `p`.
pub fn permission(p: usize) -> String {
    format!("app.resource{p}.action")
}

/// Generates organization `o`'s data: each role holds 3–8 permissions; each user has 1–3
/// roles, a third of users hold one of them through one of the groups.
pub fn org(shape: Shape, o: usize, rng: &mut Rng) -> OrgData {
    let permissions: Vec<String> = (0..shape.permissions).map(permission).collect();
    let mut roles = vec![
        RoleDef {
            id: "role_sys_owner".into(),
            name: "owner".into(),
            permissions: permissions.clone(),
        },
        RoleDef {
            id: "role_sys_admin".into(),
            name: "admin".into(),
            permissions: permissions[..shape.permissions / 2].to_vec(),
        },
        RoleDef {
            id: "role_sys_member".into(),
            name: "member".into(),
            permissions: permissions[..2].to_vec(),
        },
    ];
    for r in 0..shape.custom_roles {
        let n = 3 + rng.below(6);
        let perms = (0..n)
            .map(|_| permissions[rng.below(shape.permissions)].clone())
            .collect();
        roles.push(RoleDef {
            id: format!("role_{o}_{r}"),
            name: format!("custom {r}"),
            permissions: perms,
        });
    }
    let role_of = |rng: &mut Rng| {
        // mostly custom roles; the system ones rarely (owners are few)
        let i = 3 + rng.below(shape.custom_roles);
        AssignDef {
            role_id: roles[i].id.clone(),
            project_id: None,
            expires_at: None,
        }
    };
    let mut groups: Vec<(String, GroupDef)> = (0..shape.groups)
        .map(|g| {
            (
                format!("group_{o}_{g}"),
                GroupDef {
                    members: vec![],
                    assignments: vec![],
                },
            )
        })
        .collect();
    for (_, g) in groups.iter_mut() {
        g.assignments.push(role_of(rng));
    }
    let mut users = Vec::with_capacity(shape.users);
    for u in 0..shape.users {
        let id = user_id(o, u);
        let n = 1 + rng.below(3);
        let mut def = UserDef::default();
        def.assignments.push(AssignDef {
            role_id: roles[if u == 0 { 0 } else { 2 }].id.clone(),
            project_id: None,
            expires_at: None,
        });
        let via_group = shape.groups > 0 && rng.below(3) == 0;
        for _ in 0..(if via_group { n - 1 } else { n }) {
            def.assignments.push(role_of(rng));
        }
        if via_group {
            let g = rng.below(shape.groups);
            def.groups.push(groups[g].0.clone());
            groups[g].1.members.push(id.clone());
        }
        users.push((id, def));
    }
    OrgData {
        revision: 1,
        permissions,
        roles,
        users,
        groups,
        archived_projects: vec![],
        active_projects: vec![],
    }
}

/// One check of the stream.
#[derive(Debug, Clone)]
pub struct Check {
    /// Organization.
    pub org: String,
    /// User.
    pub user: String,
    /// Permission.
    pub permission: String,
}

/// `n` checks over the first `hot` organizations (uniformly), each user and permission drawn
/// uniformly: about half come out allowed with the role sizes above.
pub fn checks(shape: Shape, hot: usize, n: usize, seed: u64) -> Vec<Check> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let o = rng.below(hot.min(shape.orgs));
            Check {
                org: org_id(o),
                user: user_id(o, rng.below(shape.users)),
                permission: permission(rng.below(shape.permissions / 12)),
            }
        })
        .collect()
}
