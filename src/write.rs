//! A cursor over a caller's output buffer that never panics.
//!
//! Writes past the end are counted but not stored, so one pass both fills the buffer and
//! learns the size that would have been needed.

use crate::BufferTooSmall;

/// Writes into a borrowed buffer; see the module docs.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Appends `bytes` (counted even when they do not fit).
    ///
    /// Not inlined on 32-bit targets: it has dozens of callers, and there flash counts more
    /// than a call (the client's Cortex-M image is 0.5 KiB smaller).
    #[cfg_attr(target_pointer_width = "32", inline(never))]
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    /// Appends one byte.
    pub(crate) fn byte(&mut self, b: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = b;
        }
        self.pos = self.pos.saturating_add(1);
    }

    /// Appends `n` in decimal ASCII.
    pub(crate) fn decimal(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let start = format_decimal(n, &mut digits);
        let (_, text) = digits.split_at(start);
        self.put(text);
    }

    /// The length written, or the size that was needed.
    pub(crate) fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.pos <= self.buf.len() {
            Ok(self.pos)
        } else {
            Err(BufferTooSmall { required: self.pos })
        }
    }
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Formats `n` right-aligned into `out`; returns the index of the first digit.
pub(crate) fn format_decimal(mut n: u64, out: &mut [u8; 20]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        let (q, r) = div10(n);
        out[i] = b'0' + r;
        n = q;
        if n == 0 {
            return i;
        }
    }
}

/// `(n / 10, n % 10)` by shifts and adds: on 32-bit targets a 64-bit division is a
/// library routine of almost 1 KiB, and this is the only one the codecs would need.
const fn div10(n: u64) -> (u64, u8) {
    // q approximates n * 0.8 by a sum of shifts, then / 8; the error is below 2 * 10.
    let mut q = (n >> 1) + (n >> 2);
    q += q >> 4;
    q += q >> 8;
    q += q >> 16;
    q += q >> 32;
    q >>= 3;
    let r = n - q * 10;
    if r > 9 {
        (q + 1, (r - 10) as u8)
    } else {
        (q, r as u8)
    }
}

/// Number of decimal digits of `n`.
pub(crate) const fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n = div10(n).0;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_end() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.put(b"abc");
        w.decimal(12345);
        assert_eq!(w.finish(), Err(BufferTooSmall { required: 8 }));
    }

    #[test]
    fn div10_matches_division() {
        let mut rng = crate::testutil::Rng::new(3);
        let edges = [
            0u64,
            1,
            9,
            10,
            11,
            19,
            20,
            99,
            100,
            u32::MAX as u64,
            1 << 53,
            u64::MAX - 1,
            u64::MAX,
        ];
        for n in edges
            .into_iter()
            .chain((0..100_000).map(|_| rng.next_u64() >> rng.below(64)))
        {
            assert_eq!(div10(n), (n / 10, (n % 10) as u8), "{n}");
        }
        for n in 0..100_000u64 {
            assert_eq!(div10(n), (n / 10, (n % 10) as u8), "{n}");
        }
    }

    #[test]
    fn decimal_forms() {
        for n in [0u64, 9, 10, 99, 100, 4096, u64::MAX] {
            let mut buf = [0u8; 20];
            let mut w = Writer::new(&mut buf);
            w.decimal(n);
            let len = w.finish().unwrap();
            assert_eq!(len, decimal_len(n));
            let text = core::str::from_utf8(&buf[..len]).unwrap();
            assert_eq!(text.parse::<u64>().unwrap(), n);
        }
    }
}
