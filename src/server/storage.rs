//! Caller-chosen capacities: every table of the server lives in a [`Slots`], a slice the
//! caller lends or (with `alloc`) a vector that grows on demand up to a maximum.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use super::event::EventSlot;
use super::ix::Ix;
use super::pool::{Block, Node};
use super::session::SessionSlot;
use super::socketio::{AckSlot, MemberSlot, NamespaceSlot, RoomSlot, SocketSlot};
use super::stream::StreamSlot;

/// "No entry" in the server's index links.
pub(crate) const NONE: u32 = u32::MAX;

/// Storage for one table: borrowed (fixed size) or, with `alloc`, owned and growing.
///
/// ```
/// use siocore::server::{SessionSlot, Slots};
///
/// let mut sessions = [SessionSlot::EMPTY; 4];
/// let slots: Slots<'_, SessionSlot> = Slots::from(&mut sessions[..]);
/// assert_eq!(slots.capacity(), 4);
/// ```
#[derive(Debug)]
pub struct Slots<'a, T> {
    inner: Inner<'a, T>,
}

#[derive(Debug)]
enum Inner<'a, T> {
    Borrowed(&'a mut [T]),
    #[cfg(feature = "alloc")]
    Owned {
        vec: Vec<T>,
        max: usize,
    },
}

impl<'a, T> From<&'a mut [T]> for Slots<'a, T> {
    fn from(slice: &'a mut [T]) -> Self {
        Self {
            inner: Inner::Borrowed(slice),
        }
    }
}

impl<T> Slots<'_, T> {
    /// An owned table that starts empty and grows one entry at a time up to `max`
    /// entries.
    #[cfg(feature = "alloc")]
    pub fn growable(max: usize) -> Slots<'static, T> {
        Slots {
            inner: Inner::Owned {
                vec: Vec::new(),
                max,
            },
        }
    }

    /// The most entries this table can ever hold.
    pub fn capacity(&self) -> usize {
        match &self.inner {
            Inner::Borrowed(s) => s.len(),
            #[cfg(feature = "alloc")]
            Inner::Owned { max, .. } => *max,
        }
    }

    /// Entries that exist now (for a growable table, those allocated so far).
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match &self.inner {
            Inner::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Inner::Owned { vec, .. } => vec,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.inner {
            Inner::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Inner::Owned { vec, .. } => vec,
        }
    }

    /// Appends `item` when the table may grow; gives it back otherwise.
    pub(crate) fn push(&mut self, item: T) -> Result<usize, T> {
        match &mut self.inner {
            Inner::Borrowed(_) => Err(item),
            #[cfg(feature = "alloc")]
            Inner::Owned { vec, max } => {
                if vec.len() >= *max || vec.len() >= NONE as usize {
                    return Err(item);
                }
                if vec.len() == vec.capacity() && vec.try_reserve(vec.len().max(4)).is_err() {
                    return Err(item);
                }
                vec.push(item);
                Ok(vec.len() - 1)
            }
        }
    }

    /// Moves the entries so that index `mid` comes first (a ring buffer unwrapping before
    /// it grows).
    pub(crate) fn rotate_left(&mut self, mid: usize) {
        let s = self.as_mut_slice();
        if mid < s.len() {
            s.rotate_left(mid);
        }
    }
}

/// An entry of a [`Table`]: something with a free-list link.
pub(crate) trait Entry: Sized {
    /// The value of an unused entry.
    fn empty() -> Self;
    /// The free-list link.
    fn link(&mut self) -> &mut u32;
    /// Makes a used entry unused again (on release and before reuse); an entry may keep
    /// what must survive reuse, such as a handle generation.
    fn reset(&mut self) {
        *self = Self::empty();
    }
}

/// Implements [`Entry`] for a slot type wrapping a struct with a `link` field; the fields
/// after `keep:` survive the reset between two uses of the slot.
macro_rules! slot_entry {
    ($slot:ty $(, keep: $($field:ident),+)?) => {
        impl $crate::server::storage::Entry for $slot {
            fn empty() -> Self {
                Self::EMPTY
            }
            fn link(&mut self) -> &mut u32 {
                self.0.link.raw_mut()
            }
            fn reset(&mut self) {
                let _kept = self.0;
                *self = Self::EMPTY;
                $($(self.0.$field = _kept.$field;)+)?
            }
        }
    };
}
pub(crate) use slot_entry;

