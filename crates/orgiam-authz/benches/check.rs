//! In-process check benchmarks on the reference workload (1,000 orgs × 100 users, 3 system +
//! 20 custom roles, 50 permissions, 1–3 roles per user, a third of them through groups).
//! Every measured call resolves the request's string ids (org, user, permission).
//!
//! `cargo bench -p orgiam-authz --bench check`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use divan::Bencher;
use orgiam_authz::workload::{self, Check, Rng, Shape};
use orgiam_authz::{Registry, Snapshot};

fn main() {
    let (reg, _) = registry();
    let checks = workload::checks(Shape::REFERENCE, 1000, 100_000, 7);
    let allowed = checks
        .iter()
        .filter(|c| reg.check(&c.org, &c.user, &c.permission, None, 0) == Some(true))
        .count();
    eprintln!(
        "workload: {} of {} sampled checks allowed",
        allowed,
        checks.len()
    );
    divan::main();
}

fn registry() -> &'static (Registry, usize) {
    static REG: OnceLock<(Registry, usize)> = OnceLock::new();
    REG.get_or_init(|| {
        let reg = Registry::new();
        let mut rng = Rng::new(42);
        let mut assignments = 0;
        for o in 0..Shape::REFERENCE.orgs {
            let data = workload::org(Shape::REFERENCE, o, &mut rng);
            assignments += data
                .users
                .iter()
                .map(|(_, u)| u.assignments.len())
                .sum::<usize>()
                + data
                    .groups
                    .iter()
                    .map(|(_, g)| g.assignments.len())
                    .sum::<usize>();
            reg.publish(&workload::org_id(o), Snapshot::build(&data, 0));
        }
        (reg, assignments)
    })
}

fn run(bencher: Bencher, checks: Vec<Check>) {
    let (reg, _) = registry();
    let mut i = 0usize;
    bencher.bench_local(|| {
        let c = &checks[i % checks.len()];
        i = i.wrapping_add(1);
        divan::black_box(reg.check(
            divan::black_box(&c.org),
            divan::black_box(&c.user),
            divan::black_box(&c.permission),
            None,
            0,
        ))
    });
}

/// Checks spread over 10 hot organizations.
#[divan::bench(sample_count = 200, sample_size = 1000)]
fn check_10_hot_orgs(bencher: Bencher) {
    run(bencher, workload::checks(Shape::REFERENCE, 10, 65_536, 1));
}

/// Checks spread uniformly over all 1,000 organizations.
#[divan::bench(sample_count = 200, sample_size = 1000)]
fn check_uniform_1000_orgs(bencher: Bencher) {
    run(bencher, workload::checks(Shape::REFERENCE, 1000, 65_536, 2));
}

/// Explained checks (the decision with the grants that carry it).
#[divan::bench(sample_count = 100, sample_size = 1000)]
fn explain_uniform_1000_orgs(bencher: Bencher) {
    let (reg, _) = registry();
    let checks = workload::checks(Shape::REFERENCE, 1000, 65_536, 3);
    let mut i = 0usize;
    bencher.bench_local(|| {
        let c = &checks[i % checks.len()];
        i = i.wrapping_add(1);
        divan::black_box(
            reg.get(&c.org)
                .map(|s| s.explain(&c.user, &c.permission, None, 0)),
        )
    });
}

/// Building one 100-user organization's snapshot from its data.
#[divan::bench(sample_count = 100)]
fn rebuild_one_100_user_org(bencher: Bencher) {
    let data = workload::org(Shape::REFERENCE, 5, &mut Rng::new(9));
    bencher.bench_local(|| divan::black_box(Snapshot::build(&data, 0)));
}

/// One incremental update (a user's assignments change) of an organization of `shape`.
fn one_user_update(bencher: Bencher, shape: Shape) {
    let data = workload::org(shape, 5, &mut Rng::new(9));
    let snap = Snapshot::build(&data, 0);
    let (id, mut def) = data.users[17].clone();
    def.assignments.push(orgiam_authz::AssignDef {
        role_id: data.roles[5].id.clone(),
        project_id: None,
        expires_at: None,
    });
    bencher.bench_local(|| {
        divan::black_box(snap.apply(
            2,
            vec![orgiam_authz::Delta::User(id.clone(), Some(def.clone()))],
            0,
        ))
    });
}

/// One incremental update (a user's assignments change) of a 100-user organization.
#[divan::bench(sample_count = 100)]
fn update_one_user(bencher: Bencher) {
    one_user_update(bencher, Shape::REFERENCE);
}

/// One incremental update of a 100,000-user organization: the sharded user table copies one
/// shard, so this stays near the 100-user figure.
#[divan::bench(sample_count = 100)]
fn update_one_user_of_100k_org(bencher: Bencher) {
    one_user_update(
        bencher,
        Shape {
            users: 100_000,
            ..Shape::REFERENCE
        },
    );
}

/// Loading a new organization into (and dropping it from) a registry of 10,000: both copy the
/// organization table, so they cost in proportion to the organizations loaded.
#[divan::bench(sample_count = 20)]
fn publish_and_evict_an_org_among_10k(bencher: Bencher) {
    let reg = Registry::new();
    let empty = Snapshot::build(&orgiam_authz::OrgData::default(), 0);
    for o in 0..10_000 {
        reg.publish(&workload::org_id(o), empty.clone());
    }
    let id = workload::org_id(10_000);
    bencher.bench_local(|| {
        reg.publish(&id, empty.clone());
        reg.evict(&id);
    });
}
