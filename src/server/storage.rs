//! Caller-chosen capacities: every table of the server lives in a `Slots`, a slice the
//! caller lends (a [`ServerArena`]'s array, or memory a [`Lend`]er gives) or (with `alloc`)
//! a vector that grows on demand up to a maximum. The entry types are private: a caller
//! sizes tables with a [`Capacity`], and measures them with [`Capacity::ENTRY_BYTES`].

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use super::event::EventSlot;
use super::ix::Ix;
use super::pool::{BigBlock, Block, Node};
use super::session::SessionSlot;
use super::socketio::{AckSlot, MemberSlot, NamespaceSlot, RoomSlot, SocketSlot};
use super::stream::StreamSlot;

/// "No entry" in the server's index links.
pub(crate) const NONE: u32 = u32::MAX;

/// Storage for one table: borrowed (fixed size) or, with `alloc`, owned and growing.
#[derive(Debug)]
pub(crate) struct Slots<'a, T> {
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
    pub(crate) fn growable(max: usize) -> Slots<'static, T> {
        Slots {
            inner: Inner::Owned {
                vec: Vec::new(),
                max,
            },
        }
    }

    /// The most entries this table can ever hold.
    pub(crate) fn capacity(&self) -> usize {
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

mod sealed {
    /// Keeps [`Entry`](super::Entry) to the server's own entry types.
    pub trait Sealed {
        /// The value of an unused entry.
        const EMPTY: Self;
    }
}

/// One entry of one of the server's tables, as a [`Lend`]er meets it.
///
/// The eleven entry types are the server's own and have no public name: a lender sees them only
/// as the type parameter of [`Lend::lend`], where `size_of::<T>()` and `align_of::<T>()` give
/// their layout and [`T::empty()`](Entry::empty) the value to fill the memory with. The
/// trait is sealed: no other type implements it.
pub trait Entry: sealed::Sealed + Sized + 'static {
    /// The value of an unused entry.
    fn empty() -> Self {
        Self::EMPTY
    }
}

/// Implements [`Entry`] for each slot type, from its `EMPTY`.
macro_rules! entries {
    ($($slot:ty),+) => {
        $(
            impl sealed::Sealed for $slot {
                const EMPTY: Self = <$slot>::EMPTY;
            }
            impl Entry for $slot {}
        )+
    };
}
entries!(
    SessionSlot,
    StreamSlot,
    SocketSlot,
    NamespaceSlot,
    RoomSlot,
    MemberSlot,
    AckSlot,
    EventSlot,
    Block,
    Node,
    BigBlock
);

/// An entry of a [`Table`]: something with a free-list link.
pub(crate) trait Linked: Entry {
    /// The free-list link.
    fn link(&mut self) -> &mut u32;
    /// Makes a used entry unused again (on release and before reuse); an entry may keep
    /// what must survive reuse, such as a handle generation.
    fn reset(&mut self) {
        *self = Self::empty();
    }
}

