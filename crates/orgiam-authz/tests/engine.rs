//! The compiled snapshot against a model: every answer equals a plain evaluation over the
//! data, after a build and after any sequence of incremental updates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use orgiam_authz::{AssignDef, Delta, GroupDef, OrgData, RoleDef, Snapshot, UserDef, Via};

fn a(role: &str, project: Option<&str>, exp: Option<i64>) -> AssignDef {
    AssignDef {
        role_id: role.into(),
        project_id: project.map(Into::into),
        expires_at: exp,
    }
}

/// The reference: a direct evaluation over `OrgData`.
fn model(d: &OrgData, user: &str, perm: &str, project: Option<&str>, now: i64) -> bool {
    let roles: BTreeMap<&str, &RoleDef> = d.roles.iter().map(|r| (r.id.as_str(), r)).collect();
    let Some((_, u)) = d.users.iter().find(|(id, _)| id == user) else {
        return false;
    };
    // an archived project grants nothing, through any role at any level
    if project.is_some_and(|q| d.archived_projects.iter().any(|a| a == q)) {
        return false;
    }
    let grants = |x: &AssignDef| {
        x.expires_at.is_none_or(|t| t > now)
            && match (&x.project_id, project) {
                (None, _) => true,
                (Some(p), Some(q)) => p == q,
                (Some(_), None) => false,
            }
            && roles
                .get(x.role_id.as_str())
                .is_some_and(|r| r.permissions.iter().any(|p| p == perm))
    };
    u.assignments.iter().any(grants)
        || u.groups.iter().any(|g| {
            d.groups
                .iter()
                .find(|(id, _)| id == g)
                .is_some_and(|(_, g)| g.assignments.iter().any(grants))
        })
}

fn sample() -> OrgData {
    OrgData {
        revision: 1,
        permissions: ["read", "write", "admin", "deploy"]
            .map(String::from)
            .to_vec(),
        roles: vec![
            RoleDef {
                id: "r_reader".into(),
                name: "reader".into(),
                permissions: vec!["read".into()],
            },
            RoleDef {
                id: "r_writer".into(),
                name: "writer".into(),
                permissions: vec!["read".into(), "write".into()],
            },
            RoleDef {
                id: "r_deployer".into(),
                name: "deployer".into(),
                permissions: vec!["deploy".into()],
            },
        ],
        users: vec![
            (
                "alice".into(),
                UserDef {
                    assignments: vec![a("r_writer", None, None)],
                    groups: vec![],
                },
            ),
            (
                "bob".into(),
                UserDef {
                    assignments: vec![a("r_reader", None, Some(100))],
                    groups: vec!["g_ops".into()],
                },
            ),
            (
                "carol".into(),
                UserDef {
                    assignments: vec![a("r_deployer", Some("p1"), None)],
                    groups: vec![],
                },
            ),
            (
                "dave".into(),
                UserDef {
                    assignments: vec![a("r_deployer", Some("p2"), None)],
                    groups: vec!["g_ops".into()],
                },
            ),
        ],
        groups: vec![(
            "g_ops".into(),
            GroupDef {
                members: vec!["bob".into(), "dave".into()],
                assignments: vec![a("r_deployer", None, Some(200))],
            },
        )],
        archived_projects: vec!["p2".into()],
        active_projects: vec!["p1".into()],
    }
}

fn assert_matches_model(s: &Snapshot, d: &OrgData, label: &str) {
    let users = ["alice", "bob", "carol", "dave", "erin", "nobody"];
    let perms = ["read", "write", "admin", "deploy", "unknown"];
    let projects = [None, Some("p1"), Some("p2"), Some("p3")];
    for now in [0, 99, 100, 150, 199, 200, 1000] {
        for u in users {
            for p in perms {
                for pr in projects {
                    let want = model(d, u, p, pr, now);
                    assert_eq!(
                        s.check(u, p, pr, now),
                        want,
                        "{label}: check({u}, {p}, {pr:?}, {now})"
                    );
                    let e = s.explain(u, p, pr, now);
                    assert_eq!(e.allowed, want, "{label}: explain({u}, {p}, {pr:?}, {now})");
                    assert_eq!(e.reasons.is_empty(), !want);
                }
            }
        }
    }
}

#[test]
fn build_matches_the_model() {
    let d = sample();
    let s = Snapshot::build(&d, 0);
    assert_matches_model(&s, &d, "build");
    // explanations name the path
    let e = s.explain("bob", "deploy", None, 0);
    assert_eq!(e.reasons.len(), 1);
    assert_eq!(e.reasons[0].via, Via::Group("g_ops".into()));
    assert_eq!(e.reasons[0].role_name, "deployer");
    assert_eq!(
        s.users_with("deploy", Some("p1"), 0),
        ["bob", "carol", "dave"]
    );
    assert_eq!(s.users_with("write", None, 0), ["alice"]);
    let eff = s.effective("alice", None, 0);
    assert_eq!(
        eff.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["read", "write"]
    );
}

