//! Connection state recovery, the server's part (issue 16; Node's `connectionStateRecovery`).
//!
//! * The log: every EVENT the server sends without an ack request gets an offset (a
//!   server-wide counter, sent in decimal as the packet's last argument) and is kept in a
//!   [`Queue`] of the pool: per packet, a header message (offset, time, namespace, how many
//!   packet messages follow, the broadcast's room and except-room names) and then the
//!   packet's own messages, shared with the queues that send them. Its offsets increase
//!   from `first` to `next - 1` (one is missing only when its packet was never sent: an
//!   emit that could not be queued); it is trimmed from the front only (by age and by
//!   [`ServerConfig::recovery_log_bytes`](super::ServerConfig::recovery_log_bytes)), and a
//!   packet that was sent but cannot be logged empties it. A packet is logged after it is
//!   queued, so the log never takes what its recipients were promised.
//! * Parking: a connected socket that ends for a transport close or error, an Engine.IO
//!   close packet, a ping timeout or a session the server closed keeps its slot (and era): its room names and the time are saved in a pool
//!   message (in `Socket::name_msg`, unused by connected sockets), and the slot waits in
//!   the parked list (linked through `ns_prev` / `ns_next`, unused outside the namespace
//!   list), oldest first, until it expires or a CONNECT claims it.
//! * The pid names the slot: its index, its era and a SipHash-2-4 MAC of both under a key
//!   derived from the server's hash key, in the 20 characters of a [`WireId`]. It is never
//!   stored, and cannot be forged.
//! * A claimed socket is pending with its saved message still in `name_msg` (its namespace
//!   is known, so that field names no dynamic namespace): [`SocketIoLayer::recovering`].

use super::ix::Link;
use super::pool::{Pool, Queue};
use super::rooms::{siphash13, siphash24};
use super::session::SessionIx;
use super::socketio::{
    MAX_EMIT_ATTACHMENTS, MAX_NAME, PacketMsgs, SockState, SocketIoLayer, SocketIx, SocketSlot,
};
use super::storage::NONE;
use super::{CloseReason, CommandError, Server, Targets, WireId};
use crate::json::{JsonStr, Object};

/// Bytes of a log entry's fixed header: offset (8), time (8), namespace (2), packet
/// messages (1), flags (1); the names follow, each as kind (0 room, 1 except), length and
/// bytes.
const HEAD: usize = 20;
/// Flag: the packet went to rooms (not the whole namespace).
const HAS_ROOMS: u8 = 1;
/// Bytes at the front of a parked socket's saved message: the time it was parked, then the
/// offset it recovers from (set when a CONNECT claims it); its room names follow, each as
/// length and bytes.
const SAVED: usize = 16;

/// Whether connection state recovery is compiled in (see `recovery_off.rs`).
pub(crate) const ENABLED: bool = true;

/// The recovery state of a server.
#[derive(Debug)]
pub(crate) struct Recovery {
    /// The packet log (see the module docs).
    pub(crate) log: Queue,
    /// What the log holds of the pool, in bytes: the blocks of its messages (shared ones
    /// included: the log keeps them alive) and its queue entries.
    pub(crate) cost: usize,
    /// The offset of the log's first entry (`next` when it is empty).
    pub(crate) first: u64,
    /// The offset the next packet gets.
    pub(crate) next: u64,
    /// Parked sockets, oldest first.
    pub(crate) parked: Link<SocketSlot>,
    pub(crate) parked_tail: Link<SocketSlot>,
    pub(crate) parked_count: u32,
    /// The pid MAC key.
    key: [u64; 2],
    /// CONNECTs that asked to recover a session and got a new socket.
    pub(crate) missed: u64,
}

