//! cedar-policy, the RBAC encoding of its documentation: one policy set and one entity store per
//! organization (the authorizer evaluates every policy of the set it is given). Users are
//! `User` entities whose parents are their `Role`s and `Group`s; groups' parents are their
//! roles; the entity store's transitive closure makes `principal in Role::"…"` one lookup.
//!
//! Two policy encodings:
//! - [`Encoding::PerRole`]: one policy per role,
//!   `permit(principal in Role::"r", action in [Action::"p1", Action::"p2", …], resource);`
//!   (23 policies per organization; the faster one);
//! - [`Encoding::PerGrant`]: one policy per role and permission,
//!   `permit(principal in Role::"r", action == Action::"p", resource);` (≈190 policies).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request,
};
use orgiam_authz::OrgData;

#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    PerRole,
    PerGrant,
}

struct Org {
    policies: PolicySet,
    entities: Entities,
    resource: EntityUid,
}

/// Organization id → its policy set and entities.
pub struct Cedar {
    orgs: HashMap<String, Org>,
    authorizer: Authorizer,
    user: EntityTypeName,
    action: EntityTypeName,
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

impl Cedar {
    pub fn build(orgs: &[(String, OrgData)], encoding: Encoding) -> Self {
        let ty = |s: &str| EntityTypeName::from_str(s).unwrap();
        let (user, group, role, org_t) = (ty("User"), ty("Group"), ty("Role"), ty("Org"));
        let orgs = orgs
            .iter()
            .map(|(id, data)| {
                let mut text = String::new();
                for r in &data.roles {
                    let perms: BTreeSet<&str> = r.permissions.iter().map(String::as_str).collect();
                    match encoding {
                        Encoding::PerRole => {
                            let actions: Vec<String> =
                                perms.iter().map(|p| format!("Action::{p:?}")).collect();
                            text.push_str(&format!(
                                "permit(principal in Role::{:?}, action in [{}], resource);\n",
                                r.id,
                                actions.join(", ")
                            ));
                        }
                        Encoding::PerGrant => {
                            for p in perms {
                                text.push_str(&format!(
                                    "permit(principal in Role::{:?}, action == Action::{p:?}, resource);\n",
                                    r.id
                                ));
                            }
                        }
                    }
                }
                let policies = PolicySet::from_str(&text).unwrap();
                let mut entities: Vec<Entity> = data
                    .roles
                    .iter()
                    .map(|r| Entity::new_no_attrs(uid(&role, &r.id), HashSet::new()))
                    .collect();
                entities.extend(data.groups.iter().map(|(gid, g)| {
                    let parents = g.assignments.iter().map(|a| uid(&role, &a.role_id));
                    Entity::new_no_attrs(uid(&group, gid), parents.collect())
                }));
                entities.extend(data.users.iter().map(|(u, def)| {
                    let parents = def
                        .assignments
                        .iter()
                        .map(|a| uid(&role, &a.role_id))
                        .chain(def.groups.iter().map(|g| uid(&group, g)));
                    Entity::new_no_attrs(uid(&user, u), parents.collect())
                }));
                let org = Org {
                    policies,
                    entities: Entities::from_entities(entities, None).unwrap(),
                    resource: uid(&org_t, id),
                };
                (id.clone(), org)
            })
            .collect();
        Cedar {
            orgs,
            authorizer: Authorizer::new(),
            user,
            action: ty("Action"),
        }
    }

    /// Whether `user` of `org` holds `permission`: builds the request from the strings and
    /// asks the authorizer.
    #[inline]
    pub fn check(&self, org: &str, user: &str, permission: &str) -> bool {
        let Some(o) = self.orgs.get(org) else {
            return false;
        };
        let request = Request::new(
            uid(&self.user, user),
            uid(&self.action, permission),
            o.resource.clone(),
            Context::empty(),
            None,
        )
        .unwrap();
        self.authorizer
            .is_authorized(&request, &o.policies, &o.entities)
            .decision()
            == Decision::Allow
    }
}
