//! SHA-1 (FIPS 180-4), only for the WebSocket accept key.
//!
//! SHA-1 is broken for collision resistance; RFC 6455 uses it as a fixed, public
//! transformation of the client's nonce, where that does not matter.

/// Streaming SHA-1 state.
#[derive(Debug, Clone)]
pub(crate) struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    /// Bytes buffered in `block` (always `< 64` between calls).
    filled: usize,
    /// Total message length in bytes. A `usize` (not `u64`) keeps the state 4-aligned on
    /// 32-bit targets; a message longer than the address space is never hashed here.
    total: usize,
}

impl Sha1 {
    /// The initial state.
    pub(crate) const fn new() -> Self {
        Self {
            state: [
                0x6745_2301,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ],
            block: [0; 64],
            filled: 0,
            total: 0,
        }
    }

    /// Absorbs `data`.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len());
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.block.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled < 64 {
                return;
            }
            let block = self.block;
            compress(&mut self.state, &block);
            self.filled = 0;
        }
        let (blocks, rest) = data.as_chunks::<64>();
        for block in blocks {
            compress(&mut self.state, block);
        }
        if let Some(dst) = self.block.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.filled = rest.len();
    }

    /// Pads, finishes, and returns the 20-byte digest.
    pub(crate) fn finalize(mut self) -> [u8; 20] {
        let bit_len = (self.total as u64).wrapping_mul(8);
        self.update(&[0x80]);
        while self.filled != 56 {
            self.update(&[0]);
        }
        self.update(&bit_len.to_be_bytes());
        let mut out = [0u8; 20];
        for (dst, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(self.state) {
            *dst = word.to_be_bytes();
        }
        out
    }
}

fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 80];
    for (dst, src) in w.iter_mut().zip(block.as_chunks::<4>().0) {
        *dst = u32::from_be_bytes(*src);
    }
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    for (t, wt) in w.iter().enumerate() {
        let (f, k) = match t {
            0..20 => ((b & c) | (!b & d), 0x5A82_7999),
            20..40 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..60 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let tmp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(*wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = tmp;
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1(data: &[u8]) -> [u8; 20] {
        let mut h = Sha1::new();
        h.update(data);
        h.finalize()
    }

    fn hex(digest: [u8; 20]) -> [u8; 40] {
        let mut out = [0u8; 40];
        for (pair, b) in out.as_chunks_mut::<2>().0.iter_mut().zip(digest) {
            let digits = b"0123456789abcdef";
            *pair = [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]];
        }
        out
    }

    #[test]
    fn fips_180_vectors() {
        assert_eq!(
            &hex(sha1(b"abc")),
            b"a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(&hex(sha1(b"")), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            &hex(sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            b"84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn million_a() {
        let chunk = [b'a'; 1000];
        let mut h = Sha1::new();
        for _ in 0..1000 {
            h.update(&chunk);
        }
        assert_eq!(
            &hex(h.finalize()),
            b"34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn split_updates_match_one_shot() {
        let data: [u8; 200] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let whole = sha1(&data);
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 199, 200] {
            let (a, b) = data.split_at(split);
            let mut h = Sha1::new();
            h.update(a);
            h.update(b);
            assert_eq!(h.finalize(), whole, "split at {split}");
        }
    }
}
