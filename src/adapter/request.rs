//! The adapter's requests between servers and their responses.
//!
//! Requests go to every server of a namespace on `PREFIX-request#NSP#`, answers come back on
//! `PREFIX-response#NSP#`. Both are JSON objects (`{"uid":…,"requestId":…,"type":…,…}`),
//! except the broadcast that collects acknowledgements (type 7) and its acknowledgements
//! (type 9), which are `MessagePack`; the first byte tells them apart (`{`).

use core::fmt;

use super::{DecodeError, Recipients, Uid};
use crate::BufferTooSmall;
use crate::json::{self, JsonStr, Object};
use crate::msgpack::{Reader, Value};
use crate::write::Writer;

/// What a request asks of the other servers (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// 0: the ids of the sockets in some rooms (`{rooms}`); answered with `{sockets}`.
    Sockets,
    /// 1: every room name; answered with `{rooms}`.
    AllRooms,
    /// 2: the selected sockets join `rooms` (`{opts, rooms}`), or socket `sid` joins
    /// `room`.
    RemoteJoin,
    /// 3: the selected sockets leave `rooms`, or socket `sid` leaves `room`.
    RemoteLeave,
    /// 4: the selected sockets are disconnected (`{opts, close}`), or socket `sid`.
    RemoteDisconnect,
    /// 5: the details of the selected sockets (`{opts}`); answered with `{sockets}`.
    RemoteFetch,
    /// 6: an event for the servers themselves (`{data: [event, ...args]}`), answered with
    /// `{type: 6, data}` when it has a `requestId`.
    ServerSideEmit,
    /// 7: a broadcast whose clients' acknowledgements are collected (`MessagePack`).
    Broadcast,
}

impl RequestKind {
    /// The kind of type number `code`.
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Sockets,
            1 => Self::AllRooms,
            2 => Self::RemoteJoin,
            3 => Self::RemoteLeave,
            4 => Self::RemoteDisconnect,
            5 => Self::RemoteFetch,
            6 => Self::ServerSideEmit,
            7 => Self::Broadcast,
            _ => return None,
        })
    }

    /// The type number.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// A request's id, which its answers carry: up to 16 bytes of text (Node draws 6
/// characters of `A-Za-z0-9-_`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    len: u8,
    bytes: [u8; 16],
}

impl RequestId {
    /// The id made of six random bytes, as Node draws them.
    pub const fn from_random(bytes: [u8; 6]) -> Self {
        let uid = Uid::from_random(bytes);
        let mut id = [0u8; 16];
        let mut i = 0;
        while i < 6 {
            id[i] = uid.0[i];
            i += 1;
        }
        Self { len: 6, bytes: id }
    }

    /// The id `text`, when it has at most 16 bytes.
    pub fn new(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 16];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(Self {
            len: text.len() as u8,
            bytes,
        })
    }

    /// The id read from a JSON string token's value, when it fits.
    fn from_json(s: JsonStr<'_>) -> Option<Self> {
        let mut bytes = [0u8; 16];
        let len = s.unescape_into(&mut bytes).ok()?;
        core::str::from_utf8(&bytes[..len]).ok()?;
        Some(Self {
            len: len as u8,
            bytes,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The strings of a JSON array (room names); a number counts as its digits, as Node
/// allows numeric rooms.
#[derive(Debug, Clone)]
pub struct Names<'a>(json::Elements<'a>);

impl<'a> Names<'a> {
    /// The names of a validated JSON array (`[]` when it is not one).
    fn of(array: &'a [u8]) -> Self {
        let inner = match array.first() {
            Some(b'[') => array.get(1..array.len() - 1).unwrap_or_default(),
            _ => &[],
        };
        Self(json::elements(inner))
    }
}

impl<'a> Iterator for Names<'a> {
    /// A name; `None` for an element that is neither a string nor a number.
    type Item = Option<JsonStr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let v = self.0.next()?;
        Some(match v.first() {
            Some(b'"') => JsonStr::from_value(v),
            Some(b'-' | b'0'..=b'9') => Some(JsonStr::unquoted(v)),
            _ => None,
        })
    }
}

/// A decoded request, borrowing the message.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    kind: RequestKind,
    uid: Option<JsonStr<'a>>,
    request_id: Option<JsonStr<'a>>,
    /// `opts.rooms` and `opts.except` (JSON arrays), when `opts` is there.
    opts: Option<(&'a [u8], &'a [u8])>,
    rooms: &'a [u8],
    room: Option<JsonStr<'a>>,
    sid: Option<JsonStr<'a>>,
    close: bool,
    data: &'a [u8],
}

