//! Connection state recovery, the client's part (feature `recovery`): each namespace's
//! private session id and last offset, the CONNECT packet that offers them back, and the
//! offset taken off the events the server sends.
//!
//! Checked against socket.io 4.8.4 and socket.io-client 4.8.4: the server with
//! `connectionStateRecovery` answers CONNECT with `{"sid":"…","pid":"…"}`, and appends a
//! string offset to every event it stores for a later replay (events without an ack
//! request and not volatile, whether to one socket, a room or everyone), and the missed
//! ones before its answer to a CONNECT that offers the session; the client merges
//! `"pid":"…","offset":"…"` into its auth object when it connects again (socket.io-client
//! puts them first, this client last: the server reads the members by name).

use super::{Client, CommandError, NamespaceId, NsState, Phase};
use crate::write::Writer;

/// Longest private session id kept. Node's are 20 characters; a longer one sent by a
/// server is not kept, so that namespace does not recover.
pub const RECOVERY_PID_MAX: usize = 32;
/// Longest offset kept. Node's in-memory adapter sends about 8 characters, its Redis
/// streams and Mongo adapters up to 24. A longer string at the end of an event is not
/// taken for an offset (it is the application's), and the session is not recovered.
pub const RECOVERY_OFFSET_MAX: usize = 32;
/// The length of a saved state ([`Client::recovery_state`]): 67 bytes.
pub const RECOVERY_STATE_LEN: usize = 3 + RECOVERY_PID_MAX + RECOVERY_OFFSET_MAX;

/// The first byte of a saved state: its format (0: no session).
const FORMAT: u8 = 1;
/// Where the pid's bytes start (its length is at 1).
const PID: usize = 2;
/// Where the offset's length is, its bytes after it.
const OFFSET_LEN: usize = PID + RECOVERY_PID_MAX;
const OFFSET: usize = OFFSET_LEN + 1;

/// Room for `,"pid":"…","offset":"…"}` with both at their longest: what a CONNECT
/// offering a session adds.
pub(super) const MEMBERS_MAX: usize = 24 + RECOVERY_PID_MAX + RECOVERY_OFFSET_MAX;

/// One namespace's session to resume, kept in its saved form (see
/// [`Client::recovery_state`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Resume([u8; RECOVERY_STATE_LEN]);

/// Bytes a pid or an offset may hold: printable ASCII but `"` and `\`, so that the text
/// goes into JSON as it is (Node's are base64 and base64url characters).
#[inline(never)]
fn plain(s: &[u8]) -> bool {
    s.iter().all(|&b| plain_byte(b))
}

fn plain_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'"' && b != b'\\'
}

impl Resume {
    pub(super) const NONE: Self = Self([0; RECOVERY_STATE_LEN]);

    /// Whether there is a session to resume.
    pub(super) const fn is_some(&self) -> bool {
        self.0[0] == FORMAT
    }

    /// The private session id, when there is a session to resume.
    pub(super) fn pid(&self) -> Option<&[u8]> {
        let pid = self.0.get(PID..PID + usize::from(self.0[1]));
        pid.filter(|_| self.0[0] == FORMAT)
    }

    /// The last offset received (empty before the first one).
    fn offset(&self) -> &[u8] {
        let end = OFFSET + usize::from(self.0[OFFSET_LEN]);
        self.0.get(OFFSET..end).unwrap_or_default()
    }

    /// Forgets the session (its bytes stay until a new pid replaces them).
    pub(super) fn clear(&mut self) {
        self.0[0] = 0;
    }

    /// Keeps a new pid, without an offset; a pid that cannot be kept leaves none.
    fn set_pid(&mut self, pid: &[u8]) {
        *self = Self::NONE;
        if let Some(dst) = self.0.get_mut(PID..PID + pid.len())
            && !pid.is_empty()
            && pid.len() <= RECOVERY_PID_MAX
            && plain(pid)
        {
            dst.copy_from_slice(pid);
            self.0[1] = pid.len() as u8;
            self.0[0] = FORMAT;
        }
    }

