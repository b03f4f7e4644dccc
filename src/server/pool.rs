//! The byte pool: messages as chains of fixed-size blocks, reference counted, and the
//! queues of messages that sessions and streams hold.
//!
//! One pool carries every byte the server must keep past a call: packets queued for a
//! client, event payloads waiting for the app, binary packets being assembled, HTTP
//! responses. Blocks never fragment: a message takes whole blocks and gives them back
//! when its last reference goes. A broadcast is one message referenced from many queues.

use super::ix::Link;
use super::storage::{Linked, NONE, Slots, Table};

/// One block of the byte pool.
#[derive(Clone)]
pub(crate) struct Block {
    next: u32,
    data: [u8; Self::DATA],
}

impl core::fmt::Debug for Block {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Block")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Block {
    /// Payload bytes per block (the first block of a message keeps 12 of them for its
    /// header).
    pub(crate) const DATA: usize = 252;

    /// An unused block.
    pub(crate) const EMPTY: Self = Self {
        next: NONE,
        data: [0; Self::DATA],
    };
}

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

/// Header of a message in its first block: references (bit 31: binary), length, last
/// block.
const HEAD: usize = 12;
/// Data bytes the first block holds.
const FIRST: usize = Block::DATA - HEAD;
const BINARY: u32 = 1 << 31;

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
    pub(crate) nodes: Table<'a, Node>,
}

impl<'a> Pool<'a> {
    pub(crate) fn new(mut blocks: Slots<'a, Block>, nodes: Slots<'a, Node>) -> Self {
        let mut free = NONE;
        let len = blocks.len().min(NONE as usize - 1);
        for (i, b) in blocks.as_mut_slice().iter_mut().enumerate().take(len).rev() {
            b.next = free;
            free = i as u32;
        }
        Self {
            blocks,
            free,
            free_count: len as u32,
            nodes: Table::new(nodes),
        }
    }

