//! A set of `(key, flow)` pairs, at most one per flow, that yields its
//! smallest pair: the order of a `BTreeSet<(f64 by total order, FlowId)>`
//! at the cost of a binary heap.
//!
//! Removing a flow only forgets its entry (O(1)); the stale entry stays in
//! the heap until it surfaces, and the heap is rebuilt from the live
//! entries when stale ones outnumber them. The smallest entry is always
//! live, so [`MinSet::first`] needs no `&mut`.

use super::link::FlowId;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: f64,
    flow: FlowId,
    /// Which insertion of `flow` this is (stale once the flow's live one differs).
    ticket: u64,
}
impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key.total_cmp(&o.key).then(self.flow.cmp(&o.flow)).then(self.ticket.cmp(&o.ticket))
    }
}

#[derive(Default)]
pub(super) struct MinSet {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Per flow: the ticket of its live entry (0: none) and its key.
    live: Vec<(u64, f64)>,
    len: usize,
    next_ticket: u64,
}

impl MinSet {
    /// Add `(key, flow)`; `flow` must not be in the set.
    pub(super) fn insert(&mut self, key: f64, flow: FlowId) {
        let i = flow as usize;
        if self.live.len() <= i {
            self.live.resize(i + 1, (0, 0.0));
        }
        assert_eq!(self.live[i].0, 0, "flow {flow} is in the set twice");
        self.next_ticket += 1;
        self.live[i] = (self.next_ticket, key);
        self.len += 1;
        self.heap.push(Reverse(Entry { key, flow, ticket: self.next_ticket }));
        self.drop_stale();
    }

    /// Remove `flow`'s entry, whose key is `key`.
    pub(super) fn remove(&mut self, key: f64, flow: FlowId) {
        let i = flow as usize;
        let (ticket, stored) = self.live.get(i).copied().unwrap_or_default();
        assert!(ticket != 0, "flow {flow} is not in the set");
        debug_assert!(stored.total_cmp(&key).is_eq(), "flow {flow} is in the set under {stored}, not {key}");
        self.live[i] = (0, 0.0);
        self.len -= 1;
        if self.heap.len() > 2 * self.len + 64 {
            let live = &self.live;
            self.heap.retain(|Reverse(e)| live[e.flow as usize].0 == e.ticket);
        }
        self.drop_stale();
    }

    /// The smallest `(key, flow)`.
    pub(super) fn first(&self) -> Option<(f64, FlowId)> {
        self.heap.peek().map(|Reverse(e)| (e.key, e.flow))
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse(e)) = self.heap.peek() {
            if self.live[e.flow as usize].0 == e.ticket {
                break;
            }
            self.heap.pop();
        }
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
        /// Inserts and removes (keys with many ties) leave the same first
        /// pair as a `BTreeSet` after every step.
        #[test]
        fn first_matches_an_ordered_set(ops in proptest::collection::vec((0u32..12, 0u8..6, any::<bool>()), 0..400)) {
            let mut s = MinSet::default();
            let mut reference: BTreeSet<(Key, FlowId)> = BTreeSet::new();
            let mut keys: Vec<Option<f64>> = vec![None; 12];
            for (flow, k, insert) in ops {
                let key = k as f64 * 0.5 - 1.0;
                match keys[flow as usize] {
                    Some(old) if !insert => {
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
                prop_assert_eq!(s.first(), reference.first().map(|&(Key(k), f)| (k, f)));
            }
        }
    }
}
