//! The byte pool: messages as chains of fixed-size blocks, reference counted, and the
//! queues of messages that sessions and streams hold.
//!
//! One pool carries every byte the server must keep past a call: packets queued for a
//! client, event payloads waiting for the app, binary packets being assembled, HTTP
//! responses. Blocks never fragment: a message takes whole blocks and gives them back
//! when its last reference goes. A broadcast is one message referenced from many queues.
//!
//! Two sizes of block: every message starts in a small block (its header and first bytes),
//! and continues in small blocks, or, when it was created expecting to be large and the
//! pool has a table of big blocks ([`BigBlock`], with `alloc`), in big ones: a flag in its
//! header says which. A big block's index carries [`TAG`] wherever it is kept (a block's
//! link, the header's last block, a reader's position), so the two tables never mix.

use super::BIG_BLOCKS;
use super::engine::REPLY_ROOM;
use super::ix::Link;
use super::storage::{Linked, NONE, Slots, Table};

/// One block of the byte pool, of `N` data bytes: [`Block`] or [`BigBlock`].
#[derive(Clone)]
pub(crate) struct Chunk<const N: usize> {
    next: u32,
    data: [u8; N],
}

impl<const N: usize> core::fmt::Debug for Chunk<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Block")
            .field("size", &N)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<const N: usize> Chunk<N> {
    /// Payload bytes per block (the first block of a message, always a small one, keeps 12
    /// of them for its header).
    pub(crate) const DATA: usize = N;

    /// An unused block.
    pub(crate) const EMPTY: Self = Self {
        next: NONE,
        data: [0; N],
    };
}

/// One small block of the byte pool.
pub(crate) type Block = Chunk<252>;

/// One big block of the byte pool: the continuation of a message expected to be large.
pub(crate) type BigBlock = Chunk<4092>;

/// Marks a big block's index (the small table's indices stay below it).
const TAG: u32 = 1 << 31;

/// Whether messages may be views of others (sending on received attachments without a
/// copy); compiled in with `alloc`, as the big blocks are.
pub(crate) const VIEWS: bool = BIG_BLOCKS;

/// One queue entry: a message reference and the link to the next entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    msg: u32,
    next: Link<Self>,
}

impl Node {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self {
        msg: NONE,
        next: Link::NONE,
    };
}

impl Linked for Node {
    fn link(&mut self) -> &mut u32 {
        self.next.raw_mut()
    }
}

/// Header of a message in its first block: references (bit 31: binary, bit 30: continued
/// in big blocks, bit 29: a view), length, last block.
const HEAD: usize = 12;
/// Data bytes the first block holds.
const FIRST: usize = Block::DATA - HEAD;
const BINARY: u32 = 1 << 31;
const LARGE: u32 = 1 << 30;
/// A view: the message's bytes are a range of another message (its base), whose index and
/// offset its one block holds after the header; the view holds a reference to the base.
const VIEW: u32 = 1 << 29;
/// The flag bits of the header's first word; the rest counts references.
const FLAGS: u32 = BINARY | LARGE | VIEW;
/// The least length a message is expected to reach for its continuation to take big blocks.
const LARGE_MIN: usize = FIRST + BigBlock::DATA;

/// Messages that live in no block: the control packets every session sends, and
/// pre-framed WebSocket control frames.
pub(crate) mod stat {
    pub(crate) const BASE: u32 = 0xFFFF_FF00;
    /// Engine.IO `2` (ping).
    pub(crate) const PING: u32 = BASE;
    /// Engine.IO `6` (noop).
    pub(crate) const NOOP: u32 = BASE + 1;
    /// Engine.IO `1` (close).
    pub(crate) const CLOSE: u32 = BASE + 2;
    /// A server WebSocket frame carrying `3probe`.
    pub(crate) const PROBE_FRAME: u32 = BASE + 3;
    /// Engine.IO `3` (pong, the answer to a v3 client's ping).
    pub(crate) const PONG: u32 = BASE + 4;
    /// A server close frame with code `1000 + k` is `CLOSE_FRAME + k`, k in 0..16.
    pub(crate) const CLOSE_FRAME: u32 = BASE + 16;

    use crate::ws::{OpCode, short_frame_head};

    const CLOSE_FRAMES: [[u8; 4]; 16] = {
        let head = short_frame_head(OpCode::Close, 2);
        let mut t = [[0u8; 4]; 16];
        let mut k = 0;
        while k < 16 {
            let code = (1000 + k as u16).to_be_bytes();
            t[k] = [head[0], head[1], code[0], code[1]];
            k += 1;
        }
        t
    };

    /// `3probe` in a text frame.
    const PROBE: [u8; 8] = {
        let head = short_frame_head(OpCode::Text, 6);
        [head[0], head[1], b'3', b'p', b'r', b'o', b'b', b'e']
    };

    pub(crate) fn bytes(id: u32) -> &'static [u8] {
        match id {
            PING => b"2",
            NOOP => b"6",
            CLOSE => b"1",
            PROBE_FRAME => &PROBE,
            PONG => b"3",
            _ => match id.checked_sub(CLOSE_FRAME) {
                Some(k) if k < 16 => &CLOSE_FRAMES[k as usize],
                _ => b"",
            },
        }
    }

    /// The close frame for `code` if it is one of the static ones.
    pub(crate) fn close_frame(code: u16) -> u32 {
        match code.checked_sub(1000) {
            Some(k) if k < 16 => CLOSE_FRAME + u32::from(k),
            _ => CLOSE_FRAME,
        }
    }
}

/// A sequential reader over one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reader {
    /// Current block (or the static id).
    block: u32,
    /// Offset in the block's data (or in the static bytes).
    off: u32,
    /// Bytes left.
    left: u32,
}

impl Reader {
    pub(crate) const DONE: Self = Self {
        block: NONE,
        off: 0,
        left: 0,
    };

    pub(crate) const fn left(&self) -> usize {
        self.left as usize
    }
}

/// The block pool.
#[derive(Debug)]
pub(crate) struct Pool<'a> {
    blocks: Slots<'a, Block>,
    free: u32,
    free_count: u32,
    /// The big blocks (none without `alloc`, see [`BIG_BLOCKS`]); their free list holds
    /// tagged indices.
    big: Slots<'a, BigBlock>,
    big_free: u32,
    big_free_count: u32,
    pub(crate) nodes: Table<'a, Node>,
    /// Messages whose blocks were lent out with the last transmit (see [`Pool::lend`]).
    #[cfg(feature = "alloc")]
    lent: Lent,
}