/// A deterministic pseudo-random sequence of changes; after each, the incrementally updated
/// snapshot must answer exactly as a snapshot built from scratch and as the model.
#[test]
fn incremental_updates_equal_a_rebuild() {
    let mut d = sample();
    let mut s = Snapshot::build(&d, 0);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let roles = ["r_reader", "r_writer", "r_deployer", "r_admin"];
    let perms = ["read", "write", "admin", "deploy"];
    for step in 0..400 {
        let delta = match next(7) {
            0 => {
                let id = roles[next(roles.len())];
                if next(5) == 0 {
                    d.roles.retain(|r| r.id != id);
                    for (_, u) in d.users.iter_mut() {
                        u.assignments.retain(|x| x.role_id != id);
                    }
                    for (_, g) in d.groups.iter_mut() {
                        g.assignments.retain(|x| x.role_id != id);
                    }
                    Delta::Role(id.into(), None)
                } else {
                    let r = RoleDef {
                        id: id.into(),
                        name: id.into(),
                        permissions: perms
                            .iter()
                            .filter(|_| next(2) == 0)
                            .map(|p| p.to_string())
                            .collect(),
                    };
                    d.roles.retain(|x| x.id != id);
                    d.roles.push(r.clone());
                    Delta::Role(id.into(), Some(r))
                }
            }
            1 | 2 => {
                let id = users[next(users.len())];
                if next(6) == 0 {
                    d.users.retain(|(u, _)| u != id);
                    for (_, g) in d.groups.iter_mut() {
                        g.members.retain(|m| m != id);
                    }
                    Delta::User(id.into(), None)
                } else {
                    let known: Vec<&str> = d.roles.iter().map(|r| r.id.as_str()).collect();
                    let mut assignments = Vec::new();
                    for _ in 0..next(3) {
                        if !known.is_empty() {
                            let proj = [None, Some("p1"), Some("p2")][next(3)];
                            let exp = [None, None, Some(100), Some(300)][next(4)];
                            assignments.push(a(known[next(known.len())], proj, exp));
                        }
                    }
                    let old_groups = d
                        .users
                        .iter()
                        .find(|(u, _)| u == id)
                        .map(|(_, u)| u.groups.clone())
                        .unwrap_or_default();
                    let u = UserDef {
                        assignments,
                        groups: old_groups,
                    };
                    d.users.retain(|(x, _)| x != id);
                    d.users.push((id.into(), u.clone()));
                    Delta::User(id.into(), Some(u))
                }
            }
            3 => {
                // group membership: both sides are reloaded, as the server does
                let uid = users[next(users.len())];
                if !d.users.iter().any(|(u, _)| u == uid) {
                    continue;
                }
                let join = next(2) == 0;
                let g = d
                    .groups
                    .iter_mut()
                    .find(|(id, _)| id == "g_ops")
                    .map(|(_, g)| g);
                let g = match g {
                    Some(g) => g,
                    None => {
                        d.groups.push(("g_ops".into(), GroupDef::default()));
                        &mut d.groups.last_mut().unwrap().1
                    }
                };
                g.members.retain(|m| m != uid);
                if join {
                    g.members.push(uid.into());
                }
                let gdef = g.clone();
                let (_, u) = d.users.iter_mut().find(|(u, _)| u == uid).unwrap();
                u.groups.retain(|x| x != "g_ops");
                if join {
                    u.groups.push("g_ops".into());
                }
                let udef = u.clone();
                s = s.apply(
                    step,
                    vec![
                        Delta::Group("g_ops".into(), Some(gdef)),
                        Delta::User(uid.into(), Some(udef)),
                    ],
                    0,
                );
                assert_matches_model(&s, &d, &format!("step {step} (membership)"));
                continue;
            }
            4 => {
                let known: Vec<&str> = d.roles.iter().map(|r| r.id.as_str()).collect();
                if known.is_empty() || !d.groups.iter().any(|(id, _)| id == "g_ops") {
                    continue;
                }
                let role = known[next(known.len())].to_owned();
                let (_, g) = d.groups.iter_mut().find(|(id, _)| id == "g_ops").unwrap();
                g.assignments = vec![a(
                    &role,
                    [None, Some("p1")][next(2)],
                    [None, Some(250)][next(2)],
                )];
                Delta::Group("g_ops".into(), Some(g.clone()))
            }
            5 => {
                let p = ["p1", "p2"][next(2)];
                let archived = next(2) == 0;
                d.archived_projects.retain(|x| x != p);
                if archived {
                    d.archived_projects.push(p.into());
                }
                Delta::Project(p.into(), archived)
            }
            _ => {
                if d.groups.iter().any(|(id, _)| id == "g_ops") && next(4) == 0 {
                    d.groups.retain(|(id, _)| id != "g_ops");
                    for (_, u) in d.users.iter_mut() {
                        u.groups.retain(|g| g != "g_ops");
                    }
                    Delta::Group("g_ops".into(), None)
                } else {
                    continue;
                }
            }
        };
        if std::env::var("TRACE").is_ok() {
            eprintln!("step {step}: {delta:?}");
        }
        s = s.apply(step, vec![delta], 0);
        assert_matches_model(&s, &d, &format!("step {step}"));
        if step % 50 == 0 {
            assert_matches_model(&Snapshot::build(&d, 0), &d, &format!("rebuild at {step}"));
        }
    }
}

