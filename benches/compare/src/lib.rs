//! The reference workload of `orgiam_authz::workload`, built once and shared by every engine of
//! the side-by-side benchmark (`benches/compare/main.rs`), with the two baselines that need
//! nothing but the standard library: a plain `HashMap` of sets of permission names, and a
//! string-keyed bitset.
//!
//! Every engine answers the same question the same way: may this user, in this organization,
//! use this permission at organization scope. The workload has no project grants and no
//! expiries, so the baselines only flatten organization-scope roles (direct and through groups).

use std::collections::{HashMap, HashSet};

use orgiam_authz::workload::{self, Rng, Shape};
use orgiam_authz::{OrgData, Registry, Snapshot};
use rustc_hash::FxHashMap;

/// The reference workload's organizations, generated as the crate's own benchmark does.
pub fn orgs(shape: Shape) -> Vec<(String, OrgData)> {
    let mut rng = Rng::new(42);
    (0..shape.orgs)
        .map(|o| (workload::org_id(o), workload::org(shape, o, &mut rng)))
        .collect()
}

/// orgiam's engine, one snapshot per organization.
pub fn registry(orgs: &[(String, OrgData)]) -> Registry {
    let reg = Registry::new();
    for (id, data) in orgs {
        reg.publish(id, Snapshot::build(data, 0));
    }
    reg
}

/// Every user's effective organization-scope permission names (direct roles and the roles of
/// their groups), in the order of `data.users`.
pub fn effective(data: &OrgData) -> Vec<(&str, Vec<&str>)> {
    let roles: HashMap<&str, &[String]> = data
        .roles
        .iter()
        .map(|r| (r.id.as_str(), r.permissions.as_slice()))
        .collect();
    let groups: HashMap<&str, _> = data
        .groups
        .iter()
        .map(|(id, g)| (id.as_str(), &g.assignments))
        .collect();
    data.users
        .iter()
        .map(|(id, u)| {
            let via_groups = u
                .groups
                .iter()
                .filter_map(|g| groups.get(g.as_str()))
                .flat_map(|a| a.iter());
            let mut perms: Vec<&str> = u
                .assignments
                .iter()
                .chain(via_groups)
                .filter(|a| a.project_id.is_none() && a.expires_at.is_none())
                .filter_map(|a| roles.get(a.role_id.as_str()))
                .flat_map(|ps| ps.iter().map(String::as_str))
                .collect();
            perms.sort_unstable();
            perms.dedup();
            (id.as_str(), perms)
        })
        .collect()
}

/// Baseline: organization → user → set of permission names (std `HashMap`/`HashSet`, SipHash).
#[derive(Default)]
pub struct HashSets(HashMap<String, HashMap<String, HashSet<String>>>);

impl HashSets {
    /// Flattens every organization's users.
    pub fn build(orgs: &[(String, OrgData)]) -> Self {
        HashSets(
            orgs.iter()
                .map(|(id, data)| {
                    let users = effective(data)
                        .into_iter()
                        .map(|(u, ps)| (u.to_owned(), ps.into_iter().map(str::to_owned).collect()))
                        .collect();
                    (id.clone(), users)
                })
                .collect(),
        )
    }

    /// Whether `user` of `org` holds `permission`.
    #[inline]
    pub fn check(&self, org: &str, user: &str, permission: &str) -> bool {
        self.0
            .get(org)
            .and_then(|users| users.get(user))
            .is_some_and(|perms| perms.contains(permission))
    }
}

/// Baseline: per organization, permission name → bit and user id → a 64-bit set (FxHash).
#[derive(Default)]
pub struct Bitsets(FxHashMap<String, BitsetOrg>);

/// One organization of [`Bitsets`].
#[derive(Default)]
pub struct BitsetOrg {
    perms: FxHashMap<String, u32>,
    users: FxHashMap<String, u64>,
}

impl Bitsets {
    /// Flattens every organization's users; `None` if an organization has more than 64
    /// permissions (the reference workload has 50).
    pub fn build(orgs: &[(String, OrgData)]) -> Option<Self> {
        let mut all = FxHashMap::default();
        for (id, data) in orgs {
            if data.permissions.len() > 64 {
                return None;
            }
            let perms: FxHashMap<String, u32> = data
                .permissions
                .iter()
                .enumerate()
                .map(|(i, p)| (p.clone(), i as u32))
                .collect();
            let users = effective(data)
                .into_iter()
                .map(|(u, ps)| {
                    let bits = ps
                        .iter()
                        .filter_map(|p| perms.get(*p))
                        .fold(0u64, |acc, i| acc | (1 << i));
                    (u.to_owned(), bits)
                })
                .collect();
            all.insert(id.clone(), BitsetOrg { perms, users });
        }
        Some(Bitsets(all))
    }

    /// Whether `user` of `org` holds `permission`.
    #[inline]
    pub fn check(&self, org: &str, user: &str, permission: &str) -> bool {
        let Some(o) = self.0.get(org) else {
            return false;
        };
        match (o.perms.get(permission), o.users.get(user)) {
            (Some(&p), Some(&bits)) => bits & (1 << p) != 0,
            _ => false,
        }
    }
}
