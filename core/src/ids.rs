//! Where nonces and ids come from.
//!
//! kefu-core never reads a clock or a random source. Code that needs fresh
//! bytes takes a [`NonceSource`]; the regional service implements it over the
//! OS RNG, the edge over its platform's `getrandom`, and tests over a counter.

/// A source of unpredictable bytes (nonces, ids).
pub trait NonceSource {
    /// Fills `buf` with fresh bytes. Must never repeat a value for the same key.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A deterministic source for tests and golden vectors: a big-endian counter
/// right-aligned in the buffer. Predictable by design; never use it outside tests.
#[derive(Debug, Clone, Default)]
pub struct CounterNonces(pub u64);

impl NonceSource for CounterNonces {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0 = self.0.wrapping_add(1);
        buf.fill(0);
        let bytes = self.0.to_be_bytes();
        let n = buf.len().min(bytes.len());
        let (dst, src) = (buf.len() - n, bytes.len() - n);
        buf[dst..].copy_from_slice(&bytes[src..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_is_right_aligned_and_advances() {
        let mut n = CounterNonces::default();
        let mut a = [0xffu8; 12];
        n.fill(&mut a);
        assert_eq!(a, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        n.fill(&mut a);
        assert_eq!(a[11], 2);
    }
}
