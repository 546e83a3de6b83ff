//! The snapshots of every loaded organization, readable without locks.
//!
//! Readers load the organization map and then the organization's snapshot through
//! [`arc_swap::ArcSwap`]s: no lock, no reference-count contention on the hot path. Writers
//! publish a whole new snapshot; an organization is added or dropped by publishing a new map
//! (rare: first use and eviction).

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use crate::Snapshot;

type Orgs = FxHashMap<Arc<str>, Arc<ArcSwap<Snapshot>>>;

/// Organization id → its current snapshot.
#[derive(Default)]
pub struct Registry {
    orgs: ArcSwap<Orgs>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The current snapshot of `org`, if loaded.
    #[inline]
    pub fn get(&self, org: &str) -> Option<Arc<Snapshot>> {
        self.orgs.load().get(org).map(|s| s.load_full())
    }

    /// Checks a permission in a loaded organization (`None` if it is not loaded).
    #[inline]
    pub fn check(
        &self,
        org: &str,
        user: &str,
        permission: &str,
        project: Option<&str>,
        now: i64,
    ) -> Option<bool> {
        let orgs = self.orgs.load();
        let slot = orgs.get(org)?;
        Some(slot.load().check(user, permission, project, now))
    }

    /// Publishes `snap` as `org`'s snapshot.
    pub fn publish(&self, org: &str, snap: Snapshot) {
        let snap = Arc::new(snap);
        if let Some(slot) = self.orgs.load().get(org) {
            slot.store(snap);
            return;
        }
        self.orgs.rcu(|orgs| {
            let mut next = (**orgs).clone();
            match next.get(org) {
                Some(slot) => slot.store(snap.clone()),
                None => {
                    next.insert(Arc::from(org), Arc::new(ArcSwap::new(snap.clone())));
                }
            }
            next
        });
    }

    /// Drops `org`'s snapshot (it is rebuilt on next use).
    pub fn evict(&self, org: &str) {
        if !self.orgs.load().contains_key(org) {
            return;
        }
        self.orgs.rcu(|orgs| {
            let mut next = (**orgs).clone();
            next.remove(org);
            next
        });
    }

    /// Ids of the loaded organizations.
    pub fn loaded(&self) -> Vec<Arc<str>> {
        self.orgs.load().keys().cloned().collect()
    }
}
