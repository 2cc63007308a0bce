//! A set of `(key, flow)` pairs, at most one per flow, that yields its
//! smallest pair: the order of a `BTreeSet<(f64 by total order, FlowId)>`
//! at the cost of a (4-ary) heap.
//!
//! The heap knows where each flow's entry sits, so a flow leaves it at
//! once (the last entry takes its place and moves up or down): no stale
//! entries, and the smallest is always at the root. Pairs are distinct (one
//! per flow), so the smallest is unique and the same as the ordered set's.

use super::link::FlowId;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The key's bits as an integer in `f64::total_cmp`'s order (see [`total_order`]).
    order: i64,
    flow: FlowId,
}

impl Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.order, self.flow).cmp(&(o.order, o.flow))
    }
    fn key(&self) -> f64 {
        f64::from_bits(total_order(self.order) as u64)
    }
}

/// What `f64::total_cmp` compares: the bits as a signed integer with a
/// negative float's magnitude bits flipped. Applied twice it gives the bits back.
pub(super) fn total_order(bits: i64) -> i64 {
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// No entry for this flow.
const ABSENT: u32 = u32::MAX;
/// Children per node: a 4-ary heap is half as deep as a binary one, and
/// an entry that leaves from the root and comes back near it (a flow
/// moving in and out of the window-limited list) sifts through fewer levels.
const ARITY: usize = 4;

#[derive(Default)]
pub(super) struct MinSet {
    heap: Vec<Entry>,
    /// Per flow: the index of its entry in `heap` (or [`ABSENT`]).
    pos: Vec<u32>,
}

impl MinSet {
    /// Heap bytes held (for the simulator's memory account).
    pub(super) fn heap_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<Entry>() + self.pos.capacity() * std::mem::size_of::<u32>()
    }

    /// Add `(key, flow)`; `flow` must not be in the set.
    pub(super) fn insert(&mut self, key: f64, flow: FlowId) {
        let f = flow as usize;
        if self.pos.len() <= f {
            self.pos.resize(f + 1, ABSENT);
        }
        assert_eq!(self.pos[f], ABSENT, "flow {flow} is in the set twice");
        self.heap.push(Entry { order: total_order(key.to_bits() as i64), flow });
        self.sift_up(self.heap.len() - 1);
    }

    /// Remove `flow`'s entry, whose key is `key`.
    pub(super) fn remove(&mut self, key: f64, flow: FlowId) {
        let i = self.pos.get(flow as usize).copied().unwrap_or(ABSENT);
        assert!(i != ABSENT, "flow {flow} is not in the set");
        let i = i as usize;
        debug_assert!(self.heap[i].key().total_cmp(&key).is_eq(), "flow {flow} is in the set under another key");
        self.pos[flow as usize] = ABSENT;
        let last = self.heap.pop().expect("the set holds the flow");
        if i < self.heap.len() {
            self.heap[i] = last;
            if i > 0 && last.cmp(&self.heap[(i - 1) / ARITY]).is_lt() {
                self.sift_up(i);
            } else {
                self.sift_down(i);
            }
        }
    }

    /// Change `flow`'s key from `old` to `key` in place (one sift instead of
    /// a remove and an insert; the set, and so `first`, is the same).
    pub(super) fn update(&mut self, old: f64, key: f64, flow: FlowId) {
        let i = self.pos.get(flow as usize).copied().unwrap_or(ABSENT);
        assert!(i != ABSENT, "flow {flow} is not in the set");
        let i = i as usize;
        debug_assert!(self.heap[i].key().total_cmp(&old).is_eq(), "flow {flow} is in the set under another key");
        let e = Entry { order: total_order(key.to_bits() as i64), flow };
        let up = e.cmp(&self.heap[i]).is_lt();
        self.heap[i] = e;
        if up {
            self.sift_up(i);
        } else {
            self.sift_down_outlined(i);
        }
    }

    /// [`Self::sift_down`] as a call: `update` keeps it out of line (inlined
    /// there it costs `cubic_round` more than the call saves), `remove` inlines it.
    #[inline(never)]
    fn sift_down_outlined(&mut self, i: usize) {
        self.sift_down(i);
    }

    /// The smallest `(key, flow)`.
    pub(super) fn first(&self) -> Option<(f64, FlowId)> {
        self.heap.first().map(|e| (e.key(), e.flow))
    }

    /// Move the entry at `i` towards the root to its place; record positions.
    fn sift_up(&mut self, mut i: usize) {
        let e = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = self.heap[parent];
            if e.cmp(&p).is_ge() {
                break;
            }
            self.heap[i] = p;
            self.pos[p.flow as usize] = i as u32;
            i = parent;
        }
        self.heap[i] = e;
        self.pos[e.flow as usize] = i as u32;
    }

    /// Move the entry at `i` away from the root to its place; record positions.
    /// Inlined into `remove` (its hot path); `update` calls [`Self::sift_down_outlined`].
    #[inline(always)]
    fn sift_down(&mut self, mut i: usize) {
        let e = self.heap[i];
        let n = self.heap.len();
        loop {
            let first = ARITY * i + 1;
            if first >= n {
                break;
            }
            let mut c = first;
            for k in first + 1..(first + ARITY).min(n) {
                if self.heap[k].cmp(&self.heap[c]).is_lt() {
                    c = k;
                }
            }
            let child = self.heap[c];
            if child.cmp(&e).is_ge() {
                break;
            }
            self.heap[i] = child;
            self.pos[child.flow as usize] = i as u32;
            i = c;
        }
        self.heap[i] = e;
        self.pos[e.flow as usize] = i as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Total order on f64 as the reference set's key.
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Key(f64);
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Key {
        fn cmp(&self, o: &Self) -> Ordering {
            self.0.total_cmp(&o.0)
        }
    }

    proptest! {
        /// Inserts, removes and key updates (keys with many ties, ±0) leave the same
        /// first pair as a `BTreeSet` after every step.
        #[test]
        fn first_matches_an_ordered_set(ops in proptest::collection::vec((0u32..40, 0u8..8, any::<bool>()), 0..600)) {
            let mut s = MinSet::default();
            let mut reference: BTreeSet<(Key, FlowId)> = BTreeSet::new();
            let mut keys: Vec<Option<f64>> = vec![None; 40];
            for (flow, k, insert) in ops {
                let key = if k == 7 { -0.0 } else { k as f64 * 0.5 - 1.0 };
                match keys[flow as usize] {
                    Some(old) if insert => {
                        s.update(old, key, flow);
                        reference.remove(&(Key(old), flow));
                        reference.insert((Key(key), flow));
                        keys[flow as usize] = Some(key);
                    }
                    Some(old) => {
                        s.remove(old, flow);
                        reference.remove(&(Key(old), flow));
                        keys[flow as usize] = None;
                    }
                    None if insert => {
                        s.insert(key, flow);
                        reference.insert((Key(key), flow));
                        keys[flow as usize] = Some(key);
                    }
                    _ => {}
                }
                prop_assert_eq!(s.first().map(|(k, f)| (k.to_bits(), f)), reference.first().map(|&(Key(k), f)| (k.to_bits(), f)));
            }
        }
    }
}