/// The messages a vectored transmit lent blocks of: each holds a reference until the next
/// transmit is asked for, so that its blocks stay as they were while the caller writes
/// them. A fixed number: past it, bytes are copied.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy)]
struct Lent {
    msgs: [u32; Self::MAX],
    len: usize,
}

#[cfg(feature = "alloc")]
impl Lent {
    const MAX: usize = 16;
}

impl<'a> Pool<'a> {
    pub(crate) fn new(
        mut blocks: Slots<'a, Block>,
        nodes: Slots<'a, Node>,
        mut big: Slots<'a, BigBlock>,
    ) -> Self {
        let mut free = NONE;
        let len = blocks.len().min(TAG as usize);
        for (i, b) in blocks.as_mut_slice().iter_mut().enumerate().take(len).rev() {
            b.next = free;
            free = i as u32;
        }
        let mut big_free = NONE;
        let big_len = if BIG_BLOCKS {
            big.len().min((stat::BASE - TAG) as usize)
        } else {
            0
        };
        for (i, b) in big
            .as_mut_slice()
            .iter_mut()
            .enumerate()
            .take(big_len)
            .rev()
        {
            b.next = big_free;
            big_free = TAG | i as u32;
        }
        Self {
            blocks,
            free,
            free_count: len as u32,
            big,
            big_free,
            big_free_count: big_len as u32,
            nodes: Table::new(nodes),
            #[cfg(feature = "alloc")]
            lent: Lent {
                msgs: [NONE; Lent::MAX],
                len: 0,
            },
        }
    }

    fn take_block(&mut self) -> Option<u32> {
        if self.free == NONE {
            if self.blocks.len() >= TAG as usize {
                return None;
            }
            let i = self.blocks.push(Block::EMPTY).ok()?;
            self.free = i as u32;
            self.free_count += 1;
        }
        let i = self.free;
        let b = self.blocks.as_mut_slice().get_mut(i as usize)?;
        self.free = b.next;
        b.next = NONE;
        self.free_count -= 1;
        Some(i)
    }

    /// A big block (its tagged index).
    fn take_big(&mut self) -> Option<u32> {
        if !BIG_BLOCKS {
            return None;
        }
        if self.big_free == NONE {
            if self.big.len() >= (stat::BASE - TAG) as usize {
                return None;
            }
            let i = self.big.push(BigBlock::EMPTY).ok()?;
            self.big_free = TAG | i as u32;
            self.big_free_count += 1;
        }
        let i = self.big_free;
        let b = self.big.as_mut_slice().get_mut((i & !TAG) as usize)?;
        self.big_free = b.next;
        b.next = NONE;
        self.big_free_count -= 1;
        Some(i)
    }

    /// Whether `b` (a link) is a big block's.
    #[inline(always)]
    pub(crate) const fn is_big(b: u32) -> bool {
        BIG_BLOCKS && b & TAG != 0
    }

    /// The data of block `b`, small or big.
    fn data(&self, b: u32) -> Option<&[u8]> {
        if Self::is_big(b) {
            self.big
                .as_slice()
                .get((b & !TAG) as usize)
                .map(|x| &x.data[..])
        } else {
            self.blocks.as_slice().get(b as usize).map(|x| &x.data[..])
        }
    }

    fn data_mut(&mut self, b: u32) -> Option<&mut [u8]> {
        if Self::is_big(b) {
            self.big
                .as_mut_slice()
                .get_mut((b & !TAG) as usize)
                .map(|x| &mut x.data[..])
        } else {
            self.blocks
                .as_mut_slice()
                .get_mut(b as usize)
                .map(|x| &mut x.data[..])
        }
    }

    /// The link of block `b` (`NONE` past the end, or for no block).
    fn next_of(&self, b: u32) -> u32 {
        if Self::is_big(b) {
            self.big
                .as_slice()
                .get((b & !TAG) as usize)
                .map_or(NONE, |x| x.next)
        } else {
            self.blocks
                .as_slice()
                .get(b as usize)
                .map_or(NONE, |x| x.next)
        }
    }

    fn set_next(&mut self, b: u32, next: u32) {
        if Self::is_big(b) {
            if let Some(x) = self.big.as_mut_slice().get_mut((b & !TAG) as usize) {
                x.next = next;
            }
        } else if let Some(x) = self.blocks.as_mut_slice().get_mut(b as usize) {
            x.next = next;
        }
    }

    /// Blocks a message of `len` bytes needs in small blocks only.
    const fn blocks_for(len: usize) -> usize {
        if len <= FIRST {
            1
        } else {
            1 + (len - FIRST).div_ceil(Block::DATA)
        }
    }

    /// Big blocks a message of `len` bytes continued in big blocks needs (besides its first,
    /// small, block).
    const fn big_for(len: usize) -> usize {
        len.saturating_sub(FIRST).div_ceil(BigBlock::DATA)
    }

    /// Whether message `msg` continues in big blocks.
    pub(crate) fn is_large(&self, msg: u32) -> bool {
        BIG_BLOCKS && msg < stat::BASE && self.word(msg, 0) & LARGE != 0
    }

    /// Whether message `msg` has bytes in big blocks: it continues in them, or it is a view
    /// of one that does.
    #[cfg(feature = "alloc")]
    pub(crate) fn reads_big(&self, msg: u32) -> bool {
        self.is_large(msg) || (self.is_view(msg) && self.is_large(self.view_of(msg).0))
    }

    /// Whether message `msg` is a view of another ([`view`](Self::view)).
    fn is_view(&self, msg: u32) -> bool {
        VIEWS && msg < stat::BASE && self.word(msg, 0) & VIEW != 0
    }

    /// A view's base message and where in it the view starts.
    fn view_of(&self, view: u32) -> (u32, usize) {
        (self.word(view, HEAD), self.word(view, HEAD + 4) as usize)
    }

    /// A new message (one reference, binary or not) of the `len` bytes of `base` from `at`
    /// on, sharing its blocks: it takes one small block and holds a reference to `base`
    /// until its own last one goes. `None` when the pool has no block for it, or the range
    /// is not in `base` (the caller copies then).
    pub(crate) fn view(&mut self, base: u32, at: usize, len: usize, binary: bool) -> Option<u32> {
        if !VIEWS || base >= stat::BASE {
            return None;
        }
        let (base, at) = if self.is_view(base) {
            let (b, a) = self.view_of(base);
            (b, a.checked_add(at)?)
        } else {
            (base, at)
        };
        if at.checked_add(len)? > self.len(base) || u32::try_from(at).is_err() {
            return None;
        }
        let v = self.take_block()?;
        self.set_word(v, 0, 1 | VIEW | if binary { BINARY } else { 0 });
        self.set_word(v, 4, len as u32);
        self.set_word(v, 8, v);
        self.set_word(v, HEAD, base);
        self.set_word(v, HEAD + 4, at as u32);
        self.retain(base);
        Some(v)
    }

