//! Keyed random streams.
//!
//! Every random decision is a pure function of the run seed and a
//! [`DecisionKey`] naming *what* is decided (domain, file, range start,
//! attempt) — never of the order in which events happen. The key is mixed
//! into a 64-bit ChaCha stream id; the run seed is the ChaCha key.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a random draw decides. `domain` separates unrelated decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionKey {
    pub domain: u64,
    pub file: u64,
    pub range_start: u64,
    pub attempt: u64,
}

/// Decision domains (stable numbers: changing one changes every output).
pub mod domain {
    pub const FAULT: u64 = 1;
    pub const BACKOFF_JITTER: u64 = 2;
    pub const FILE_SIZE: u64 = 3;
    pub const LATENCY_JITTER: u64 = 4;
    pub const CONTENT: u64 = 5;
    /// Where the per-byte reset hazard cuts a body (`server.faults.resets_per_gib`).
    pub const BYTE_RESET: u64 = 6;
    /// Where in its round a connection is when HyStart's delay signal comes (`net/slowstart.rs`).
    pub const HYSTART_PHASE: u64 = 7;
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DecisionKey {
    pub fn new(domain: u64, file: u64, range_start: u64, attempt: u64) -> Self {
        DecisionKey { domain, file, range_start, attempt }
    }
    /// 64-bit stream id of this key.
    pub fn stream(&self) -> u64 {
        let mut h = mix64(self.domain);
        for v in [self.file, self.range_start, self.attempt] {
            h = mix64(h ^ v);
        }
        h
    }
}

/// Factory of per-decision ChaCha streams for one run seed.
#[derive(Clone, Copy, Debug)]
pub struct KeyedRng {
    key: [u8; 32],
}

impl KeyedRng {
    pub fn new(seed: u64) -> Self {
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix64(seed ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)).to_le_bytes());
        }
        KeyedRng { key }
    }
    /// A fresh ChaCha stream for this decision.
    pub fn stream(&self, key: DecisionKey) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(key.stream());
        rng
    }
    /// One uniform draw in [0, 1) for this decision.
    pub fn uniform(&self, key: DecisionKey) -> f64 {
        self.stream(key).random::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_draw_different_key_different_draw() {
        let r = KeyedRng::new(42);
        let k = DecisionKey::new(domain::FAULT, 3, 1024, 1);
        assert_eq!(r.uniform(k), r.uniform(k));
        assert_ne!(r.uniform(k), r.uniform(DecisionKey { attempt: 2, ..k }));
        assert_ne!(r.uniform(k), KeyedRng::new(43).uniform(k));
        let u = r.uniform(k);
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn draws_are_roughly_uniform() {
        let r = KeyedRng::new(7);
        let n = 10_000;
        let below = (0..n).filter(|i| r.uniform(DecisionKey::new(domain::FAULT, *i, 0, 1)) < 0.1).count();
        // Binomial(10000, 0.1): sd = 30; allow 5 sd.
        assert!((850..=1150).contains(&below), "{below}");
    }
}
