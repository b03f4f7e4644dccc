//! Errors shared by every codec.

use core::fmt;

/// An output buffer was too short for what had to be written.
///
/// `required` is the total size the buffer must have for the same call to succeed. The
/// buffer's content is unspecified after this error; nothing else changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes needed in total.
    pub required: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "output buffer too small: {} bytes needed", self.required)
    }
}

impl core::error::Error for BufferTooSmall {}
