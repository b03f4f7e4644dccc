//! Rooms and broadcasts.
//!
//! Rooms are found by a keyed hash of (namespace, name), with the bucket heads kept in the
//! room slots themselves. A broadcast is encoded once: every recipient's queue gets a
//! reference to the same pool message, so the per-recipient work is a queue entry, never
//! JSON. Recipients are de-duplicated with a per-broadcast stamp on the sockets.

use super::socketio::SocketIoLayer;
use super::socketio::{MAX_EMIT_ATTACHMENTS, MAX_NAME, PacketMsgs, SockState};
use super::storage::NONE;
use super::{Args, CommandError, NamespaceId, Resource, Server, Targets};
use crate::sio;

/// SipHash-1-3 of `data` under `key` (keyed, so room names chosen by clients cannot be
/// made to collide on purpose).
fn siphash13(key: [u64; 2], data: &[u8]) -> u64 {
    siphash(key, data, 1, 3)
}

/// SipHash-c-d.
fn siphash(key: [u64; 2], data: &[u8], c: usize, d: usize) -> u64 {
    let mut v = [
        key[0] ^ 0x736f_6d65_7073_6575,
        key[1] ^ 0x646f_7261_6e64_6f6d,
        key[0] ^ 0x6c79_6765_6e65_7261,
        key[1] ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for w in &mut chunks {
        let m = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        v[3] ^= m;
        for _ in 0..c {
            round(&mut v);
        }
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    for _ in 0..c {
        round(&mut v);
    }
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..d {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

impl SocketIoLayer<'_> {
    fn room_hash(&self, ns: u16, name: &str) -> u32 {
        let mut buf = [0u8; MAX_NAME + 2];
        buf[..2].copy_from_slice(&ns.to_le_bytes());
        let n = name.len().min(MAX_NAME);
        buf[2..2 + n].copy_from_slice(&name.as_bytes()[..n]);
        siphash13(self.hash_key, &buf[..2 + n]) as u32
    }

    /// Re-threads every room into buckets sized to the room table (a power of two).
    pub(super) fn rebuild_buckets(&mut self) {
        let len = self.rooms.len_slots();
        let buckets = if len == 0 {
            0
        } else {
            1u32 << (31 - (len as u32).leading_zeros())
        };
        self.buckets = buckets;
        for i in 0..len as u32 {
            self.rooms[i].0.bucket = NONE;
        }
        for i in 0..len as u32 {
            if self.rooms[i].0.used {
                let b = self.rooms[i].0.hash & (buckets - 1);
                self.rooms[i].0.hash_next = self.rooms[b].0.bucket;
                self.rooms[b].0.bucket = i;
            }
        }
    }

    pub(super) fn find_room(&self, ns: u16, name: &str) -> Option<u32> {
        if self.buckets == 0 {
            return None;
        }
        let hash = self.room_hash(ns, name);
        let mut r = self.rooms[hash & (self.buckets - 1)].0.bucket;
        while r != NONE {
            let room = &self.rooms[r].0;
            if room.hash == hash
                && room.ns == ns
                && &room.name[..usize::from(room.len)] == name.as_bytes()
            {
                return Some(r);
            }
            r = room.hash_next;
        }
        None
    }

    fn room_for(&mut self, ns: u16, name: &str) -> Result<u32, CommandError> {
        if let Some(r) = self.find_room(ns, name) {
            return Ok(r);
        }
        if name.len() > MAX_NAME {
            return Err(CommandError::InvalidName);
        }
        let r = self
            .rooms
            .alloc()
            .ok_or(CommandError::Full(Resource::Rooms))?;
        let hash = self.room_hash(ns, name);
        let room = &mut self.rooms[r].0;
        room.used = true;
        room.ns = ns;
        room.len = name.len() as u8;
        room.name[..name.len()].copy_from_slice(name.as_bytes());
        room.hash = hash;
        room.members = NONE;
        room.count = 0;
        let len = self.rooms.len_slots();
        let want = 1u32 << (31 - (len as u32).leading_zeros());
        if want != self.buckets {
            self.rebuild_buckets();
        } else {
            let b = hash & (self.buckets - 1);
            self.rooms[r].0.hash_next = self.rooms[b].0.bucket;
            self.rooms[b].0.bucket = r;
        }
        Ok(r)
    }

    fn free_room(&mut self, r: u32) {
        let hash = self.rooms[r].0.hash;
        let b = hash & (self.buckets - 1);
        let mut at = self.rooms[b].0.bucket;
        let mut prev = NONE;
        while at != NONE && at != r {
            prev = at;
            at = self.rooms[at].0.hash_next;
        }
        if at == r {
            let next = self.rooms[r].0.hash_next;
            if prev == NONE {
                self.rooms[b].0.bucket = next;
            } else {
                self.rooms[prev].0.hash_next = next;
            }
        }
        self.rooms.release(r);
    }

    /// Unlinks membership `m` from its room (freeing the room when it empties) and frees it.
    fn drop_member(&mut self, m: u32) {
        let e = self.members[m].0;
        if e.room_prev == NONE {
            self.rooms[e.room].0.members = e.room_next;
        } else {
            self.members[e.room_prev].0.room_next = e.room_next;
        }
        if e.room_next != NONE {
            self.members[e.room_next].0.room_prev = e.room_prev;
        }
        let room = &mut self.rooms[e.room].0;
        room.count -= 1;
        if room.count == 0 {
            self.free_room(e.room);
        }
        self.members.release(m);
    }

    /// Takes the socket out of every room.
    pub(super) fn leave_all(&mut self, sock: u32) {
        let mut m = self.sockets[sock].0.rooms;
        while m != NONE {
            let next = self.members[m].0.sock_next;
            self.drop_member(m);
            m = next;
        }
        self.sockets[sock].0.rooms = NONE;
        self.sockets[sock].0.room_count = 0;
    }

    /// Puts socket `sock` in `room` of its namespace unless it is in `max_rooms` already
    /// (see [`Server::join`]).
    pub(super) fn join(
        &mut self,
        sock: u32,
        room: &str,
        max_rooms: u16,
    ) -> Result<(), CommandError> {
        let s = self.sockets[sock].0;
        if s.state != SockState::Connected {
            return Err(CommandError::WrongState);
        }
        if room.len() > MAX_NAME {
            return Err(CommandError::InvalidName);
        }
        if let Some(r) = self.find_room(s.ns, room) {
            let mut m = s.rooms;
            while m != NONE {
                if self.members[m].0.room == r {
                    return Ok(());
                }
                m = self.members[m].0.sock_next;
            }
        }
        if s.room_count >= max_rooms {
            return Err(CommandError::SocketLimit(Resource::Members));
        }
        if !self.members.can_take(1) {
            return Err(CommandError::Full(Resource::Members));
        }
        let r = self.room_for(s.ns, room)?;
        let Some(m) = self.members.alloc() else {
            return Err(CommandError::Full(Resource::Members));
        };
        let head = self.rooms[r].0.members;
        if head != NONE {
            self.members[head].0.room_prev = m;
        }
        let e = &mut self.members[m].0;
        e.room = r;
        e.socket = sock;
        e.room_prev = NONE;
        e.room_next = head;
        e.sock_next = s.rooms;
        let room = &mut self.rooms[r].0;
        room.members = m;
        room.count += 1;
        self.sockets[sock].0.rooms = m;
        self.sockets[sock].0.room_count += 1;
        Ok(())
    }

    /// Takes socket `sock` out of `room` (see [`Server::leave`]).
    pub(super) fn leave(&mut self, sock: u32, room: &str) {
        let ns = self.sockets[sock].0.ns;
        let Some(r) = self.find_room(ns, room) else {
            return;
        };
        let mut prev = NONE;
        let mut m = self.sockets[sock].0.rooms;
        while m != NONE {
            let next = self.members[m].0.sock_next;
            if self.members[m].0.room == r {
                if prev == NONE {
                    self.sockets[sock].0.rooms = next;
                } else {
                    self.members[prev].0.sock_next = next;
                }
                self.drop_member(m);
                self.sockets[sock].0.room_count -= 1;
                return;
            }
            prev = m;
            m = next;
        }
    }

    /// Whether socket `sock` is in `room` (its own-id room included).
    pub(super) fn in_room(&self, sock: u32, room: &str) -> bool {
        let s = &self.sockets[sock].0;
        if self.socket_by_wire_id(s.ns, room) == Some(sock) {
            return true;
        }
        let Some(r) = self.find_room(s.ns, room) else {
            return false;
        };
        let mut m = s.rooms;
        while m != NONE {
            if self.members[m].0.room == r {
                return true;
            }
            m = self.members[m].0.sock_next;
        }
        false
    }

    /// How many sockets are in `room` of namespace `ns` (not counting own-id rooms).
    pub(super) fn room_len(&self, ns: u16, room: &str) -> usize {
        self.find_room(ns, room)
            .map_or(0, |r| self.rooms[r].0.count as usize)
    }

    pub(super) fn next_stamp(&mut self) -> u32 {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // After 2^32 broadcasts: forget the old marks.
            for i in 0..self.sockets.len_slots() as u32 {
                self.sockets[i].0.stamp = 0;
            }
            self.stamp = 1;
        }
        self.stamp
    }

    /// Marks the members of `room` (and the socket whose id it is) with `stamp`.
    pub(super) fn mark_room(&mut self, ns: u16, room: &str, stamp: u32) {
        if let Some(s) = self.socket_by_wire_id(ns, room) {
            self.sockets[s].0.stamp = stamp;
        }
        if let Some(r) = self.find_room(ns, room) {
            let mut m = self.rooms[r].0.members;
            while m != NONE {
                let e = self.members[m].0;
                self.sockets[e.socket].0.stamp = stamp;
                m = e.room_next;
            }
        }
    }
}

impl Server<'_> {
    /// Queues the broadcast's messages for one socket unless it is marked; marks it.
    fn deliver(&mut self, sock: u32, stamp: u32, msgs: &[u32], total: usize, sent: &mut usize) {
        if self.socketio.sockets[sock].0.stamp == stamp || !self.socket_deliverable(sock) {
            return;
        }
        self.socketio.sockets[sock].0.stamp = stamp;
        let sess = self.socketio.sockets[sock].0.session;
        if self.engine.sessions[sess].0.queue.bytes as usize + total
            > self.config.max_queued_bytes as usize
        {
            self.close_session(sess, super::CloseReason::SlowReader, false);
            return;
        }
        for &m in msgs {
            self.pool.retain(m);
            // Room for every entry was checked before the first delivery.
            if !self.engine.sessions[sess].0.queue.push(&mut self.pool, m) {
                self.pool.release(m);
            }
        }
        self.engine.notify_output(sess, &mut self.transport);
        *sent += 1;
    }

    /// Emits `event` to the sockets of `namespace` that `to` selects; returns how many got
    /// it. The packet is encoded once and shared by every recipient's queue. A recipient
    /// whose queue would pass `max_queued_bytes` is disconnected
    /// ([`CloseReason::SlowReader`](super::CloseReason::SlowReader)) instead, and not counted.
    /// When the queue entries ([`Storage::nodes`](super::Storage::nodes)) cannot take one
    /// per recipient, the sessions holding more than their share of them (the table's
    /// capacity over the session table's) are closed as slow readers first; only if that is
    /// not enough does the broadcast fail with [`CommandError::Full`].
    pub fn broadcast(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        event: &str,
        args: Args<'_>,
    ) -> Result<usize, CommandError> {
        let ns = namespace.0;
        if ns >= self.socketio.namespace_count {
            return Err(CommandError::WrongState);
        }
        if sio::RESERVED_EVENT_NAMES.contains(&event) {
            return Err(CommandError::InvalidName);
        }
        // An upper bound of the recipients, to check the queue entries up front.
        let bound = if to.rooms.is_empty() {
            self.namespace_len(namespace)
        } else {
            to.rooms
                .iter()
                .map(|room| self.socketio.room_len(ns, room) + 1)
                .sum()
        };
        let per = 1 + args.binary.len();
        let need = bound.saturating_mul(per);
        if !self.nodes_for(need) {
            return Err(CommandError::Full(Resource::Nodes));
        }
        let mut name = [0u8; MAX_NAME];
        let ns_name = self.socketio.ns_name(ns);
        name[..ns_name.len()].copy_from_slice(ns_name.as_bytes());
        let ns_name = core::str::from_utf8(&name[..ns_name.len()]).unwrap_or("/");
        let mut msgs: PacketMsgs = [NONE; 1 + MAX_EMIT_ATTACHMENTS];
        let n = super::socketio::encode_packet(
            &mut self.pool,
            ns_name,
            None,
            Some(event),
            &args,
            &mut msgs,
        )?;
        let msgs = &msgs[..n];
        let total: usize = msgs.iter().map(|&m| self.pool.len(m)).sum();
        let stamp = self.socketio.next_stamp();
        for room in to.except_rooms {
            self.socketio.mark_room(ns, room, stamp);
        }
        for &s in to.except {
            if let Ok(i) = self.socketio.socket_index(s) {
                self.socketio.sockets[i].0.stamp = stamp;
            }
        }
        let mut sent = 0;
        if to.rooms.is_empty() {
            let mut s = self.socketio.namespaces.as_slice()[usize::from(ns)]
                .0
                .sockets;
            while s != NONE {
                let next = self.socketio.sockets[s].0.ns_next;
                self.deliver(s, stamp, msgs, total, &mut sent);
                s = next;
            }
        } else {
            for room in to.rooms {
                if let Some(s) = self.socketio.socket_by_wire_id(ns, room) {
                    self.deliver(s, stamp, msgs, total, &mut sent);
                }
                if let Some(r) = self.socketio.find_room(ns, room) {
                    let mut m = self.socketio.rooms[r].0.members;
                    while m != NONE {
                        let e = self.socketio.members[m].0;
                        self.deliver(e.socket, stamp, msgs, total, &mut sent);
                        m = e.room_next;
                    }
                }
            }
        }
        for &m in msgs {
            self.pool.release(m);
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::siphash;

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_the_standard_library() {
        // std's SipHasher is SipHash-2-4; the same rounds with other counts are ours.
        extern crate std;
        use std::hash::{Hasher, SipHasher};
        let data: [u8; 40] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for (k0, k1) in [
            (0u64, 0u64),
            (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908),
            (u64::MAX, 12345),
        ] {
            for len in 0..data.len() {
                let mut h = SipHasher::new_with_keys(k0, k1);
                h.write(&data[..len]);
                assert_eq!(
                    siphash([k0, k1], &data[..len], 2, 4),
                    h.finish(),
                    "len {len}"
                );
            }
        }
    }
}
