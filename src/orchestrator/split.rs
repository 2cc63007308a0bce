//! How a file becomes segments (`client.split_rule`): how many, where each
//! starts, and how many may be in flight at once.
//!
//! - `even`: dlsim's rule, clamp(size / min_split, 1, split) equal parts.
//! - `aria2` (1.36.0, `BitfieldMan::getSparseMissingUnusedIndex`): the first
//!   connection takes the whole file; each further connection takes the
//!   largest unclaimed run and starts at its middle, only if that half is at
//!   least `min_split_size` ("aria2 does not split less than 2*SIZE byte
//!   range"). Claimed runs halve, so n connections are possible while
//!   size / n ≥ 2 × min_split for the next halving: the file gets
//!   min(split, 2^⌊log2(size / min_split)⌋) segments (1 below 2 × min_split).
//!   When one connection finishes it steals the middle of the largest
//!   unfinished run ([`steal`]), which evens the segments out; the core
//!   therefore cuts the file into that many equal parts.
//! - `fan_out` (hf_transfer 0.1.9, `download_async`): ⌈size / chunk⌉ ranges
//!   of `chunk` bytes in offset order, at most `split` (`max_files`) in flight.

use crate::scenario::SplitRule;

/// A file's segments: `parts` ranges cut by [`SplitPlan::cut`], of which
/// at most `window` are in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitPlan {
    pub parts: u64,
    pub window: u64,
    /// Fixed part length (fan-out), or 0 for equal parts.
    chunk: u64,
    size: u64,
}

impl SplitPlan {
    /// Start of part `k` (`k = parts` gives the file's size).
    #[inline]
    pub fn cut(&self, k: u64) -> u64 {
        if self.chunk > 0 {
            (k.saturating_mul(self.chunk)).min(self.size)
        } else if k == 0 {
            0
        } else if k == self.parts {
            // size × parts / parts, exactly, without the 128-bit division.
            self.size
        } else {
            (self.size as u128 * k as u128 / self.parts as u128) as u64
        }
    }
}

impl SplitPlan {
    /// One part, the whole file: [`plan`] of every rule but `fan_out` when
    /// `split` is at most 1.
    #[inline]
    pub fn whole(size: u64) -> SplitPlan {
        SplitPlan { parts: 1, window: 1, chunk: 0, size }
    }
}

/// Whether [`plan`] gives every file one whole part ([`SplitPlan::whole`]):
/// `even` and `aria2` with `split` at most 1.
#[inline]
pub fn always_whole(rule: SplitRule, split: u32) -> bool {
    rule != SplitRule::FanOut && split <= 1
}

/// aria2's segment count for a file of `size` bytes: the halvings of the
/// largest claimed run that leave a half ≥ `min_split`, capped at `split`.
pub fn aria2_parts(size: u64, split: u64, min_split: u64) -> u64 {
    let mut parts = 1u64;
    // With `parts` (a power of two) equal runs, another round of halvings
    // needs each half, size / (2 × parts), to be at least min_split.
    while parts < split && size / (2 * parts) >= min_split.max(1) {
        parts *= 2;
    }
    parts.min(split)
}

/// The plan for a file of `size` bytes.
#[inline]
pub fn plan(rule: SplitRule, size: u64, split: u32, min_split: u64, chunk: u64) -> SplitPlan {
    let split = split.max(1) as u64;
    match rule {
        SplitRule::Even => {
            let parts = if split > 1 { (size / min_split.max(1)).clamp(1, split) } else { 1 };
            SplitPlan { parts, window: parts, chunk: 0, size }
        }
        SplitRule::Aria2 => {
            let parts = aria2_parts(size, split, min_split);
            SplitPlan { parts, window: parts, chunk: 0, size }
        }
        SplitRule::FanOut => {
            let chunk = chunk.max(1);
            let parts = size.div_ceil(chunk).max(1);
            SplitPlan { parts, window: split.min(parts), chunk, size }
        }
    }
}

