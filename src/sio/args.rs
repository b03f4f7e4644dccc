//! What an emit or an ack carries, on both roles: the arguments given ([`Args`]), the
//! attachments received ([`Attachments`]), the acknowledgement id ([`AckId`]), and the
//! check an argument list must pass before it is encoded ([`check_args`]).

use core::fmt;

use super::Placeholders;
use crate::json::{JsonError, Limits};

/// The most binary attachments one emit or ack may carry.
pub const MAX_EMIT_ATTACHMENTS: usize = 32;

/// Arguments of an emit or ack: raw JSON values, comma separated, and the blobs its
/// placeholders stand for.
///
/// `json` is the argument list without brackets (`1,"two",{"3":[true]}`, empty for none),
/// written as it is; it is validated. With binary arguments, `json` holds one
/// `{"_placeholder":true,"num":k}` per blob in `binary` (`k` from 0), as
/// [`ArgsWriter`](super::ArgsWriter) writes them and as received events carry them;
/// at most 32 blobs.
///
/// The blobs may instead be attachments received with an event ([`Args::attached`]): a
/// server then sends on the attachments of the event it handed out last without copying
/// them (it keeps that event's stored message until its next `poll_event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a> {
    /// The argument list.
    pub json: &'a [u8],
    /// The blobs, in `num` order (not read when `attached` has any).
    pub binary: &'a [&'a [u8]],
    /// Received attachments as the blobs, in `num` order; [`Attachments::NONE`] when the
    /// blobs are `binary`.
    pub attached: Attachments<'a>,
}

impl<'a> Args<'a> {
    /// No arguments.
    pub const NONE: Args<'static> = Args {
        json: b"",
        binary: &[],
        attached: Attachments::NONE,
    };

    /// Arguments without binary.
    pub const fn json(json: &'a [u8]) -> Self {
        Self {
            json,
            binary: &[],
            attached: Attachments::NONE,
        }
    }

    /// Arguments with binary attachments.
    pub const fn binary(json: &'a [u8], binary: &'a [&'a [u8]]) -> Self {
        Self {
            json,
            binary,
            attached: Attachments::NONE,
        }
    }

    /// Arguments whose placeholders stand for attachments received with an event (to send
    /// on what a client sent). Given to the server the event came from while it still
    /// holds that event (until its next `poll_event`), they are queued by reference to the
    /// stored message, not copied.
    pub const fn attached(json: &'a [u8], attached: Attachments<'a>) -> Self {
        Self {
            json,
            binary: &[],
            attached,
        }
    }

    /// How many blobs there are.
    pub const fn blob_count(&self) -> usize {
        if self.attached.is_empty() {
            self.binary.len()
        } else {
            self.attached.len()
        }
    }

    /// The blobs, in order.
    pub fn blob_iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let own = if self.attached.is_empty() {
            self.binary
        } else {
            &[]
        };
        own.iter().copied().chain(self.attached.iter())
    }

    /// The blobs as an array of slices (at most [`MAX_EMIT_ATTACHMENTS`]; the rest, which
    /// [`check_args`] refuses, are left out) and how many.
    pub fn blobs(&self) -> ([&'a [u8]; MAX_EMIT_ATTACHMENTS], usize) {
        let mut out = [&[][..]; MAX_EMIT_ATTACHMENTS];
        let mut n = 0;
        let mut put = |b: &'a [u8]| {
            if let Some(slot) = out.get_mut(n) {
                *slot = b;
                n += 1;
            }
        };
        if self.attached.is_empty() {
            self.binary.iter().for_each(|b| put(b));
        } else {
            self.attached.iter().for_each(put);
        }
        (out, n)
    }
}

/// An acknowledgement id, as it travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

/// The binary attachments of a Socket.IO event or ack, in `num` order: the blob for
/// `{"_placeholder":true,"num":k}` is `get(k)`.
#[derive(Clone, Copy)]
pub struct Attachments<'b> {
    /// `count` times: a 4-byte little-endian length, then that many bytes.
    raw: &'b [u8],
    /// How many, and [`STORED`]: handed out by a server from a stored message (which it
    /// may still hold).
    count: usize,
}