fn word64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(..8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

impl Recovery {
    /// The state of a new server whose room hash key is `hash_key` (the pid key is derived
    /// from it: no more words are drawn from the server's random stream).
    pub(crate) fn new(hash_key: [u64; 2]) -> Self {
        Self {
            log: Queue::EMPTY,
            cost: 0,
            first: 0,
            next: 0,
            parked: Link::NONE,
            parked_tail: Link::NONE,
            parked_count: 0,
            key: [
                siphash13(hash_key, b"siocore recovery pid key 0"),
                siphash13(hash_key, b"siocore recovery pid key 1"),
            ],
            missed: 0,
        }
    }

    fn mac(&self, index: u32, era: u32) -> u64 {
        let mut data = [0u8; 8];
        data[..4].copy_from_slice(&index.to_le_bytes());
        data[4..].copy_from_slice(&era.to_le_bytes());
        siphash24(self.key, &data)
    }

    /// The pid of the socket in slot `index` at `era`.
    pub(crate) fn pid(&self, index: u32, era: u32) -> WireId {
        let mut raw = [0u8; 15];
        raw[..3].copy_from_slice(&index.to_le_bytes()[..3]);
        raw[3..7].copy_from_slice(&era.to_le_bytes());
        raw[7..].copy_from_slice(&self.mac(index, era).to_le_bytes());
        WireId::from_raw(&raw)
    }

    /// The slot index and era a pid names, if the server gave it out.
    pub(crate) fn parse_pid(&self, text: &[u8]) -> Option<(u32, u32)> {
        let raw = WireId::parse(text)?;
        let index = super::id_index(&raw);
        let era = u32::from_le_bytes([raw[3], raw[4], raw[5], raw[6]]);
        (word64(&raw[7..]) == self.mac(index, era)).then_some((index, era))
    }

    /// Parked sockets, log bytes, missed recoveries (see [`Usage`](super::Usage)).
    pub(crate) const fn usage(&self) -> (usize, usize, u64) {
        (self.parked_count as usize, self.cost, self.missed)
    }

    /// The offset for the next packet.
    pub(crate) fn take_offset(&mut self) -> u64 {
        let o = self.next;
        self.next += 1;
        o
    }

    /// Whether a client that received the packet of `offset` missed nothing the log lost.
    fn offset_kept(&self, offset: u64) -> bool {
        offset.saturating_add(1) >= self.first && offset < self.next
    }
}

/// The `pid` and `offset` string members of a CONNECT's auth object, if it has both.
pub(crate) fn auth_claim(auth: &[u8]) -> Option<(&[u8], u64)> {
    let obj = Object::parse(auth).ok()?;
    let (mut pid, mut offset) = (None, None);
    for (key, value) in obj.members() {
        let text = || JsonStr::from_value(value).and_then(|s| s.as_str());
        if key.eq_str("pid") {
            pid = text();
        } else if key.eq_str("offset") {
            offset = text();
        }
    }
    let offset = offset?;
    if offset.is_empty() || offset.len() > 20 || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((pid?.as_bytes(), offset.parse().ok()?))
}

/// The text of offset `o` as a last argument: `,"o"`; returns its length.
pub(crate) fn offset_arg(o: u64, out: &mut [u8; 24]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = o;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out[0] = b',';
    out[1] = b'"';
    for k in 0..n {
        out[2 + k] = digits[n - 1 - k];
    }
    out[2 + n] = b'"';
    3 + n
}

impl SocketIoLayer<'_> {
    // ------------------------------------------------------------------ the log

    /// The time of the log's first entry.
    fn log_front_time(&self, pool: &Pool<'_>) -> Option<u64> {
        let h = self.recovery.log.iter(pool).next()?;
        let mut head = [0u8; 16];
        pool.copy_all(h, &mut head);
        Some(word64(&head[8..]))
    }

    /// Drops the log's first entry; `false` when it is empty.
    fn log_pop(&mut self, pool: &mut Pool<'_>) -> bool {
        let Some(h) = self.recovery.log.pop(pool) else {
            return false;
        };
        let mut head = [0u8; HEAD];
        pool.copy_all(h, &mut head);
        let mut freed = pool.cost(h);
        pool.release(h);
        for _ in 0..head[18] {
            if let Some(m) = self.recovery.log.pop(pool) {
                freed += pool.cost(m);
                pool.release(m);
            }
        }
        self.recovery.cost = self.recovery.cost.saturating_sub(freed);
        self.recovery.first = word64(&head).saturating_add(1);
        true
    }

    /// Empties the log when it holds anything (the pool or its queue entries are short:
    /// it gives way before clients are shed); whether it held anything.
    pub(super) fn drop_log(&mut self, pool: &mut Pool<'_>) -> bool {
        if self.recovery.log.is_empty() {
            return false;
        }
        self.log_clear(pool);
        true
    }

    /// Empties the log: no parked socket can recover from an offset it gave out.
    fn log_clear(&mut self, pool: &mut Pool<'_>) {
        while self.log_pop(pool) {}
        self.recovery.cost = 0;
        self.recovery.first = self.recovery.next;
    }

    /// Drops the log entries and parked sockets older than `keep` ms at `now`.
    pub(super) fn expire_recovery(&mut self, now: u64, keep: u32, pool: &mut Pool<'_>) {
        while let Some(t) = self.log_front_time(pool)
            && t.saturating_add(u64::from(keep)) <= now
        {
            self.log_pop(pool);
        }
        while let Some(s) = self.recovery.parked.get()
            && self.parked_at(s, pool).saturating_add(u64::from(keep)) <= now
        {
            self.drop_parked(s, pool);
        }
    }

    /// When [`expire_recovery`](Self::expire_recovery) next has something to do.
    pub(super) fn recovery_deadline(&self, keep: u32, pool: &Pool<'_>) -> Option<u64> {
        let log = self.log_front_time(pool);
        let parked = self.recovery.parked.get().map(|s| self.parked_at(s, pool));
        let t = match (log, parked) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(t.saturating_add(u64::from(keep)))
    }

    /// Logs the packet of `offset` (its messages `msgs`) sent in namespace `ns` to `to` (or,
    /// with `own`, to that one socket) at `now`; `cap` bounds the log's bytes. A packet
    /// that cannot be logged empties the log.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn log_packet(
        &mut self,
        pool: &mut Pool<'_>,
        now: u64,
        cap: u32,
        offset: u64,
        ns: u16,
        msgs: &[u32],
        to: &Targets<'_>,
        own: Option<SocketIx>,
    ) {
        let Some(h) = self.log_header(pool, now, offset, ns, msgs.len() as u8, to, own) else {
            self.log_clear(pool);
            return;
        };
        // Charged by what it holds of the pool (blocks and queue entries), not by its
        // bytes: a small event still keeps a block for its header and one for itself.
        let need = pool.cost(h) + msgs.iter().map(|&m| pool.cost(m)).sum::<usize>();
        if need > cap as usize || !pool.nodes.can_take(1 + msgs.len()) {
            pool.release(h);
            self.log_clear(pool);
            return;
        }
        while self.recovery.cost + need > cap as usize && self.log_pop(pool) {}
        self.recovery.log.push(pool, h);
        for &m in msgs {
            pool.retain(m);
            if !self.recovery.log.push(pool, m) {
                pool.release(m);
            }
        }
        self.recovery.cost += need;
    }

    #[allow(clippy::too_many_arguments)]
    fn log_header(
        &self,
        pool: &mut Pool<'_>,
        now: u64,
        offset: u64,
        ns: u16,
        count: u8,
        to: &Targets<'_>,
        own: Option<SocketIx>,
    ) -> Option<u32> {
        let mut head = [0u8; HEAD];
        head[..8].copy_from_slice(&offset.to_le_bytes());
        head[8..16].copy_from_slice(&now.to_le_bytes());
        head[16..18].copy_from_slice(&ns.to_le_bytes());
        head[18] = count;
        head[19] = if own.is_some() || !to.rooms.is_empty() {
            HAS_ROOMS
        } else {
            0
        };
        let h = pool.new_msg(false)?;
        let mut ok = pool.append(h, &head);
        // Names longer than a room's can name no socket: left out (with the flag, a
        // packet for such rooms only still selects nobody).
        let mut name = |pool: &mut Pool<'_>, kind: u8, n: &[u8]| {
            if n.len() <= MAX_NAME {
                ok &= pool.append(h, &[kind, n.len() as u8]) && pool.append(h, n);
            }
        };
        if let Some(s) = own {
            name(
                pool,
                0,
                WireId::from_raw(&self.sockets[s].0.id).as_str().as_bytes(),
            );
        }
        for r in to.rooms {
            name(pool, 0, r.as_bytes());
        }
        for r in to.except_rooms {
            name(pool, 1, r.as_bytes());
        }
        // A socket left out is named by its id whatever its state: one that has just been
        // parked (a Disconnect handler broadcasting "user left" without it) must stay left
        // out when it recovers.
        for &s in to.except {
            let live = self
                .sockets
                .ix(s.index)
                .filter(|&i| self.sockets[i].0.era == s.era)
                .filter(|&i| self.sockets[i].0.state != SockState::Free);
            if let Some(i) = live {
                name(
                    pool,
                    1,
                    WireId::from_raw(&self.sockets[i].0.id).as_str().as_bytes(),
                );
            }
        }
        if !ok {
            pool.release(h);
            return None;
        }
        Some(h)
    }

    /// Whether the logged packet whose header is `h` goes to the socket of `sock` with the
    /// rooms `saved` names, as they were when it was parked (Node's `shouldIncludePacket`
    /// on the session's saved rooms: no rooms or one of its rooms, and none of the except
    /// rooms; its own id counts as a room).
    pub(super) fn log_selects(&self, sock: SocketIx, saved: u32, h: u32, pool: &Pool<'_>) -> bool {
        let own = WireId::from_raw(&self.sockets[sock].0.id);
        let member = |room: &str| {
            room == own.as_str()
                || Self::saved_rooms(saved, pool)
                    .1
                    .any(|(name, len)| &name[..len] == room.as_bytes())
        };
        let mut r = pool.reader(h);
        let mut head = [0u8; HEAD];
        pool.read(&mut r, &mut head);
        let mut included = head[19] & HAS_ROOMS == 0;
        let mut name = [0u8; MAX_NAME];
        while r.left() > 0 {
            let mut kl = [0u8; 2];
            if pool.read(&mut r, &mut kl) < 2 {
                break;
            }
            let len = usize::from(kl[1]).min(MAX_NAME);
            let got = pool.read(&mut r, &mut name[..len]);
            let text = core::str::from_utf8(&name[..got]).unwrap_or_default();
            if member(text) {
                if kl[0] == 1 {
                    return false;
                }
                included = true;
            }
        }
        included
    }

    /// The offset, namespace and packet message count of the log entry whose header is
    /// `h`.
    pub(super) fn log_entry(h: u32, pool: &Pool<'_>) -> (u64, u16, usize) {
        let mut head = [0u8; HEAD];
        pool.copy_all(h, &mut head);
        (
            word64(&head),
            u16::from_le_bytes([head[16], head[17]]),
            usize::from(head[18]),
        )
    }

    // ------------------------------------------------------------------ parking

    /// A message saving what connected socket `sock` needs to come back at `now`: the time,
    /// room for the offset, its room names. `None` when the pool cannot hold it.
    pub(super) fn save_for_park(
        &self,
        sock: SocketIx,
        now: u64,
        pool: &mut Pool<'_>,
    ) -> Option<u32> {
        let m = pool.new_msg(false)?;
        let mut ok = pool.append(m, &now.to_le_bytes()) && pool.append(m, &[0; 8]);
        for room in self.rooms_of(sock) {
            ok &= pool.append(m, &[room.len() as u8]) && pool.append(m, room.as_bytes());
        }
        if !ok {
            pool.release(m);
            return None;
        }
        Some(m)
    }

    /// When parked socket `sock` was parked.
    fn parked_at(&self, sock: SocketIx, pool: &Pool<'_>) -> u64 {
        let mut t = [0u8; 8];
        pool.copy_all(self.sockets[sock].0.name_msg, &mut t);
        u64::from_le_bytes(t)
    }

    /// Socket `sock`, whose Disconnect event was queued, waits at the end of the parked
    /// list.
    pub(super) fn park(&mut self, sock: SocketIx) {
        let tail = self.recovery.parked_tail;
        let s = &mut self.sockets[sock].0;
        s.state = SockState::Parked;
        s.session = Link::NONE;
        s.link = Link::NONE;
        s.ns_prev = tail;
        s.ns_next = Link::NONE;
        match tail.get() {
            None => self.recovery.parked = sock.into(),
            Some(t) => self.sockets[t].0.ns_next = sock.into(),
        }
        self.recovery.parked_tail = sock.into();
        self.recovery.parked_count += 1;
    }

    /// Takes parked socket `sock` out of the parked list.
    fn unpark(&mut self, sock: SocketIx) {
        let s = self.sockets[sock].0;
        match s.ns_prev.get() {
            None => self.recovery.parked = s.ns_next,
            Some(p) => self.sockets[p].0.ns_next = s.ns_next,
        }
        match s.ns_next.get() {
            None => self.recovery.parked_tail = s.ns_prev,
            Some(n) => self.sockets[n].0.ns_prev = s.ns_prev,
        }
        let s = &mut self.sockets[sock].0;
        s.ns_prev = Link::NONE;
        s.ns_next = Link::NONE;
        self.recovery.parked_count -= 1;
    }

    /// Forgets parked socket `sock`: its slot is free.
    fn drop_parked(&mut self, sock: SocketIx, pool: &mut Pool<'_>) {
        self.unpark(sock);
        pool.release(self.sockets[sock].0.name_msg);
        self.sockets[sock].0.name_msg = NONE;
        self.sockets.release(sock);
    }

    /// Frees the oldest parked socket's slot (the socket table is full); `false` when none
    /// is parked.
    pub(super) fn drop_oldest_parked(&mut self, pool: &mut Pool<'_>) -> bool {
        let Some(s) = self.recovery.parked.get() else {
            return false;
        };
        self.drop_parked(s, pool);
        true
    }

    /// The parked socket of namespace `ns` that a CONNECT's `auth` asks to recover at `now`
    /// (`keep`: the recovery duration), taken out of the parked list with the offset to
    /// replay from saved. `None` (a new socket) when the auth asks for nothing, or for a
    /// socket that is unknown, expired, forged, or whose missed packets left the log (that
    /// one is forgotten, and such a miss is counted).
    pub(super) fn claim(
        &mut self,
        ns: u16,
        auth: &[u8],
        now: u64,
        keep: u32,
        pool: &mut Pool<'_>,
    ) -> Option<SocketIx> {
        let (pid, offset) = auth_claim(auth)?;
        let found = self.recovery.parse_pid(pid).and_then(|(index, era)| {
            let i = self.sockets.ix(index)?;
            let s = &self.sockets[i].0;
            (s.state == SockState::Parked && s.era == era && s.ns == ns).then_some(i)
        });
        let Some(sock) = found else {
            self.recovery.missed += 1;
            return None;
        };
        if self.parked_at(sock, pool).saturating_add(u64::from(keep)) <= now
            || !self.recovery.offset_kept(offset)
        {
            self.recovery.missed += 1;
            self.drop_parked(sock, pool);
            return None;
        }
        self.unpark(sock);
        pool.overwrite(self.sockets[sock].0.name_msg, 8, &offset.to_le_bytes());
        Some(sock)
    }

    /// The saved message of a pending socket a CONNECT recovered.
    pub(super) fn recovering(&self, sock: SocketIx) -> Option<u32> {
        let s = &self.sockets[sock].0;
        (s.state == SockState::Pending && s.ns != u16::MAX && s.name_msg != NONE)
            .then_some(s.name_msg)
    }

    /// The offset a saved message recovers from, and its room names.
    pub(super) fn saved_rooms<'p>(
        saved: u32,
        pool: &'p Pool<'_>,
    ) -> (u64, impl Iterator<Item = ([u8; MAX_NAME], usize)> + 'p) {
        let mut r = pool.reader(saved);
        let mut head = [0u8; SAVED];
        pool.read(&mut r, &mut head);
        let names = core::iter::from_fn(move || {
            let mut len = [0u8; 1];
            if pool.read(&mut r, &mut len) == 0 {
                return None;
            }
            let mut name = [0u8; MAX_NAME];
            let n = usize::from(len[0]).min(MAX_NAME);
            let got = pool.read(&mut r, &mut name[..n]);
            Some((name, got))
        });
        (word64(&head[8..]), names)
    }
}

