//! The random source behind session and socket ids: `ChaCha20` (RFC 8439) keyed by a seed
//! the caller injects.
//!
//! The ids are the only credential a Socket.IO client holds, so they must be
//! unguessable: the caller seeds the server from a real entropy source (the OS, a hardware
//! generator) and the keystream does the rest. A fixed seed gives fixed ids, which is what
//! deterministic tests want.

/// A `ChaCha20` keystream used as a generator.
#[derive(Clone)]
pub(crate) struct Rng {
    key: [u32; 8],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl core::fmt::Debug for Rng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key or the keystream.
        f.debug_struct("Rng").finish_non_exhaustive()
    }
}

const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The `ChaCha20` block function: 64 bytes of keystream for `key`, `counter`, `nonce`.
fn chacha20_block(key: &[u32; 8], counter: u32, nonce: [u32; 3]) -> [u8; 64] {
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&CONSTANTS);
    init[4..12].copy_from_slice(key);
    init[12] = counter;
    init[13..].copy_from_slice(&nonce);
    let mut s = init;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&s[i].wrapping_add(init[i]).to_le_bytes());
    }
    out
}

impl Rng {
    /// A generator keyed by `seed`.
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        let mut key = [0u32; 8];
        for (k, chunk) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Self {
            key,
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }

    /// Fills `out` with keystream bytes.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            if self.used == self.block.len() {
                // The 64-bit block counter is split over the counter word and the first
                // nonce word, so the stream never repeats in practice.
                let low = self.counter as u32;
                let high = (self.counter >> 32) as u32;
                self.block = chacha20_block(&self.key, low, [high, 0, 0]);
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *b = self.block[self.used];
            self.used += 1;
        }
    }

    /// 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8439_block_vector() {
        // RFC 8439 section 2.3.2.
        let mut key = [0u32; 8];
        for (i, k) in key.iter_mut().enumerate() {
            let b = (i * 4) as u8;
            *k = u32::from_le_bytes([b, b + 1, b + 2, b + 3]);
        }
        let nonce = [0x0900_0000, 0x4a00_0000, 0];
        let out = chacha20_block(&key, 1, nonce);
        let expected_start = [
            0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20,
            0x71, 0xc4,
        ];
        let expected_end = [
            0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50,
            0x3c, 0x4e,
        ];
        assert_eq!(out[..16], expected_start);
        assert_eq!(out[48..], expected_end);
    }

    #[test]
    fn same_seed_same_stream_and_chunking_does_not_matter() {
        let mut a = Rng::new([7; 32]);
        let mut b = Rng::new([7; 32]);
        let mut whole = [0u8; 200];
        a.fill(&mut whole);
        let mut pieces = [0u8; 200];
        for chunk in pieces.chunks_mut(13) {
            b.fill(chunk);
        }
        assert_eq!(whole, pieces);
        let mut c = Rng::new([8; 32]);
        let mut other = [0u8; 200];
        c.fill(&mut other);
        assert_ne!(whole, other);
    }
}