/// Implements [`Linked`] for a slot type wrapping a struct with a `link` field; the fields
/// after `keep:` survive the reset between two uses of the slot.
macro_rules! slot_entry {
    ($slot:ty $(, keep: $($field:ident),+)?) => {
        impl $crate::server::storage::Linked for $slot {
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

impl<'a, T: Linked> Table<'a, T> {
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

/// Everything the server stores, one table per kind of entry; the caller picks each size
/// (a [`Capacity`]) and where the memory comes from:
///
/// * a [`ServerArena`], the tables as arrays sized by const generics, with no allocator: in
///   a `static`, on the stack or in a box ([`ServerArena::storage`]);
/// * memory the caller lends table by table at run time, through a [`Lend`]er
///   ([`Storage::lent`]): how the C library carves one caller's block;
/// * with `alloc`, vectors that start empty and grow up to a [`Capacity`]
///   ([`Storage::growable`]).
///
/// [`Capacity::ENTRY_BYTES`] and [`Capacity::bytes`] say how much memory the tables take.
///
/// ```
/// use siocore::Instant;
/// use siocore::server::{Server, ServerArena, ServerConfig};
///
/// // Sessions, streams, sockets, namespaces, rooms, members, acks, events, pool blocks,
/// // queue entries: room for 4 clients.
/// let mut arena = ServerArena::<4, 8, 8, 2, 8, 16, 8, 16, 64, 64>::new();
/// let server = Server::new(ServerConfig::DEFAULT, arena.storage(), [7; 32], Instant::ZERO);
/// assert!(server.is_ok());
/// ```
#[derive(Debug)]
pub struct Storage<'a> {
    // One table per field of `Capacity` (see there), in its order.
    pub(super) sessions: Slots<'a, SessionSlot>,
    pub(super) streams: Slots<'a, StreamSlot>,
    pub(super) sockets: Slots<'a, SocketSlot>,
    pub(super) namespaces: Slots<'a, NamespaceSlot>,
    pub(super) rooms: Slots<'a, RoomSlot>,
    pub(super) members: Slots<'a, MemberSlot>,
    pub(super) acks: Slots<'a, AckSlot>,
    pub(super) events: Slots<'a, EventSlot>,
    pub(super) blocks: Slots<'a, Block>,
    pub(super) nodes: Slots<'a, Node>,
    pub(super) big_blocks: Slots<'a, BigBlock>,
}

/// The size of each table of a [`Storage`], in entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Engine.IO sessions (one per connected client).
    pub sessions: usize,
    /// TCP streams (one per connection: a WebSocket, a polling request, a plain HTTP one).
    pub streams: usize,
    /// Socket.IO sockets (one per client per namespace), pending or connected.
    pub sockets: usize,
    /// Namespaces: those of the configuration first, then dynamic ones.
    pub namespaces: usize,
    /// Rooms (per namespace; a socket's own-id room takes no entry).
    pub rooms: usize,
    /// Room memberships (one per socket per room joined).
    pub members: usize,
    /// Acknowledgements the server is waiting for.
    pub acks: usize,
    /// Events waiting for [`Server::poll_event`](super::Server::poll_event).
    pub events: usize,
    /// Blocks of the byte pool: queued outgoing packets, event payloads, binary packets
    /// being assembled, HTTP responses. [`Capacity::BLOCK_DATA`] bytes of data each.
    pub blocks: usize,
    /// Queue entries: one per packet queued for a session (a broadcast takes one per
    /// recipient, its bytes only once) and per pending response part of a stream.
    pub nodes: usize,
    /// Big blocks of the byte pool, [`Capacity::BIG_BLOCK_DATA`] bytes of data each: a
    /// message expected to be large (a binary WebSocket message or attachment received, an
    /// attachment emitted, of about that size or more) keeps its header and first bytes in
    /// a small block and the rest in big ones, when they have room. 0: every message takes
    /// small blocks. Used only with the feature `alloc` (a bare-metal build compiles the big
    /// blocks out and sizes this table 0 in its arenas).
    pub big_blocks: usize,
}

impl Capacity {
    /// The bytes of one entry of each table on this target (its `size_of`), field by field.
    ///
    /// ```
    /// use siocore::server::Capacity;
    ///
    /// // A pool block is its data and a link.
    /// assert!(Capacity::ENTRY_BYTES.blocks > Capacity::BLOCK_DATA);
    /// ```
    pub const ENTRY_BYTES: Self = Self {
        sessions: size_of::<SessionSlot>(),
        streams: size_of::<StreamSlot>(),
        sockets: size_of::<SocketSlot>(),
        namespaces: size_of::<NamespaceSlot>(),
        rooms: size_of::<RoomSlot>(),
        members: size_of::<MemberSlot>(),
        acks: size_of::<AckSlot>(),
        events: size_of::<EventSlot>(),
        blocks: size_of::<Block>(),
        nodes: size_of::<Node>(),
        big_blocks: size_of::<BigBlock>(),
    };

    /// The data bytes of one block of the byte pool (the first block of a message keeps 12
    /// of them for its header).
    pub const BLOCK_DATA: usize = Block::DATA;

    /// The data bytes of one big block of the byte pool (see [`big_blocks`](Self::big_blocks)).
    pub const BIG_BLOCK_DATA: usize = BigBlock::DATA;

    /// Room for `sessions` clients with a few namespaces, rooms and acks each, and a byte
    /// pool of `pool_bytes` in small blocks; with the feature `alloc` as much again in big
    /// blocks for large messages (none without it).
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
            big_blocks: if super::BIG_BLOCKS {
                pool_bytes / BigBlock::DATA
            } else {
                0
            },
        }
    }

    /// The bytes the tables of this capacity take on this target: each table's entries
    /// times [`ENTRY_BYTES`](Self::ENTRY_BYTES), summed (`usize::MAX` if that overflows).
    /// Alignment padding between the tables is not counted: memory carved table by table
    /// takes up to an alignment's worth more at each table, and a [`ServerArena`] is laid
    /// out by the compiler.
    ///
    /// ```
    /// use siocore::server::Capacity;
    ///
    /// let cap = Capacity::for_sessions(4, 16 << 10);
    /// let e = Capacity::ENTRY_BYTES;
    /// assert!(cap.bytes() >= cap.sessions * e.sessions + cap.blocks * e.blocks);
    /// ```
    pub const fn bytes(&self) -> usize {
        let n = self.fields();
        let e = Self::ENTRY_BYTES.fields();
        let mut total = 0usize;
        let mut i = 0;
        while i < n.len() {
            total = total.saturating_add(n[i].saturating_mul(e[i]));
            i += 1;
        }
        total
    }

    /// The sizes in the order of the fields.
    const fn fields(&self) -> [usize; 11] {
        [
            self.sessions,
            self.streams,
            self.sockets,
            self.namespaces,
            self.rooms,
            self.members,
            self.acks,
            self.events,
            self.blocks,
            self.nodes,
            self.big_blocks,
        ]
    }
}

