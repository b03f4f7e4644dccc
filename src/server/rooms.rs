//! The Socket.IO layer's rooms and broadcast recipients.
//!
//! Rooms are found by a keyed hash of (namespace, name), with the bucket heads kept in the
//! room slots themselves. A broadcast is encoded once: every recipient's queue gets a
//! reference to the same pool message, so the per-recipient work is a queue entry, never
//! JSON. Recipients are de-duplicated with a per-broadcast stamp on the sockets.

use super::ix::{Ix, Link};
use super::session::SessionIx;
use super::socketio::{
    MAX_NAME, MemberIx, MemberSlot, RoomIx, SockState, SocketIoLayer, SocketIx, SocketSlot,
};
use super::{CommandError, Resource, Targets};

/// Where a broadcast's walk over its recipients is (see [`SocketIoLayer::next_target`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Walk {
    /// The room of `Targets::rooms` being walked.
    room: usize,
    at: At,
}

/// Where a walk is in its room, or in the namespace.
#[derive(Debug, Clone, Copy)]
enum At {
    /// The socket whose id the room is comes next (or, for a walk over the namespace, its
    /// first socket).
    Start,
    /// The room's members come next.
    Members,
    /// Walking the room's members: the next one.
    Member(Link<MemberSlot>),
    /// Walking the namespace's sockets: the next one.
    Socket(Link<SocketSlot>),
}

impl Walk {
    pub(super) const START: Self = Self {
        room: 0,
        at: At::Start,
    };
}

/// SipHash-1-3 of `data` under `key` (keyed, so room names chosen by clients cannot be
/// made to collide on purpose).
pub(crate) fn siphash13(key: [u64; 2], data: &[u8]) -> u64 {
    siphash(key, data, 1, 3)
}