impl<'a> Request<'a> {
    /// Reads a request: JSON when it starts with `{`, `MessagePack` otherwise (only the
    /// broadcast with acknowledgements is; of it, the kind, uid and request id are read).
    /// Fields are read by key, in any order; unknown ones are skipped.
    ///
    /// # Errors
    /// [`DecodeError`] for input that is not a request.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut req = Self {
            kind: RequestKind::Sockets,
            uid: None,
            request_id: None,
            opts: None,
            rooms: b"[]",
            room: None,
            sid: None,
            close: false,
            data: b"[]",
        };
        if msg.first() != Some(&b'{') {
            return Self::decode_msgpack(msg, req);
        }
        let obj = Object::parse_with(msg, &super::LIMITS).map_err(|_| DecodeError::Shape)?;
        let mut kind = None;
        for (key, v) in obj.members() {
            let text = || JsonStr::from_value(v).ok_or(DecodeError::Shape);
            if key.eq_str("type") {
                kind = core::str::from_utf8(v).ok().and_then(|t| t.parse().ok());
            } else if key.eq_str("uid") {
                req.uid = JsonStr::from_value(v);
            } else if key.eq_str("requestId") {
                req.request_id = JsonStr::from_value(v);
            } else if key.eq_str("opts") {
                req.opts = Some(selection(v)?);
            } else if key.eq_str("rooms") {
                req.rooms = array(v)?;
            } else if key.eq_str("room") {
                req.room = Some(text()?);
            } else if key.eq_str("sid") {
                req.sid = Some(text()?);
            } else if key.eq_str("close") {
                req.close = v == b"true";
            } else if key.eq_str("data") {
                req.data = array(v)?;
            }
        }
        req.kind = kind
            .and_then(RequestKind::from_code)
            .ok_or(DecodeError::Shape)?;
        Ok(req)
    }

    fn decode_msgpack(msg: &'a [u8], mut req: Self) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        let mut kind = None;
        for _ in 0..n {
            match r.read()? {
                Value::Str("type") => {
                    kind = match r.read()? {
                        Value::Int(k) => u64::try_from(k).ok(),
                        Value::UInt(k) => Some(k),
                        _ => None,
                    }
                }
                Value::Str("uid") => req.uid = msgpack_str(r.read()?),
                Value::Str("requestId") => req.request_id = msgpack_str(r.read()?),
                _ => r.skip()?,
            }
        }
        req.kind = kind
            .and_then(RequestKind::from_code)
            .ok_or(DecodeError::Shape)?;
        Ok(req)
    }

    /// The kind.
    pub const fn kind(&self) -> RequestKind {
        self.kind
    }

    /// The sending server's uid (the emitter sends none).
    pub const fn uid(&self) -> Option<JsonStr<'a>> {
        self.uid
    }

    /// The id its answers must carry, when it expects any.
    pub fn request_id(&self) -> Option<RequestId> {
        self.request_id.and_then(RequestId::from_json)
    }

    /// Whether it has a `requestId` (a server-side emit that wants answers does).
    pub const fn has_request_id(&self) -> bool {
        self.request_id.is_some()
    }

    /// `opts`: the rooms whose sockets it selects (none: every socket) and the rooms whose
    /// sockets it leaves out; `None` when the request names one socket (`sid`) instead.
    pub fn selection(&self) -> Option<(Names<'a>, Names<'a>)> {
        self.opts.map(|(r, e)| (Names::of(r), Names::of(e)))
    }

    /// `rooms`: to join or leave, or whose sockets a SOCKETS request wants.
    pub fn rooms(&self) -> Names<'a> {
        Names::of(self.rooms)
    }

    /// `room`, of the one-socket form of join and leave.
    pub const fn room(&self) -> Option<JsonStr<'a>> {
        self.room
    }

    /// `sid`, the socket of the one-socket form.
    pub const fn sid(&self) -> Option<JsonStr<'a>> {
        self.sid
    }

    /// `close`, of a disconnect: close the clients' connections too.
    pub const fn close(&self) -> bool {
        self.close
    }

    /// `data` of a server-side emit: the JSON array `[event, ...args]`.
    pub const fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A decoded response, borrowing the message.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    request_id: Option<JsonStr<'a>>,
    kind: Option<u64>,
    sockets: Option<&'a [u8]>,
    rooms: Option<&'a [u8]>,
    data: Option<&'a [u8]>,
    client_count: Option<u64>,
    packet: Option<&'a [u8]>,
}

