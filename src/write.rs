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

/// Formats `n` right-aligned into `out`; returns the index of the first digit.
pub(crate) fn format_decimal(mut n: u64, out: &mut [u8; 20]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Number of decimal digits of `n`.
pub(crate) const fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
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