/// A table with a free list: O(1) allocation and release, growth when allowed.
#[derive(Debug)]
pub(crate) struct Table<'a, T> {
    slots: Slots<'a, T>,
    free: u32,
    used: u32,
}

impl<'a, T: Entry> Table<'a, T> {
    pub(crate) fn new(mut slots: Slots<'a, T>) -> Self {
        let mut free = NONE;
        let len = slots.len().min(NONE as usize);
        for (i, slot) in slots.as_mut_slice().iter_mut().enumerate().take(len).rev() {
            *slot = T::empty();
            *slot.link() = free;
            free = i as u32;
        }
        Self {
            slots,
            free,
            used: 0,
        }
    }

    /// Takes an unused entry (reset to empty); `None` when the table is full.
    pub(crate) fn alloc(&mut self) -> Option<Ix<T>> {
        if self.free == NONE {
            let i = self.slots.push(T::empty()).ok()?;
            self.free = i as u32;
            *self.slots.as_mut_slice().get_mut(i)?.link() = NONE;
        }
        let i = self.free;
        let slot = self.slots.as_mut_slice().get_mut(i as usize)?;
        self.free = *slot.link();
        slot.reset();
        *slot.link() = NONE;
        self.used += 1;
        Some(Ix::new(i))
    }

    /// Returns entry `i` to the free list (reset to empty).
    pub(crate) fn release(&mut self, i: Ix<T>) {
        if let Some(slot) = self.slots.as_mut_slice().get_mut(i.at()) {
            let i = i.get();
            slot.reset();
            *slot.link() = self.free;
            self.free = i;
            self.used = self.used.saturating_sub(1);
        }
    }

    /// Whether `n` more entries can be had.
    pub(crate) fn can_take(&self, n: usize) -> bool {
        let free_now = self.slots.len() - self.used as usize;
        free_now.saturating_add(self.slots.capacity() - self.slots.len()) >= n
    }

    /// The most entries the table can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Entries that exist now (all of a borrowed table; those grown so far otherwise).
    pub(crate) fn len_slots(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn used(&self) -> usize {
        self.used as usize
    }

    /// The entry at raw position `n` (a public handle's index), if the table has it.
    pub(crate) fn ix(&self, n: u32) -> Option<Ix<T>> {
        ((n as usize) < self.slots.len()).then(|| Ix::new(n))
    }

    /// Every entry that exists now, used or not.
    pub(crate) fn indices(&self) -> impl Iterator<Item = Ix<T>> + use<T> {
        (0..self.slots.len() as u32).map(Ix::new)
    }
}

impl<T> core::ops::Index<Ix<T>> for Table<'_, T> {
    type Output = T;
    fn index(&self, i: Ix<T>) -> &T {
        &self.slots.as_slice()[i.at()]
    }
}

impl<T> core::ops::IndexMut<Ix<T>> for Table<'_, T> {
    fn index_mut(&mut self, i: Ix<T>) -> &mut T {
        &mut self.slots.as_mut_slice()[i.at()]
    }
}