/// Lends a [`Storage`] the memory of its tables, one table at a time: for memory the caller
/// manages at run time (the C library carves the tables from one block the C caller lends
/// this way). See [`Storage::lent`].
///
/// ```
/// use siocore::server::{Capacity, Entry, Lend, Storage};
///
/// /// Leaks a vector per table (a program that runs until it ends can do that).
/// struct Leak;
///
/// impl Lend<'static> for Leak {
///     fn lend<T: Entry>(&mut self, n: usize) -> Option<&'static mut [T]> {
///         Some(Vec::from_iter((0..n).map(|_| T::empty())).leak())
///     }
/// }
///
/// let storage = Storage::lent(&Capacity::for_sessions(4, 16 << 10), &mut Leak);
/// assert!(storage.is_some());
/// ```
pub trait Lend<'a> {
    /// `n` entries of `T`, each [`T::empty()`](Entry::empty), for `'a`; `None` when they
    /// cannot be had. The table holds as many entries as the slice has.
    fn lend<T: Entry>(&mut self, n: usize) -> Option<&'a mut [T]>;
}

impl<'a> Storage<'a> {
    /// Tables of the sizes in `cap`, in memory `lender` lends. It is asked for every table,
    /// in the order of [`Capacity`]'s fields, even after it refused one (so a lender that
    /// only counts the bytes, refusing them all, counts every table); `None` if it refused
    /// any.
    pub fn lent(cap: &Capacity, lender: &mut impl Lend<'a>) -> Option<Self> {
        let sessions = lender.lend(cap.sessions);
        let streams = lender.lend(cap.streams);
        let sockets = lender.lend(cap.sockets);
        let namespaces = lender.lend(cap.namespaces);
        let rooms = lender.lend(cap.rooms);
        let members = lender.lend(cap.members);
        let acks = lender.lend(cap.acks);
        let events = lender.lend(cap.events);
        let blocks = lender.lend(cap.blocks);
        let nodes = lender.lend(cap.nodes);
        let big_blocks = lender.lend(cap.big_blocks);
        Some(Self {
            sessions: Slots::from(sessions?),
            streams: Slots::from(streams?),
            sockets: Slots::from(sockets?),
            namespaces: Slots::from(namespaces?),
            rooms: Slots::from(rooms?),
            members: Slots::from(members?),
            acks: Slots::from(acks?),
            events: Slots::from(events?),
            blocks: Slots::from(blocks?),
            nodes: Slots::from(nodes?),
            big_blocks: Slots::from(big_blocks?),
        })
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
            big_blocks: Slots::growable(max.big_blocks),
        }
    }
}

