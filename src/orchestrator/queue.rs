//! The download queue: files ordered by `(priority, tiebreak, enqueue order)`
//! (FIFO inside a priority), dispatched under global and per-model limits.
//!
//! In `interleaved` mode every model is eligible; in `sequential_models`
//! mode only the current model is, and models run one at a time in
//! `(model priority, model order)`. A model whose per-model limit is reached
//! steps aside, so the next eligible file may come from another model; each
//! dispatch is O(log models). Each model's queue is a sorted vector consumed
//! from its head (16 bytes per file, O(1) per pop), as files are enqueued
//! before the first dispatch; a later `push` inserts in order.

use crate::scenario::{Priority, Scheduling};
use std::collections::BTreeSet;

/// Sort key of a queued file: smaller first.
pub type QueueKey = (Priority, u64, u32);

pub struct FileQueue {
    scheduling: Scheduling,
    global_limit: u32,
    model_limit: u32,
    /// Per model: queued files sorted by key; those before `head` are gone.
    queued: Vec<Vec<QueueKey>>,
    head: Vec<usize>,
    /// Per model: files dispatched and not yet ended (with one model,
    /// `total_active` is its count and this is not kept).
    active: Vec<u32>,
    /// Per model: files not yet ended (queued or active).
    remaining: Vec<u32>,
    /// Models that may dispatch now, by their head key.
    ready: BTreeSet<(QueueKey, u32)>,
    /// `sequential_models`: models in run order, and the index of the current one.
    model_order: Vec<u32>,
    current: usize,
    total_active: u32,
    /// With one model: the smaller of both limits (its count is the total).
    single_limit: u32,
}

/// A model's queue `q` gives up its front `q[head]` (dispatched): the
/// vector is dropped once every key in it is taken.
#[inline(always)]
fn take_front(q: &mut Vec<QueueKey>, head: &mut usize) {
    *head += 1;
    if *head == q.len() {
        *q = Vec::new();
        *head = 0;
    }
}

impl FileQueue {
    /// `model_priority[m]` orders models in sequential mode.
    pub fn new(scheduling: Scheduling, global_limit: u32, model_limit: u32, model_priority: &[Priority]) -> Self {
        let n = model_priority.len();
        let mut model_order: Vec<u32> = (0..n as u32).collect();
        model_order.sort_by_key(|m| (model_priority[*m as usize], *m));
        FileQueue {
            scheduling,
            global_limit,
            model_limit,
            queued: vec![Vec::new(); n],
            head: vec![0; n],
            active: vec![0; n],
            remaining: vec![0; n],
            ready: BTreeSet::new(),
            model_order,
            current: 0,
            total_active: 0,
            single_limit: global_limit.min(model_limit),
        }
    }

    /// Enqueue a file (all files are enqueued before the first dispatch).
    pub fn push(&mut self, model: u32, key: QueueKey) {
        let m = model as usize;
        self.unready(model);
        let q = &mut self.queued[m];
        let at = self.head[m] + q[self.head[m]..].partition_point(|k| *k < key);
        q.insert(at, key);
        self.remaining[m] += 1;
        self.refresh(model);
    }

