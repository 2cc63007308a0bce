//! Request and read sizing: how many bytes the next Range request of a
//! segment asks for, and the original's adaptive chunk size.

use crate::scenario::{ChunkMode, Chunking, KIB, MIB};

/// The original's table, by file size.
pub fn table_chunk(file_size: u64) -> u64 {
    match file_size {
        s if s < MIB => 8 * KIB,
        s if s < 10 * MIB => 64 * KIB,
        s if s < 100 * MIB => 256 * KIB,
        _ => MIB,
    }
}

/// Fastest mean speed below which the adaptive size is halved, bytes/s.
pub const SLOW_BPS: f64 = MIB as f64;
/// Mean speed above which the adaptive size is doubled, bytes/s.
pub const FAST_BPS: f64 = 50.0 * MIB as f64;
/// The halving never goes below this (the original's floor).
pub const MIN_ADAPTIVE_BYTES: u64 = 8 * KIB;
/// The doubling never goes above this (the original's cap).
pub const MAX_ADAPTIVE_BYTES: u64 = 2 * MIB;

/// The original's `_apply_adaptive_chunking`: the table by file size, doubled
/// (at most 2 MiB) above 50 MiB/s, halved (at least 8 KiB) below 1 MiB/s of
/// measured speed; unchanged without a measurement.
pub fn adaptive_size(file_size: u64, measured_bps: Option<f64>) -> u64 {
    let base = table_chunk(file_size);
    match measured_bps {
        Some(r) if r > FAST_BPS => (base * 2).min(MAX_ADAPTIVE_BYTES),
        Some(r) if r < SLOW_BPS => (base / 2).max(MIN_ADAPTIVE_BYTES),
        _ => base,
    }
}

/// Whether [`next_request_size`] reads the measured speed in `mode` (the
/// other modes need no speed measured).
#[inline]
pub fn uses_speed(mode: ChunkMode) -> bool {
    matches!(mode, ChunkMode::AdaptiveTable | ChunkMode::Throughput)
}

/// Size of the next request of a segment with `left` bytes to fetch.
/// `measured_bps` is the rate of the segment's last request, if any.
#[inline]
pub fn next_request_size(c: &Chunking, file_size: u64, left: u64, measured_bps: Option<f64>) -> u64 {
    let size = match c.mode {
        ChunkMode::WholeFile => left,
        ChunkMode::Fixed => c.chunk_size_bytes,
        ChunkMode::AdaptiveTable => adaptive_size(file_size, measured_bps),
        ChunkMode::Throughput => match measured_bps {
            Some(r) => {
                let want = r * c.target_chunk_time_ms / 1000.0;
                (want as u64).clamp(c.min_chunk_bytes, c.max_chunk_bytes)
            }
            None => c.chunk_size_bytes.clamp(c.min_chunk_bytes, c.max_chunk_bytes),
        },
    };
    size.clamp(1, left.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: ChunkMode) -> Chunking {
        Chunking { mode, ..Chunking::default() }
    }

    proptest::proptest! {
        /// A mode that does not use the speed sizes requests the same
        /// whatever speed was measured (the core measures none then).
        #[test]
        fn modes_without_speed_ignore_it(size in 1u64..1 << 40, left in 0u64..1 << 40, bps in 0.0f64..1e12) {
            for mode in [ChunkMode::WholeFile, ChunkMode::Fixed, ChunkMode::AdaptiveTable, ChunkMode::Throughput] {
                let c = cfg(mode);
                let same = next_request_size(&c, size, left, Some(bps)) == next_request_size(&c, size, left, None);
                proptest::prop_assert!(uses_speed(mode) || same, "{:?}", mode);
            }
        }
    }

    #[test]
    fn table_and_speed_adjustment() {
        let c = cfg(ChunkMode::AdaptiveTable);
        assert_eq!(next_request_size(&c, 500 * KIB, 500 * KIB, None), 8 * KIB);
        assert_eq!(next_request_size(&c, 5 * MIB, 5 * MIB, None), 64 * KIB);
        assert_eq!(next_request_size(&c, 50 * MIB, 50 * MIB, None), 256 * KIB);
        assert_eq!(next_request_size(&c, 500 * MIB, 500 * MIB, None), MIB);
        assert_eq!(next_request_size(&c, 500 * MIB, 500 * MIB, Some(60.0 * MIB as f64)), 2 * MIB);
        assert_eq!(next_request_size(&c, 500 * MIB, 500 * MIB, Some(0.5 * MIB as f64)), MIB / 2);
        // Halving floors at 8 KiB: an 8 KiB table entry on a slow link stays 8 KiB.
        assert_eq!(next_request_size(&c, 500 * KIB, 500 * KIB, Some(0.5 * MIB as f64)), 8 * KIB);
        assert_eq!(next_request_size(&c, 5 * MIB, 5 * MIB, Some(0.5 * MIB as f64)), 32 * KIB);
        // Never more than what is left.
        assert_eq!(next_request_size(&c, 500 * MIB, 100, None), 100);
    }

    /// Every table entry, each speed class, both bounds: doubling stops at
    /// 2 MiB, halving at 8 KiB; the thresholds themselves change nothing.
    #[test]
    fn adaptive_size_is_the_originals_rule() {
        let slow = Some(SLOW_BPS / 2.0);
        let fast = Some(FAST_BPS * 2.0);
        for (size, base) in [(MIB - 1, 8 * KIB), (MIB, 64 * KIB), (10 * MIB, 256 * KIB), (100 * MIB, MIB)] {
            assert_eq!(adaptive_size(size, None), base);
            assert_eq!(adaptive_size(size, Some(SLOW_BPS)), base);
            assert_eq!(adaptive_size(size, Some(FAST_BPS)), base);
            assert_eq!(adaptive_size(size, slow), (base / 2).max(8 * KIB));
            assert_eq!(adaptive_size(size, fast), (base * 2).min(2 * MIB));
        }
        assert_eq!(adaptive_size(0, slow), 8 * KIB);
        assert_eq!(adaptive_size(u64::MAX, fast), 2 * MIB);
    }

    #[test]
    fn throughput_rule_targets_time_and_clamps() {
        let c = cfg(ChunkMode::Throughput);
        assert_eq!(next_request_size(&c, u64::MAX, u64::MAX, None), 8 * MIB);
        assert_eq!(next_request_size(&c, u64::MAX, u64::MAX, Some(10.0 * MIB as f64)), 10 * MIB);
        assert_eq!(next_request_size(&c, u64::MAX, u64::MAX, Some(1e12)), 64 * MIB);
        assert_eq!(next_request_size(&c, u64::MAX, u64::MAX, Some(1.0)), 64 * KIB);
    }

    #[test]
    fn whole_file_and_fixed() {
        assert_eq!(next_request_size(&cfg(ChunkMode::WholeFile), 10, 7, None), 7);
        let mut f = cfg(ChunkMode::Fixed);
        f.chunk_size_bytes = 3;
        assert_eq!(next_request_size(&f, 10, 7, None), 3);
    }
}
