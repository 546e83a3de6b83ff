//! Flat, inline-keyed tables for the check's hot path.
//!
//! Ids are fixed-shape and short (`user_` + a 26-character ULID is 31 bytes, `org_` + ULID 30),
//! so a key of up to [`SHORT`] bytes is stored inline, packed into 32 bytes, next to its value
//! in an open-addressing (linear probing) slot array: a lookup hashes the packed key and reads
//! the slot it lands on, with no control-byte array, no bucket indirection and no key on the
//! heap. Packing is injective (zero padding plus the length in the last byte), so comparing
//! packed keys is an exact comparison of the ids, never a hash-only match. Longer keys (rare)
//! go to an ordinary persistent map beside it.
//!
//! [`KeyTable`] is the persistent form snapshots use: a single flat table, cloned whole on
//! update, while the organization is small (≤ [`FLAT_MAX`] keys, so a copy costs at most that
//! many entries), and shards of flat tables behind shared pointers beyond, where an update copies
//! the pointer array and one shard (≈ [`SHARD_TARGET`] entries) whatever the size.

use std::sync::Arc;

use crate::sharded::ShardedMap;

/// The longest key stored inline.
pub(crate) const SHORT: usize = 31;
/// Keys a [`KeyTable`] keeps in one flat table before it shards.
pub(crate) const FLAT_MAX: usize = 128;
/// Average keys per shard once sharded (the shard count doubles beyond).
const SHARD_TARGET: usize = 64;

/// A key of at most [`SHORT`] bytes as four little-endian words, zero-padded, its length in
/// the last byte. Built in registers from the id's bytes (no byte-wise copy through memory, so
/// hashing it does not stall on store forwarding).
pub(crate) type Packed = [u64; 4];

/// Word `i` of the zero-padded bytes `b` (`b.len() <= 32`).
#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    let start = 8 * i;
    if let Some(c) = b.get(start..start + 8) {
        return <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes);
    }
    let n = b.len().saturating_sub(start);
    if n == 0 {
        return 0;
    }
    match b.len().checked_sub(8).and_then(|s| b.get(s..)) {
        // the last 8 bytes end with this word's `n`: shift the ones before it out
        Some(c) => <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes) >> (8 * (8 - n)),
        None => b
            .iter()
            .skip(start)
            .enumerate()
            .fold(0, |w, (j, &x)| w | u64::from(x) << (8 * j)),
    }
}

/// The packed form of `s`, if it is short enough.
#[inline(always)]
pub(crate) fn pack(s: &str) -> Option<Packed> {
    let b = s.as_bytes();
    if b.len() > SHORT {
        return None;
    }
    Some([
        word(b, 0),
        word(b, 1),
        word(b, 2),
        word(b, 3) | (b.len() as u64) << 56,
    ])
}

/// The id a packed key stands for.
pub(crate) fn unpack(k: &Packed) -> Option<String> {
    let len = ((k[3] >> 56) as usize).min(SHORT);
    let bytes: Vec<u8> = k.iter().flat_map(|w| w.to_le_bytes()).take(len).collect();
    String::from_utf8(bytes).ok()
}

/// A folded-multiply hash of a packed key (two independent 128-bit products, so the check
/// waits for one multiply's latency, not four in a chain); indices are taken from its top bits.
#[inline(always)]
pub(crate) fn hash(k: &Packed) -> u64 {
    #[inline(always)]
    fn fold(x: u64, y: u64) -> u64 {
        let p = u128::from(x).wrapping_mul(u128::from(y));
        (p as u64) ^ ((p >> 64) as u64)
    }
    let a = fold(k[0] ^ 0x243f_6a88_85a3_08d3, k[1] ^ 0x1319_8a2e_0370_7344);
    let b = fold(k[2] ^ 0xa409_3822_299f_31d0, k[3] ^ 0x082e_fa98_ec4e_6c89);
    fold(a ^ 0x4528_21e6_38d0_1377, b ^ 0xbe54_66cf_34e9_0c6c)
}

/// The top `n` bits of `h`.
#[inline]
fn top(h: u64, n: u32) -> usize {
    if n == 0 { 0 } else { (h >> (64 - n)) as usize }
}

/// An open-addressing table of packed keys, at most 7/8 full. `shift` is the number of top
/// hash bits already used to pick this table's shard (0 when it is not a shard).
#[derive(Debug, Clone)]
pub(crate) struct Flat<V> {
    slots: Box<[Option<(Packed, V)>]>,
    bits: u32,
    shift: u32,
    len: usize,
}

