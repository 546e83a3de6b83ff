//! The snapshots of every loaded organization, readable without locks.
//!
//! Readers load the organization table and then the organization's snapshot through
//! [`arc_swap::ArcSwap`]s: no lock, no reference-count contention on the hot path. The table is
//! flat and keyed inline (see [`crate::flat`]): a check hashes the org id and reads the one slot
//! it lands on (no control bytes, no key on the heap), then the org's `ArcSwap` and the snapshot.
//!
//! Writers publish a whole new snapshot into the org's `ArcSwap`; an organization is added or
//! dropped by publishing a new table (rare: first use and eviction) that shares every other
//! org's `ArcSwap` (so the copy is one reference count per org, and a snapshot stored into a
//! shared slot is seen through both tables). Writers are serialized by a mutex, so that two
//! new tables never race.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use crate::Snapshot;
use crate::flat::{self, Flat};

type Slot = Arc<ArcSwap<Snapshot>>;

#[derive(Clone)]
struct Orgs {
    /// Org ids of up to [`flat::SHORT`] bytes (`org_` + a ULID is 30).
    short: Flat<Slot>,
    /// Longer ids.
    long: FxHashMap<Box<str>, Slot>,
}

impl Default for Orgs {
    fn default() -> Self {
        Orgs {
            short: Flat::new(0),
            long: FxHashMap::default(),
        }
    }
}

impl Orgs {
    #[inline]
    fn slot(&self, org: &str) -> Option<&Slot> {
        match flat::pack(org) {
            Some(k) => self.short.get(&k, flat::hash(&k)),
            None => self.long.get(org),
        }
    }
}

/// Organization id → its current snapshot.
#[derive(Default)]
pub struct Registry {
    orgs: ArcSwap<Orgs>,
    /// Held by writers (see the module documentation).
    write: Mutex<()>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The current snapshot of `org`, if loaded.
    #[inline]
    pub fn get(&self, org: &str) -> Option<Arc<Snapshot>> {
        self.orgs.load().slot(org).map(|s| s.load_full())
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
        let slot = orgs.slot(org)?;
        Some(slot.load().check(user, permission, project, now))
    }

    /// Publishes `snap` as `org`'s snapshot.
    pub fn publish(&self, org: &str, snap: Snapshot) {
        let snap = Arc::new(snap);
        let w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let orgs = self.orgs.load();
        if let Some(slot) = orgs.slot(org) {
            let old = slot.swap(snap);
            // the old snapshot may be the last reference: free it outside the writers' lock
            drop(w);
            drop(old);
            return;
        }
        let mut next = (**orgs).clone();
        let slot = Arc::new(ArcSwap::new(snap));
        match flat::pack(org) {
            Some(k) => {
                next.short.insert(k, flat::hash(&k), slot);
            }
            None => {
                next.long.insert(Box::from(org), slot);
            }
        }
        let old = self.orgs.swap(Arc::new(next));
        drop(orgs);
        drop(w);
        drop(old);
    }

    /// Drops `org`'s snapshot (it is rebuilt on next use).
    pub fn evict(&self, org: &str) {
        let w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let orgs = self.orgs.load();
        if orgs.slot(org).is_none() {
            return;
        }
        let mut next = (**orgs).clone();
        match flat::pack(org) {
            Some(k) => {
                next.short.remove(&k, flat::hash(&k));
            }
            None => {
                next.long.remove(org);
            }
        }
        // the evicted snapshot is freed outside the writers' lock
        let old = self.orgs.swap(Arc::new(next));
        drop(orgs);
        drop(w);
        drop(old);
    }

    /// Ids of the loaded organizations.
    pub fn loaded(&self) -> Vec<Arc<str>> {
        let orgs = self.orgs.load();
        orgs.short
            .iter()
            .filter_map(|(k, _)| flat::unpack(k).map(Arc::from))
            .chain(orgs.long.keys().map(|k| Arc::from(&**k)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgData;

    #[test]
    fn publish_replace_evict_short_and_long_ids() {
        let reg = Registry::new();
        let long = "org_a-rather-long-organization-id-beyond-31-bytes";
        let snap = |rev| {
            Snapshot::build(
                &OrgData {
                    revision: rev,
                    ..OrgData::default()
                },
                0,
            )
        };
        for i in 0..300 {
            reg.publish(&format!("org_{i:026}"), snap(1));
        }
        reg.publish(long, snap(1));
        assert_eq!(reg.loaded().len(), 301);
        reg.publish("org_00000000000000000000000007", snap(2));
        reg.publish(long, snap(3));
        let held = reg.get("org_00000000000000000000000007");
        assert_eq!(held.as_ref().map(|s| s.revision()), Some(2));
        assert_eq!(reg.get(long).map(|s| s.revision()), Some(3));
        assert_eq!(
            reg.get("org_00000000000000000000000008")
                .map(|s| s.revision()),
            Some(1)
        );
        reg.evict("org_00000000000000000000000007");
        reg.evict(long);
        reg.evict("org_unknown");
        assert!(reg.get("org_00000000000000000000000007").is_none());
        assert!(reg.get(long).is_none());
        assert_eq!(reg.check("org_unknown", "u", "p", None, 0), None);
        assert_eq!(reg.loaded().len(), 299);
        assert_eq!(
            held.map(|s| s.revision()),
            Some(2),
            "a held snapshot stays valid"
        );
        for i in (0..300).filter(|i| *i != 7) {
            assert!(reg.get(&format!("org_{i:026}")).is_some());
        }
    }
}
