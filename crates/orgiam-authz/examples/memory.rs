//! Retained heap of every snapshot of the reference workload, per assignment.
//!
//! `cargo run --release -p orgiam-authz --example memory`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// a counting allocator is the one place that needs unsafe: it only forwards to the system one
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use orgiam_authz::workload::{self, Rng, Shape};
use orgiam_authz::{Registry, Snapshot};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let shape = Shape::REFERENCE;
    let mut rng = Rng::new(42);
    let datas: Vec<_> = (0..shape.orgs)
        .map(|o| workload::org(shape, o, &mut rng))
        .collect();
    let assignments: usize = datas
        .iter()
        .map(|d| {
            d.users
                .iter()
                .map(|(_, u)| u.assignments.len())
                .sum::<usize>()
                + d.groups
                    .iter()
                    .map(|(_, g)| g.assignments.len())
                    .sum::<usize>()
        })
        .sum();
    let before = LIVE.load(Ordering::Relaxed);
    let reg = Registry::new();
    for (o, d) in datas.iter().enumerate() {
        reg.publish(&workload::org_id(o), Snapshot::build(d, 0));
    }
    let after = LIVE.load(Ordering::Relaxed);
    let bytes = after - before;
    println!(
        "snapshots of {} orgs: {} bytes retained for {} assignments = {:.1} bytes per assignment",
        shape.orgs,
        bytes,
        assignments,
        bytes as f64 / assignments as f64
    );
    drop(reg);
}