impl<V> Flat<V> {
    /// An empty table whose keys are indexed by the hash bits after the top `shift`.
    pub(crate) fn new(shift: u32) -> Self {
        Flat {
            slots: Box::new([]),
            bits: 0,
            shift,
            len: 0,
        }
    }

    /// A table with room for `n` keys.
    fn with_capacity(n: usize, shift: u32) -> Self {
        if n == 0 {
            return Flat::new(shift);
        }
        let cap = (n + n / 7 + 1).next_power_of_two().max(4);
        Flat {
            slots: (0..cap).map(|_| None).collect(),
            bits: cap.trailing_zeros(),
            shift,
            len: 0,
        }
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        top(h << self.shift, self.bits)
    }

    /// The value for `k`, whose [`hash`] is `h`.
    #[inline]
    pub(crate) fn get(&self, k: &Packed, h: u64) -> Option<&V> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            match self.slots.get(i)? {
                Some((key, v)) if key == k => return Some(v),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }

    /// Inserts or replaces; returns the old value.
    pub(crate) fn insert(&mut self, k: Packed, h: u64, v: V) -> Option<V> {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            // sized for one more key: `with_capacity` rounds up to the next power of two,
            // which doubles the table (sizing for twice the keys would quadruple it)
            self.rebuild(self.len + 1, None);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            match &mut self.slots[i] {
                Some((key, old)) if *key == k => return Some(std::mem::replace(old, v)),
                Some(_) => i = (i + 1) & mask,
                slot @ None => {
                    *slot = Some((k, v));
                    self.len += 1;
                    return None;
                }
            }
        }
    }

    /// Removes; returns the old value. The table is rebuilt without the key (tables are small,
    /// and linear probing without tombstones keeps every lookup short).
    pub(crate) fn remove(&mut self, k: &Packed, h: u64) -> Option<V> {
        self.get(k, h)?;
        self.rebuild(self.len - 1, Some(k))
    }

    /// Re-inserts every entry (but `skip`'s) into a table sized for `n`; returns `skip`'s value.
    fn rebuild(&mut self, n: usize, skip: Option<&Packed>) -> Option<V> {
        let slots = std::mem::take(&mut self.slots);
        let mut next = Flat::with_capacity(n, self.shift);
        let mut skipped = None;
        for (key, v) in slots.into_vec().into_iter().flatten() {
            if Some(&key) == skip {
                skipped = Some(v);
            } else {
                next.insert(key, hash(&key), v);
            }
        }
        *self = next;
        skipped
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Packed, &V)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    /// Every entry, by value.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (Packed, V)> {
        self.slots.into_vec().into_iter().flatten()
    }
}

/// The short keys of a [`KeyTable`].
#[derive(Debug, Clone)]
enum Short<V> {
    /// One flat table, copied whole on update (≤ [`FLAT_MAX`] keys).
    Flat(Flat<V>),
    /// `2^bits` shards picked by the top `bits` of the hash.
    Sharded {
        shards: Arc<[Arc<Flat<V>>]>,
        bits: u32,
    },
}

/// A persistent map from string ids: see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable<V> {
    short: Short<V>,
    short_len: usize,
    long: ShardedMap<Arc<str>, V>,
}

impl<V: Clone> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            short: Short::Flat(Flat::new(0)),
            short_len: 0,
            long: ShardedMap::default(),
        }
    }
}

impl<V: Clone> KeyTable<V> {
    /// The value for `k`.
    #[inline]
    pub(crate) fn get(&self, k: &str) -> Option<&V> {
        let Some(p) = pack(k) else {
            return self.long.get(k);
        };
        let h = hash(&p);
        match &self.short {
            Short::Flat(f) => f.get(&p, h),
            Short::Sharded { shards, bits } => shards.get(top(h, *bits))?.get(&p, h),
        }
    }