    /// Small and big blocks message `msg` takes (a view: its own block).
    fn blocks_of(&self, msg: u32) -> (usize, usize) {
        let len = self.word(msg, 4) as usize;
        if self.is_view(msg) {
            (1, 0)
        } else if self.is_large(msg) {
            (1, Self::big_for(len))
        } else {
            (Self::blocks_for(len), 0)
        }
    }

    /// What keeping message `msg` in a queue holds of the pool: its blocks and one queue
    /// entry, in bytes.
    #[cfg(feature = "recovery")]
    pub(crate) fn cost(&self, msg: u32) -> usize {
        if self.is_view(msg) {
            // Its block, and what it keeps of its base (shared with others, counted whole).
            return size_of::<Block>() + self.cost(self.view_of(msg).0);
        }
        let len = self.len(msg);
        let (small, big) = if self.is_large(msg) {
            (1, Self::big_for(len))
        } else {
            (Self::blocks_for(len), 0)
        };
        small * size_of::<Block>() + big * size_of::<BigBlock>() + size_of::<Node>()
    }

    /// Small blocks free or still to grow.
    fn small_room(&self) -> usize {
        let spare = self.blocks.capacity() - self.blocks.len();
        (self.free_count as usize).saturating_add(spare)
    }

    /// Big blocks free or still to grow.
    fn big_room(&self) -> usize {
        if !BIG_BLOCKS {
            return 0;
        }
        let spare = self.big.capacity() - self.big.len();
        (self.big_free_count as usize).saturating_add(spare)
    }