    /// Records the offset of an event (at most [`RECOVERY_OFFSET_MAX`] plain bytes, as
    /// `split_offset` gives).
    pub(super) fn set_offset(&mut self, offset: &[u8]) {
        let (len, rest) = self.0[OFFSET_LEN..].split_at_mut(1);
        if offset.len() <= rest.len() {
            rest.fill(0);
            rest[..offset.len()].copy_from_slice(offset);
            len[0] = offset.len() as u8;
        }
    }

    /// The CONNECT packet `pkt` with the pid and offset merged into its auth object,
    /// put together in `scratch`: `40/chat,{"token":"t"}` becomes
    /// `40/chat,{"token":"t","pid":"…","offset":"…"}`, `40/chat,` becomes
    /// `40/chat,{"pid":"…","offset":"…"}`. Without a session (or room), `pkt` itself.
    pub(super) fn connect_packet<'p>(&self, pkt: &'p [u8], scratch: &'p mut [u8]) -> &'p [u8] {
        let Some(pid) = self.pid() else {
            return pkt;
        };
        // An auth object is stored trimmed and never empty (`Client::connect`), so the
        // packet ends with its `}` when it has one (the namespace ends with `,`).
        let (before, open): (&[u8], &[u8]) = match pkt.split_last() {
            Some((b'}', before)) => (before, b",\"pid\":\""),
            _ => (pkt, b"{\"pid\":\""),
        };
        let mut w = Writer::new(scratch);
        for part in [before, open, pid] {
            w.put(part);
        }
        // Before the first event there is no offset: left out, as socket.io-client does
        // (the server then starts a new session).
        let offset = self.offset();
        if !offset.is_empty() {
            w.put(b"\",\"offset\":\"");
            w.put(offset);
        }
        w.put(b"\"}");
        match w.finish() {
            Ok(n) => scratch.get(..n).unwrap_or_default(),
            Err(_) => pkt,
        }
    }
}

/// The offset at the end of an event's arguments: when the last argument is a string of
/// at most [`RECOVERY_OFFSET_MAX`] printable characters without escapes, right after the
/// comma that ends the one before (compact JSON, as Node writes it), the length of the
/// arguments before it and its text (`1,"a","Lz3"` gives 5 and `Lz3`). Any other last
/// argument is not taken for an offset.
pub(super) fn split_offset(args: &[u8]) -> Option<(usize, &[u8])> {
    let (&b'"', inner) = args.split_last()? else {
        return None;
    };
    // The opening quote: the first `"` back from the end. A `\` met first means escapes
    // (an offset has none); a quote found right after one (`\"`) is inside the string.
    let mut q = inner.len();
    loop {
        q = q.checked_sub(1)?;
        let b = *inner.get(q)?;
        if b == b'"' {
            break;
        }
        if !plain_byte(b) || inner.len() - q > RECOVERY_OFFSET_MAX {
            return None;
        }
    }
    // What precedes the string: nothing, or the comma after the previous argument.
    let keep = match q.checked_sub(1) {
        None => 0,
        Some(c) if inner.get(c) == Some(&b',') => c,
        Some(_) => return None,
    };
    Some((keep, inner.get(q + 1..)?))
}

