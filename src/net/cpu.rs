//! The client's CPU as a shared resource of `cores` CPU-seconds per second.
//!
//! Two kinds of work compete for it:
//!
//! - **body bytes**: each byte costs `secs_per_byte` (hashing and copying,
//!   plus one socket read per `read_size` bytes), so the CPU alone allows an
//!   aggregate byte rate of `cores / secs_per_byte`;
//! - **fixed work** (per request, per read of a response head, per new
//!   connection) adds to a backlog `debt_s` of CPU-seconds.
//!
//! The backlog is served first from the capacity the bytes leave spare. If
//! that spare is less than a fair share `cores / (n + 1)` (n = flows moving
//! bytes, the backlog counting as one more job), the backlog takes that
//! share and the bytes are slowed to `(cores − share) / secs_per_byte` until
//! the backlog is done — the instant it empties is a link transition, like
//! the moment the token bucket empties. At every instant
//! `bytes rate × secs_per_byte + backlog rate ≤ cores`, so the CPU used over
//! a run never exceeds `cores × duration`.

use super::link::UNLIMITED_BPS;

#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    cores: f64,
    secs_per_byte: f64,
    /// Fixed work not yet done, CPU-seconds.
    debt_s: f64,
    /// CPU-seconds spent so far (bytes and fixed work).
    used_s: f64,
    /// Cores given to the backlog now.
    backlog_cores: f64,
    /// The backlog holds the bytes below the CPU's full byte rate.
    slows_bytes: bool,
}

impl Cpu {
    /// `cores` of capacity; `secs_per_byte` of work per body byte.
    pub fn new(cores: f64, secs_per_byte: f64) -> Self {
        Cpu { cores, secs_per_byte, debt_s: 0.0, used_s: 0.0, backlog_cores: 0.0, slows_bytes: false }
    }

    /// CPU-seconds spent so far (valid after the link's `advance`).
    pub fn used_secs(&self) -> f64 {
        self.used_s
    }
    /// Fixed work not yet done, CPU-seconds.
    pub fn backlog_secs(&self) -> f64 {
        self.debt_s
    }

    /// Queue `secs` of fixed work (the link recomputes its rates after this).
    pub fn add_work(&mut self, secs: f64) {
        self.debt_s += secs.max(0.0);
    }

    /// Aggregate byte rate the CPU allows now.
    pub fn bytes_bps(&self) -> f64 {
        if self.secs_per_byte <= 0.0 {
            return UNLIMITED_BPS;
        }
        let free = if self.slows_bytes { self.cores - self.backlog_cores } else { self.cores };
        (free / self.secs_per_byte).min(UNLIMITED_BPS)
    }

    /// Forget the last split: the bytes may use every core.
    pub fn reset_split(&mut self) {
        self.slows_bytes = false;
        self.backlog_cores = 0.0;
    }

    /// Split the cores between the backlog and `flows` flows moving
    /// `bytes_bps` in aggregate (computed with every core available).
    /// Returns whether the bytes must slow down (then recompute the rates).
    pub fn split(&mut self, flows: u32, bytes_bps: f64) -> bool {
        self.reset_split();
        if self.debt_s <= 0.0 {
            return false;
        }
        let spare = self.cores - self.secs_per_byte * bytes_bps;
        let share = self.cores / (flows as f64 + 1.0);
        if spare >= share {
            self.backlog_cores = spare;
            false
        } else {
            self.backlog_cores = share;
            self.slows_bytes = true;
            true
        }
    }

    /// Bytes cost nothing, nothing is owed, and the split is reset: stepping
    /// changes nothing (`used_s += 0 + 0`), no change is due, the byte rate
    /// is unlimited and a split would leave it so.
    pub fn is_inert(&self) -> bool {
        self.secs_per_byte == 0.0 && self.debt_s == 0.0 && !self.slows_bytes && self.backlog_cores == 0.0
    }

    /// Seconds until the backlog is done, when its end changes the byte rate.
    pub fn secs_to_clear(&self) -> Option<f64> {
        (self.slows_bytes && self.debt_s > 0.0).then(|| self.debt_s / self.backlog_cores)
    }

    /// The backlog's end was reached (its time was rounded to a nanosecond).
    pub fn set_clear(&mut self) {
        self.used_s += self.debt_s;
        self.debt_s = 0.0;
    }

    /// Account `dt` seconds with the bytes moving at `bytes_bps`.
    pub fn step(&mut self, dt: f64, bytes_bps: f64) {
        let paid = self.debt_s.min(self.backlog_cores * dt);
        self.debt_s -= paid;
        self.used_s += paid + self.secs_per_byte * bytes_bps * dt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_alone_may_use_every_core() {
        let c = Cpu::new(2.0, 1e-8);
        assert_eq!(c.bytes_bps(), 2e8);
        assert_eq!(Cpu::new(1.0, 0.0).bytes_bps(), UNLIMITED_BPS);
    }

    #[test]
    fn a_backlog_uses_the_spare_cores_without_slowing_the_bytes() {
        // 1 core, 1e8 B/s of bytes use 0.1 core: the backlog gets 0.9.
        let mut c = Cpu::new(1.0, 1e-9);
        c.add_work(0.09);
        assert!(!c.split(1, 1e8));
        assert_eq!(c.secs_to_clear(), None);
        c.step(0.05, 1e8);
        assert!((c.backlog_secs() - 0.045).abs() < 1e-12);
        c.step(1.0, 1e8);
        assert_eq!(c.backlog_secs(), 0.0);
        // 0.09 of fixed work + 1.05 s × 0.1 core of bytes.
        assert!((c.used_secs() - (0.09 + 0.105)).abs() < 1e-12);
    }

    #[test]
    fn a_cpu_bound_transfer_gives_the_backlog_a_fair_share() {
        // 3 flows, bytes would take the whole core: the backlog gets 1/4 of
        // it, the bytes 3/4, until 0.01 s of work is done at 0.04 s.
        let mut c = Cpu::new(1.0, 1e-9);
        c.add_work(0.01);
        assert!(c.split(3, 1e9));
        assert!((c.bytes_bps() - 0.75e9).abs() < 1e-3);
        assert!((c.secs_to_clear().unwrap() - 0.04).abs() < 1e-15);
        c.step(0.04, c.bytes_bps());
        assert!(c.backlog_secs() < 1e-15);
        assert!((c.used_secs() - 0.04).abs() < 1e-12, "one core for 0.04 s: {}", c.used_secs());
    }
}