/// The flag of [`Attachments`]' count saying a server handed them out.
const STORED: usize = 1 << (usize::BITS - 1);

impl PartialEq for Attachments<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.raw == other.raw
    }
}

impl Eq for Attachments<'_> {}

impl fmt::Debug for Attachments<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(<[u8]>::len))
            .finish()
    }
}

impl<'b> Attachments<'b> {
    /// No attachments.
    pub const NONE: Attachments<'static> = Attachments { raw: &[], count: 0 };

    /// Attachments stored as `count` times a 4-byte little-endian length and the bytes.
    pub(crate) const fn from_raw(raw: &'b [u8], count: usize) -> Self {
        Self {
            raw,
            count: count & !STORED,
        }
    }

    /// [`from_raw`](Self::from_raw) for the bytes a server copied out of a stored message.
    pub(crate) const fn from_stored(raw: &'b [u8], count: usize) -> Self {
        Self {
            raw,
            count: count | STORED,
        }
    }

    /// The stored form (lengths and bytes), if a server handed these out of a message it
    /// kept.
    pub(crate) const fn stored_raw(&self) -> Option<&'b [u8]> {
        if self.count & STORED != 0 {
            Some(self.raw)
        } else {
            None
        }
    }

    /// How many there are.
    pub const fn len(&self) -> usize {
        self.count & !STORED
    }

    /// `true` when there are none.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Attachment `num`.
    pub fn get(&self, num: usize) -> Option<&'b [u8]> {
        self.iter().nth(num)
    }

    /// All of them, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'b [u8]> + 'b {
        let mut rest = self.raw;
        let mut left = self.len();
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let (blob, tail) = tail.split_at_checked(len)?;
            rest = tail;
            Some(blob)
        })
    }

    /// Collects up to `N` blobs into an array, to pass them on (for example to
    /// [`Args::binary`]); `None` when there are more than `N`.
    pub fn to_array<const N: usize>(&self) -> Option<([&'b [u8]; N], usize)> {
        let mut out = [&[][..]; N];
        let mut n = 0;
        for blob in self.iter() {
            *out.get_mut(n)? = blob;
            n += 1;
        }
        Some((out, n))
    }
}

/// Why an argument list cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsError {
    /// The arguments are not a valid JSON list.
    InvalidJson(JsonError),
    /// The placeholders in the arguments do not match the blobs given (or there are more
    /// than [`MAX_EMIT_ATTACHMENTS`] blobs).
    AttachmentMismatch {
        /// Placeholders found in the JSON.
        placeholders: usize,
        /// Blobs given.
        attachments: usize,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJson(e) => write!(f, "invalid JSON arguments: {e}"),
            Self::AttachmentMismatch {
                placeholders,
                attachments,
            } => write!(
                f,
                "{placeholders} placeholders for {attachments} binary attachments"
            ),
        }
    }
}

impl core::error::Error for ArgsError {}

/// Checks an argument list and its blobs: a valid JSON list (64 levels deep at most), and
/// one placeholder for each blob, numbered from 0, at most [`MAX_EMIT_ATTACHMENTS`].
pub fn check_args(args: &Args<'_>) -> Result<(), ArgsError> {
    Limits {
        max_depth: 64,
        max_size: usize::MAX,
    }
    .validate_list(args.json)
    .map_err(ArgsError::InvalidJson)?;
    let mut placeholders = 0usize;
    let blobs = args.blob_count();
    for p in Placeholders::new(args.json) {
        if p.num >= blobs {
            return Err(ArgsError::AttachmentMismatch {
                placeholders: placeholders + 1,
                attachments: blobs,
            });
        }
        placeholders += 1;
    }
    if placeholders != blobs || blobs > MAX_EMIT_ATTACHMENTS {
        return Err(ArgsError::AttachmentMismatch {
            placeholders,
            attachments: blobs,
        });
    }
    Ok(())
}