/// `N` unused entries, written straight into the caller's place. Not inlined on purpose:
/// an arena built from eleven inlined array loops is built in temporaries and then copied
/// (twice its size on the stack, and the copies in flash), while the result of a call is
/// written where it goes.
#[inline(never)]
fn unused<T: Entry, const N: usize>() -> [T; N] {
    [const { <T as sealed::Sealed>::EMPTY }; N]
}

/// The server's tables as arrays, their sizes const generics in the order of [`Capacity`]'s
/// fields (the last, big pool blocks, 0 unless given: a microcontroller's arena has none):
/// the storage of a server without an allocator, sized at compile time (as the
/// client's `NS` and `ACKS` are).
///
/// It takes [`Self::CAPACITY`]`.bytes()` bytes and a little padding. Make it where it should
/// live: on the stack or in a `StaticCell` with [`new`](Self::new), in a `static` with the
/// constant [`NEW`](Self::NEW); then lend it to one server at a time with
/// [`storage`](Self::storage).
///
/// ```
/// use siocore::Instant;
/// use siocore::server::{Capacity, Server, ServerArena, ServerConfig};
///
/// /// Four clients on a small board.
/// type Arena = ServerArena<
///     4,  // sessions
///     8,  // streams
///     8,  // sockets
///     2,  // namespaces
///     4,  // rooms
///     8,  // members
///     8,  // acks
///     8,  // events
///     32, // pool blocks
///     32, // queue entries
/// >;
/// assert_eq!(Arena::CAPACITY.blocks * Capacity::BLOCK_DATA, 8064);
///
/// let mut arena = Arena::new();
/// let mut server =
///     Server::new(ServerConfig::DEFAULT, arena.storage(), [7; 32], Instant::ZERO).unwrap();
/// let stream = server.open_stream(Instant::ZERO).unwrap();
/// # let _ = stream;
/// ```
pub struct ServerArena<
    const SESSIONS: usize,
    const STREAMS: usize,
    const SOCKETS: usize,
    const NAMESPACES: usize,
    const ROOMS: usize,
    const MEMBERS: usize,
    const ACKS: usize,
    const EVENTS: usize,
    const BLOCKS: usize,
    const NODES: usize,
    const BIG_BLOCKS: usize = 0,
> {
    sessions: [SessionSlot; SESSIONS],
    streams: [StreamSlot; STREAMS],
    sockets: [SocketSlot; SOCKETS],
    namespaces: [NamespaceSlot; NAMESPACES],
    rooms: [RoomSlot; ROOMS],
    members: [MemberSlot; MEMBERS],
    acks: [AckSlot; ACKS],
    events: [EventSlot; EVENTS],
    blocks: [Block; BLOCKS],
    nodes: [Node; NODES],
    big_blocks: [BigBlock; BIG_BLOCKS],
}

impl<
    const SESSIONS: usize,
    const STREAMS: usize,
    const SOCKETS: usize,
    const NAMESPACES: usize,
    const ROOMS: usize,
    const MEMBERS: usize,
    const ACKS: usize,
    const EVENTS: usize,
    const BLOCKS: usize,
    const NODES: usize,
    const BIG_BLOCKS: usize,
