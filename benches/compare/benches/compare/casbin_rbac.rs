//! casbin, RBAC with domains: one enforcer per organization (an enforcer scans every policy of
//! its model, so one shared enforcer would make every check pay for all 1,000 organizations).
//!
//! Policies `p, role, org, permission` for every permission of every role; grouping rules
//! `g, user, role, org` (direct), `g, user, group, org` and `g, group, role, org` (through
//! groups). The matcher compares the action first, the cheapest test, so most policies are
//! rejected before the role-graph lookup `g(...)`.

use std::collections::{BTreeSet, HashMap};

use casbin::prelude::*;
use orgiam_authz::OrgData;

const MODEL: &str = r#"
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, dom, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, p.sub, r.dom) && r.dom == p.dom
"#;

/// Organization id → its enforcer.
pub struct Casbin(HashMap<String, Enforcer>);

impl Casbin {
    pub fn build(orgs: &[(String, OrgData)]) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Casbin(
            orgs.iter()
                .map(|(id, data)| (id.clone(), rt.block_on(enforcer(id, data))))
                .collect(),
        )
    }

    /// Whether `user` of `org` holds `permission` (the synchronous `enforce`).
    #[inline]
    pub fn check(&self, org: &str, user: &str, permission: &str) -> bool {
        self.0
            .get(org)
            .is_some_and(|e| e.enforce((user, org, permission)).unwrap())
    }
}

async fn enforcer(org: &str, data: &OrgData) -> Enforcer {
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let mut e = Enforcer::new(model, MemoryAdapter::default())
        .await
        .unwrap();
    // sets: casbin refuses a batch that holds a rule twice
    let policies: BTreeSet<Vec<String>> = data
        .roles
        .iter()
        .flat_map(|r| {
            r.permissions
                .iter()
                .map(|p| vec![r.id.clone(), org.to_owned(), p.clone()])
        })
        .collect();
    let mut links: BTreeSet<Vec<String>> = BTreeSet::new();
    for (uid, u) in &data.users {
        for a in &u.assignments {
            links.insert(vec![uid.clone(), a.role_id.clone(), org.to_owned()]);
        }
        for g in &u.groups {
            links.insert(vec![uid.clone(), g.clone(), org.to_owned()]);
        }
    }
    for (gid, g) in &data.groups {
        for a in &g.assignments {
            links.insert(vec![gid.clone(), a.role_id.clone(), org.to_owned()]);
        }
    }
    assert!(
        e.add_policies(policies.into_iter().collect())
            .await
            .unwrap()
    );
    assert!(
        e.add_grouping_policies(links.into_iter().collect())
            .await
            .unwrap()
    );
    e
}
