//! The set of free download workers: take the lowest free index, give one
//! back, each in O(n / 4096) word scans at worst (one summary bit per
//! 64-worker word), no allocation after construction.

/// Free worker indices `0..n`, lowest first.
#[derive(Clone, Debug)]
pub struct FreeWorkers {
    /// Bit i of word w: worker 64w + i is free.
    words: Vec<u64>,
    /// Bit j of summary word s: `words[64s + j]` has a free worker.
    summary: Vec<u64>,
    /// Free workers (derivable from `summary`, but a count makes
    /// [`Self::is_empty`] one comparison: scanning `summary` cost 0.45 % of
    /// W1's instructions).
    free: u32,
}

impl FreeWorkers {
    /// All of `0..n` free.
    pub fn new(n: u32) -> Self {
        let n = n as usize;
        let mut words = vec![u64::MAX; n.div_ceil(64)];
        if !n.is_multiple_of(64) {
            *words.last_mut().expect("n > 0 when n % 64 != 0") = (1u64 << (n % 64)) - 1;
        }
        let mut summary = vec![0u64; words.len().div_ceil(64)];
        for (w, word) in words.iter().enumerate() {
            if *word != 0 {
                summary[w / 64] |= 1 << (w % 64);
            }
        }
        FreeWorkers { words, summary, free: n as u32 }
    }

    /// Take the lowest free worker.
    #[inline(always)]
    pub fn take_lowest(&mut self) -> Option<u32> {
        let s = self.summary.iter().position(|x| *x != 0)?;
        let w = s * 64 + self.summary[s].trailing_zeros() as usize;
        let bit = self.words[w].trailing_zeros() as usize;
        self.words[w] &= !(1u64 << bit);
        if self.words[w] == 0 {
            self.summary[s] &= !(1u64 << (w % 64));
        }
        self.free -= 1;
        Some((w * 64 + bit) as u32)
    }

    /// Give back worker `i` (taken before).
    #[inline(always)]
    pub fn give_back(&mut self, i: u32) {
        let (w, bit) = (i as usize / 64, i as usize % 64);
        debug_assert_eq!(self.words[w] & (1 << bit), 0, "worker {i} given back twice");
        self.words[w] |= 1 << bit;
        self.summary[w / 64] |= 1 << (w % 64);
        self.free += 1;
    }

    /// No worker is free.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.free == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.words.capacity() + self.summary.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Takes and gives back in any order: always the lowest free index,
        /// as a sorted set of free indices says.
        #[test]
        fn matches_a_sorted_set(n in 1u32..300, ops in proptest::collection::vec(any::<(bool, prop::sample::Index)>(), 0..600)) {
            let mut f = FreeWorkers::new(n);
            let mut free: BTreeSet<u32> = (0..n).collect();
            let mut taken: Vec<u32> = vec![];
            for (take, pick) in ops {
                if take || taken.is_empty() {
                    let want = free.pop_first();
                    prop_assert_eq!(f.take_lowest(), want);
                    prop_assert_eq!(f.is_empty(), free.is_empty());
                    taken.extend(want);
                } else {
                    let i = taken.swap_remove(pick.index(taken.len()));
                    f.give_back(i);
                    free.insert(i);
                    prop_assert!(!f.is_empty());
                }
            }
        }
    }
}