#[cfg(feature = "recovery")]
/// SipHash-2-4 of `data` under `key` (the pid MAC of connection state recovery).
pub(crate) fn siphash24(key: [u64; 2], data: &[u8]) -> u64 {
    siphash(key, data, 2, 4)
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
        for i in self.rooms.indices() {
            self.rooms[i].0.bucket = Link::NONE;
        }
        for i in self.rooms.indices() {
            if self.rooms[i].0.used {
                let b = self.bucket(self.rooms[i].0.hash);
                self.rooms[i].0.hash_next = self.rooms[b].0.bucket;
                self.rooms[b].0.bucket = i.into();
            }
        }
    }

    /// The slot holding the head of the bucket of `hash` (the bucket array lives in the
    /// room slots).
    fn bucket(&self, hash: u32) -> RoomIx {
        Ix::new(hash & (self.buckets - 1))
    }

    pub(super) fn find_room(&self, ns: u16, name: &str) -> Option<RoomIx> {
        if self.buckets == 0 {
            return None;
        }
        let hash = self.room_hash(ns, name);
        let mut at = self.rooms[self.bucket(hash)].0.bucket;
        while let Some(r) = at.get() {
            let room = &self.rooms[r].0;
            if room.hash == hash
                && room.ns == ns
                && &room.name[..usize::from(room.len)] == name.as_bytes()
            {
                return Some(r);
            }
            at = room.hash_next;
        }
        None
    }

    fn room_for(&mut self, ns: u16, name: &str) -> Result<RoomIx, CommandError> {
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
        room.members = Link::NONE;
        room.count = 0;
        let len = self.rooms.len_slots();
        let want = 1u32 << (31 - (len as u32).leading_zeros());
        if want != self.buckets {
            self.rebuild_buckets();
        } else {
            let b = self.bucket(hash);
            self.rooms[r].0.hash_next = self.rooms[b].0.bucket;
            self.rooms[b].0.bucket = r.into();
        }
        Ok(r)
    }

    fn free_room(&mut self, r: RoomIx) {
        let b = self.bucket(self.rooms[r].0.hash);
        let mut at = self.rooms[b].0.bucket;
        let mut prev: Option<RoomIx> = None;
        while let Some(x) = at.get()
            && x != r
        {
            prev = Some(x);
            at = self.rooms[x].0.hash_next;
        }
        if at.is(r) {
            let next = self.rooms[r].0.hash_next;
            match prev {
                None => self.rooms[b].0.bucket = next,
                Some(p) => self.rooms[p].0.hash_next = next,
            }
        }
        self.rooms.release(r);
    }

    /// Unlinks membership `m` from its room (freeing the room when it empties) and frees it.
    fn drop_member(&mut self, m: MemberIx) {
        let e = self.members[m].0;
        if let Some(room) = e.room.get() {
            match e.room_prev.get() {
                None => self.rooms[room].0.members = e.room_next,
                Some(p) => self.members[p].0.room_next = e.room_next,
            }
            if let Some(n) = e.room_next.get() {
                self.members[n].0.room_prev = e.room_prev;
            }
            let slot = &mut self.rooms[room].0;
            slot.count -= 1;
            if slot.count == 0 {
                self.free_room(room);
            }
        }
        self.members.release(m);
    }

    /// Takes the socket out of every room.
    pub(super) fn leave_all(&mut self, sock: SocketIx) {
        let mut at = self.sockets[sock].0.rooms;
        while let Some(m) = at.get() {
            at = self.members[m].0.sock_next;
            self.drop_member(m);
        }
        self.sockets[sock].0.rooms = Link::NONE;
        self.sockets[sock].0.room_count = 0;
    }

    /// Puts socket `sock` in `room` of its namespace unless it is in `max_rooms` already
    /// (see [`Server::join`]).
    pub(super) fn join(
        &mut self,
        sock: SocketIx,
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
        if let Some(r) = self.find_room(s.ns, room)
            && self.membership(sock, r).is_some()
        {
            return Ok(());
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
        if let Some(h) = head.get() {
            self.members[h].0.room_prev = m.into();
        }
        let e = &mut self.members[m].0;
        e.room = r.into();
        e.socket = sock.into();
        e.room_prev = Link::NONE;
        e.room_next = head;
        e.sock_next = s.rooms;
        let room = &mut self.rooms[r].0;
        room.members = m.into();
        room.count += 1;
        self.sockets[sock].0.rooms = m.into();
        self.sockets[sock].0.room_count += 1;
        Ok(())
    }

    /// Takes socket `sock` out of `room` (see [`Server::leave`]).
    pub(super) fn leave(&mut self, sock: SocketIx, room: &str) {
        let ns = self.sockets[sock].0.ns;
        let Some(r) = self.find_room(ns, room) else {
            return;
        };
        let mut prev: Option<MemberIx> = None;
        let mut at = self.sockets[sock].0.rooms;
        while let Some(m) = at.get() {
            let next = self.members[m].0.sock_next;
            if self.members[m].0.room.is(r) {
                match prev {
                    None => self.sockets[sock].0.rooms = next,
                    Some(p) => self.members[p].0.sock_next = next,
                }
                self.drop_member(m);
                self.sockets[sock].0.room_count -= 1;
                return;
            }
            prev = Some(m);
            at = next;
        }
    }

    /// The names of the rooms socket `sock` joined, newest first.
    pub(super) fn rooms_of(&self, sock: SocketIx) -> impl Iterator<Item = &str> + '_ {
        let mut at = self.sockets[sock].0.rooms;
        core::iter::from_fn(move || {
            let m = at.get()?;
            at = self.members[m].0.sock_next;
            Some(
                self.members[m]
                    .0
                    .room
                    .get()
                    .map_or("", |r| self.rooms[r].0.name()),
            )
        })
    }

    /// The names of namespace `ns`'s rooms (those with members).
    pub(super) fn rooms_in(&self, ns: u16) -> impl Iterator<Item = &str> + '_ {
        self.rooms.indices().filter_map(move |r| {
            let room = &self.rooms[r].0;
            (room.used && room.ns == ns).then(|| room.name())
        })
    }

    /// Socket `sock`'s membership of room `r`, if it is in it.
    fn membership(&self, sock: SocketIx, r: RoomIx) -> Option<MemberIx> {
        let mut at = self.sockets[sock].0.rooms;
        while let Some(m) = at.get() {
            if self.members[m].0.room.is(r) {
                return Some(m);
            }
            at = self.members[m].0.sock_next;
        }
        None
    }

    /// Whether socket `sock` is in `room` (its own-id room included).
    pub(super) fn in_room(&self, sock: SocketIx, room: &str) -> bool {
        let s = &self.sockets[sock].0;
        if self.socket_by_wire_id(s.ns, room) == Some(sock) {
            return true;
        }
        self.find_room(s.ns, room)
            .is_some_and(|r| self.membership(sock, r).is_some())
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
            for i in self.sockets.indices() {
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
            let mut at = self.rooms[r].0.members;
            while let Some(m) = at.get() {
                let e = self.members[m].0;
                if let Some(s) = e.socket.get() {
                    self.sockets[s].0.stamp = stamp;
                }
                at = e.room_next;
            }
        }
    }

    /// At most how many sockets a broadcast to `to` in namespace `ns` reaches (to check
    /// the queue entries up front).
    pub(super) fn target_bound(&self, ns: u16, to: &Targets<'_>) -> usize {
        if to.rooms.is_empty() {
            self.namespaces
                .as_slice()
                .get(usize::from(ns))
                .map_or(0, |n| n.0.count as usize)
        } else {
            to.rooms
                .iter()
                .map(|room| self.room_len(ns, room) + 1)
                .sum()
        }
    }

    /// Starts a broadcast: a fresh mark, put on the sockets `to` excludes.
    pub(super) fn start_broadcast(&mut self, ns: u16, to: &Targets<'_>) -> u32 {
        let stamp = self.next_stamp();
        for room in to.except_rooms {
            self.mark_room(ns, room, stamp);
        }
        for &s in to.except {
            if let Ok(i) = self.socket_index(s) {
                self.sockets[i].0.stamp = stamp;
            }
        }
        stamp
    }

    /// The next socket of a broadcast's walk over namespace `ns` or the rooms of `to`
    /// (a socket may come more than once: [`take_target`](Self::take_target) says whether
    /// it is due). The walk reads ahead, so that the socket it gave may be closed before
    /// the next call.
    pub(super) fn next_target(
        &self,
        walk: &mut Walk,
        ns: u16,
        to: &Targets<'_>,
    ) -> Option<SocketIx> {
        loop {
            if to.rooms.is_empty() {
                let next = match walk.at {
                    At::Socket(next) => next,
                    _ => self.namespaces.as_slice().get(usize::from(ns))?.0.sockets,
                };
                let s = next.get();
                walk.at = At::Socket(s.map_or(Link::NONE, |s| self.sockets[s].0.ns_next));
                return s;
            }
            let room = to.rooms.get(walk.room)?;
            match walk.at {
                At::Start => {
                    walk.at = At::Members;
                    if let Some(s) = self.socket_by_wire_id(ns, room) {
                        return Some(s);
                    }
                }
                At::Members => {
                    walk.at = At::Member(
                        self.find_room(ns, room)
                            .map_or(Link::NONE, |r| self.rooms[r].0.members),
                    );
                }
                At::Member(next) => {
                    let Some(m) = next.get() else {
                        walk.room += 1;
                        walk.at = At::Start;
                        continue;
                    };
                    let e = self.members[m].0;
                    walk.at = At::Member(e.room_next);
                    if let Some(s) = e.socket.get() {
                        return Some(s);
                    }
                }
                // Only a walk over the namespace has sockets to follow.
                At::Socket(_) => return None,
            }
        }
    }

    /// Whether the broadcast marked `stamp` is due to connected socket `sock` (it is not
    /// marked yet): marks it and gives its session.
    pub(super) fn take_target(&mut self, sock: SocketIx, stamp: u32) -> Option<SessionIx> {
        let s = &mut self.sockets[sock].0;
        if s.stamp == stamp || s.state != SockState::Connected {
            return None;
        }
        s.stamp = stamp;
        s.session.get()
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