impl<'a> Response<'a> {
    /// Reads a response: JSON when it starts with `{`, otherwise `MessagePack` (a broadcast
    /// acknowledgement, of which the type, the request id and the packet are read).
    ///
    /// # Errors
    /// [`DecodeError`] for input that is not a response.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut resp = Self {
            request_id: None,
            kind: None,
            sockets: None,
            rooms: None,
            data: None,
            client_count: None,
            packet: None,
        };
        if msg.first() != Some(&b'{') {
            let mut r = Reader::new(msg);
            let Value::Map(n) = r.read()? else {
                return Err(DecodeError::Shape);
            };
            for _ in 0..n {
                match r.read()? {
                    Value::Str("type") => {
                        resp.kind = match r.read()? {
                            Value::Int(k) => u64::try_from(k).ok(),
                            Value::UInt(k) => Some(k),
                            _ => None,
                        }
                    }
                    Value::Str("requestId") => resp.request_id = msgpack_str(r.read()?),
                    Value::Str("packet") => resp.packet = Some(r.raw()?),
                    _ => r.skip()?,
                }
            }
            return Ok(resp);
        }
        let obj = Object::parse_with(msg, &super::LIMITS).map_err(|_| DecodeError::Shape)?;
        for (key, v) in obj.members() {
            if key.eq_str("requestId") {
                resp.request_id = JsonStr::from_value(v);
            } else if key.eq_str("type") {
                resp.kind = core::str::from_utf8(v).ok().and_then(|t| t.parse().ok());
            } else if key.eq_str("sockets") {
                resp.sockets = v.starts_with(b"[").then_some(v);
            } else if key.eq_str("rooms") {
                resp.rooms = v.starts_with(b"[").then_some(v);
            } else if key.eq_str("data") {
                resp.data = Some(v);
            } else if key.eq_str("clientCount") {
                resp.client_count = core::str::from_utf8(v).ok().and_then(|t| t.parse().ok());
            }
        }
        Ok(resp)
    }

    /// The id of the request it answers.
    pub fn request_id(&self) -> Option<RequestId> {
        self.request_id.and_then(RequestId::from_json)
    }

    /// `type`, when it has one (answers to server-side emits and broadcasts do).
    pub const fn kind(&self) -> Option<u64> {
        self.kind
    }

    /// `sockets`: a JSON array of ids ([`RequestKind::Sockets`]) or of socket details
    /// ([`RequestKind::RemoteFetch`]).
    pub const fn sockets(&self) -> Option<&'a [u8]> {
        self.sockets
    }

    /// `rooms`: a JSON array of room names ([`RequestKind::AllRooms`]).
    pub const fn rooms(&self) -> Option<&'a [u8]> {
        self.rooms
    }

    /// `data`: a server-side emit's answer, one JSON value.
    pub const fn data(&self) -> Option<&'a [u8]> {
        self.data
    }

    /// `clientCount`, of a server's answer to a broadcast that collects acknowledgements
    /// (type 8): how many of its clients were asked; `None` when missing or not a whole
    /// number.
    pub const fn client_count(&self) -> Option<u64> {
        self.client_count
    }

    /// `packet`, of a client's acknowledgement of such a broadcast (type 9, `MessagePack`):
    /// its one value, raw.
    pub const fn packet(&self) -> Option<&'a [u8]> {
        self.packet
    }
}

/// A request this server sends.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outgoing<'t> {
    /// [`RequestKind::RemoteFetch`]: the details of the sockets `to` selects.
    Fetch(&'t Recipients<'t>),
    /// [`RequestKind::RemoteJoin`]: the sockets `to` selects join `rooms`.
    Join(&'t Recipients<'t>, &'t [&'t str]),
    /// [`RequestKind::RemoteLeave`]: the sockets `to` selects leave `rooms`.
    Leave(&'t Recipients<'t>, &'t [&'t str]),
    /// [`RequestKind::RemoteDisconnect`]: the sockets `to` selects are disconnected; with `close`, their
    /// connections are closed.
    Disconnect(&'t Recipients<'t>, bool),
    /// [`RequestKind::ServerSideEmit`] of `event` with `args` (a JSON list, no brackets).
    ServerSideEmit(&'t str, &'t [u8]),
}

