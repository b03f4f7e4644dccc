//! The packets of the msgpack parser (`socket.io-msgpack-parser` 3.x, which writes with
//! notepack.io 2.2), feature `msgpack-parser`: a Socket.IO packet as one `MessagePack`
//! map, sent as one binary Engine.IO message (a WebSocket binary frame; over polling, a
//! `b` record of base64).
//!
//! The map has `type` (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 `CONNECT_ERROR`; the
//! binary types 5 and 6 are never used), `nsp`, `data` when there is some (an event's
//! `[name, ...args]`, an ack's `[...args]`, a CONNECT's auth object and its answer
//! `{sid, pid?}`, a `CONNECT_ERROR`'s `{message, data?}`) and `id` for an event that asks
//! for an acknowledgement and for the acknowledgement. Binary values are `bin` in place:
//! no attachments, no placeholders. Integers stay integers, other numbers are float 64.
//!
//! [`MsgPackPacket::decode`] reads one as the parser's decoder checks it: keys in any
//! order, unknown ones (the JavaScript client's `options`) skipped, notepack's `undefined`
//! (fixext 1 of type 0) taken as no value, every encoding of every value read. Arguments
//! move to Socket.IO's JSON form (placeholders and attachments) with
//! [`MsgPackPacket::write_args`], and back with the `encode_*` functions, which take
//! [`Args`] and write into any [`Sink`]. The server
//! ([`ServerConfig::parser`](crate::server::ServerConfig::parser)) and the client
//! ([`ClientConfig::parser`](crate::client::ClientConfig::parser)) both speak through them.
//!
//! ```
//! use siocore::msgpack::Writer;
//! use siocore::server::Args;
//! use siocore::sio::PacketType;
//! use siocore::sio::msgpack::{MsgPackPacket, encode_event};
//!
//! let mut buf = [0u8; 64];
//! let mut w = Writer::new(&mut buf);
//! let args = Args::binary(br#"1.5,{"_placeholder":true,"num":0}"#, &[&[7, 8]]);
//! encode_event(&mut w, "/", Some(4), Some("hi"), &args, None)?;
//!
//! let p = MsgPackPacket::decode(w.written())?;
//! assert_eq!(p.packet_type(), PacketType::Event);
//! assert_eq!((p.namespace(), p.ack_id(), p.event_name()), ("/", Some(4), Some("hi")));
//! let (mut json, mut blobs) = ([0u8; 64], [&[][..]; 2]);
//! let (len, n) = p.write_args(&mut json, &mut blobs)?;
//! assert_eq!(&json[..len], br#"1.5,{"_placeholder":true,"num":0}"#);
//! assert_eq!(&blobs[..n], [&[7u8, 8][..]]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{Args, MAX_ACK_ID, PacketType, check_args};
use crate::adapter::{self, DecodeError, EncodeError, JsonSink};
use crate::json;
use crate::msgpack::{Reader, Sink, Value};
use crate::write::Writer as TextWriter;

/// A packet of the msgpack parser, checked, borrowing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgPackPacket<'a> {
    kind: PacketType,
    nsp: &'a str,
    id: Option<u64>,
    /// The `MessagePack` of `data`, when there is one.
    data: Option<&'a [u8]>,
}

/// Whether the value whose marker is `marker` and which reads as `v` is notepack's
/// `undefined` (fixext 1 of type 0).
fn undefined(marker: Option<u8>, v: Value<'_>) -> bool {
    marker == Some(0xd4) && matches!(v, Value::Ext(0, _))
}

