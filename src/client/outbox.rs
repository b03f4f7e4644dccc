//! The outbox: encoded packets waiting to be sent, in a caller-lent byte buffer.
//!
//! Each record is a 7-byte header (kind, namespace index, ack slot, little-endian length)
//! and the Engine.IO packet: the text form (`42["x"]`) or a binary attachment's bytes. A
//! record belongs to a namespace and waits until that namespace is connected; records of
//! different namespaces may overtake each other, records of one namespace never do.

pub(crate) const HDR: usize = 7;
pub(crate) const TEXT: u8 = 0;
pub(crate) const BINARY: u8 = 1;
/// "No ack slot".
pub(crate) const NO_ACK: u8 = u8::MAX;

#[derive(Debug)]
pub(crate) struct Outbox<'a> {
    buf: &'a mut [u8],
    len: usize,
}

/// One record being drained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec<'r> {
    pub(crate) kind: u8,
    pub(crate) ack: u8,
    pub(crate) bytes: &'r [u8],
}

impl<'a> Outbox<'a> {
    pub(crate) const fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    #[cfg(test)]
    const fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) const fn free(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The writable tail, to encode a record's bytes at `tail()[HDR..]` before `commit`.
    pub(crate) fn tail(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Closes a record whose `n` bytes were written at `tail()[HDR..]`.
    pub(crate) fn commit(&mut self, kind: u8, ns: u8, ack: u8, n: usize) {
        let at = self.len;
        let Some(h) = self.buf.get_mut(at..at + HDR) else {
            return;
        };
        h[0] = kind;
        h[1] = ns;
        h[2] = ack;
        h[3..7].copy_from_slice(&(n as u32).to_le_bytes());
        self.len = at + HDR + n;
    }

    /// Appends a record of `bytes`; `false` (nothing written) when it does not fit.
    pub(crate) fn push(&mut self, kind: u8, ns: u8, ack: u8, bytes: &[u8]) -> bool {
        let Some(dst) = self.tail().get_mut(HDR..HDR + bytes.len()) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.commit(kind, ns, ack, bytes.len());
        true
    }

    /// Offers the records in order to `send` when `ready(ns)`; `send` answers `false` when
    /// the record does not fit, and then that record and every later one stay. Sent
    /// records are removed and the rest moved down, keeping their order.
    pub(crate) fn drain(
        &mut self,
        mut ready: impl FnMut(u8) -> bool,
        mut send: impl FnMut(Rec<'_>) -> bool,
    ) {
        let (mut r, mut w) = (0, 0);
        let mut stopped = false;
        while let Some(([kind, ns, ack], end)) = self.record(r) {
            if !stopped && ready(ns) {
                let bytes = self.buf.get(r + HDR..end).unwrap_or_default();
                if send(Rec { kind, ack, bytes }) {
                    r = end;
                    continue;
                }
                stopped = true;
            }
            if w != r {
                self.buf.copy_within(r..end, w);
            }
            w += end - r;
            r = end;
        }
        self.len = w;
    }

    /// The header of the record at `r` and the offset where it ends, if there is one.
    fn record(&self, r: usize) -> Option<([u8; 3], usize)> {
        let h = self.buf.get(r..r + HDR).filter(|_| r < self.len)?;
        let n = u32::from_le_bytes([h[3], h[4], h[5], h[6]]) as usize;
        Some(([h[0], h[1], h[2]], r + HDR + n))
    }

    /// Whether any record's namespace is `ready`.
    pub(crate) fn any(&self, ready: impl Fn(u8) -> bool) -> bool {
        let mut r = 0;
        while let Some(([_, ns, _], end)) = self.record(r) {
            if ready(ns) {
                return true;
            }
            r = end;
        }
        false
    }

    /// Removes every record of namespace `ns`.
    pub(crate) fn remove_ns(&mut self, ns: u8) {
        self.drain(|n| n == ns, |_| true);
    }

    /// Forgets ack slot `slot` in every record (after the slot was freed).
    pub(crate) fn clear_ack(&mut self, slot: u8) {
        let mut r = 0;
        while let Some(([_, _, ack], end)) = self.record(r) {
            if ack == slot {
                self.buf[r + 2] = NO_ACK;
            }
            r = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_keeps_order_and_skips_waiting_namespaces() {
        let mut buf = [0u8; 64];
        let mut o = Outbox::new(&mut buf);
        assert!(o.push(TEXT, 0, NO_ACK, b"a"));
        assert!(o.push(TEXT, 1, NO_ACK, b"b"));
        assert!(o.push(TEXT, 0, 3, b"c"));
        assert!(o.push(BINARY, 1, NO_ACK, b"d"));
        let mut sent = [0u8; 8];
        let mut n = 0;
        o.drain(
            |ns| ns == 0,
            |r| {
                sent[n] = r.bytes[0];
                n += 1;
                true
            },
        );
        assert_eq!(&sent[..n], b"ac");
        n = 0;
        o.drain(
            |_| true,
            |r| {
                sent[n] = r.bytes[0];
                n += 1;
                n < 2
            },
        );
        assert_eq!(&sent[..n], b"bd");
        // `d` did not fit: it is still there, alone.
        n = 0;
        o.drain(
            |_| true,
            |r| {
                sent[n] = r.bytes[0];
                n += 1;
                true
            },
        );
        assert_eq!(&sent[..n], b"d");
        assert!(o.is_empty());
        assert!(!o.push(TEXT, 0, NO_ACK, &[0; 58]));
        assert!(o.push(TEXT, 0, NO_ACK, &[0; 57]));
    }
}