impl<const NS: usize, const ACKS: usize, const POLLING: bool> Client<'_, NS, ACKS, POLLING> {
    /// Namespace `ns`'s session to resume, in a form to keep across a reboot: `None` when
    /// there is none (the server does not run connection state recovery, or the namespace
    /// was left on purpose).
    ///
    /// The format (version 1), [`RECOVERY_STATE_LEN`] bytes: the byte `1`; the private
    /// session id's length (1 to [`RECOVERY_PID_MAX`]), then [`RECOVERY_PID_MAX`] bytes
    /// that start with it; the last offset's length (0 before the first event, at most
    /// [`RECOVERY_OFFSET_MAX`]), then [`RECOVERY_OFFSET_MAX`] bytes that start with it.
    /// Both are printable ASCII without `"` or `\`; in a state the client made, the bytes
    /// after them are zero.
    ///
    /// The offset moves with every event received. A state saved earlier still resumes
    /// the session, but the server replays from its older offset, so the events after it
    /// come again. Read it before [`Client::close`] or [`Client::disconnect`], which
    /// forget the session.
    pub fn recovery_state(&self, ns: NamespaceId) -> Option<&[u8; RECOVERY_STATE_LEN]> {
        let r = &self.resume[self.ns_index(ns).ok()?];
        r.is_some().then_some(&r.0)
    }

    /// Gives namespace `ns` a session to resume (a state [`Client::recovery_state`] gave,
    /// perhaps before a reboot): its next CONNECT offers it, and if the server still holds
    /// that session, [`Event::Connect`](super::Event::Connect) says `recovered`. A state
    /// whose first byte is 0 (all zeros, say) forgets the session. Call it after
    /// [`Client::connect`], while no session is open (before [`Client::start`], or while
    /// reconnecting), or while the namespace is refused or kicked.
    ///
    /// # Errors
    /// [`CommandError::UnknownNamespace`]; [`CommandError::NamespaceInUse`] while a session
    /// is open and the namespace is joined or joining;
    /// [`CommandError::InvalidRecoveryState`] for bytes that are not a saved state.
    /// Nothing changed then.
    pub fn restore_recovery(
        &mut self,
        ns: NamespaceId,
        state: &[u8; RECOVERY_STATE_LEN],
    ) -> Result<(), CommandError> {
        let i = self.ns_index(ns)?;
        if self.phase == Phase::Open && self.nss[i].state != NsState::Parked {
            return Err(CommandError::NamespaceInUse);
        }
        let (p, o) = (usize::from(state[1]), usize::from(state[OFFSET_LEN]));
        let valid = (1..=RECOVERY_PID_MAX).contains(&p)
            && o <= RECOVERY_OFFSET_MAX
            && plain(&state[PID..PID + p])
            && plain(&state[OFFSET..OFFSET + o]);
        match state[0] {
            0 => self.resume[i].clear(),
            FORMAT if valid => self.resume[i].0 = *state,
            _ => return Err(CommandError::InvalidRecoveryState),
        }
        Ok(())
    }

    /// Whether namespace `i` is joining with a session to offer: a server that still holds
    /// it replays the missed events before it answers the CONNECT.
    pub(super) fn replaying(&self, i: usize) -> bool {
        self.nss[i].state == NsState::Joining && self.resume[i].is_some()
    }

    /// The CONNECT answer of namespace `i`, given its `pid` member's raw value: keeps the
    /// pid and says whether the session was recovered, which is when the server answers
    /// with the pid it was offered (as socket.io-client decides). A new session starts
    /// without an offset; an answer without a pid, or with one that cannot be kept, leaves
    /// none.
    pub(super) fn on_connect_answer(&mut self, i: usize, pid: Option<&[u8]>) -> bool {
        // A string's text between its quotes (escapes, if any, make it unfit to keep).
        let pid = pid
            .filter(|v| v.first() == Some(&b'"'))
            .and_then(|v| v.get(1..v.len() - 1));
        let r = &mut self.resume[i];
        // The pid offered is the one kept (`restore_recovery` waits for the answer).
        let recovered = pid.is_some() && pid == r.pid();
        if !recovered {
            r.set_pid(pid.unwrap_or_default());
        }
        recovered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(pid: &[u8], offset: &[u8]) -> Resume {
        let mut r = Resume::NONE;
        r.set_pid(pid);
        if !offset.is_empty() {
            r.set_offset(offset);
        }
        r
    }

    fn merged(r: &Resume, pkt: &[u8]) -> Vec<u8> {
        let mut scratch = [0u8; 256];
        r.connect_packet(pkt, &mut scratch).to_vec()
    }

    extern crate std;
    use std::format;
    use std::vec::Vec;

    #[test]
    fn connect_payload_merges_pid_and_offset_into_the_auth() {
        let r = resume(b"P1", b"O1");
        assert_eq!(merged(&r, b"40"), br#"40{"pid":"P1","offset":"O1"}"#);
        assert_eq!(
            merged(&r, b"40/a},"),
            br#"40/a},{"pid":"P1","offset":"O1"}"#
        );
        assert_eq!(
            merged(&r, br#"40/chat,{"token":"t"}"#),
            br#"40/chat,{"token":"t","pid":"P1","offset":"O1"}"#
        );
        assert_eq!(
            merged(&r, br#"40{"a":{"b":1}}"#),
            br#"40{"a":{"b":1},"pid":"P1","offset":"O1"}"#
        );
        // No event yet: no offset, as socket.io-client (`offset` undefined is left out).
        let r = resume(b"P1", b"");
        assert_eq!(merged(&r, br#"40{"k":1}"#), br#"40{"k":1,"pid":"P1"}"#);
        assert_eq!(merged(&Resume::NONE, br#"40{"k":1}"#), br#"40{"k":1}"#);
        // No room: the packet as it is (no recovery rather than a broken packet).
        let mut small = [0u8; 8];
        assert_eq!(r.connect_packet(b"40/chat,", &mut small), b"40/chat,");
    }

    #[test]
    fn the_state_has_fixed_places() {
        let r = resume(b"abc", b"xy");
        let mut want = [0u8; RECOVERY_STATE_LEN];
        want[..5].copy_from_slice(b"\x01\x03abc");
        want[34..37].copy_from_slice(b"\x02xy");
        assert_eq!(r.0, want);
        assert_eq!(r.pid(), Some(&b"abc"[..]));
        assert_eq!(r.offset(), b"xy");
        // A shorter offset leaves no trace of the longer one.
        let mut r = r;
        r.set_offset(b"z");
        assert_eq!(&r.0[34..37], b"\x01z\x00");
        let long = [b'a'; RECOVERY_PID_MAX + 1];
        assert!(resume(&long, b"").pid().is_none());
        assert!(resume(&long[1..], b"").pid().is_some());
        assert!(resume(b"a\"b", b"").pid().is_none());
        assert!(resume(b"a b", b"").pid().is_none());
        assert!(resume(b"", b"").pid().is_none());
    }

    #[test]
    fn the_offset_is_the_last_string_argument() {
        assert_eq!(split_offset(br#"1,"a","Lz3""#), Some((5, &b"Lz3"[..])));
        assert_eq!(split_offset(br#"1,"a" , "Lz3""#), None);
        assert_eq!(split_offset(br#""Lz3""#), Some((0, &b"Lz3"[..])));
        assert_eq!(split_offset(br#""""#), Some((0, &b""[..])));
        assert_eq!(
            split_offset(br#"{"_placeholder":true,"num":0},"o""#),
            Some((29, &b"o"[..]))
        );
        assert_eq!(split_offset(br#""a",1"#), None);
        assert_eq!(split_offset(b""), None);
        assert_eq!(split_offset(b"\""), None);
        // Escapes, or longer than an offset can be: not an offset.
        assert_eq!(split_offset(br#"1,"a\"b""#), None);
        assert_eq!(split_offset(br#"1,"a\\""#), None);
        assert_eq!(split_offset(br#"1,"a\",\"b""#), None);
        assert_eq!(split_offset(br#"1,"x y""#), None);
        let long = format!("1,\"{}\"", "a".repeat(RECOVERY_OFFSET_MAX + 1));
        assert_eq!(split_offset(long.as_bytes()), None);
        let max = format!("1,\"{}\"", "a".repeat(RECOVERY_OFFSET_MAX));
        assert_eq!(split_offset(max.as_bytes()).map(|s| s.0), Some(1));
    }
}