    fn take_block(&mut self) -> Option<u32> {
        if self.free == NONE {
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

    /// Blocks a message of `len` bytes needs.
    const fn blocks_for(len: usize) -> usize {
        if len <= FIRST {
            1
        } else {
            1 + (len - FIRST).div_ceil(Block::DATA)
        }
    }

    /// What keeping message `msg` in a queue holds of the pool: its blocks and one queue
    /// entry, in bytes.
    #[cfg(feature = "recovery")]
    pub(crate) fn cost(&self, msg: u32) -> usize {
        Self::blocks_for(self.len(msg)) * size_of::<Block>() + size_of::<Node>()
    }

    /// Whether `len` more message bytes (in new messages) can be stored now; for a
    /// growable pool this counts what it may still grow by.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        let spare = self.blocks.capacity() - self.blocks.len();
        (self.free_count as usize).saturating_add(spare) >= Self::blocks_for(len)
    }

    /// Bytes in use (whole blocks), for the memory report.
    pub(crate) fn used_blocks(&self) -> usize {
        self.blocks.len() - self.free_count as usize
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

    /// A new message holding `bytes`; `None` (nothing kept) when the pool is full.
    pub(crate) fn msg_from(&mut self, binary: bool, parts: &[&[u8]]) -> Option<u32> {
        let total = parts.iter().map(|p| p.len()).sum();
        if !self.has_room(total) {
            return None;
        }
        let msg = self.new_msg(binary)?;
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
        if msg >= stat::BASE {
            return false;
        }
        let mut len = self.word(msg, 4) as usize;
        let mut tail = self.word(msg, 8);
        while !bytes.is_empty() {
            let (start, room) = if len < FIRST {
                (HEAD + len, FIRST - len)
            } else {
                let used = (len - FIRST) % Block::DATA;
                if used == 0 {
                    (0, 0)
                } else {
                    (used, Block::DATA - used)
                }
            };
            if room == 0 {
                let Some(b) = self.take_block() else {
                    self.set_word(msg, 4, len as u32);
                    self.set_word(msg, 8, tail);
                    return false;
                };
                if let Some(t) = self.blocks.as_mut_slice().get_mut(tail as usize) {
                    t.next = b;
                }
                tail = b;
                // The new block's data starts at 0 (`used == 0` above).
                let n = bytes.len().min(Block::DATA);
                let (now, rest) = bytes.split_at(n);
                if let Some(d) = self.blocks.as_mut_slice().get_mut(b as usize) {
                    d.data[..n].copy_from_slice(now);
                }
                len += n;
                bytes = rest;
                continue;
            }
            let n = bytes.len().min(room);
            let (now, rest) = bytes.split_at(n);
            if let Some(d) = self
                .blocks
                .as_mut_slice()
                .get_mut(tail as usize)
                .and_then(|b| b.data.get_mut(start..start + n))
            {
                d.copy_from_slice(now);
            }
            len += n;
            bytes = rest;
        }
        self.set_word(msg, 4, len as u32);
        self.set_word(msg, 8, tail);
        true
    }

    /// Overwrites bytes already appended at `at`, within the first block.
    pub(crate) fn overwrite(&mut self, msg: u32, at: usize, bytes: &[u8]) {
        if msg >= stat::BASE || at + bytes.len() > FIRST.min(self.len(msg)) {
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
            self.set_word(msg, 0, (w & BINARY) | ((w & !BINARY) + 1));
        }
    }

    /// Drops a reference; the blocks go back to the pool with the last one.
    pub(crate) fn release(&mut self, msg: u32) {
        if msg >= stat::BASE {
            return;
        }
        let w = self.word(msg, 0);
        let refs = w & !BINARY;
        if refs > 1 {
            self.set_word(msg, 0, (w & BINARY) | (refs - 1));
            return;
        }
        // The whole chain goes back at once, in its order: its last block (kept in the
        // header) links to the free list, so a large message costs no walk here, and the
        // next message takes the same blocks in the order they were just used.
        let tail = self.word(msg, 8);
        let count = Self::blocks_for(self.word(msg, 4) as usize) as u32;
        debug_assert_eq!(self.chain_len(msg), count);
        let Some(t) = self.blocks.as_mut_slice().get_mut(tail as usize) else {
            return;
        };
        t.next = self.free;
        self.free = msg;
        self.free_count += count;
    }

    /// Blocks in the chain starting at `b`, for the debug check of the header's count
    /// (a broken chain stops the count at one more than the pool holds).
    fn chain_len(&self, mut b: u32) -> u32 {
        let blocks = self.blocks.as_slice();
        let mut n = 0;
        while let Some(x) = blocks.get(b as usize) {
            n += 1;
            if n as usize > blocks.len() {
                break;
            }
            b = x.next;
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
                if r.off as usize == Block::DATA {
                    r.block = self
                        .blocks
                        .as_slice()
                        .get(r.block as usize)
                        .map_or(NONE, |b| b.next);
                    r.off = 0;
                }
                match self.blocks.as_slice().get(r.block as usize) {
                    Some(b) => b.data.get(r.off as usize..).unwrap_or_default(),
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

    /// Skips `n` bytes.
    pub(crate) fn skip(&self, r: &mut Reader, mut n: usize) {
        let mut scratch = [0u8; 64];
        while n > 0 && r.left > 0 {
            let k = n.min(scratch.len());
            let got = self.read(r, &mut scratch[..k]);
            if got == 0 {
                break;
            }
            n -= got;
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
        let mut pool = Pool::new(Slots::from(&mut blocks[..]), Slots::from(&mut nodes[..]));
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
        let mut pool = Pool::new(Slots::from(&mut blocks[..]), Slots::from(&mut nodes[..]));
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
        let mut pool = Pool::new(Slots::from(&mut blocks[..]), Slots::from(&mut nodes[..]));
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
}