/// Writes request `req` as server `uid` sends it, with `request_id` when it expects
/// answers; returns its length. `ServerSideEmit`'s arguments must be a valid JSON list.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn write_request(
    out: &mut [u8],
    uid: &Uid,
    request_id: Option<&RequestId>,
    req: &Outgoing<'_>,
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(b"{\"uid\":");
    json::put_str(&mut w, uid.as_str());
    if let Some(id) = request_id {
        w.put(b",\"requestId\":");
        json::put_str(&mut w, id.as_str());
    }
    let kind = match req {
        Outgoing::Fetch(_) => RequestKind::RemoteFetch,
        Outgoing::Join(..) => RequestKind::RemoteJoin,
        Outgoing::Leave(..) => RequestKind::RemoteLeave,
        Outgoing::Disconnect(..) => RequestKind::RemoteDisconnect,
        Outgoing::ServerSideEmit(..) => RequestKind::ServerSideEmit,
    };
    w.put(b",\"type\":");
    w.decimal(u64::from(kind.code()));
    match req {
        Outgoing::Fetch(to) => put_opts(&mut w, to),
        Outgoing::Join(to, rooms) | Outgoing::Leave(to, rooms) => {
            put_opts(&mut w, to);
            w.put(b",\"rooms\":");
            put_names(&mut w, rooms);
        }
        Outgoing::Disconnect(to, close) => {
            put_opts(&mut w, to);
            w.put(if *close {
                b",\"close\":true"
            } else {
                b",\"close\":false"
            });
        }
        Outgoing::ServerSideEmit(event, args) => {
            w.put(b",\"data\":[");
            json::put_str(&mut w, event);
            if json::elements(args).next().is_some() {
                w.byte(b',');
                w.put(args);
            }
            w.byte(b']');
        }
    }
    w.byte(b'}');
    w.finish()
}

/// `,"opts":{"rooms":[…],"except":[…]}`.
fn put_opts(w: &mut Writer<'_>, to: &Recipients<'_>) {
    w.put(b",\"opts\":{\"rooms\":");
    put_names(w, to.rooms);
    w.put(b",\"except\":");
    put_names(w, to.except);
    w.byte(b'}');
}

/// A JSON array of strings.
fn put_names(w: &mut Writer<'_>, names: &[&str]) {
    w.byte(b'[');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            w.byte(b',');
        }
        json::put_str(w, name);
    }
    w.byte(b']');
}

/// A validated JSON array value.
fn array(v: &[u8]) -> Result<&[u8], DecodeError> {
    if v.first() == Some(&b'[') {
        Ok(v)
    } else {
        Err(DecodeError::Shape)
    }
}

/// `opts`: its `rooms` and `except` arrays (missing ones are empty).
fn selection(v: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    if v.first() != Some(&b'{') {
        return Err(DecodeError::Shape);
    }
    let (mut rooms, mut except) = (&b"[]"[..], &b"[]"[..]);
    for (key, v) in Object::from_validated(v).members() {
        if key.eq_str("rooms") {
            rooms = array(v)?;
        } else if key.eq_str("except") {
            except = array(v)?;
        }
    }
    Ok((rooms, except))
}