    /// Whether `len` more message bytes (in new messages) can be stored now; for a
    /// growable pool this counts what it may still grow by. Bytes that would go to big
    /// blocks count there, besides a first block and a reply in small ones.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        let small = self.small_room();
        small >= Self::blocks_for(len)
            || (BIG_BLOCKS
                && len >= LARGE_MIN
                && small > Self::blocks_for(REPLY_ROOM)
                && self.big_room() >= Self::big_for(len))
    }

    /// [`has_room`](Self::has_room) for `len` bytes of which some may go to message
    /// `into` (`NONE`: none), which takes small blocks only once it went past its first
    /// block in them.
    pub(crate) fn has_room_into(&self, into: u32, len: usize) -> bool {
        if BIG_BLOCKS && into < stat::BASE && !self.is_large(into) && self.len(into) > FIRST {
            return self.small_room() >= Self::blocks_for(len);
        }
        self.has_room(len)
    }

    /// Small blocks in use, for the memory report.
    pub(crate) fn used_blocks(&self) -> usize {
        self.blocks.len() - self.free_count as usize
    }

    /// Big blocks in use, for the memory report (none without `alloc`, where the table of
    /// an arena that has one is left unused and its free count stays 0).
    pub(crate) fn used_big_blocks(&self) -> usize {
        if !BIG_BLOCKS {
            return 0;
        }
        self.big.len() - self.big_free_count as usize
    }

    fn word(&self, block: u32, at: usize) -> u32 {
        self.blocks
            .as_slice()
            .get(block as usize)
            .and_then(|b| b.data.get(at..at + 4))
            .and_then(|w| w.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    fn set_word(&mut self, block: u32, at: usize, value: u32) {
        if let Some(w) = self
            .blocks
            .as_mut_slice()
            .get_mut(block as usize)
            .and_then(|b| b.data.get_mut(at..at + 4))
        {
            w.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// A new empty message with one reference.
    pub(crate) fn new_msg(&mut self, binary: bool) -> Option<u32> {
        let b = self.take_block()?;
        self.set_word(b, 0, 1 | if binary { BINARY } else { 0 });
        self.set_word(b, 4, 0);
        self.set_word(b, 8, b);
        Some(b)
    }

    /// A new empty message with one reference, expected to reach `len` bytes: a large one
    /// continues in big blocks when the pool has room in them.
    pub(crate) fn new_msg_for(&mut self, binary: bool, len: usize) -> Option<u32> {
        let msg = self.new_msg(binary)?;
        self.expect(msg, len);
        Some(msg)
    }

    /// Says that `more` bytes are about to be appended to `msg`: if that makes it large,
    /// the pool has room in big blocks and the message has not yet gone past its first
    /// block, it continues in big blocks.
    pub(crate) fn expect(&mut self, msg: u32, more: usize) {
        if !BIG_BLOCKS || msg >= stat::BASE || self.is_view(msg) {
            return;
        }
        let len = self.word(msg, 4) as usize;
        let total = len.saturating_add(more);
        if len <= FIRST && total >= LARGE_MIN && self.big_room() >= Self::big_for(total) {
            let w = self.word(msg, 0);
            self.set_word(msg, 0, w | LARGE);
        }
    }

    /// A new message holding `bytes`; `None` (nothing kept) when the pool is full.
    pub(crate) fn msg_from(&mut self, binary: bool, parts: &[&[u8]]) -> Option<u32> {
        let total = parts.iter().map(|p| p.len()).sum();
        if !self.has_room(total) {
            return None;
        }
        let msg = self.new_msg_for(binary, total)?;
        for part in parts {
            if !self.append(msg, part) {
                self.release(msg);
                return None;
            }
        }
        Some(msg)
    }

    /// Appends `bytes` to `msg`; `false` when the pool ran out (the message then holds a
    /// prefix of them; the caller releases it).
    pub(crate) fn append(&mut self, msg: u32, mut bytes: &[u8]) -> bool {
        if msg >= stat::BASE || self.is_view(msg) {
            return false;
        }
        let large = self.is_large(msg);
        let size = if large { BigBlock::DATA } else { Block::DATA };
        let mut len = self.word(msg, 4) as usize;
        let mut tail = self.word(msg, 8);
        let mut ok = true;
        while !bytes.is_empty() {
            let (mut start, mut room) = if len < FIRST {
                (HEAD + len, FIRST - len)
            } else {
                let used = (len - FIRST) % size;
                (used, if used == 0 { 0 } else { size - used })
            };
            if room == 0 {
                let next = if large {
                    self.take_big()
                } else {
                    self.take_block()
                };
                let Some(b) = next else {
                    ok = false;
                    break;
                };
                self.set_next(tail, b);
                tail = b;
                (start, room) = (0, size);
            }
            let n = bytes.len().min(room);
            let (now, rest) = bytes.split_at(n);
            if let Some(d) = self
                .data_mut(tail)
                .and_then(|d| d.get_mut(start..start + n))
            {
                d.copy_from_slice(now);
            }
            len += n;
            bytes = rest;
        }
        self.set_word(msg, 4, len as u32);
        self.set_word(msg, 8, tail);
        ok
    }

    /// Overwrites bytes already appended at `at`, within the first block.
    pub(crate) fn overwrite(&mut self, msg: u32, at: usize, bytes: &[u8]) {
        if msg >= stat::BASE || self.is_view(msg) || at + bytes.len() > FIRST.min(self.len(msg)) {
            return;
        }
        if let Some(d) = self
            .blocks
            .as_mut_slice()
            .get_mut(msg as usize)
            .and_then(|b| b.data.get_mut(HEAD + at..HEAD + at + bytes.len()))
        {
            d.copy_from_slice(bytes);
        }
    }

    /// Message length in bytes.
    pub(crate) fn len(&self, msg: u32) -> usize {
        if msg >= stat::BASE {
            stat::bytes(msg).len()
        } else {
            self.word(msg, 4) as usize
        }
    }

    /// Whether the message is a binary Engine.IO packet.
    pub(crate) fn is_binary(&self, msg: u32) -> bool {
        msg < stat::BASE && self.word(msg, 0) & BINARY != 0
    }

    /// Adds a reference.
    pub(crate) fn retain(&mut self, msg: u32) {
        if msg < stat::BASE {
            let w = self.word(msg, 0);
            self.set_word(msg, 0, (w & FLAGS) | ((w & !FLAGS) + 1));
        }
    }

    /// Drops a reference; the blocks go back to the pool with the last one.
    pub(crate) fn release(&mut self, msg: u32) {
        if msg >= stat::BASE {
            return;
        }
        let w = self.word(msg, 0);
        let refs = w & !FLAGS;
        if refs > 1 {
            self.set_word(msg, 0, (w & FLAGS) | (refs - 1));
            return;
        }
        // The whole chain goes back at once, in its order: its last block (kept in the
        // header) links to the free list, so a large message costs no walk here, and the
        // next message takes the same blocks in the order they were just used. A message
        // continued in big blocks gives its first block back to the small list and the
        // rest to the big one.
        if self.is_view(msg) {
            let (base, _) = self.view_of(msg);
            self.set_next(msg, self.free);
            self.free = msg;
            self.free_count += 1;
            self.release(base);
            return;
        }
        let tail = self.word(msg, 8);
        let (small, big) = self.blocks_of(msg);
        debug_assert_eq!(self.chain_len(msg), (small + big) as u32);
        if big > 0 {
            let first_big = self.next_of(msg);
            self.set_next(tail, self.big_free);
            self.big_free = first_big;
            self.big_free_count += big as u32;
            self.set_next(msg, self.free);
        } else {
            self.set_next(tail, self.free);
        }
        self.free = msg;
        self.free_count += small as u32;
    }

    /// Blocks in the chain starting at `b`, for the debug check of the header's count
    /// (a broken chain stops the count at one more than the pool holds).
    fn chain_len(&self, mut b: u32) -> u32 {
        let most = self.blocks.len() + self.big.len();
        let mut n = 0;
        while self.data(b).is_some() {
            n += 1;
            if n as usize > most {
                break;
            }
            b = self.next_of(b);
        }
        n
    }

    /// A reader at the start of `msg`.
    pub(crate) fn reader(&self, msg: u32) -> Reader {
        if msg >= stat::BASE {
            return Reader {
                block: msg,
                off: 0,
                left: stat::bytes(msg).len() as u32,
            };
        }
        if self.is_view(msg) {
            let (base, at) = self.view_of(msg);
            let mut r = self.reader(base);
            self.skip(&mut r, at);
            r.left = r.left.min(self.word(msg, 4));
            return r;
        }
        Reader {
            block: msg,
            off: HEAD as u32,
            left: self.word(msg, 4),
        }
    }

    /// Copies the next bytes of the message into `out`; returns how many.
    pub(crate) fn read(&self, r: &mut Reader, out: &mut [u8]) -> usize {
        let mut done = 0;
        while done < out.len() && r.left > 0 {
            let src: &[u8] = if r.block >= stat::BASE {
                stat::bytes(r.block)
                    .get(r.off as usize..)
                    .unwrap_or_default()
            } else {
                let size = if Self::is_big(r.block) {
                    BigBlock::DATA
                } else {
                    Block::DATA
                };
                if r.off as usize == size {
                    r.block = self.next_of(r.block);
                    r.off = 0;
                }
                match self.data(r.block) {
                    Some(d) => d.get(r.off as usize..).unwrap_or_default(),
                    None => {
                        r.left = 0;
                        break;
                    }
                }
            };
            let n = src.len().min(r.left as usize).min(out.len() - done);
            if n == 0 {
                r.left = 0;
                break;
            }
            out[done..done + n].copy_from_slice(&src[..n]);
            done += n;
            r.off += n as u32;
            r.left -= n as u32;
        }
        done
    }

    /// The next bytes of the message that lie together in one block, at most `max` of
    /// them: the block (or static id), the offset in its data, the length; the reader
    /// moves past them. `None` at the end.
    #[cfg(feature = "alloc")]
    pub(crate) fn next_run(&self, r: &mut Reader, max: usize) -> Option<(u32, u32, u32)> {
        if r.left == 0 || max == 0 {
            return None;
        }
        let avail = if r.block >= stat::BASE {
            stat::bytes(r.block).len().saturating_sub(r.off as usize)
        } else {
            let size = if Self::is_big(r.block) {
                BigBlock::DATA
            } else {
                Block::DATA
            };
            if r.off as usize == size {
                r.block = self.next_of(r.block);
                r.off = 0;
            }
            match self.data(r.block) {
                Some(d) => d.len().saturating_sub(r.off as usize),
                None => 0,
            }
        };
        let n = avail.min(r.left as usize).min(max) as u32;
        if n == 0 {
            r.left = 0;
            return None;
        }
        let run = (r.block, r.off, n);
        r.off += n;
        r.left -= n;
        Some(run)
    }

    /// The bytes of a run from [`next_run`](Self::next_run).
    #[cfg(feature = "alloc")]
    pub(crate) fn run(&self, (block, off, len): (u32, u32, u32)) -> &[u8] {
        let (off, len) = (off as usize, len as usize);
        let data = if block >= stat::BASE {
            Some(stat::bytes(block))
        } else {
            self.data(block)
        };
        data.and_then(|d| d.get(off..off + len)).unwrap_or_default()
    }

    /// Keeps `msg` until the next [`return_lent`](Self::return_lent), because blocks of it
    /// are lent out; `false` when no more messages can be kept (its bytes are then copied).
    #[cfg(feature = "alloc")]
    pub(crate) fn lend(&mut self, msg: u32) -> bool {
        let l = &self.lent;
        if l.len > 0 && l.msgs[l.len - 1] == msg {
            return true;
        }
        if l.len == Lent::MAX || msg >= stat::BASE {
            return false;
        }
        self.lent.msgs[self.lent.len] = msg;
        self.lent.len += 1;
        self.retain(msg);
        true
    }

    /// Drops the references [`lend`](Self::lend) took: the caller is done with the blocks.
    #[inline]
    pub(crate) fn return_lent(&mut self) {
        #[cfg(feature = "alloc")]
        while self.lent.len > 0 {
            self.lent.len -= 1;
            self.release(self.lent.msgs[self.lent.len]);
        }
    }

    /// Skips `n` bytes (a block at a time, reading none).
    pub(crate) fn skip(&self, r: &mut Reader, n: usize) {
        let mut n = n.min(r.left as usize) as u32;
        if r.block >= stat::BASE {
            r.off += n;
            r.left -= n;
            return;
        }
        while n > 0 {
            let size = if Self::is_big(r.block) {
                BigBlock::DATA
            } else {
                Block::DATA
            } as u32;
            if r.off == size {
                r.block = self.next_of(r.block);
                r.off = 0;
                if self.data(r.block).is_none() {
                    r.left = 0;
                    return;
                }
            }
            let k = (size - r.off).min(n);
            r.off += k;
            r.left -= k;
            n -= k;
        }
    }

    #[cfg(feature = "recovery")]
    /// The message of the queue entry at `at` (from [`Queue::cursor`]); moves `at` to the
    /// next one.
    pub(crate) fn next_in(&self, at: &mut Link<Node>) -> Option<u32> {
        let node = self.nodes[at.get()?];
        *at = node.next;
        Some(node.msg)
    }

    /// Copies the whole message into `out` (which must be long enough); returns its length.
    pub(crate) fn copy_all(&self, msg: u32, out: &mut [u8]) -> usize {
        let mut r = self.reader(msg);
        self.read(&mut r, out)
    }
}

/// A FIFO of message references, linked through [`Node`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queue {
    head: Link<Node>,
    tail: Link<Node>,
    /// Entries queued.
    pub(crate) count: u32,
    /// Sum of the queued messages' lengths.
    pub(crate) bytes: u32,
}

impl Queue {
    pub(crate) const EMPTY: Self = Self {
        head: Link::NONE,
        tail: Link::NONE,
        count: 0,
        bytes: 0,
    };

    pub(crate) const fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Queues a reference to `msg` (the queue takes over one reference); `false` when no
    /// node is free (the reference is still the caller's).
    pub(crate) fn push(&mut self, pool: &mut Pool<'_>, msg: u32) -> bool {
        let Some(n) = pool.nodes.alloc() else {
            return false;
        };
        pool.nodes[n].msg = msg;
        match self.tail.get() {
            None => self.head = n.into(),
            Some(t) => pool.nodes[t].next = n.into(),
        }
        self.tail = n.into();
        self.count += 1;
        self.bytes = self.bytes.saturating_add(pool.len(msg) as u32);
        true
    }

    /// The message of the `k`-th entry (walks the list), with the reader position unknown.
    pub(crate) fn iter<'p>(&self, pool: &'p Pool<'_>) -> impl Iterator<Item = u32> + 'p {
        let mut n = self.head;
        core::iter::from_fn(move || {
            let node = pool.nodes[n.get()?];
            n = node.next;
            Some(node.msg)
        })
    }

    #[cfg(feature = "recovery")]
    /// Where a walk over the entries starts (see [`Pool::next_in`]).
    pub(crate) const fn cursor(&self) -> Link<Node> {
        self.head
    }

    /// Unlinks the first entry; returns its message (the reference passes to the caller).
    pub(crate) fn pop(&mut self, pool: &mut Pool<'_>) -> Option<u32> {
        let n = self.head.get()?;
        let node = pool.nodes[n];
        self.head = node.next;
        if self.head.is_none() {
            self.tail = Link::NONE;
        }
        pool.nodes.release(n);
        self.count -= 1;
        self.bytes = self.bytes.saturating_sub(pool.len(node.msg) as u32);
        Some(node.msg)
    }

    /// Empties the queue, dropping its references.
    pub(crate) fn clear(&mut self, pool: &mut Pool<'_>) {
        while let Some(msg) = self.pop(pool) {
            pool.release(msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_round_trip_and_free() {
        let mut blocks = [Block::EMPTY; 8];
        let mut nodes = [Node::EMPTY; 4];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut []);
        let data: [u8; 700] = core::array::from_fn(|i| i as u8);
        let msg = pool.msg_from(true, &[&data[..300], &data[300..]]).unwrap();
        assert_eq!(pool.len(msg), 700);
        assert!(pool.is_binary(msg));
        assert_eq!(pool.free_count, 8 - 3);
        let mut out = [0u8; 800];
        assert_eq!(pool.copy_all(msg, &mut out), 700);
        assert_eq!(out[..700], data);
        // Read in odd pieces.
        let mut r = pool.reader(msg);
        let mut got = [0u8; 700];
        let mut at = 0;
        while r.left() > 0 {
            at += pool.read(&mut r, &mut got[at..(at + 13).min(700)]);
        }
        assert_eq!(got, data);
        pool.retain(msg);
        pool.release(msg);
        assert_eq!(pool.free_count, 5);
        pool.release(msg);
        assert_eq!(pool.free_count, 8);
        // Too big for the pool: nothing kept.
        assert!(pool.msg_from(false, &[&[0u8; 2100]]).is_none());
        assert_eq!(pool.free_count, 8);
    }

    #[test]
    fn released_chains_are_whole_again() {
        // Messages of every length class, released out of order and interleaved with new
        // ones: the free list always holds every block not in use, each exactly once.
        let mut blocks = [Block::EMPTY; 16];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut []);
        let data = [7u8; 16 * Block::DATA];
        let lens = [
            0,
            1,
            FIRST,
            FIRST + 1,
            FIRST + Block::DATA,
            3 * Block::DATA + 5,
        ];
        let mut held = [NONE; 6];
        for round in 0..20 {
            for (k, &len) in lens.iter().enumerate() {
                if (round + k) % 3 == 0 && held[k] != NONE {
                    pool.release(held[k]);
                    held[k] = NONE;
                } else if held[k] == NONE {
                    held[k] = pool.msg_from(false, &[&data[..len]]).unwrap();
                }
            }
            let used: usize = held
                .iter()
                .zip(lens)
                .filter(|(m, _)| **m != NONE)
                .map(|(_, len)| Pool::blocks_for(len))
                .sum();
            assert_eq!(pool.free_count as usize, 16 - used);
            let mut free = 0;
            let mut b = pool.free;
            while b != NONE {
                free += 1;
                assert!(free <= 16, "the free list loops");
                b = pool.blocks.as_slice()[b as usize].next;
            }
            assert_eq!(free, 16 - used);
        }
        for m in held.into_iter().filter(|&m| m != NONE) {
            pool.release(m);
        }
        // Every block back: one message can take them all.
        assert!(
            pool.msg_from(false, &[&data[..FIRST + 15 * Block::DATA]])
                .is_some()
        );
    }

    #[test]
    fn queues_share_messages() {
        let mut blocks = [Block::EMPTY; 4];
        let mut nodes = [Node::EMPTY; 3];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut []);
        let msg = pool.msg_from(false, &[b"42[\"x\"]"]).unwrap();
        let (mut a, mut b) = (Queue::EMPTY, Queue::EMPTY);
        pool.retain(msg);
        assert!(a.push(&mut pool, msg));
        assert!(b.push(&mut pool, msg));
        assert!(a.push(&mut pool, stat::PING));
        assert!(!b.push(&mut pool, stat::PING), "no node left");
        assert_eq!((a.count, a.bytes), (2, 8));
        a.clear(&mut pool);
        assert_eq!(pool.len(msg), 7, "still referenced by b");
        assert_eq!(b.pop(&mut pool), Some(msg));
        pool.release(msg);
        assert_eq!(pool.free_count, 4);
    }

    /// A pool on the tables given.
    fn pool_of<'a>(
        blocks: &'a mut [Block],
        nodes: &'a mut [Node],
        big: &'a mut [BigBlock],
    ) -> Pool<'a> {
        Pool::new(Slots::from(blocks), Slots::from(nodes), Slots::from(big))
    }

    /// Lengths of the two free lists, walked (each stops at a loop).
    fn free_lists(pool: &Pool<'_>) -> (usize, usize) {
        let walk = |mut b: u32, most: usize| {
            let mut n = 0;
            while b != NONE {
                n += 1;
                assert!(n <= most, "a free list loops");
                b = pool.next_of(b);
            }
            n
        };
        (
            walk(pool.free, pool.blocks.len()),
            walk(pool.big_free, pool.big.len()),
        )
    }

    /// Bytes that tell their offset apart.
    fn pattern<const N: usize>() -> [u8; N] {
        core::array::from_fn(|i| (i * 7 + i / 251) as u8)
    }

    /// A large message: its first block small, the rest in big blocks.
    const BIG_LEN: usize = FIRST + 2 * BigBlock::DATA + 100;

    #[cfg(feature = "alloc")]
    #[test]
    fn views_read_a_range_of_their_base_and_keep_it() {
        let mut blocks = [Block::EMPTY; 8];
        let mut big = [BigBlock::EMPTY; 3];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; BIG_LEN] = pattern();
        let small = pool.msg_from(false, &[&data[..600]]).unwrap();
        let large = pool.msg_from(false, &[&data[..]]).unwrap();
        assert!(!pool.is_large(small) && pool.is_large(large));
        // Ranges starting and ending on each side of every block edge, of both bases.
        let edges = [0, 1, FIRST - 1, FIRST, FIRST + 1, FIRST + Block::DATA];
        let big_edges = [
            FIRST + BigBlock::DATA - 1,
            FIRST + BigBlock::DATA,
            BIG_LEN - 1,
        ];
        for (base, len) in [(small, 600), (large, BIG_LEN)] {
            let points = edges
                .iter()
                .chain(&big_edges)
                .copied()
                .filter(|&p| p <= len);
            for at in points {
                for end in [at, at + 1, len].into_iter().filter(|&e| e <= len) {
                    let v = pool.view(base, at, end - at, true).unwrap();
                    assert!(pool.is_binary(v) && pool.len(v) == end - at);
                    let mut out = [0u8; BIG_LEN];
                    assert_eq!(pool.copy_all(v, &mut out), end - at);
                    assert_eq!(out[..end - at], data[at..end], "{at}..{end} of {len}");
                    // A view of the view reads the same bytes further on.
                    if end > at {
                        let w = pool.view(v, 1, end - at - 1, false).unwrap();
                        assert_eq!(pool.copy_all(w, &mut out), end - at - 1);
                        assert_eq!(out[..end - at - 1], data[at + 1..end]);
                        pool.release(w);
                    }
                    pool.release(v);
                }
            }
            assert!(pool.view(base, len, 1, true).is_none(), "past the end");
        }
        // A view outlives its base's other references; it cannot grow.
        let v = pool.view(large, 5000, 100, true).unwrap();
        assert!(!pool.append(v, b"x"));
        pool.release(large);
        pool.release(small);
        assert_eq!(pool.big_free_count, 0, "the view keeps the large base");
        let mut out = [0u8; 100];
        assert_eq!(pool.copy_all(v, &mut out), 100);
        assert_eq!(out[..], data[5000..5100]);
        pool.release(v);
        assert_eq!((pool.free_count, pool.big_free_count), (8, 3));
        assert_eq!(free_lists(&pool), (8, 3));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_large_message_continues_in_big_blocks() {
        let mut blocks = [Block::EMPTY; 4];
        let mut big = [BigBlock::EMPTY; 3];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; BIG_LEN] = pattern();
        assert!(pool.has_room(BIG_LEN), "room in big blocks");
        let msg = pool
            .msg_from(true, &[&data[..1000], &data[1000..]])
            .unwrap();
        assert!(pool.is_large(msg) && pool.is_binary(msg));
        assert_eq!(pool.len(msg), BIG_LEN);
        assert_eq!((pool.free_count, pool.big_free_count), (3, 0));
        assert_eq!(pool.blocks_of(msg), (1, 3));
        assert!(Pool::is_big(pool.next_of(msg)), "the continuation is big");
        let mut out = [0u8; BIG_LEN + 10];
        assert_eq!(pool.copy_all(msg, &mut out), BIG_LEN);
        assert_eq!(out[..BIG_LEN], data);

        // Read in pieces of every size from 1 to 300 (each crosses both kinds of edge in
        // some place).
        for piece in 1..300 {
            let mut r = pool.reader(msg);
            let mut got = [0u8; BIG_LEN];
            let mut at = 0;
            while r.left() > 0 {
                let n = pool.read(&mut r, &mut got[at..(at + piece).min(BIG_LEN)]);
                assert!(n > 0);
                at += n;
            }
            assert_eq!(at, BIG_LEN);
            assert_eq!(got, data, "pieces of {piece}");
            assert_eq!(pool.read(&mut r, &mut got[..1]), 0, "nothing past the end");
        }
        // Skip to every offset, then read what follows.
        for off in 0..=BIG_LEN {
            let mut r = pool.reader(msg);
            pool.skip(&mut r, off);
            assert_eq!(r.left(), BIG_LEN - off);
            let mut got = [0u8; 300];
            let want = (BIG_LEN - off).min(300);
            assert_eq!(pool.read(&mut r, &mut got), want);
            assert_eq!(got[..want], data[off..off + want], "at {off}");
        }

        // Every block back, each to its own list.
        pool.retain(msg);
        pool.release(msg);
        assert_eq!((pool.free_count, pool.big_free_count), (3, 0));
        pool.release(msg);
        assert_eq!((pool.free_count, pool.big_free_count), (4, 3));
        assert_eq!(free_lists(&pool), (4, 3));
        // And they serve again.
        let again = pool.msg_from(false, &[&data]).unwrap();
        assert_eq!(pool.copy_all(again, &mut out), BIG_LEN);
        assert_eq!(out[..BIG_LEN], data);
        pool.release(again);
        assert_eq!(free_lists(&pool), (4, 3));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn appends_cross_every_edge_of_both_classes() {
        // Pieces of sizes around both block sizes, appended one after another to a small
        // message and to a large one; both hold exactly what was appended.
        let data: [u8; 6 * BigBlock::DATA] = pattern();
        let sizes = [
            1,
            FIRST - 1,
            2,
            Block::DATA - 1,
            Block::DATA,
            Block::DATA + 1,
            BigBlock::DATA - 3,
            BigBlock::DATA,
            BigBlock::DATA + 1,
            7,
        ];
        let total: usize = sizes.iter().sum();
        assert!(total <= data.len());
        for large in [false, true] {
            let mut blocks = [Block::EMPTY; 80];
            let mut big = [BigBlock::EMPTY; 6];
            let mut nodes = [Node::EMPTY; 1];
            let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
            let msg = if large {
                pool.new_msg_for(false, total).unwrap()
            } else {
                pool.new_msg(false).unwrap()
            };
            assert_eq!(pool.is_large(msg), large);
            let mut at = 0;
            for n in sizes {
                assert!(pool.append(msg, &data[at..at + n]));
                at += n;
                assert_eq!(pool.len(msg), at);
                let (small, bigs) = pool.blocks_of(msg);
                assert_eq!(
                    (80 - small, 6 - bigs),
                    (pool.free_count as usize, pool.big_free_count as usize)
                );
            }
            let mut out = [0u8; 6 * BigBlock::DATA];
            assert_eq!(pool.copy_all(msg, &mut out), total);
            assert_eq!(out[..total], data[..total], "large: {large}");
            pool.release(msg);
            assert_eq!(free_lists(&pool), (80, 6));
            assert_eq!((pool.free_count, pool.big_free_count), (80, 6));
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn small_messages_keep_small_blocks_and_big_ones_fall_back() {
        let mut blocks = [Block::EMPTY; 40];
        let mut big = [BigBlock::EMPTY; 2];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; 3 * BigBlock::DATA] = pattern();
        // Below the threshold: small blocks only.
        let small = pool.msg_from(false, &[&data[..LARGE_MIN - 1]]).unwrap();
        assert!(!pool.is_large(small));
        assert_eq!(pool.big_free_count, 2);
        pool.release(small);
        // A message expected large after its first block filled stays small.
        let m = pool.new_msg(false).unwrap();
        assert!(pool.append(m, &data[..FIRST + 1]));
        pool.expect(m, LARGE_MIN);
        assert!(!pool.is_large(m));
        pool.release(m);
        // One that fills its first block exactly may still switch.
        let m = pool.new_msg(true).unwrap();
        assert!(pool.append(m, &data[..FIRST]));
        pool.expect(m, BigBlock::DATA);
        assert!(pool.is_large(m));
        assert!(pool.append(m, &data[FIRST..LARGE_MIN]));
        assert_eq!(pool.blocks_of(m), (1, 1));
        // The big blocks cannot hold the next one: it takes small blocks.
        let len = FIRST + 2 * BigBlock::DATA;
        let other = pool.msg_from(false, &[&data[..len]]).unwrap();
        assert!(!pool.is_large(other));
        assert_eq!(pool.big_free_count, 1);
        let mut out = [0u8; 3 * BigBlock::DATA];
        assert_eq!(pool.copy_all(other, &mut out), len);
        assert_eq!(out[..len], data[..len]);
        assert_eq!(pool.copy_all(m, &mut out), LARGE_MIN);
        assert_eq!(out[..LARGE_MIN], data[..LARGE_MIN]);
        // A large message that outgrows the big blocks stops like a full pool does.
        assert!(!pool.append(m, &data[..2 * BigBlock::DATA]));
        assert_eq!(pool.big_free_count, 0);
        pool.release(m);
        pool.release(other);
        assert_eq!(free_lists(&pool), (40, 2));
        assert_eq!((pool.free_count, pool.big_free_count), (40, 2));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn mixed_chains_released_in_any_order_are_whole_again() {
        // Small and large messages, retained and released out of order between new ones:
        // both free lists always hold every block not in use, each once.
        let mut blocks = [Block::EMPTY; 48];
        let mut big = [BigBlock::EMPTY; 8];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; FIRST + 3 * BigBlock::DATA] = pattern();
        let lens = [
            0,
            FIRST,
            FIRST + 1,
            LARGE_MIN - 1,
            LARGE_MIN,
            LARGE_MIN + 1,
            FIRST + 2 * BigBlock::DATA,
            FIRST + 3 * BigBlock::DATA,
        ];
        let mut held = [NONE; 8];
        let mut out = [0u8; FIRST + 3 * BigBlock::DATA];
        for round in 0..30 {
            for (k, &len) in lens.iter().enumerate() {
                if (round + k) % 3 == 0 && held[k] != NONE {
                    if round % 2 == 0 {
                        pool.retain(held[k]);
                        pool.release(held[k]);
                    }
                    pool.release(held[k]);
                    held[k] = NONE;
                } else if held[k] == NONE {
                    // Everything held fits at once: 8 big blocks, 26 small ones.
                    held[k] = pool.msg_from(k % 2 == 0, &[&data[..len]]).unwrap();
                }
            }
            let (mut small, mut bigs) = (0, 0);
            for (k, &m) in held.iter().enumerate() {
                if m == NONE {
                    continue;
                }
                assert_eq!(pool.copy_all(m, &mut out), lens[k]);
                assert_eq!(out[..lens[k]], data[..lens[k]]);
                let (s, b) = pool.blocks_of(m);
                assert_eq!(b > 0, lens[k] > FIRST && pool.is_large(m));
                small += s;
                bigs += b;
            }
            assert_eq!(free_lists(&pool), (48 - small, 8 - bigs), "round {round}");
            assert_eq!(
                (pool.free_count as usize, pool.big_free_count as usize),
                (48 - small, 8 - bigs)
            );
            assert_eq!((pool.used_blocks(), pool.used_big_blocks()), (small, bigs));
        }
        for m in held.into_iter().filter(|&m| m != NONE) {
            pool.release(m);
        }
        assert_eq!(free_lists(&pool), (48, 8));
    }

    #[cfg(not(feature = "alloc"))]
    #[test]
    fn without_alloc_a_big_table_is_left_unused() {
        let mut blocks = [Block::EMPTY; 30];
        let mut big = [BigBlock::EMPTY; 3];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; BIG_LEN] = pattern();
        assert!(!pool.has_room(BIG_LEN), "the small blocks cannot hold it");
        let len = FIRST + 29 * Block::DATA;
        let msg = pool.msg_from(true, &[&data[..len]]).unwrap();
        assert!(!pool.is_large(msg));
        assert_eq!((pool.free_count, pool.big_free_count), (0, 0));
        let mut out = [0u8; BIG_LEN];
        assert_eq!(pool.copy_all(msg, &mut out), len);
        assert_eq!(out[..len], data[..len]);
        pool.release(msg);
        assert_eq!(free_lists(&pool), (30, 0));
    }

    #[cfg(all(feature = "recovery", feature = "alloc"))]
    #[test]
    fn cost_counts_both_classes() {
        let mut blocks = [Block::EMPTY; 4];
        let mut big = [BigBlock::EMPTY; 3];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; BIG_LEN] = pattern();
        let msg = pool.msg_from(true, &[&data]).unwrap();
        assert_eq!(
            pool.cost(msg),
            size_of::<Block>() + 3 * size_of::<BigBlock>() + size_of::<Node>()
        );
        pool.release(msg);
    }

    /// Random operations on a pool of both classes (new messages with and without a size
    /// hint, appends of random pieces, retains, releases, reads from random offsets),
    /// checked against a model of each message's bytes and references; at the end every
    /// block is back.
    #[cfg(feature = "alloc")]
    #[test]
    fn random_operations_match_a_model() {
        extern crate alloc;
        use alloc::vec::Vec;
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut blocks = [Block::EMPTY; 120];
        let mut big = [BigBlock::EMPTY; 10];
        let mut nodes = [Node::EMPTY; 1];
        let mut pool = pool_of(&mut blocks, &mut nodes, &mut big);
        let data: [u8; 3 * BigBlock::DATA] = pattern();
        // Each live message: its id, its bytes, its references.
        let mut live: Vec<(u32, Vec<u8>, u32)> = Vec::new();
        let mut out = [0u8; 12 * BigBlock::DATA];
        let (mut appends, mut larges) = (0, 0);
        for _ in 0..20_000 {
            match rand(10) {
                0 | 1 if live.len() < 12 => {
                    let hint = [0, 10, FIRST, LARGE_MIN, 2 * BigBlock::DATA][rand(5)];
                    if let Some(m) = pool.new_msg_for(rand(2) == 0, hint) {
                        larges += usize::from(pool.is_large(m));
                        live.push((m, Vec::new(), 1));
                    }
                }
                2..=4 if !live.is_empty() => {
                    let k = rand(live.len());
                    let start = rand(data.len());
                    let n = [1, 5, 251, 253, 4091, 4093][rand(6)].min(data.len() - start);
                    let piece = &data[start..start + n];
                    if pool.append(live[k].0, piece) {
                        live[k].1.extend_from_slice(piece);
                        appends += 1;
                    } else {
                        // Out of blocks: the message holds a prefix; drop it whole.
                        let (m, _, refs) = live.swap_remove(k);
                        for _ in 0..refs {
                            pool.release(m);
                        }
                    }
                }
                5 if !live.is_empty() => {
                    let k = rand(live.len());
                    pool.retain(live[k].0);
                    live[k].2 += 1;
                }
                6 | 7 if !live.is_empty() => {
                    let k = rand(live.len());
                    pool.release(live[k].0);
                    live[k].2 -= 1;
                    if live[k].2 == 0 {
                        live.swap_remove(k);
                    }
                }
                _ if !live.is_empty() => {
                    let k = rand(live.len());
                    let (m, bytes, _) = &live[k];
                    assert_eq!(pool.len(*m), bytes.len());
                    let off = rand(bytes.len() + 1);
                    let mut r = pool.reader(*m);
                    pool.skip(&mut r, off);
                    let n = pool.read(&mut r, &mut out);
                    assert_eq!(out[..n], bytes[off..]);
                }
                _ => {}
            }
            let (mut small, mut bigs) = (0, 0);
            for (m, bytes, _) in &live {
                assert_eq!(pool.len(*m), bytes.len());
                let (s, b) = pool.blocks_of(*m);
                small += s;
                bigs += b;
            }
            assert_eq!((pool.used_blocks(), pool.used_big_blocks()), (small, bigs));
        }
        assert!(
            appends > 1000 && larges > 100,
            "{appends} appends, {larges} large"
        );
        for (m, _, refs) in live {
            for _ in 0..refs {
                pool.release(m);
            }
        }
        assert_eq!(free_lists(&pool), (120, 10));
    }
}
