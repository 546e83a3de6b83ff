//! A persistent hash map for snapshots: many small hash maps behind shared pointers.
//!
//! Cloning is O(1) (it copies one `Arc`); an insert or removal copies the pointer array and the
//! one shard it touches (≈64 entries), so an update costs a small constant, not the map's size,
//! and readers holding the old map never see it change. Lookups hash once and probe one small
//! `hashbrown` table. The map reshards (doubling) as it grows, which is amortized O(1).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap};

/// Entries per shard before the map doubles its shard count.
const TARGET: usize = 64;

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct ShardedMap<K, V> {
    shards: Arc<[Arc<FxHashMap<K, V>>]>,
    bits: u32,
    len: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for ShardedMap<K, V> {
    fn default() -> Self {
        ShardedMap {
            shards: Arc::from(vec![Arc::new(FxHashMap::default())]),
            bits: 0,
            len: 0,
        }
    }
}

#[inline]
fn shard_of(hash: u64, bits: u32) -> usize {
    // bits 32.. of the hash: independent of hashbrown's control byte (the top 7 bits) and of its
    // bucket index (the low bits) inside a shard
    if bits == 0 {
        0
    } else {
        ((hash >> 32) & ((1u64 << bits) - 1)) as usize
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    #[inline]
    fn index<Q: Hash + ?Sized>(&self, k: &Q) -> usize {
        shard_of(FxBuildHasher.hash_one(k), self.bits)
    }

    /// The value for `k`.
    #[inline]
    pub(crate) fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[self.index(k)].get(k)
    }

    /// The stored key and value for `k`.
    pub(crate) fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[self.index(k)].get_key_value(k)
    }

    /// Whether `k` is present.
    pub(crate) fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(k).is_some()
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn shard_mut(&mut self, i: usize) -> &mut FxHashMap<K, V> {
        let shards = Arc::make_mut(&mut self.shards);
        Arc::make_mut(&mut shards[i])
    }

    /// Inserts or replaces; returns the old value.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        let i = self.index(&k);
        let old = self.shard_mut(i).insert(k, v);
        if old.is_none() {
            self.len += 1;
            if self.len > TARGET << self.bits {
                self.reshard(self.bits + 1);
            }
        }
        old
    }

    /// Removes; returns the old value.
    pub(crate) fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.index(k);
        if !self.shards[i].contains_key(k) {
            return None;
        }
        let old = self.shard_mut(i).remove(k);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// A mutable reference to `k`'s value (copying its shard if it is shared).
    pub(crate) fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.index(k);
        if !self.shards[i].contains_key(k) {
            return None;
        }
        self.shard_mut(i).get_mut(k)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    fn reshard(&mut self, bits: u32) {
        let mut shards: Vec<FxHashMap<K, V>> = (0..1usize << bits)
            .map(|_| FxHashMap::with_capacity_and_hasher(TARGET, FxBuildHasher))
            .collect();
        for (k, v) in self.iter() {
            shards[shard_of(FxBuildHasher.hash_one(k), bits)].insert(k.clone(), v.clone());
        }
        self.shards = shards.into_iter().map(Arc::new).collect::<Vec<_>>().into();
        self.bits = bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map_and_shares_structure() {
        let mut m: ShardedMap<Arc<str>, u32> = ShardedMap::default();
        for i in 0..10_000u32 {
            assert!(m.insert(Arc::from(format!("k{i}")), i).is_none());
        }
        let frozen = m.clone();
        assert_eq!(m.len(), 10_000);
        assert!(m.bits > 0);
        for i in 0..10_000u32 {
            assert_eq!(m.get(format!("k{i}").as_str()), Some(&i));
        }
        assert_eq!(m.remove("k5"), Some(5));
        *m.get_mut("k6").unwrap() = 66;
        assert_eq!(m.get("k5"), None);
        assert_eq!(frozen.get("k5"), Some(&5), "the old map is untouched");
        assert_eq!(frozen.get("k6"), Some(&6));
        assert_eq!(m.iter().count(), 9_999);
    }
}