    /// Whether `k` is present.
    pub(crate) fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.short_len + self.long.len()
    }

    /// Inserts or replaces; returns the old value.
    pub(crate) fn insert(&mut self, k: &str, v: V) -> Option<V> {
        let Some(p) = pack(k) else {
            return self.long.insert(Arc::from(k), v);
        };
        let h = hash(&p);
        let old = match &mut self.short {
            Short::Flat(f) => f.insert(p, h, v),
            Short::Sharded { shards, bits } => {
                let i = top(h, *bits);
                let shards = Arc::make_mut(shards);
                Arc::make_mut(&mut shards[i]).insert(p, h, v)
            }
        };
        if old.is_none() {
            self.short_len += 1;
            let bits = match &self.short {
                Short::Flat(_) if self.short_len > FLAT_MAX => Some(1),
                Short::Sharded { bits, .. } if self.short_len > SHARD_TARGET << *bits => {
                    Some(*bits + 1)
                }
                _ => None,
            };
            if let Some(bits) = bits {
                self.reshard(bits);
            }
        }
        old
    }

    /// Removes; returns the old value.
    pub(crate) fn remove(&mut self, k: &str) -> Option<V> {
        let Some(p) = pack(k) else {
            return self.long.remove(k);
        };
        let h = hash(&p);
        let old = match &mut self.short {
            Short::Flat(f) => f.remove(&p, h),
            Short::Sharded { shards, bits } => {
                let i = top(h, *bits);
                shards.get(i)?.get(&p, h)?;
                let shards = Arc::make_mut(shards);
                Arc::make_mut(&mut shards[i]).remove(&p, h)
            }
        };
        if old.is_some() {
            self.short_len -= 1;
        }
        old
    }

    fn reshard(&mut self, bits: u32) {
        let mut shards: Vec<Flat<V>> = (0..1usize << bits).map(|_| Flat::new(bits)).collect();
        let old = std::mem::replace(&mut self.short, Short::Flat(Flat::new(0)));
        let mut put = |k: Packed, v: V| {
            let h = hash(&k);
            if let Some(s) = shards.get_mut(top(h, bits)) {
                s.insert(k, h, v);
            }
        };
        match old {
            Short::Flat(f) => f.into_entries().for_each(|(k, v)| put(k, v)),
            Short::Sharded { shards: old, .. } => {
                for s in old.iter() {
                    s.iter().for_each(|(k, v)| put(*k, v.clone()));
                }
            }
        }
        self.short = Short::Sharded {
            shards: shards.into_iter().map(Arc::new).collect::<Vec<_>>().into(),
            bits,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_exact() {
        assert_eq!(pack(""), Some([0; 4]));
        assert_ne!(pack("a"), pack("a\0"));
        let id = "user_01JCDEFGHJKMNPQRSTVWXYZ012";
        assert_eq!(id.len(), 31);
        for n in 0..=31 {
            let s = &id[..n];
            assert_eq!(pack(s).as_ref().and_then(unpack).as_deref(), Some(s));
            for m in 0..n {
                assert_ne!(pack(s), pack(&id[..m]));
                let mut other = s.as_bytes().to_vec();
                other[m] ^= 1;
                assert_ne!(pack(s), pack(std::str::from_utf8(&other).unwrap()));
            }
        }
        assert_eq!(pack(&format!("{id}x")), None);
    }

    #[test]
    fn behaves_like_a_map_small_sharded_and_long() {
        let mut m: KeyTable<u32> = KeyTable::default();
        let key = |i: u32| {
            if i % 97 == 0 {
                format!("a-long-key-that-does-not-fit-inline-{i}")
            } else {
                format!("user_{i:026}")
            }
        };
        let mut snapshots = Vec::new();
        for i in 0..5_000u32 {
            assert!(m.insert(&key(i), i).is_none());
            if i == 50 || i == 200 {
                snapshots.push((i, m.clone()));
            }
        }
        assert_eq!(m.len(), 5_000);
        assert!(matches!(m.short, Short::Sharded { .. }));
        for i in 0..5_000u32 {
            assert_eq!(m.get(&key(i)), Some(&i), "{}", key(i));
        }
        assert_eq!(m.get("user_nobody"), None);
        assert_eq!(m.insert(&key(7), 77), Some(7));
        for i in (0..5_000u32).step_by(3) {
            assert_eq!(m.remove(&key(i)), Some(if i == 7 { 77 } else { i }));
            assert_eq!(m.remove(&key(i)), None);
        }
        for i in 0..5_000u32 {
            let want = (i % 3 != 0).then_some(if i == 7 { 77 } else { i });
            assert_eq!(m.get(&key(i)).copied(), want);
        }
        for (n, snap) in snapshots {
            assert_eq!(snap.len(), n as usize + 1, "the old table is untouched");
            for i in 0..=n {
                assert_eq!(snap.get(&key(i)), Some(&i));
            }
            assert_eq!(snap.get(&key(n + 1)), None);
        }
        let mut small: KeyTable<u32> = KeyTable::default();
        for i in 0..100u32 {
            small.insert(&key(i), i);
        }
        assert!(matches!(small.short, Short::Flat(_)));
        for i in 0..100u32 {
            assert_eq!(small.remove(&key(i)), Some(i));
        }
        assert_eq!(small.len(), 0);
        assert_eq!(small.get(&key(1)), None);
    }
}
