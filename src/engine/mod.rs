//! The discrete-event engine: a virtual clock, an event queue ordered by
//! `(time, seq)`, a run loop, and keyed random streams.
//!
//! The engine knows nothing of HTTP or networks. A [`World`] owns the state;
//! besides the discrete events it schedules, it may have *continuous*
//! processes (fluid flows) that expose their next transition time through
//! [`World::next_internal`]. The run loop always advances to the earliest of
//! the two; on a tie the queued event goes first.

mod queue;
mod rng;

pub use queue::EventQueue;
pub use rng::{DecisionKey, KeyedRng, domain, mix64};

use crate::time::SimTime;

/// The simulated system driven by an [`Engine`].
pub trait World {
    /// Copied out of the queue (events are small: ids and times).
    type Event: Copy;
    /// Time of the next continuous-process transition, if any.
    fn next_internal(&self) -> Option<SimTime>;
    /// Handle the continuous transition due at `now` (from `next_internal`).
    fn on_internal(&mut self, now: SimTime, queue: &mut EventQueue<Self::Event>);
    /// Handle one discrete event at `now`.
    fn on_event(&mut self, now: SimTime, event: Self::Event, queue: &mut EventQueue<Self::Event>);
}

/// Virtual clock + event queue + run loop.
pub struct Engine<W: World> {
    pub world: W,
    pub queue: EventQueue<W::Event>,
    now: SimTime,
    events: u64,
}

impl<W: World> Engine<W> {
    pub fn new(world: W) -> Self {
        Engine { world, queue: EventQueue::new(), now: SimTime::ZERO, events: 0 }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of events (discrete and continuous) processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// Time of the next step, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        match (self.queue.peek_time(), self.world.next_internal()) {
            (Some(q), Some(i)) => Some(q.min(i)),
            (q, i) => q.or(i),
        }
    }

    /// Process one event; `false` when nothing is left.
    #[inline(always)]
    pub fn step(&mut self) -> bool {
        // The queued event goes first unless the internal transition is
        // strictly earlier.
        let i = self.world.next_internal();
        if let Some((t, ev)) = self.queue.pop_due(i) {
            debug_assert!(t >= self.now, "time went backwards");
            self.now = t.max(self.now);
            self.world.on_event(self.now, ev, &mut self.queue);
        } else if let Some(t) = i {
            debug_assert!(t >= self.now, "time went backwards");
            self.now = t.max(self.now);
            self.world.on_internal(self.now, &mut self.queue);
        } else {
            return false;
        }
        self.events += 1;
        true
    }

    /// Process every event due at or before `until`; the clock ends at `until`
    /// (or later, if an event was already past it).
    pub fn run_until(&mut self, until: SimTime) {
        while self.peek_time().is_some_and(|t| t <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Run until no event is left.
    pub fn run(&mut self) {
        while self.step() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world with one continuous process: a countdown that fires at fixed
    /// times, and discrete events that log themselves.
    struct Log {
        internal_at: Vec<SimTime>,
        seen: Vec<(SimTime, &'static str)>,
    }
    impl World for Log {
        type Event = &'static str;
        fn next_internal(&self) -> Option<SimTime> {
            self.internal_at.first().copied()
        }
        fn on_internal(&mut self, now: SimTime, _q: &mut EventQueue<&'static str>) {
            self.internal_at.remove(0);
            self.seen.push((now, "internal"));
        }
        fn on_event(&mut self, now: SimTime, ev: &'static str, q: &mut EventQueue<&'static str>) {
            self.seen.push((now, ev));
            if ev == "spawn" {
                q.schedule(now, "child");
            }
        }
    }

    #[test]
    fn merges_queue_and_internal_in_time_order_queue_first_on_ties() {
        let mut e = Engine::new(Log { internal_at: vec![SimTime(5), SimTime(10)], seen: vec![] });
        e.queue.schedule(SimTime(10), "a");
        e.queue.schedule(SimTime(1), "spawn");
        e.queue.schedule(SimTime(10), "b");
        e.run();
        let names: Vec<_> = e.world.seen.iter().map(|(t, n)| (t.0, *n)).collect();
        assert_eq!(names, vec![(1, "spawn"), (1, "child"), (5, "internal"), (10, "a"), (10, "b"), (10, "internal")]);
        assert_eq!(e.events_processed(), 6);
        assert_eq!(e.now(), SimTime(10));
    }

    #[test]
    fn run_until_stops_at_the_boundary() {
        let mut e = Engine::new(Log { internal_at: vec![], seen: vec![] });
        e.queue.schedule(SimTime(3), "a");
        e.queue.schedule(SimTime(7), "b");
        e.run_until(SimTime(5));
        assert_eq!(e.world.seen.len(), 1);
        assert_eq!(e.now(), SimTime(5));
        assert!(e.step());
        assert!(!e.step());
    }
}
