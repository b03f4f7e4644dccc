//! Handles in memory the C caller lends (`sio_server_new_in`, `sio_client_new_in`): one block
//! holds the handle, its tables, its buffers and copies of its configuration's strings, so
//! that the library needs no allocator. The same code measures the block
//! (`sio_*_memory_size`) and carves it, so the two cannot disagree.

use core::mem::{align_of, size_of};

use siocore::server::{Entry, Lend};

use crate::{SIO_BUFFER_TOO_SMALL, SIO_INVALID_ARGUMENT, sio_result};

/// The alignment a lent block must have (the largest of the values placed in it).
pub const SIO_MEMORY_ALIGN: usize = 8;

/// A bump allocator over a block, or over nothing when it only measures.
#[derive(Debug)]
pub(crate) struct Carve {
    /// The block's first byte; null when measuring.
    base: *mut u8,
    /// Bytes used so far.
    at: usize,
    /// The block's length.
    len: usize,
    /// Why a table lent through `Lend` was refused (the first refusal).
    refused: Option<sio_result>,
}

impl Carve {
    /// Measures: every piece is counted, nothing is written.
    pub(crate) const fn measure() -> Self {
        Self {
            base: core::ptr::null_mut(),
            at: 0,
            len: usize::MAX,
            refused: None,
        }
    }

    /// Carves the `len` bytes at `base`.
    ///
    /// # Safety
    /// `base` must be valid for writing `len` bytes for as long as what is carved from it is
    /// used, and nothing else may use those bytes meanwhile.
    pub(crate) unsafe fn over(base: *mut u8, len: usize) -> Result<Self, sio_result> {
        if base.is_null() {
            return Err(crate::SIO_NULL_ARGUMENT);
        }
        if !(base as usize).is_multiple_of(SIO_MEMORY_ALIGN) {
            return Err(SIO_INVALID_ARGUMENT);
        }
        Ok(Self {
            base,
            at: 0,
            len,
            refused: None,
        })
    }

    /// Bytes used so far.
    pub(crate) fn used(&self) -> usize {
        self.at
    }

    /// Room for `n` values of `T`, aligned; the pointer to the first (null when measuring).
    fn reserve<T>(&mut self, n: usize) -> Result<*mut T, sio_result> {
        const { assert!(align_of::<T>() <= SIO_MEMORY_ALIGN) };
        let start = self.at.next_multiple_of(align_of::<T>());
        let end = n
            .checked_mul(size_of::<T>())
            .and_then(|bytes| start.checked_add(bytes))
            .ok_or(SIO_INVALID_ARGUMENT)?;
        if end > self.len {
            return Err(SIO_BUFFER_TOO_SMALL);
        }
        self.at = end;
        if self.base.is_null() {
            return Ok(core::ptr::null_mut());
        }
        // SAFETY: `start` is within the block (`end <= len`), per `over`'s contract.
        Ok(unsafe { self.base.add(start) }.cast())
    }

    /// `n` values made by `fill`; `None` when measuring.
    pub(crate) fn slice<T>(
        &mut self,
        n: usize,
        fill: impl Fn() -> T,
    ) -> Result<Option<&'static mut [T]>, sio_result> {
        let p = self.reserve::<T>(n)?;
        if p.is_null() {
            return Ok(None);
        }
        for i in 0..n {
            // SAFETY: `p` has room for `n` aligned values of `T` (`reserve`).
            unsafe { p.add(i).write(fill()) };
        }
        // SAFETY: just initialized; the block outlives the handle (`over`'s contract), and
        // `'static` stands for that.
        Ok(Some(unsafe { core::slice::from_raw_parts_mut(p, n) }))
    }

    /// A copy of `text` (an empty string when measuring).
    pub(crate) fn text(&mut self, text: &str) -> Result<&'static str, sio_result> {
        let Some(bytes) = self.slice(text.len(), || 0u8)? else {
            return Ok("");
        };
        bytes.copy_from_slice(text.as_bytes());
        // A copy of a `str` is UTF-8.
        Ok(core::str::from_utf8(bytes).unwrap_or_default())
    }

    /// Room for one `T`, not initialized; null when measuring.
    pub(crate) fn one<T>(&mut self) -> Result<*mut T, sio_result> {
        self.reserve::<T>(1)
    }

    /// Why a table lent through `Lend` was refused, if one was (a measuring carve refuses
    /// every table without an error).
    pub(crate) fn refusal(&self) -> Result<(), sio_result> {
        self.refused.map_or(Ok(()), Err)
    }
}

/// The server's tables, carved one after the other (counted when measuring), each filled
/// with unused entries. After a refusal (the block is short, or a size overflows) every
/// later table is refused too, and nothing more is written.
impl Lend<'static> for Carve {
    fn lend<T: Entry>(&mut self, n: usize) -> Option<&'static mut [T]> {
        if self.refused.is_some() {
            return None;
        }
        self.slice(n, T::empty).unwrap_or_else(|e| {
            self.refused = Some(e);
            None
        })
    }
}

/// A buffer of a handle: in the caller's block, or (with `std`) on the heap and freed with
/// the handle.
#[derive(Debug)]
pub(crate) struct Buf<T: 'static> {
    slice: *mut [T],
    #[cfg(feature = "std")]
    heap: bool,
}

impl<T> Buf<T> {
    /// A buffer carved from a lent block.
    pub(crate) fn lent(slice: &'static mut [T]) -> Self {
        Self {
            slice,
            #[cfg(feature = "std")]
            heap: false,
        }
    }

    /// An empty buffer (a lent handle's: the loop polls, not the callback).
    #[cfg(feature = "std")]
    pub(crate) fn empty() -> Self {
        Self::lent(&mut [])
    }

    /// A buffer on the heap.
    #[cfg(feature = "std")]
    pub(crate) fn heap(v: std::vec::Vec<T>) -> Self {
        Self {
            slice: std::boxed::Box::into_raw(v.into_boxed_slice()),
            heap: true,
        }
    }

    pub(crate) fn get(&mut self) -> &mut [T] {
        // SAFETY: a lent slice lives as long as the handle's block; a heap one until drop.
        unsafe { &mut *self.slice }
    }
}

#[cfg(feature = "std")]
impl<T> Drop for Buf<T> {
    fn drop(&mut self) {
        if self.heap {
            // SAFETY: made by `Box::into_raw` in `heap`, freed once here.
            drop(unsafe { std::boxed::Box::from_raw(self.slice) });
        }
    }
}