/// A `MessagePack` string as a string token's value (it has no escapes).
fn msgpack_str(v: Value<'_>) -> Option<JsonStr<'_>> {
    match v {
        Value::Str(s) => Some(JsonStr::unquoted(s.as_bytes())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `n` holds exactly `want`, unescaped.
    fn names_are(mut n: Names<'_>, want: &[&str]) -> bool {
        want.iter()
            .all(|w| n.next().is_some_and(|s| s.is_some_and(|s| s.eq_str(w))))
            && n.next().is_none()
    }

    #[test]
    fn requests_read_by_key_in_any_order() {
        let msg = br#"{"type":2,"opts":{"except":["x"],"rooms":["a","b\"c",7]},"rooms":["r"],"uid":"abcdef"}"#;
        let r = Request::decode(msg).unwrap();
        assert_eq!(r.kind(), RequestKind::RemoteJoin);
        assert!(r.uid().unwrap().eq_str("abcdef"));
        assert!(r.request_id().is_none());
        let (rooms, except) = r.selection().unwrap();
        assert!(names_are(rooms, &["a", "b\"c", "7"]));
        assert!(names_are(except, &["x"]));
        assert!(names_are(r.rooms(), &["r"]));
        assert!(!names_are(r.rooms(), &["r", "s"]) && !names_are(r.rooms(), &[]));

        let r = Request::decode(br#"{"requestId":"q1","type":4,"sid":"S","close":true}"#).unwrap();
        assert_eq!(r.kind(), RequestKind::RemoteDisconnect);
        assert!(r.selection().is_none());
        assert!(r.sid().unwrap().eq_str("S") && r.close());
        assert_eq!(r.request_id().unwrap().as_str(), "q1");
    }

    #[test]
    fn bad_requests_are_errors() {
        for bad in [
            &b"{"[..],
            br#"{"type":12}"#,
            br#"{"uid":"x"}"#,
            br#"{"type":2,"opts":[1]}"#,
            br#"{"type":2,"rooms":"a"}"#,
            b"\x81\xa4type\x0c",
            b"\xc1",
        ] {
            assert!(Request::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_written_as_node_writes_them() {
        let uid = Uid(*b"abcdef");
        let id = RequestId::new("r1").unwrap();
        let to = Recipients {
            rooms: &["a"],
            except: &["b\""],
            ..Recipients::ALL
        };
        let mut out = [0u8; 200];
        let cases: [(Option<&RequestId>, Outgoing<'_>, &str); 5] = [
            (
                Some(&id),
                Outgoing::Fetch(&to),
                r#"{"uid":"abcdef","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":["b\""]}}"#,
            ),
            (
                None,
                Outgoing::Join(&to, &["x", "y"]),
                r#"{"uid":"abcdef","type":2,"opts":{"rooms":["a"],"except":["b\""]},"rooms":["x","y"]}"#,
            ),
            (
                None,
                Outgoing::Disconnect(&Recipients::ALL, true),
                r#"{"uid":"abcdef","type":4,"opts":{"rooms":[],"except":[]},"close":true}"#,
            ),
            (
                Some(&id),
                Outgoing::ServerSideEmit("ping", b"1,{\"a\":[]}"),
                r#"{"uid":"abcdef","requestId":"r1","type":6,"data":["ping",1,{"a":[]}]}"#,
            ),
            (
                None,
                Outgoing::ServerSideEmit("ping", b""),
                r#"{"uid":"abcdef","type":6,"data":["ping"]}"#,
            ),
        ];
        for (id, req, want) in cases {
            let n = write_request(&mut out, &uid, id, &req).unwrap();
            assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), want);
            // What was written reads back.
            let back = Request::decode(&out[..n]).unwrap();
            assert_eq!(back.request_id(), id.copied());
            assert!(write_request(&mut out[..n - 1], &uid, id, &req).is_err());
        }
    }

    #[test]
    fn responses_json_and_msgpack() {
        let r = Response::decode(br#"{"requestId":"abc","sockets":[{"id":"x"}]}"#).unwrap();
        assert_eq!(r.request_id().unwrap().as_str(), "abc");
        assert_eq!(r.sockets(), Some(&br#"[{"id":"x"}]"#[..]));
        let r = Response::decode(br#"{"type":6,"requestId":"q","data":"pong"}"#).unwrap();
        assert_eq!((r.kind(), r.data()), (Some(6), Some(&br#""pong""#[..])));
        // {type: 9, requestId: "q", packet: 1}, as notepack writes it.
        let r = Response::decode(b"\x83\xa4type\x09\xa9requestId\xa1q\xa6packet\x01").unwrap();
        assert_eq!((r.kind(), r.request_id().unwrap().as_str()), (Some(9), "q"));
        assert_eq!(r.packet(), Some(&b"\x01"[..]));
        // Without a value, notepack writes no `packet`.
        let r = Response::decode(b"\x82\xa4type\x09\xa9requestId\xa1q").unwrap();
        assert_eq!((r.kind(), r.packet()), (Some(9), None));
        // A server's count of the clients it asked, as Node's JSON.stringify writes it.
        let r = Response::decode(br#"{"type":8,"requestId":"q","clientCount":12}"#).unwrap();
        assert_eq!((r.kind(), r.client_count()), (Some(8), Some(12)));
        let r = Response::decode(br#"{"type":8,"requestId":"q","clientCount":"x"}"#).unwrap();
        assert_eq!(r.client_count(), None);
        assert!(Response::decode(b"{\"requestId\":").is_err());
    }

    #[test]
    fn request_ids_fit_or_not() {
        assert!(RequestId::new("0123456789abcdef").is_some());
        assert!(RequestId::new("0123456789abcdefg").is_none());
        let id = RequestId::from_random([0, 1, 62, 63, 64, 255]);
        assert_eq!(id.as_str(), "AB-_A_");
    }
}