/// Everything the server stores, one table per kind of entry; the caller picks each size.
///
/// Without an allocator, lend arrays of the `…::EMPTY` values:
///
/// ```
/// use siocore::server::*;
///
/// let mut sessions = [SessionSlot::EMPTY; 4];
/// let mut streams = [StreamSlot::EMPTY; 8];
/// let mut sockets = [SocketSlot::EMPTY; 8];
/// let mut namespaces = [NamespaceSlot::EMPTY; 2];
/// let mut rooms = [RoomSlot::EMPTY; 8];
/// let mut members = [MemberSlot::EMPTY; 16];
/// let mut acks = [AckSlot::EMPTY; 8];
/// let mut events = [EventSlot::EMPTY; 16];
/// let mut blocks = [Block::EMPTY; 64];
/// let mut nodes = [Node::EMPTY; 64];
/// let storage = Storage {
///     sessions: Slots::from(&mut sessions[..]),
///     streams: Slots::from(&mut streams[..]),
///     sockets: Slots::from(&mut sockets[..]),
///     namespaces: Slots::from(&mut namespaces[..]),
///     rooms: Slots::from(&mut rooms[..]),
///     members: Slots::from(&mut members[..]),
///     acks: Slots::from(&mut acks[..]),
///     events: Slots::from(&mut events[..]),
///     blocks: Slots::from(&mut blocks[..]),
///     nodes: Slots::from(&mut nodes[..]),
/// };
/// # let _ = storage;
/// ```
///
/// With `alloc`, [`Storage::growable`] makes every table a growing vector bounded by a
/// [`Capacity`].
#[derive(Debug)]
pub struct Storage<'a> {
    /// Engine.IO sessions (one per connected client).
    pub sessions: Slots<'a, SessionSlot>,
    /// TCP streams (one per connection: a WebSocket, a polling request, a plain HTTP one).
    pub streams: Slots<'a, StreamSlot>,
    /// Socket.IO sockets (one per client per namespace), pending or connected.
    pub sockets: Slots<'a, SocketSlot>,
    /// Namespaces: those of the configuration first, then dynamic ones.
    pub namespaces: Slots<'a, NamespaceSlot>,
    /// Rooms (per namespace; a socket's own-id room takes no entry).
    pub rooms: Slots<'a, RoomSlot>,
    /// Room memberships (one per socket per room joined).
    pub members: Slots<'a, MemberSlot>,
    /// Acknowledgements the server is waiting for.
    pub acks: Slots<'a, AckSlot>,
    /// Events waiting for [`Server::poll_event`](super::Server::poll_event).
    pub events: Slots<'a, EventSlot>,
    /// The byte pool: queued outgoing packets, event payloads, binary packets being
    /// assembled, HTTP responses. [`Block::DATA`] bytes each.
    pub blocks: Slots<'a, Block>,
    /// Queue entries: one per packet queued for a session (a broadcast takes one per
    /// recipient, its bytes only once) and per pending response part of a stream.
    pub nodes: Slots<'a, Node>,
}

/// The maximum size of each table, for [`Storage::growable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// See [`Storage::sessions`].
    pub sessions: usize,
    /// See [`Storage::streams`].
    pub streams: usize,
    /// See [`Storage::sockets`].
    pub sockets: usize,
    /// See [`Storage::namespaces`].
    pub namespaces: usize,
    /// See [`Storage::rooms`].
    pub rooms: usize,
    /// See [`Storage::members`].
    pub members: usize,
    /// See [`Storage::acks`].
    pub acks: usize,
    /// See [`Storage::events`].
    pub events: usize,
    /// See [`Storage::blocks`].
    pub blocks: usize,
    /// See [`Storage::nodes`].
    pub nodes: usize,
}

impl Capacity {
    /// Room for `sessions` clients with a few namespaces, rooms and acks each, and a byte
    /// pool of `pool_bytes`.
    pub const fn for_sessions(sessions: usize, pool_bytes: usize) -> Self {
        Self {
            sessions,
            streams: sessions.saturating_mul(2).saturating_add(16),
            sockets: sessions.saturating_mul(4),
            namespaces: 64,
            rooms: sessions.saturating_mul(4).saturating_add(64),
            members: sessions.saturating_mul(8),
            acks: sessions.saturating_mul(16),
            events: sessions.saturating_mul(8).saturating_add(1024),
            blocks: pool_bytes / Block::DATA + 1,
            nodes: sessions.saturating_mul(64).saturating_add(1024),
        }
    }
}

#[cfg(feature = "alloc")]
impl Storage<'static> {
    /// Growable tables, each starting empty and bounded by `max`.
    pub fn growable(max: Capacity) -> Self {
        Self {
            sessions: Slots::growable(max.sessions),
            streams: Slots::growable(max.streams),
            sockets: Slots::growable(max.sockets),
            namespaces: Slots::growable(max.namespaces),
            rooms: Slots::growable(max.rooms),
            members: Slots::growable(max.members),
            acks: Slots::growable(max.acks),
            events: Slots::growable(max.events),
            blocks: Slots::growable(max.blocks),
            nodes: Slots::growable(max.nodes),
        }
    }
}