>
    ServerArena<
        SESSIONS,
        STREAMS,
        SOCKETS,
        NAMESPACES,
        ROOMS,
        MEMBERS,
        ACKS,
        EVENTS,
        BLOCKS,
        NODES,
        BIG_BLOCKS,
    >
{
    /// The table sizes.
    pub const CAPACITY: Capacity = Capacity {
        sessions: SESSIONS,
        streams: STREAMS,
        sockets: SOCKETS,
        namespaces: NAMESPACES,
        rooms: ROOMS,
        members: MEMBERS,
        acks: ACKS,
        events: EVENTS,
        blocks: BLOCKS,
        nodes: NODES,
        big_blocks: BIG_BLOCKS,
    };

    /// Every entry unused, as a constant: for a `static`'s initializer. A static made this
    /// way is initialized data (the entries' unused value is not all zeros), which takes its
    /// size in flash on a microcontroller as well as in RAM; [`new`](Self::new) at run time
    /// does not.
    pub const NEW: Self = Self {
        sessions: [SessionSlot::EMPTY; SESSIONS],
        streams: [StreamSlot::EMPTY; STREAMS],
        sockets: [SocketSlot::EMPTY; SOCKETS],
        namespaces: [NamespaceSlot::EMPTY; NAMESPACES],
        rooms: [RoomSlot::EMPTY; ROOMS],
        members: [MemberSlot::EMPTY; MEMBERS],
        acks: [AckSlot::EMPTY; ACKS],
        events: [EventSlot::EMPTY; EVENTS],
        blocks: [Block::EMPTY; BLOCKS],
        nodes: [Node::EMPTY; NODES],
        big_blocks: [BigBlock::EMPTY; BIG_BLOCKS],
    };

    /// Every entry unused. Called at run time (on the stack, or to fill a `StaticCell`), it
    /// writes the entries in place, with no copy of the arena in flash.
    pub fn new() -> Self {
        Self {
            sessions: unused(),
            streams: unused(),
            sockets: unused(),
            namespaces: unused(),
            rooms: unused(),
            members: unused(),
            acks: unused(),
            events: unused(),
            blocks: unused(),
            nodes: unused(),
            big_blocks: unused(),
        }
    }

    /// The tables, for [`Server::new`](super::Server::new). The server borrows the arena
    /// for its life; once it is dropped, the arena can serve the next one.
    pub fn storage(&mut self) -> Storage<'_> {
        Storage {
            sessions: Slots::from(&mut self.sessions[..]),
            streams: Slots::from(&mut self.streams[..]),
            sockets: Slots::from(&mut self.sockets[..]),
            namespaces: Slots::from(&mut self.namespaces[..]),
            rooms: Slots::from(&mut self.rooms[..]),
            members: Slots::from(&mut self.members[..]),
            acks: Slots::from(&mut self.acks[..]),
            events: Slots::from(&mut self.events[..]),
            blocks: Slots::from(&mut self.blocks[..]),
            nodes: Slots::from(&mut self.nodes[..]),
            big_blocks: Slots::from(&mut self.big_blocks[..]),
        }
    }
}

impl<
    const SESSIONS: usize,
    const STREAMS: usize,
    const SOCKETS: usize,
    const NAMESPACES: usize,
    const ROOMS: usize,
    const MEMBERS: usize,
    const ACKS: usize,
    const EVENTS: usize,
    const BLOCKS: usize,
    const NODES: usize,
    const BIG_BLOCKS: usize,
> Default
    for ServerArena<
        SESSIONS,
        STREAMS,
        SOCKETS,
        NAMESPACES,
        ROOMS,
        MEMBERS,
        ACKS,
        EVENTS,
        BLOCKS,
        NODES,
        BIG_BLOCKS,
    >
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const SESSIONS: usize,
    const STREAMS: usize,
    const SOCKETS: usize,
    const NAMESPACES: usize,
    const ROOMS: usize,
    const MEMBERS: usize,
    const ACKS: usize,
    const EVENTS: usize,
    const BLOCKS: usize,
    const NODES: usize,
    const BIG_BLOCKS: usize,
