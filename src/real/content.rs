//! Deterministic synthetic file content: a ChaCha stream keyed by
//! `(seed, file)`, random-access, so any byte range is produced without
//! generating its prefix.

use crate::engine::{DecisionKey, KeyedRng, domain};
use rand::Rng;
use sha2::{Digest, Sha256};

/// The content of every synthetic file of one run seed.
#[derive(Clone, Copy, Debug)]
pub struct Content {
    rng: KeyedRng,
}

impl Content {
    pub fn new(seed: u64) -> Self {
        Content { rng: KeyedRng::new(seed) }
    }

    /// Fill `buf` with the bytes of `file` starting at `offset`.
    pub fn fill(&self, file: u32, offset: u64, buf: &mut [u8]) {
        let mut s = self.rng.stream(DecisionKey::new(domain::CONTENT, file as u64, 0, 0));
        s.set_word_pos((offset / 4) as u128);
        let skip = (offset % 4) as usize;
        if skip > 0 {
            let mut head = [0u8; 4];
            s.fill_bytes(&mut head);
            let n = (4 - skip).min(buf.len());
            buf[..n].copy_from_slice(&head[skip..skip + n]);
            if n < buf.len() {
                s.fill_bytes(&mut buf[n..]);
            }
        } else {
            s.fill_bytes(buf);
        }
    }

    /// SHA-256 of the first `size` bytes of `file`.
    pub fn sha256(&self, file: u32, size: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut at = 0;
        while at < size {
            let n = (size - at).min(buf.len() as u64) as usize;
            self.fill(file, at, &mut buf[..n]);
            h.update(&buf[..n]);
            at += n as u64;
        }
        h.finalize().into()
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_equals_the_same_slice_of_the_whole() {
        let c = Content::new(7);
        let mut whole = vec![0u8; 1000];
        c.fill(3, 0, &mut whole);
        for (start, len) in [(0, 1), (1, 2), (3, 10), (5, 1), (6, 300), (999, 1), (401, 599)] {
            let mut part = vec![0u8; len];
            c.fill(3, start as u64, &mut part);
            assert_eq!(part, whole[start..start + len], "{start}+{len}");
        }
        let mut other = vec![0u8; 1000];
        c.fill(4, 0, &mut other);
        assert_ne!(other, whole);
        let mut h = Sha256::new();
        h.update(&whole);
        assert_eq!(c.sha256(3, 1000), <[u8; 32]>::from(h.finalize()));
    }
}