impl Server<'_> {
    /// Logs the packet of `offset` (see [`SocketIoLayer::log_packet`]), after dropping
    /// what aged out of the log.
    pub(super) fn log_packet(
        &mut self,
        offset: u64,
        ns: u16,
        msgs: &[u32],
        to: &Targets<'_>,
        own: Option<SocketIx>,
    ) {
        let (now, keep, cap) = (
            self.now,
            self.config.recovery,
            self.config.recovery_log_bytes,
        );
        self.socketio.expire_recovery(now, keep, &mut self.pool);
        self.socketio
            .log_packet(&mut self.pool, now, cap, offset, ns, msgs, to, own);
    }

    /// Recovered socket `sock` of session `sess`, just admitted, joins the rooms its saved
    /// message lists and gets the logged packets it missed, in order (selected by the rooms
    /// it had, whether or not each could be joined again); the first room it could not
    /// join again is the error.
    pub(super) fn restore(
        &mut self,
        sess: SessionIx,
        sock: SocketIx,
        saved: u32,
    ) -> Result<(), CommandError> {
        let max = self.config.max_rooms_per_socket;
        let (offset, names) = SocketIoLayer::saved_rooms(saved, &self.pool);
        let mut first = None;
        for (name, len) in names {
            let room = core::str::from_utf8(&name[..len]).unwrap_or_default();
            if let Err(e) = self.socketio.join(sock, room, max) {
                first.get_or_insert(e);
            }
        }
        let ns = self.socketio.sockets[sock].0.ns;
        let mut at = self.socketio.recovery.log.cursor();
        while let Some(h) = self.pool.next_in(&mut at) {
            let (off, entry_ns, count) = SocketIoLayer::log_entry(h, &self.pool);
            let mut msgs: PacketMsgs = [NONE; 1 + MAX_EMIT_ATTACHMENTS];
            let count = count.min(msgs.len());
            for m in msgs.iter_mut().take(count) {
                *m = self.pool.next_in(&mut at).unwrap_or(NONE);
            }
            if off <= offset
                || entry_ns != ns
                || !self.socketio.log_selects(sock, saved, h, &self.pool)
            {
                continue;
            }
            for &m in &msgs[..count] {
                self.pool.retain(m);
            }
            if self.queue_packets(sess, &msgs[..count]).is_err() {
                // The client cannot be given all it missed: it is closed (a slow reader,
                // not parked), and comes back as a new socket.
                self.close_session(sess, CloseReason::SlowReader, false);
                break;
            }
        }
        first.map_or(Ok(()), Err)
    }
}