> core::fmt::Debug
    for ServerArena<
        SESSIONS,
        STREAMS,
        SOCKETS,
        NAMESPACES,
        ROOMS,
        MEMBERS,
        ACKS,
        EVENTS,
        BLOCKS,
        NODES,
        BIG_BLOCKS,
    >
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerArena")
            .field("capacity", &Self::CAPACITY)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is asked for; lends only empty tables.
    struct Count {
        asked: [(usize, usize); 11],
        calls: usize,
    }

    impl Lend<'static> for Count {
        fn lend<T: Entry>(&mut self, n: usize) -> Option<&'static mut [T]> {
            if let Some(a) = self.asked.get_mut(self.calls) {
                *a = (n, size_of::<T>());
            }
            self.calls += 1;
            if n == 0 { Some(&mut []) } else { None }
        }
    }

    const ZERO: Capacity = Capacity {
        sessions: 0,
        streams: 0,
        sockets: 0,
        namespaces: 0,
        rooms: 0,
        members: 0,
        acks: 0,
        events: 0,
        blocks: 0,
        nodes: 0,
        big_blocks: 0,
    };

    #[test]
    fn lent_asks_for_every_table_in_capacity_order_even_after_a_refusal() {
        let cap = Capacity::for_sessions(3, 1000);
        let mut count = Count {
            asked: [(0, 0); 11],
            calls: 0,
        };
        assert!(Storage::lent(&cap, &mut count).is_none());
        assert_eq!(count.calls, 11);
        let sizes = Capacity::ENTRY_BYTES.fields();
        for (i, n) in cap.fields().into_iter().enumerate() {
            assert_eq!(count.asked[i], (n, sizes[i]), "table {i}");
        }

        // One table refused among ten lent: still all eleven asked, and no storage.
        let mut count = Count {
            asked: [(0, 0); 11],
            calls: 0,
        };
        let one = Capacity { acks: 2, ..ZERO };
        assert!(Storage::lent(&one, &mut count).is_none());
        assert_eq!(count.calls, 11);

        let mut count = Count {
            asked: [(0, 0); 11],
            calls: 0,
        };
        let storage = Storage::lent(&ZERO, &mut count).unwrap();
        assert_eq!(count.calls, 11);
        assert_eq!(storage.sessions.capacity() + storage.nodes.capacity(), 0);
    }

    #[test]
    fn bytes_are_entries_times_entry_sizes() {
        let cap = Capacity::for_sessions(5, 4096);
        let e = Capacity::ENTRY_BYTES;
        let sum = cap.sessions * e.sessions
            + cap.streams * e.streams
            + cap.sockets * e.sockets
            + cap.namespaces * e.namespaces
            + cap.rooms * e.rooms
            + cap.members * e.members
            + cap.acks * e.acks
            + cap.events * e.events
            + cap.blocks * e.blocks
            + cap.nodes * e.nodes
            + cap.big_blocks * e.big_blocks;
        assert_eq!(cap.bytes(), sum);
        assert_eq!(ZERO.bytes(), 0);
        assert_eq!(
            Capacity {
                blocks: usize::MAX,
                ..ZERO
            }
            .bytes(),
            usize::MAX
        );
        assert_eq!(e.blocks, size_of::<Block>());
        assert_eq!(e.big_blocks, size_of::<BigBlock>());
    }

    #[test]
    fn an_arena_holds_its_capacity() {
        type Arena = ServerArena<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>;
        let cap = Arena::CAPACITY;
        assert_eq!(cap.fields(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(size_of::<Arena>() >= cap.bytes());
        let mut arena = Arena::NEW;
        let s = arena.storage();
        let got = [
            s.sessions.capacity(),
            s.streams.capacity(),
            s.sockets.capacity(),
            s.namespaces.capacity(),
            s.rooms.capacity(),
            s.members.capacity(),
            s.acks.capacity(),
            s.events.capacity(),
            s.blocks.capacity(),
            s.nodes.capacity(),
            s.big_blocks.capacity(),
        ];
        assert_eq!(got, cap.fields());
    }
}