    /// Enqueue many files at once: `(model, key)` pairs. The same queue as
    /// [`Self::push`] for each, but each model's set is bulk-built from its
    /// sorted keys.
    pub fn push_all(&mut self, items: impl IntoIterator<Item = (u32, QueueKey)>) {
        let items = items.into_iter();
        let mut by_model: Vec<Vec<QueueKey>> = vec![Vec::new(); self.queued.len()];
        if let [only] = &mut by_model[..] {
            only.reserve_exact(items.size_hint().0);
        }
        for (model, key) in items {
            by_model[model as usize].push(key);
        }
        for (m, keys) in by_model.into_iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            let model = m as u32;
            self.unready(model);
            self.remaining[m] += keys.len() as u32;
            let head = self.head[m];
            let mut all = std::mem::take(&mut self.queued[m]);
            all.drain(..head);
            if all.is_empty() {
                all = keys;
            } else {
                all.extend(keys);
            }
            all.sort_unstable();
            all.shrink_to_fit();
            self.queued[m] = all;
            self.head[m] = 0;
            self.refresh(model);
        }
    }

    #[inline]
    fn eligible(&self, model: u32) -> bool {
        match self.scheduling {
            Scheduling::Interleaved => true,
            Scheduling::SequentialModels => self.model_order.get(self.current) == Some(&model),
        }
    }

    #[inline]
    fn first(&self, model: u32) -> Option<&QueueKey> {
        let m = model as usize;
        self.queued[m].get(self.head[m])
    }

    /// One model: `ready` is not kept, its head is read directly.
    #[inline]
    fn single(&self) -> bool {
        self.queued.len() == 1
    }

    #[inline]
    fn unready(&mut self, model: u32) {
        if self.single() {
            return;
        }
        if let Some(head) = self.first(model) {
            self.ready.remove(&(*head, model));
        }
    }

    /// The model's head key if it may dispatch now.
    #[inline]
    fn ready_key(&self, model: u32) -> Option<QueueKey> {
        let m = model as usize;
        if self.eligible(model) && self.active[m] < self.model_limit { self.first(model).copied() } else { None }
    }

    #[inline]
    fn refresh(&mut self, model: u32) {
        if self.single() {
            return;
        }
        let m = model as usize;
        if self.eligible(model)
            && self.active[m] < self.model_limit
            && let Some(head) = self.first(model)
        {
            self.ready.insert((*head, model));
        }
    }

    /// Next file to dispatch, if a slot is free: `(model, key)`.
    #[inline]
    pub fn pop(&mut self) -> Option<(u32, QueueKey)> {
        if self.single() {
            return self.pop_single();
        }
        if self.total_active >= self.global_limit {
            return None;
        }
        let (key, model) = self.ready.pop_first()?;
        let m = model as usize;
        debug_assert_eq!(self.first(model), Some(&key));
        take_front(&mut self.queued[m], &mut self.head[m]);
        self.active[m] += 1;
        self.total_active += 1;
        self.refresh(model);
        Some((model, key))
    }

    /// [`Self::pop`] of the one model (no `ready` set, its count is
    /// `total_active`), with one borrow of its queue and head.
    #[inline(always)]
    fn pop_single(&mut self) -> Option<(u32, QueueKey)> {
        if self.total_active >= self.single_limit || !self.eligible(0) {
            return None;
        }
        let (q, head) = (&mut self.queued[0], &mut self.head[0]);
        let key = *q.get(*head)?;
        take_front(q, head);
        self.total_active += 1;
        Some((0, key))
    }

    /// A dispatched file of `model` ended (completed or failed).
    #[inline(always)]
    pub fn finished(&mut self, model: u32) {
        let m = model as usize;
        if self.single() {
            // No `ready` set to keep, no per-model count but the total.
            self.remaining[m] -= 1;
            self.total_active -= 1;
            if self.scheduling == Scheduling::SequentialModels && self.remaining[m] == 0 {
                // The one model is done (`current` never goes back).
                self.current = self.model_order.len();
            }
            return;
        }
        let before = self.ready_key(model);
        self.active[m] -= 1;
        self.remaining[m] -= 1;
        self.total_active -= 1;
        // `ready` holds (head, model) exactly when `ready_key` is some: touch
        // it only if that changed.
        let after = self.ready_key(model);
        if before != after {
            if let Some(k) = before {
                self.ready.remove(&(k, model));
            }
            if let Some(k) = after {
                self.ready.insert((k, model));
            }
        }
        if self.scheduling == Scheduling::SequentialModels {
            while self.current < self.model_order.len() && self.remaining[self.model_order[self.current] as usize] == 0
            {
                self.current += 1;
                if let Some(&next) = self.model_order.get(self.current) {
                    self.refresh(next);
                }
            }
        }
    }

    /// [`Self::finished`] of a file of `model`, then [`Self::pop`]: the
    /// next file to dispatch in the slot the ended one freed, if any. With
    /// one model, in one step (the count goes down and up again).
    #[inline(always)]
    pub fn finished_then_pop(&mut self, model: u32) -> Option<(u32, QueueKey)> {
        if !self.single() {
            self.finished(model);
            return self.pop();
        }
        debug_assert_eq!(model, 0);
        debug_assert!(self.total_active <= self.single_limit && (self.eligible(0) || self.remaining[0] <= 1));
        let remaining = &mut self.remaining[0];
        *remaining -= 1;
        let (q, head) = (&mut self.queued[0], &mut self.head[0]);
        // The ended file's slot is free: only the queue's head and the
        // scheduling decide (a sequential queue's one model is current
        // while it has files, and it has while one is queued).
        let Some(&key) = q.get(*head).filter(|_| *remaining > 0) else {
            self.total_active -= 1;
            if self.scheduling == Scheduling::SequentialModels && *remaining == 0 {
                self.current = self.model_order.len();
            }
            return None;
        };
        take_front(q, head);
        Some((0, key))
    }

    /// Start: in sequential mode skip leading models without files.
    pub fn start(&mut self) {
        if self.scheduling == Scheduling::SequentialModels {
            while self.current < self.model_order.len() && self.remaining[self.model_order[self.current] as usize] == 0
            {
                self.current += 1;
            }
            if let Some(&m) = self.model_order.get(self.current) {
                self.refresh(m);
            }
        }
    }

    /// Heap bytes held (16 per queued file, plus per-model state).
    pub fn heap_bytes(&self) -> usize {
        let per_model = self.queued.capacity() * std::mem::size_of::<Vec<QueueKey>>()
            + (self.head.capacity() + self.active.capacity() + self.remaining.capacity()) * 8
            + self.ready.len() * 48;
        self.queued.iter().map(|q| q.capacity() * std::mem::size_of::<QueueKey>()).sum::<usize>() + per_model
    }

    #[inline]
    pub fn active_files(&self) -> u32 {
        self.total_active
    }
    pub fn active_files_of(&self, model: u32) -> u32 {
        if self.single() { self.total_active } else { self.active[model as usize] }
    }
    pub fn is_empty(&self) -> bool {
        self.queued.iter().zip(&self.head).all(|(q, h)| *h == q.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Priority::*;

    fn drain(q: &mut FileQueue) -> Vec<u32> {
        let mut out = vec![];
        while let Some((m, k)) = q.pop() {
            out.push(k.2);
            q.finished(m);
        }
        out
    }

    #[test]
    fn priority_then_fifo_across_models_when_interleaved() {
        let mut q = FileQueue::new(Scheduling::Interleaved, 1, 8, &[Normal, Normal]);
        q.push(0, (Low, 0, 0));
        q.push(0, (High, 0, 1));
        q.push(1, (High, 0, 2));
        q.push(1, (Normal, 0, 3));
        q.start();
        assert_eq!(drain(&mut q), vec![1, 2, 3, 0]);
    }

    #[test]
    fn sequential_models_run_one_at_a_time_in_model_priority_order() {
        let mut q = FileQueue::new(Scheduling::SequentialModels, 4, 8, &[Low, High]);
        q.push(0, (High, 0, 0));
        q.push(1, (Low, 0, 1));
        q.push(1, (Low, 0, 2));
        q.start();
        // Model 1 (HIGH) first even though its files are LOW.
        let (m, k) = q.pop().unwrap();
        assert_eq!((m, k.2), (1, 1));
        let (m, k) = q.pop().unwrap();
        assert_eq!((m, k.2), (1, 2));
        assert!(q.pop().is_none(), "model 0 must wait for model 1");
        q.finished(1);
        assert!(q.pop().is_none());
        q.finished(1);
        assert_eq!(q.pop().map(|(m, k)| (m, k.2)), Some((0, 0)));
    }

    #[test]
    fn per_model_limit_lets_another_model_take_the_slot() {
        let mut q = FileQueue::new(Scheduling::Interleaved, 3, 1, &[Normal, Normal]);
        q.push(0, (High, 0, 0));
        q.push(0, (High, 0, 1));
        q.push(1, (Low, 0, 2));
        q.start();
        assert_eq!(q.pop().unwrap().1.2, 0);
        assert_eq!(q.pop().unwrap().1.2, 2);
        assert!(q.pop().is_none());
        assert_eq!(q.active_files(), 2);
        q.finished(0);
        assert_eq!(q.pop().unwrap().1.2, 1);
    }

    /// A naive model of the queue: scan every queued file for the smallest
    /// eligible key.
    struct Reference {
        sequential: bool,
        global: u32,
        per_model: u32,
        order: Vec<u32>,
        queued: Vec<(u32, QueueKey)>,
        active: Vec<u32>,
        remaining: Vec<u32>,
    }

    impl Reference {
        fn current(&self) -> Option<u32> {
            self.order.iter().copied().find(|m| self.remaining[*m as usize] > 0)
        }
        fn pop(&mut self) -> Option<(u32, QueueKey)> {
            if self.active.iter().sum::<u32>() >= self.global {
                return None;
            }
            let current = self.current();
            let (i, _) = self
                .queued
                .iter()
                .enumerate()
                .filter(|(_, (m, _))| self.active[*m as usize] < self.per_model)
                .filter(|(_, (m, _))| !self.sequential || Some(*m) == current)
                .min_by_key(|(_, (_, k))| *k)?;
            let (m, k) = self.queued.remove(i);
            self.active[m as usize] += 1;
            Some((m, k))
        }
        fn finished(&mut self, m: u32) {
            self.active[m as usize] -= 1;
            self.remaining[m as usize] -= 1;
        }
    }

    fn priority() -> impl Strategy<Value = Priority> {
        prop_oneof![Just(High), Just(Normal), Just(Low)]
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The queue pops exactly what the naive reference pops, under any
        /// interleaving of pops and ends.
        #[test]
        fn queue_matches_a_naive_reference(
            sequential in any::<bool>(),
            global in 1u32..5,
            per_model in 1u32..4,
            model_priority in prop::collection::vec(priority(), 1..4),
            files in prop::collection::vec((0u32..4, priority(), 0u64..3), 0..14),
            ops in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..40),
        ) {
            let n = model_priority.len() as u32;
            let scheduling = if sequential { Scheduling::SequentialModels } else { Scheduling::Interleaved };
            let mut q = FileQueue::new(scheduling, global, per_model, &model_priority);
            let mut order: Vec<u32> = (0..n).collect();
            order.sort_by_key(|m| (model_priority[*m as usize], *m));
            let mut r = Reference { sequential, global, per_model, order, queued: vec![], active: vec![0; n as usize], remaining: vec![0; n as usize] };
            for (id, (m, p, tb)) in files.iter().enumerate() {
                let (m, key) = (m % n, (*p, *tb, id as u32));
                q.push(m, key);
                r.queued.push((m, key));
                r.remaining[m as usize] += 1;
            }
            q.start();
            let mut active: Vec<u32> = vec![];
            for (op, then_pop) in ops {
                // Pop until both refuse, then end one active file (chosen by
                // `op`), and pop in the same step if `then_pop`.
                loop {
                    let (got, want) = (q.pop(), r.pop());
                    prop_assert_eq!(got, want);
                    match got {
                        Some((m, _)) => active.push(m),
                        None => break,
                    }
                }
                prop_assert_eq!(q.active_files(), active.len() as u32);
                for m in 0..n {
                    prop_assert_eq!(q.active_files_of(m), r.active[m as usize]);
                }
                prop_assert_eq!(q.is_empty(), r.queued.is_empty());
                if active.is_empty() {
                    break;
                }
                let m = active.swap_remove(op.index(active.len()));
                r.finished(m);
                if then_pop {
                    let (got, want) = (q.finished_then_pop(m), r.pop());
                    prop_assert_eq!(got, want);
                    active.extend(got.map(|(m, _)| m));
                } else {
                    q.finished(m);
                }
                prop_assert_eq!(q.active_files(), active.len() as u32);
                prop_assert_eq!(q.is_empty(), r.queued.is_empty());
            }
        }
    }
}
