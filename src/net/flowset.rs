//! A set of flows on a shared virtual counter: its count and Σ offset, so
//! the bytes the whole set has delivered are `count × v − sum` in O(1),
//! where `v` is the bytes served per flow since the start and each flow's
//! offset is `v` at its start (minus what it had already received).

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FlowSet {
    pub(super) count: u32,
    pub(super) sum: f64,
}

impl FlowSet {
    pub(super) fn add(&mut self, offset: f64) {
        self.count += 1;
        self.sum += offset;
    }
    pub(super) fn remove(&mut self, offset: f64) {
        self.count -= 1;
        self.sum -= offset;
        if self.count == 0 {
            self.sum = 0.0;
        }
    }
    pub(super) fn delivered(&self, v: f64) -> f64 {
        self.count as f64 * v - self.sum
    }
}
