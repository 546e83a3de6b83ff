//! A small bitset of interned permissions.

/// A set of permission indices (as interned by a snapshot), stored as 64-bit words: inline up
/// to 128 permissions, on the heap beyond.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PermSet(Words);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Words {
    Inline([u64; 2]),
    Heap(Box<[u64]>),
}

impl Default for PermSet {
    fn default() -> Self {
        PermSet(Words::Inline([0; 2]))
    }
}

impl PermSet {
    #[inline]
    fn words(&self) -> &[u64] {
        match &self.0 {
            Words::Inline(w) => w,
            Words::Heap(w) => w,
        }
    }

    fn words_mut(&mut self, len: usize) -> &mut [u64] {
        if len > self.words().len() {
            let mut v = self.words().to_vec();
            v.resize(len, 0);
            self.0 = Words::Heap(v.into_boxed_slice());
        }
        match &mut self.0 {
            Words::Inline(w) => w,
            Words::Heap(w) => w,
        }
    }
}

impl std::fmt::Debug for PermSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl PermSet {
    /// Whether index `i` is in the set.
    #[inline]
    pub fn contains(&self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        self.words()
            .get(w)
            .is_some_and(|word| word & (1u64 << b) != 0)
    }

    /// Adds index `i`.
    pub fn insert(&mut self, i: u32) {
        let (w, b) = ((i / 64) as usize, i % 64);
        self.words_mut(w + 1)[w] |= 1u64 << b;
    }

    /// Adds every index of `other`.
    pub fn union_with(&mut self, other: &PermSet) {
        let theirs = other.words();
        let mine = self.words_mut(theirs.len());
        for (a, b) in mine.iter_mut().zip(theirs.iter()) {
            *a |= *b;
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words().iter().all(|w| *w == 0)
    }

    /// The indices in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words().iter().enumerate().flat_map(|(w, &word)| {
            (0..64u32)
                .filter(move |b| word & (1u64 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        })
    }
}

impl FromIterator<u32> for PermSet {
    fn from_iter<I: IntoIterator<Item = u32>>(it: I) -> Self {
        let mut s = PermSet::default();
        for i in it {
            s.insert(i);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ops() {
        let mut a: PermSet = [1, 64, 130].into_iter().collect();
        assert!(a.contains(64) && a.contains(130) && !a.contains(2) && !a.contains(999));
        let b: PermSet = [2].into_iter().collect();
        a.union_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 2, 64, 130]);
        assert!(PermSet::default().is_empty());
    }
}
