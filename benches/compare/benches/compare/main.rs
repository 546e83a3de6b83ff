//! The reference workload (1,000 orgs × 100 users, 3 system + 20 custom roles, 50 permissions,
//! 1–3 roles per user, a third of them through groups, about 60 % of the checks allowed) through
//! orgiam's engine, casbin, cedar-policy and two baselines, side by side, for checks spread
//! over 10 hot organizations and uniformly over all 1,000.
//!
//! Every measured call takes the request's string ids (organization, user, permission) and
//! resolves them itself. Before anything is measured, every engine must give the same answer
//! as orgiam's on every check of both streams, so a wrong encoding cannot post a number.
//!
//! `cargo bench -p orgiam-bench-compare`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod casbin_rbac;
mod cedar_rbac;

use std::sync::OnceLock;

use divan::Bencher;
use orgiam_authz::Registry;
use orgiam_authz::workload::{self, Check, Shape};
use orgiam_bench_compare::{Bitsets, HashSets};

use casbin_rbac::Casbin;
use cedar_rbac::{Cedar, Encoding};

struct Engines {
    orgiam: Registry,
    casbin: Casbin,
    cedar_per_role: Cedar,
    cedar_per_grant: Cedar,
    hash_sets: HashSets,
    bitsets: Bitsets,
}

/// Checks per stream: each measured loop cycles through its stream, and every one of them is
/// cross-checked first.
const STREAM: usize = 16_384;

type CheckFn = fn(&Engines, &str, &str, &str) -> bool;

const ENGINES: [(&str, CheckFn); 6] = [
    ("orgiam", |e, o, u, p| {
        e.orgiam.check(o, u, p, None, 0) == Some(true)
    }),
    ("casbin", |e, o, u, p| e.casbin.check(o, u, p)),
    ("cedar per role", |e, o, u, p| {
        e.cedar_per_role.check(o, u, p)
    }),
    ("cedar per grant", |e, o, u, p| {
        e.cedar_per_grant.check(o, u, p)
    }),
    ("hash sets", |e, o, u, p| e.hash_sets.check(o, u, p)),
    ("bitsets", |e, o, u, p| e.bitsets.check(o, u, p)),
];

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let orgs = orgiam_bench_compare::orgs(Shape::REFERENCE);
        Engines {
            orgiam: orgiam_bench_compare::registry(&orgs),
            casbin: Casbin::build(&orgs),
            cedar_per_role: Cedar::build(&orgs, Encoding::PerRole),
            cedar_per_grant: Cedar::build(&orgs, Encoding::PerGrant),
            hash_sets: HashSets::build(&orgs),
            bitsets: Bitsets::build(&orgs).unwrap(),
        }
    })
}

/// Checks over the first 10 organizations.
fn hot() -> &'static [Check] {
    static HOT: OnceLock<Vec<Check>> = OnceLock::new();
    HOT.get_or_init(|| workload::checks(Shape::REFERENCE, 10, STREAM, 1))
}

/// Checks spread uniformly over all 1,000 organizations.
fn uniform() -> &'static [Check] {
    static UNIFORM: OnceLock<Vec<Check>> = OnceLock::new();
    UNIFORM.get_or_init(|| workload::checks(Shape::REFERENCE, 1000, STREAM, 2))
}

fn main() {
    let t = std::time::Instant::now();
    let e = engines();
    eprintln!("compare: engines built in {:.1?}", t.elapsed());
    for (stream, checks) in [("10 hot orgs", hot()), ("uniform", uniform())] {
        let mut allowed = 0;
        for c in checks {
            let want = (ENGINES[0].1)(e, &c.org, &c.user, &c.permission);
            allowed += usize::from(want);
            for (name, check) in &ENGINES[1..] {
                assert_eq!(
                    check(e, &c.org, &c.user, &c.permission),
                    want,
                    "{name} disagrees with orgiam on {c:?}"
                );
            }
        }
        // the workload's role sizes give about 60 % allowed
        assert!(
            allowed * 10 > checks.len() * 4 && allowed * 10 < checks.len() * 7,
            "{allowed} of {} allowed",
            checks.len()
        );
        eprintln!(
            "compare: {stream}: all {} engines agree on all {} checks ({allowed} allowed)",
            ENGINES.len(),
            checks.len()
        );
    }
    divan::main();
}

fn run(bencher: Bencher, checks: &'static [Check], engine: usize) {
    let e = engines();
    let check = ENGINES[engine].1;
    let mut i = 0usize;
    bencher.bench_local(|| {
        let c = &checks[i % checks.len()];
        i = i.wrapping_add(1);
        divan::black_box(check(
            e,
            divan::black_box(&c.org),
            divan::black_box(&c.user),
            divan::black_box(&c.permission),
        ))
    });
}

/// One module per engine, each with both streams. A sample times `$size` consecutive checks
/// (one check alone is below the timer's precision); the fast engines get the sizes of the
/// crate's own benchmark, the slow ones fewer.
macro_rules! engine {
    ($module:ident, $index:expr, $count:literal, $size:literal) => {
        mod $module {
            use super::*;

            #[divan::bench(sample_count = $count, sample_size = $size)]
            fn hot_10_orgs(bencher: Bencher) {
                run(bencher, hot(), $index);
            }

            #[divan::bench(sample_count = $count, sample_size = $size)]
            fn uniform_1000_orgs(bencher: Bencher) {
                run(bencher, uniform(), $index);
            }
        }
    };
}

engine!(a_orgiam, 0, 200, 1000);
engine!(b_casbin, 1, 100, 20);
engine!(c_cedar_per_role, 2, 100, 20);
engine!(d_cedar_per_grant, 3, 100, 20);
engine!(e_hash_sets, 4, 200, 1000);
engine!(f_bitsets, 5, 200, 1000);