#[test]
fn an_update_leaves_the_old_snapshot_untouched() {
    let d = sample();
    let old = Snapshot::build(&d, 0);
    let new = old.apply(2, vec![Delta::User("alice".into(), None)], 0);
    assert!(old.check("alice", "write", None, 0));
    assert!(!new.check("alice", "write", None, 0));
    assert_eq!(new.revision(), 2);
    assert_eq!(old.revision(), 1);
}

/// A big organization (its user table is sharded, and one id is too long to be stored inline):
/// every answer equals the model after a build and after removals and additions, and the
/// snapshot an update started from is untouched.
#[test]
fn a_big_org_matches_the_model_through_updates() {
    use orgiam_authz::workload::{self, Rng, Shape};
    let shape = Shape {
        users: 1_000,
        ..Shape::REFERENCE
    };
    let mut d = workload::org(shape, 3, &mut Rng::new(5));
    let long = "user_an-id-far-longer-than-the-inline-thirty-one-bytes";
    let def = d.users[0].1.clone();
    d.users.push((
        long.into(),
        UserDef {
            groups: vec![],
            ..def
        },
    ));
    let perms: Vec<String> = (0..shape.permissions)
        .step_by(7)
        .map(workload::permission)
        .collect();
    let check_all = |s: &Snapshot, d: &OrgData, label: &str| {
        assert_eq!(s.user_count(), d.users.len(), "{label}");
        for (u, _) in d.users.iter().step_by(3).chain(d.users.last()) {
            for p in &perms {
                assert_eq!(
                    s.check(u, p, None, 0),
                    model(d, u, p, None, 0),
                    "{label}: {u} {p}"
                );
            }
        }
        assert!(!s.check("user_nobody", &perms[0], None, 0));
    };
    let s = Snapshot::build(&d, 0);
    check_all(&s, &d, "build");
    let before = d.clone();
    // drop every fifth user (and the long one), then add some back with another role
    let mut deltas = Vec::new();
    let gone: Vec<String> = d
        .users
        .iter()
        .enumerate()
        .filter(|(i, (u, _))| i % 5 == 0 || u == long)
        .map(|(_, (u, _))| u.clone())
        .collect();
    for u in &gone {
        d.users.retain(|(x, _)| x != u);
        for (_, g) in d.groups.iter_mut() {
            g.members.retain(|m| m != u);
        }
        deltas.push(Delta::User(u.clone(), None));
    }
    let mut groups = Vec::new();
    for (id, g) in &d.groups {
        groups.push(Delta::Group(id.clone(), Some(g.clone())));
    }
    deltas.extend(groups);
    let s2 = s.apply(2, deltas, 0);
    check_all(&s2, &d, "after removals");
    for u in &gone {
        for p in &perms {
            assert!(!s2.check(u, p, None, 0), "removed {u} still holds {p}");
            assert!(
                s.check(u, p, None, 0) == model(&before, u, p, None, 0),
                "old snapshot: {u} {p}"
            );
        }
    }
    for u in gone.iter().step_by(2) {
        let def = UserDef {
            assignments: vec![a(&d.roles[4].id, None, None)],
            groups: vec![],
        };
        d.users.push((u.clone(), def.clone()));
        let s3 = s2.apply(3, vec![Delta::User(u.clone(), Some(def))], 0);
        assert!(!s2.has_user(u), "the old snapshot is untouched");
        assert!(s3.has_user(u));
    }
    let deltas = gone
        .iter()
        .step_by(2)
        .map(|u| {
            let def = d.users.iter().find(|(x, _)| x == u).map(|(_, x)| x.clone());
            Delta::User(u.clone(), def)
        })
        .collect();
    let s4 = s2.apply(4, deltas, 0);
    check_all(&s4, &d, "after re-adding");
    check_all(&s, &before, "the first snapshot, at the end");
}
