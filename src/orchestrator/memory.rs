//! The memory model: a file below `streaming_threshold` is buffered whole
//! until it completes; a larger one is streamed through a write buffer of
//! max(4 × read size, 64 KiB). The orchestrator accounts the bytes it holds;
//! a runtime adds the bytes of buffered bodies still in flight.

use crate::scenario::KIB;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferMode {
    /// Every received byte is held until the file completes.
    Buffered,
    /// Only a write buffer of this many bytes is held.
    Streamed { buffer_bytes: u64 },
}

#[inline]
pub fn buffer_mode(file_size: u64, streaming_threshold: u64, read_size: u64) -> BufferMode {
    if file_size < streaming_threshold {
        BufferMode::Buffered
    } else {
        BufferMode::Streamed { buffer_bytes: (4 * read_size).max(64 * KIB) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::MIB;

    #[test]
    fn threshold_and_buffer_size() {
        assert_eq!(buffer_mode(MIB, 50 * MIB, 128 * KIB), BufferMode::Buffered);
        assert_eq!(buffer_mode(50 * MIB, 50 * MIB, 128 * KIB), BufferMode::Streamed { buffer_bytes: 512 * KIB });
        assert_eq!(buffer_mode(50 * MIB, 50 * MIB, 1), BufferMode::Streamed { buffer_bytes: 64 * KIB });
    }
}
