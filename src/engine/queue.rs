//! A priority queue of events ordered by `(time, seq)`: FIFO among equal times.

use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

#[derive(Clone, Copy)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}
impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

/// Min-queue of events by `(time, seq)`; `seq` is assigned at scheduling.
///
/// Events scheduled in non-decreasing time order (the common case: a fixed
/// delay after a clock that never goes back) go to a FIFO lane in O(1); the
/// others to a binary heap. A pop takes the smaller `(time, seq)` of the two
/// heads, so the order is exactly that of one heap.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    /// Sorted by `(time, seq)`: each push is at or after the back's time,
    /// with a larger seq. Its events are `lane[head..]`: a pop moves `head`
    /// on; the vector is cleared when it empties, and its popped front is
    /// cut off when it is full and at least half popped (each entry is
    /// moved at most once per time its slot frees up: O(1) amortised).
    lane: Vec<Entry<E>>,
    head: usize,
    next_seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), lane: Vec::new(), head: 0, next_seq: 0 }
    }
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let e = Entry { time, seq, event };
        if self.lane.last().is_none_or(|b| b.time <= time) {
            if self.lane.len() == self.lane.capacity() && self.head >= self.lane.len() / 2 && self.head > 0 {
                self.lane.drain(..self.head);
                self.head = 0;
            }
            self.lane.push(e);
        } else {
            self.heap.push(Reverse(e));
        }
    }
    #[inline(always)]
    fn lane_front(&self) -> Option<&Entry<E>> {
        self.lane.get(self.head)
    }
    /// Remove the lane's front (there is one).
    #[inline(always)]
    fn lane_pop(&mut self) -> Option<Entry<E>> {
        debug_assert!(self.head < self.lane.len(), "lane_pop on an empty lane");
        let e = self.lane.get(self.head).copied();
        self.head += 1;
        if self.head == self.lane.len() {
            self.lane.clear();
            self.head = 0;
        }
        e
    }
    /// Whether the lane's head comes before the heap's.
    fn lane_first(&self) -> Option<bool> {
        match (self.lane_front(), self.heap.peek()) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(l), Some(Reverse(h))) => Some((l.time, l.seq) < (h.time, h.seq)),
        }
    }
    pub fn peek_time(&self) -> Option<SimTime> {
        match (self.lane_front(), self.heap.peek()) {
            (Some(l), Some(Reverse(h))) => Some(l.time.min(h.time)),
            (Some(l), None) => Some(l.time),
            (None, h) => h.map(|r| r.0.time),
        }
    }
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = if self.lane_first()? { self.lane_pop() } else { self.heap.pop().map(|Reverse(e)| e) };
        e.map(|e| (e.time, e.event))
    }
    /// [`Self::pop`] if the first event is due at or before `limit` (any
    /// time when `limit` is `None`); otherwise nothing is removed.
    #[inline(always)]
    pub fn pop_due(&mut self, limit: Option<SimTime>) -> Option<(SimTime, E)> {
        let due = |t: SimTime| limit.is_none_or(|l| t <= l);
        let e = match (self.lane_front(), self.heap.peek()) {
            (None, None) => return None,
            (Some(l), None) => {
                if !due(l.time) {
                    return None;
                }
                self.lane_pop()
            }
            (None, Some(Reverse(h))) => {
                if !due(h.time) {
                    return None;
                }
                self.heap.pop().map(|Reverse(e)| e)
            }
            (Some(l), Some(Reverse(h))) => {
                if (l.time, l.seq) < (h.time, h.seq) {
                    if !due(l.time) {
                        return None;
                    }
                    self.lane_pop()
                } else {
                    if !due(h.time) {
                        return None;
                    }
                    self.heap.pop().map(|Reverse(e)| e)
                }
            }
        };
        e.map(|e| (e.time, e.event))
    }
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.heap.capacity() + self.lane.capacity()) * std::mem::size_of::<Entry<E>>()
    }
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len() - self.head
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pops come out sorted by time, FIFO among equal times.
        #[test]
        fn pops_in_time_then_fifo_order(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.schedule(SimTime(*t), i);
            }
            let mut out = vec![];
            while let Some((t, i)) = q.pop() {
                out.push((t.0, i));
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().enumerate().map(|(i, t)| (t, i)).collect();
            expected.sort();
            prop_assert_eq!(out, expected);
        }

        /// `pop_due` pops what `pop` would when the head is due by the
        /// limit, and leaves the queue as it was otherwise.
        #[test]
        fn pop_due_is_pop_up_to_a_limit(
            ops in proptest::collection::vec((0u64..30, 0usize..3, proptest::option::of(0u64..40)), 0..300),
        ) {
            let (mut a, mut b) = (EventQueue::new(), EventQueue::new());
            let mut now = 0;
            for (i, (dt, pops, limit)) in ops.iter().enumerate() {
                a.schedule(SimTime(now + dt), i);
                b.schedule(SimTime(now + dt), i);
                for _ in 0..*pops {
                    let limit = limit.map(SimTime);
                    let head = a.peek_time();
                    let want = if head.is_some_and(|t| limit.is_none_or(|l| t <= l)) { a.pop() } else { None };
                    let got = b.pop_due(limit);
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(b.len(), a.len());
                    if let Some((t, _)) = got {
                        now = t.0;
                    }
                }
            }
        }

        /// Interleaved as the engine uses it (each event scheduled at or
        /// after the time of the last pop, some in order, some not), pops
        /// match a reference that sorts everything by `(time, seq)`.
        #[test]
        fn interleaved_pops_match_a_sorted_reference(
            ops in proptest::collection::vec((0u64..30, 0usize..3), 0..300),
        ) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, usize)> = vec![];
            let mut now = 0;
            for (i, (dt, pops)) in ops.iter().enumerate() {
                q.schedule(SimTime(now + dt), i);
                reference.push((now + dt, i));
                for _ in 0..*pops {
                    reference.sort();
                    let want = (!reference.is_empty()).then(|| reference.remove(0));
                    let got = q.pop().map(|(t, e)| (t.0, e));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                }
                prop_assert_eq!(q.len(), reference.len());
            }
        }
    }
}