impl<'a> MsgPackPacket<'a> {
    /// Reads one packet (one whole binary message) as the parser's decoder checks it:
    /// `type` an integer from 0 to 4, `nsp` a string, `data` absent or a map for CONNECT,
    /// absent for DISCONNECT, a string or a map for `CONNECT_ERROR`, an array for EVENT
    /// (whose first element, the event name, must be a string) and ACK, `id` absent or an
    /// integer (at most 2^53 - 1). Nothing may follow the map.
    ///
    /// # Errors
    /// [`DecodeError::Msgpack`] for bytes that are not `MessagePack`,
    /// [`DecodeError::Shape`] for a map that is not such a packet.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
        for _ in 0..n {
            let key = r.read()?;
            let marker = r.next_marker();
            let raw = r.raw()?;
            let value = Reader::new(raw).read()?;
            if undefined(marker, value) {
                continue;
            }
            match key {
                Value::Str("type") => kind = Some(value),
                Value::Str("nsp") => nsp = Some(value),
                Value::Str("id") => id = Some(value),
                Value::Str("data") => data = Some((raw, value)),
                _ => {}
            }
        }
        if !r.is_empty() {
            return Err(DecodeError::Shape);
        }
        let kind = match kind {
            Some(Value::Int(t @ 0..=4)) => PacketType::ALL[t as usize],
            _ => return Err(DecodeError::Shape),
        };
        let Some(Value::Str(nsp)) = nsp else {
            return Err(DecodeError::Shape);
        };
        let id = match id {
            None => None,
            Some(Value::Int(i)) if (0..=MAX_ACK_ID as i64).contains(&i) => Some(i as u64),
            Some(_) => return Err(DecodeError::Shape),
        };
        let fits = match (kind, data) {
            (PacketType::Connect, None | Some((_, Value::Map(_))))
            | (PacketType::Disconnect, None)
            | (PacketType::ConnectError, Some((_, Value::Str(_) | Value::Map(_))))
            | (PacketType::Ack, Some((_, Value::Array(_)))) => true,
            (PacketType::Event, Some((raw, Value::Array(1..)))) => {
                let mut d = Reader::new(raw);
                d.read()?;
                matches!(d.read()?, Value::Str(_))
            }
            _ => false,
        };
        if !fits {
            return Err(DecodeError::Shape);
        }
        Ok(Self {
            kind,
            nsp,
            id,
            data: data.map(|(raw, _)| raw),
        })
    }

    /// The packet type (never a binary one).
    pub const fn packet_type(&self) -> PacketType {
        self.kind
    }

    /// The namespace.
    pub const fn namespace(&self) -> &'a str {
        self.nsp
    }

    /// The acknowledgement id: the one an event asks for, or the one an ack answers.
    pub const fn ack_id(&self) -> Option<u64> {
        self.id
    }

    /// The `MessagePack` of `data`, whole, when the packet has one.
    pub const fn data(&self) -> Option<&'a [u8]> {
        self.data
    }

    /// An event's name.
    pub fn event_name(&self) -> Option<&'a str> {
        match self.kind {
            PacketType::Event => {
                let mut r = Reader::new(self.data?);
                r.read().ok()?;
                match r.read() {
                    Ok(Value::Str(name)) => Some(name),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// How many arguments an event (after its name) or an ack has; 0 for the other types.
    pub(crate) fn args_len(&self) -> u32 {
        self.args().map_or(0, |(_, n)| n)
    }

    /// The arguments of an event (after its name) or an ack: where their values start,
    /// and how many there are. None for the other types.
    fn args(&self) -> Option<(Reader<'a>, u32)> {
        let mut r = Reader::new(self.data?);
        let Ok(Value::Array(n)) = r.read() else {
            return None;
        };
        match self.kind {
            PacketType::Event => {
                r.read().ok()?;
                Some((r, n.saturating_sub(1)))
            }
            PacketType::Ack => Some((r, n)),
            _ => None,
        }
    }

    /// Writes an event's or an ack's arguments as Socket.IO carries them: the JSON list
    /// into `json` (without brackets, with a placeholder for each binary value) and the
    /// binary values, borrowed from the message, into `blobs`, in order. Returns the JSON
    /// length and how many blobs. Values become JSON as [`adapter::Broadcast::write_args`]
    /// makes them; notepack 2's `ArrayBuffer` (ext 8, 16 or 32 of type 0, what a browser's
    /// binary arguments are) is binary too. Empty for the other types.
    ///
    /// # Errors
    /// [`DecodeError::BufferTooSmall`] when `json` or `blobs` is short;
    /// [`DecodeError::Shape`] for a map key that is neither a string nor an integer, or
    /// nesting deeper than 64.
    pub fn write_args(
        &self,
        json: &mut [u8],
        blobs: &mut [&'a [u8]],
    ) -> Result<(usize, usize), DecodeError> {
        let Some((r, n)) = self.args() else {
            return Ok((0, 0));
        };
        adapter::write_args(r.rest(), n, json, blobs)
    }

    /// Writes an event's or an ack's arguments as a JSON list into `out`, each binary
    /// value as a placeholder handed to `bin` (which numbers it).
    pub(crate) fn write_args_to(
        &self,
        out: &mut dyn JsonSink,
        bin: &mut dyn FnMut(&'a [u8]) -> Result<usize, DecodeError>,
    ) -> Result<(), DecodeError> {
        match self.args() {
            Some((mut r, n)) => adapter::write_list(&mut r, n, out, bin),
            None => Ok(()),
        }
    }

    /// Writes `data` as JSON into `json` (a CONNECT's auth object, a `CONNECT_ERROR`'s
    /// payload); returns its length, 0 when there is none.
    ///
    /// # Errors
    /// [`DecodeError::BufferTooSmall`] when `json` is short; [`DecodeError::Shape`] for
    /// a binary value in it (JSON has no place for one) or a map key that is neither a
    /// string nor an integer.
    pub fn write_data(&self, json: &mut [u8]) -> Result<usize, DecodeError> {
        let mut out = TextWriter::new(json);
        self.write_data_to(&mut out)?;
        Ok(out.finish()?)
    }

    /// Writes `data` as JSON into `out`, as [`write_data`](Self::write_data) does; nothing
    /// when there is none.
    pub(crate) fn write_data_to(&self, out: &mut dyn JsonSink) -> Result<(), DecodeError> {
        match self.data {
            Some(data) => adapter::msgpack_to_json(
                &mut Reader::new(data),
                out,
                &mut |_| Err(DecodeError::Shape),
                0,
            ),
            None => Ok(()),
        }
    }
}

/// Opens a packet's map of `fields` pairs with its `type`.
fn open<S: Sink + ?Sized>(w: &mut S, fields: usize, kind: u64) -> Result<(), EncodeError> {
    w.map(fields)?;
    w.str("type")?;
    Ok(w.uint(kind)?)
}

/// Closes a packet's map with its `nsp`.
fn close<S: Sink + ?Sized>(w: &mut S, nsp: &str) -> Result<(), EncodeError> {
    w.str("nsp")?;
    Ok(w.str(nsp)?)
}

/// Writes an EVENT (with `name`) or an ACK as the msgpack parser sends them, keys in the
/// order Node's server writes them: `{type: 2, data: [name, ...args, offset?], id?, nsp}`,
/// `{id, type: 3, data: [...args], nsp}`. Binary arguments (`args.binary`, for the
/// placeholders of `args.json`) go as `bin` in place. With `offset` (connection state
/// recovery), an event carries it as its last argument, a string.
///
/// # Errors
/// [`EncodeError::InvalidArgs`] for arguments that do not pass
/// [`check_args`]; [`EncodeError::BufferTooSmall`] from the sink.
pub fn encode_event<S: Sink + ?Sized>(
    w: &mut S,
    nsp: &str,
    id: Option<u64>,
    name: Option<&str>,
    args: &Args<'_>,
    offset: Option<&str>,
) -> Result<(), EncodeError> {
    check_args(args).map_err(|_| EncodeError::InvalidArgs)?;
    let count = json::elements(args.json).count()
        + usize::from(name.is_some())
        + usize::from(offset.is_some() && name.is_some());
    let write_id = |w: &mut S| -> Result<(), EncodeError> {
        if let Some(id) = id {
            w.str("id")?;
            w.uint(id)?;
        }
        Ok(())
    };
    let fields = 3 + usize::from(id.is_some());
    if name.is_none() {
        w.map(fields)?;
        write_id(w)?;
        w.str("type")?;
        w.uint(3)?;
    } else {
        open(w, fields, 2)?;
    }
    w.str("data")?;
    w.array(count)?;
    if let Some(name) = name {
        w.str(name)?;
    }
    let (blobs, n) = args.blobs();
    for v in json::elements(args.json) {
        adapter::json_to_msgpack(w, v, &blobs[..n], 0)?;
    }
    if let (Some(offset), Some(_)) = (offset, name) {
        w.str(offset)?;
    }
    if name.is_some() {
        write_id(w)?;
    }
    close(w, nsp)
}

/// Writes the server's CONNECT answer: `{type: 0, data: {sid, pid?}, nsp}` (`pid` with
/// connection state recovery).
///
/// # Errors
/// [`EncodeError::BufferTooSmall`] from the sink.
pub fn encode_connect<S: Sink + ?Sized>(
    w: &mut S,
    nsp: &str,
    sid: &str,
    pid: Option<&str>,
) -> Result<(), EncodeError> {
    open(w, 3, 0)?;
    w.str("data")?;
    w.map(1 + usize::from(pid.is_some()))?;
    w.str("sid")?;
    w.str(sid)?;
    if let Some(pid) = pid {
        w.str("pid")?;
        w.str(pid)?;
    }
    close(w, nsp)
}

/// Notepack's `undefined` (fixext 1 of type 0), which socket.io-client sends as the `data`
/// of a CONNECT without auth.
const UNDEFINED: [u8; 3] = [0xd4, 0, 0];

/// Writes a client's CONNECT as socket.io-client sends it: `{type: 0, data, nsp}`, `data`
/// the auth object (given as JSON, without placeholders), or notepack's `undefined` without
/// one.
///
/// # Errors
/// [`EncodeError::InvalidArgs`] for `auth` that is not a JSON object;
/// [`EncodeError::BufferTooSmall`] from the sink.
pub fn encode_connect_request<S: Sink + ?Sized>(
    w: &mut S,
    nsp: &str,
    auth: Option<&[u8]>,
) -> Result<(), EncodeError> {
    let auth = auth.map(json::trim_ws);
    if let Some(a) = auth
        && adapter::LIMITS.validate(a) != Ok(json::Kind::Object)
    {
        return Err(EncodeError::InvalidArgs);
    }
    open(w, 3, 0)?;
    w.str("data")?;
    match auth {
        Some(a) => adapter::json_to_msgpack(w, a, &[], 0)?,
        None => w.raw(&UNDEFINED)?,
    }
    close(w, nsp)
}

/// Writes a refusal: `{type: 4, data: {message, data?}, nsp}`, `data` given as JSON
/// (without placeholders).
///
/// # Errors
/// [`EncodeError::InvalidArgs`] for `data` that is not valid JSON;
/// [`EncodeError::BufferTooSmall`] from the sink.
pub fn encode_connect_error<S: Sink + ?Sized>(
    w: &mut S,
    nsp: &str,
    message: &str,
    data: Option<&[u8]>,
) -> Result<(), EncodeError> {
    if let Some(d) = data {
        adapter::LIMITS
            .validate(d)
            .map_err(|_| EncodeError::InvalidArgs)?;
    }
    open(w, 3, 4)?;
    w.str("data")?;
    w.map(1 + usize::from(data.is_some()))?;
    w.str("message")?;
    w.str(message)?;
    if let Some(d) = data {
        w.str("data")?;
        adapter::json_to_msgpack(w, d, &[], 0)?;
    }
    close(w, nsp)
}

/// Writes a DISCONNECT: `{type: 1, nsp}`.
///
/// # Errors
/// [`EncodeError::BufferTooSmall`] from the sink.
pub fn encode_disconnect<S: Sink + ?Sized>(w: &mut S, nsp: &str) -> Result<(), EncodeError> {
    open(w, 2, 1)?;
    close(w, nsp)
}
