//! The outbox of a cluster member: messages waiting for the pub/sub, in memory lent or
//! owned.

use super::{ClusterError, ClusterStats, Publish, RequestId};
use crate::BufferTooSmall;

/// Memory a cluster keeps its tables in: lent, or (with `alloc`) its own.
#[derive(Debug)]
pub(super) enum Mem<'a, T> {
    Lent(&'a mut [T]),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<[T]>),
}

impl<T> core::ops::Deref for Mem<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Self::Lent(s) => s,
            #[cfg(feature = "alloc")]
            Self::Owned(b) => b,
        }
    }
}

impl<T> core::ops::DerefMut for Mem<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Self::Lent(s) => s,
            #[cfg(feature = "alloc")]
            Self::Owned(b) => b,
        }
    }
}

/// Messages waiting for the pub/sub: `[channel len u16][message len u32][request id
/// len u8][16 id bytes]`, then the channel, then the message, one after the other.
#[derive(Debug)]
pub(super) struct Outbox<'a> {
    pub(super) buf: Mem<'a, u8>,
    pub(super) head: usize,
    pub(super) tail: usize,
    /// The channels' key prefix.
    pub(super) prefix: &'a str,
    /// The traffic counters.
    pub(super) stats: ClusterStats,
}

pub(super) const HEAD: usize = 2 + 4 + 1 + 16;

impl Outbox<'_> {
    /// Appends a message written by `write` (channel and message, one after the other,
    /// given the free space; returns both lengths). Moves what waits to the front when the
    /// end has no room.
    pub(super) fn push(
        &mut self,
        request: Option<&RequestId>,
        mut write: impl FnMut(&mut [u8]) -> Result<(usize, usize), BufferTooSmall>,
    ) -> Result<(), ClusterError> {
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
        let mut result = write(self.buf.get_mut(self.tail + HEAD..).unwrap_or_default());
        if let Err(e) = result
            && self.head > 0
            && (self.tail - self.head + HEAD).saturating_add(e.required) <= self.buf.len()
        {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            result = write(self.buf.get_mut(self.tail + HEAD..).unwrap_or_default());
        }
        let (c, m) = result.map_err(|_| ClusterError::OutboxFull)?;
        let (Ok(c16), Ok(m32)) = (u16::try_from(c), u32::try_from(m)) else {
            return Err(ClusterError::OutboxFull);
        };
        let Some(h) = self.buf.get_mut(self.tail..self.tail + HEAD) else {
            return Err(ClusterError::OutboxFull);
        };
        h[..2].copy_from_slice(&c16.to_le_bytes());
        h[2..6].copy_from_slice(&m32.to_le_bytes());
        h[6..].fill(0);
        if let Some(id) = request {
            let id = id.as_str().as_bytes();
            h[6] = id.len() as u8;
            h[7..7 + id.len()].copy_from_slice(id);
        }
        self.tail += HEAD + c + m;
        Ok(())
    }

    pub(super) fn front(&self) -> Option<Publish<'_>> {
        let h = self.buf.get(self.head..self.tail)?;
        let c = usize::from(u16::from_le_bytes([*h.first()?, *h.get(1)?]));
        let m = u32::from_le_bytes([h[2], h[3], h[4], h[5]]) as usize;
        let id_len = usize::from(h[6]);
        let request = (id_len > 0)
            .then(|| core::str::from_utf8(&h[7..7 + id_len]).ok())
            .flatten()
            .and_then(RequestId::new);
        Some(Publish {
            channel: core::str::from_utf8(&h[HEAD..HEAD + c]).unwrap_or_default(),
            message: &h[HEAD + c..HEAD + c + m],
            request,
        })
    }

    pub(super) fn pop(&mut self) {
        if let Some(p) = self.front() {
            self.head += HEAD + p.channel.len() + p.message.len();
        }
    }
}