/// aria2's work stealing: an idle connection looks at the unfinished runs
/// `[next, end)` of a file's busy segments and takes the second half of the
/// largest one if that half is at least `min_split` bytes. Returns
/// `(run index, first byte taken)`; the run's owner then stops at that byte.
pub fn steal(runs: &[(u64, u64)], min_split: u64) -> Option<(usize, u64)> {
    let (i, &(next, end)) =
        runs.iter().enumerate().max_by_key(|(i, (n, e))| (e.saturating_sub(*n), std::cmp::Reverse(*i)))?;
    let half = (end - next) / 2;
    (half >= min_split.max(1) && half > 0).then_some((i, end - half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::MIB;

    /// aria2's documented example (docs/clients.md §3): 64 MiB, -s5 -k20M →
    /// a first halving leaves 32 MiB ≥ 20 MiB, a second 16 MiB < 20 MiB: 2.
    #[test]
    fn aria2_needs_a_run_of_twice_the_min_split() {
        assert_eq!(aria2_parts(64 * MIB, 5, 20 * MIB), 2);
        // Below 2 × k no split at all; exactly 2 × k splits once.
        assert_eq!(aria2_parts(40 * MIB - 1, 5, 20 * MIB), 1);
        assert_eq!(aria2_parts(40 * MIB, 5, 20 * MIB), 2);
        // 4 × k halves twice; the cap is split.
        assert_eq!(aria2_parts(80 * MIB, 5, 20 * MIB), 4);
        assert_eq!(aria2_parts(10_000 * MIB, 5, 20 * MIB), 5);
        assert_eq!(aria2_parts(10_000 * MIB, 1, 20 * MIB), 1);
        // Measured with -x5 -s5 -k10M on 24 MiB: 2 connections.
        assert_eq!(aria2_parts(24 * MIB, 5, 10 * MIB), 2);
        // dlsim's even rule would give 3 for the first example.
        assert_eq!(plan(SplitRule::Even, 64 * MIB, 5, 20 * MIB, 0).parts, 3);
    }

    #[test]
    fn fan_out_is_fixed_chunks_in_offset_order_with_a_window() {
        let size = 25 * MIB + 3;
        let p = plan(SplitRule::FanOut, size, 100, 0, 10 * MIB);
        assert_eq!((p.parts, p.window), (3, 3));
        let cuts: Vec<u64> = (0..=p.parts).map(|k| p.cut(k)).collect();
        assert_eq!(cuts, vec![0, 10 * MIB, 20 * MIB, size]);
        let big = plan(SplitRule::FanOut, 9_980_000_000, 100, 0, 10 * MIB);
        assert_eq!(big.parts, 9_980_000_000u64.div_ceil(10 * MIB));
        assert_eq!(big.window, 100);
        assert_eq!(big.cut(big.parts), 9_980_000_000);
        // An empty file is one empty part.
        let empty = plan(SplitRule::FanOut, 0, 100, 0, 10 * MIB);
        assert_eq!((empty.parts, empty.cut(0), empty.cut(1)), (1, 0, 0));
    }

    #[test]
    fn even_parts_tile_the_file() {
        for (size, split, k) in [(100u64, 3u32, 10u64), (64 * MIB, 5, 20 * MIB), (7, 64, 1)] {
            for rule in [SplitRule::Even, SplitRule::Aria2] {
                let p = plan(rule, size, split, k, 0);
                assert_eq!(p.cut(0), 0);
                assert_eq!(p.cut(p.parts), size);
                assert!((0..p.parts).all(|i| p.cut(i) <= p.cut(i + 1)));
                assert!(p.parts <= split as u64);
            }
        }
    }

    proptest::proptest! {
        /// Where [`always_whole`] says so, every rule's plan is the whole
        /// file in one part, whatever the size, min split and chunk.
        #[test]
        fn always_whole_plans_are_the_whole_file(
            size in 0u64..1 << 44, split in 0u32..4, k in 0u64..1 << 40, chunk in 0u64..1 << 40
        ) {
            for rule in [SplitRule::Even, SplitRule::Aria2, SplitRule::FanOut] {
                if always_whole(rule, split) {
                    proptest::prop_assert_eq!(plan(rule, size, split, k, chunk), SplitPlan::whole(size));
                }
            }
        }
    }

    /// Stealing takes the second half of the largest unfinished run, only
    /// when that half is at least min_split.
    #[test]
    fn steal_halves_the_largest_run() {
        let runs = [(0, 10 * MIB), (40 * MIB, 100 * MIB), (100 * MIB, 130 * MIB)];
        assert_eq!(steal(&runs, 20 * MIB), Some((1, 70 * MIB)));
        assert_eq!(steal(&runs, 31 * MIB), None);
        assert_eq!(steal(&[], MIB), None);
        // Ties go to the first run.
        assert_eq!(steal(&[(0, 4), (4, 8)], 1), Some((0, 2)));
    }
}
