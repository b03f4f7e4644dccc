//! The cluster messages of `@socket.io/redis-adapter` 8.3.0, the adapter Node's Socket.IO
//! servers share a Redis with: channel names, server ids, and the broadcast message, encoded
//! and decoded without I/O, so that any pub/sub can carry them.
//!
//! A broadcast is published on `PREFIX#NSP#` (or `PREFIX#NSP#ROOM#` when it targets exactly
//! one room) as the `MessagePack` array `[uid, {type: 2, data: [event, ...args], nsp},
//! {rooms, except, flags}]`; binary arguments are `bin` values in place. Its arguments move
//! between Socket.IO's form (JSON text with `{"_placeholder":true,"num":k}` for the k-th
//! attachment) and the adapter's with [`encode_broadcast`] and [`Broadcast::write_args`].
//! A broadcast that collects its clients' acknowledgements is a request instead
//! ([`encode_broadcast_with_acks`], [`Broadcast::decode_with_acks`]); each server answers
//! with its count of clients, then each client's answer ([`encode_ack`], [`AckAnswer`]).
//!
//! ```
//! use siocore::adapter::{self, Broadcast, Recipients, Uid};
//! use siocore::server::Args;
//!
//! let uid = Uid::from_random([1, 2, 3, 4, 5, 6]);
//! let args = Args::binary(br#""hi",{"_placeholder":true,"num":0}"#, &[&[7, 8]]);
//! let mut msg = [0u8; 128];
//! let to = Recipients { rooms: &["room1"], ..Recipients::ALL };
//! let n = adapter::encode_broadcast(&mut msg, &uid, "/", "chat", &args, &to)?;
//!
//! let b = Broadcast::decode(&msg[..n])?;
//! assert_eq!((b.uid(), b.namespace(), b.event()), (uid.as_str(), "/", "chat"));
//! assert_eq!(b.rooms().collect::<Result<Vec<_>, _>>()?, ["room1"]);
//! let (mut json, mut blobs) = ([0u8; 64], [&[][..]; 4]);
//! let (len, count) = b.write_args(&mut json, &mut blobs)?;
//! assert_eq!(&json[..len], br#""hi",{"_placeholder":true,"num":0}"#);
//! assert_eq!(&blobs[..count], [&[7u8, 8][..]]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

mod cluster;
mod request;

pub use cluster::{
    AckRoute, Awaited, Cluster, ClusterConfig, ClusterError, ClusterEvent, ClusterStats, Done,
    MAX_ROOMS, PendingSlot, Publish, ReplyTo,
};
pub use request::{Names, Outgoing, Request, RequestId, RequestKind, Response, write_request};

use crate::BufferTooSmall;
use crate::json::{self, JsonStr, Object};
use crate::msgpack::{self, Reader, Sink, Value, Writer};
use crate::sio::Args;
use crate::write::Writer as TextWriter;

/// The key prefix Node's adapter uses unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "socket.io";

/// Nesting the transcoders follow (as the Socket.IO JSON limits allow).
const MAX_DEPTH: usize = 64;

/// What cluster messages' JSON is read with: the Socket.IO depth, and no size limit of its
/// own (a message is as large as the pub/sub and the caller's buffers let it be; a Node
/// server's answer to a fetch of thousands of sockets passes 1 MB).
pub(crate) const LIMITS: json::Limits = json::Limits {
    max_depth: MAX_DEPTH,
    max_size: usize::MAX,
};

/// A server's id in a namespace's cluster traffic: 6 characters of `A-Za-z0-9-_`, drawn
/// afresh for each namespace (Node's `uid2(6)`). A server drops broadcasts carrying its own.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uid([u8; 6]);

impl Uid {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// The id made of six random bytes (each picks one of the 64 characters).
    pub const fn from_random(bytes: [u8; 6]) -> Self {
        let mut id = [0u8; 6];
        let mut i = 0;
        while i < 6 {
            id[i] = Self::CHARS[(bytes[i] % 64) as usize];
            i += 1;
        }
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of a namespace's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel<'a> {
    /// Broadcasts: `PREFIX#NSP#`, or `PREFIX#NSP#ROOM#` for one that targets exactly that
    /// room. A server subscribes the pattern `PREFIX#NSP#*`.
    Broadcast(Option<&'a str>),
    /// Requests to every server: `PREFIX-request#NSP#`.
    Request,
    /// Responses: `PREFIX-response#NSP#`.
    Response,
    /// Responses for one server only: `PREFIX-response#NSP#UID#`.
    ResponseTo(Uid),
}

/// Writes the name of `channel` of namespace `nsp` under `prefix` into `out`; returns its
/// length.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn channel(
    out: &mut [u8],
    prefix: &str,
    nsp: &str,
    channel: Channel<'_>,
) -> Result<usize, BufferTooSmall> {
    let kind = match channel {
        Channel::Broadcast(_) => "",
        Channel::Request => "-request",
        Channel::Response | Channel::ResponseTo(_) => "-response",
    };
    let tail = match channel {
        Channel::Broadcast(Some(room)) => room,
        Channel::ResponseTo(ref uid) => uid.as_str(),
        _ => "",
    };
    let parts: [&str; 6] = [prefix, kind, "#", nsp, "#", tail];
    let hash: &str = if tail.is_empty() { "" } else { "#" };
    let total = parts.iter().map(|p| p.len()).sum::<usize>() + hash.len();
    let out = out
        .get_mut(..total)
        .ok_or(BufferTooSmall { required: total })?;
    let mut at = 0;
    for p in parts.iter().chain([&hash]) {
        out[at..at + p.len()].copy_from_slice(p.as_bytes());
        at += p.len();
    }
    Ok(total)
}

/// The flags of a broadcast (Node's `BroadcastFlags`); the adapter passes them on as they
/// are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `volatile`: may be dropped for a client that is not ready.
    pub volatile: bool,
    /// `compress`, when set.
    pub compress: Option<bool>,
    /// `local`: this server's sockets only (never published; kept for completeness).
    pub local: bool,
    /// `timeout` in milliseconds, for a broadcast that collects acknowledgements.
    pub timeout: Option<u64>,
}

impl Flags {
    /// No flag (`{}`).
    pub const NONE: Self = Self {
        volatile: false,
        compress: None,
        local: false,
        timeout: None,
    };

    fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        let n = usize::from(self.compress.is_some())
            + usize::from(self.volatile)
            + usize::from(self.local)
            + usize::from(self.timeout.is_some());
        w.map(n)?;
        if let Some(c) = self.compress {
            w.str("compress")?;
            w.bool(c)?;
        }
        if self.volatile {
            w.str("volatile")?;
            w.bool(true)?;
        }
        if self.local {
            w.str("local")?;
            w.bool(true)?;
        }
        if let Some(t) = self.timeout {
            w.str("timeout")?;
            w.uint(t)?;
        }
        Ok(())
    }

    /// Reads the flags map by key; unknown keys are skipped, as Node ignores them.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut flags = Self::NONE;
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        for _ in 0..n {
            let key = r.read()?;
            let value = r.read()?;
            if let Value::Array(_) | Value::Map(_) = value {
                return Err(DecodeError::Shape);
            }
            let truthy = !matches!(value, Value::Nil | Value::Bool(false));
            match key {
                Value::Str("volatile") => flags.volatile = truthy,
                Value::Str("local") => flags.local = truthy,
                Value::Str("compress") => flags.compress = Some(truthy),
                Value::Str("timeout") => {
                    flags.timeout = match value {
                        Value::Int(t) => u64::try_from(t).ok(),
                        Value::UInt(t) => Some(t),
                        Value::Float(t) if t >= 0.0 => Some(t as u64),
                        _ => None,
                    };
                }
                _ => {}
            }
        }
        Ok(flags)
    }
}

/// Why a cluster message, or a packet of the msgpack parser, could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall(BufferTooSmall),
    /// The arguments are not a valid JSON list, or a placeholder names an attachment that
    /// is not there.
    InvalidArgs,
}

impl From<BufferTooSmall> for EncodeError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall(e) => e.fmt(f),
            Self::InvalidArgs => {
                f.write_str("arguments are not a JSON list with valid placeholders")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// Why a cluster message, or a packet of the msgpack parser, could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not `MessagePack`.
    Msgpack(msgpack::DecodeError),
    /// `MessagePack`, but not the message's (or packet's) shape: a missing or mistyped
    /// field.
    Shape,
    /// A buffer for the decoded arguments is too small: the JSON text's, or the
    /// attachments' (then `required` counts attachments).
    BufferTooSmall(BufferTooSmall),
}

impl From<msgpack::DecodeError> for DecodeError {
    fn from(e: msgpack::DecodeError) -> Self {
        Self::Msgpack(e)
    }
}

impl From<BufferTooSmall> for DecodeError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msgpack(e) => e.fmt(f),
            Self::Shape => f.write_str("MessagePack not of the expected shape"),
            Self::BufferTooSmall(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Who a broadcast is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipients<'t> {
    /// The sockets in any of these rooms; every socket of the namespace when empty.
    pub rooms: &'t [&'t str],
    /// Except the sockets in any of these rooms (a socket's id is a room).
    pub except: &'t [&'t str],
    /// The broadcast's flags.
    pub flags: Flags,
}

impl Recipients<'_> {
    /// Every socket of the namespace, no flag.
    pub const ALL: Recipients<'static> = Recipients {
        rooms: &[],
        except: &[],
        flags: Flags::NONE,
    };
}

/// Encodes a broadcast of `event` with `args` to namespace `nsp`, as server `uid` publishes
/// it, for `to`. Returns the message's length.
///
/// # Errors
/// [`EncodeError`]: a short buffer, or arguments that are not valid.
pub fn encode_broadcast(
    out: &mut [u8],
    uid: &Uid,
    nsp: &str,
    event: &str,
    args: &Args<'_>,
    to: &Recipients<'_>,
) -> Result<usize, EncodeError> {
    LIMITS
        .validate_list(args.json)
        .map_err(|_| EncodeError::InvalidArgs)?;
    let mut w = Writer::new(out);
    w.array(3)?;
    w.str(uid.as_str())?;
    write_packet(&mut w, nsp, event, args)?;
    write_opts(&mut w, to)?;
    Ok(w.len())
}

/// Encodes a broadcast of `event` with `args` to namespace `nsp` whose clients'
/// acknowledgements server `uid` collects, as request `request_id` (Node's adapter's
/// `broadcastWithAck`: `{uid, requestId, type: 7, packet: {type: 2, data: [event,
/// ...args], nsp}, opts: {rooms, except, flags}}`, published on the request channel).
/// The flags should carry the clients' `timeout`: a server that has none waits its own
/// request timeout for them. Returns the message's length.
///
/// # Errors
/// [`EncodeError`]: a short buffer, or arguments that are not valid.
pub fn encode_broadcast_with_acks(
    out: &mut [u8],
    uid: &Uid,
    request_id: &str,
    nsp: &str,
    event: &str,
    args: &Args<'_>,
    to: &Recipients<'_>,
) -> Result<usize, EncodeError> {
    LIMITS
        .validate_list(args.json)
        .map_err(|_| EncodeError::InvalidArgs)?;
    let mut w = Writer::new(out);
    w.map(5)?;
    w.str("uid")?;
    w.str(uid.as_str())?;
    w.str("requestId")?;
    w.str(request_id)?;
    w.str("type")?;
    w.uint(7)?;
    w.str("packet")?;
    write_packet(&mut w, nsp, event, args)?;
    w.str("opts")?;
    write_opts(&mut w, to)?;
    Ok(w.len())
}

/// The packet of a broadcast: `{type: 2, data: [event, ...args], nsp}` (arguments
/// validated by the caller).
fn write_packet(
    w: &mut Writer<'_>,
    nsp: &str,
    event: &str,
    args: &Args<'_>,
) -> Result<(), EncodeError> {
    w.map(3)?;
    w.str("type")?;
    w.uint(2)?;
    w.str("data")?;
    w.array(1 + json::elements(args.json).count())?;
    w.str(event)?;
    let (blobs, n) = args.blobs();
    for value in json::elements(args.json) {
        json_to_msgpack(w, value, &blobs[..n], 0)?;
    }
    w.str("nsp")?;
    Ok(w.str(nsp)?)
}

/// The options of a broadcast: `{rooms, except, flags}`.
fn write_opts(w: &mut Writer<'_>, to: &Recipients<'_>) -> Result<(), BufferTooSmall> {
    w.map(3)?;
    w.str("rooms")?;
    w.array(to.rooms.len())?;
    to.rooms.iter().try_for_each(|r| w.str(r))?;
    w.str("except")?;
    w.array(to.except.len())?;
    to.except.iter().try_for_each(|r| w.str(r))?;
    w.str("flags")?;
    to.flags.write(w)
}

/// Encodes a client's acknowledgement of a broadcast that collects them, as the answer
/// Node's adapter publishes (`{type: 9, requestId, packet}`): `packet` is the first of the
/// client's `args` (binary in place); when it sent none the map has no `packet`, as
/// notepack leaves out Node's `undefined`. Returns its length.
///
/// # Errors
/// [`EncodeError`]: a short buffer, or arguments that are not valid.
pub fn encode_ack(out: &mut [u8], request_id: &str, args: &Args<'_>) -> Result<usize, EncodeError> {
    LIMITS
        .validate_list(args.json)
        .map_err(|_| EncodeError::InvalidArgs)?;
    let first = json::elements(args.json).next();
    let mut w = Writer::new(out);
    w.map(if first.is_some() { 3 } else { 2 })?;
    w.str("type")?;
    w.uint(9)?;
    w.str("requestId")?;
    w.str(request_id)?;
    if let Some(first) = first {
        w.str("packet")?;
        let (blobs, n) = args.blobs();
        json_to_msgpack(&mut w, first, &blobs[..n], 0)?;
    }
    Ok(w.len())
}

/// Writes one validated JSON value as `MessagePack`, numbers as JavaScript reads them
/// (integral ones as integers, as notepack writes them), placeholders as their attachment.
/// (The Redis adapter's messages and the msgpack parser's packets both carry arguments so.)
pub(crate) fn json_to_msgpack<S: Sink + ?Sized>(
    w: &mut S,
    value: &[u8],
    blobs: &[&[u8]],
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::InvalidArgs);
    }
    match value.first() {
        Some(b'{') => {
            let obj = Object::from_validated(value);
            if let Some(k) = placeholder(&obj) {
                let blob = blobs.get(k).ok_or(EncodeError::InvalidArgs)?;
                return Ok(w.bin(blob)?);
            }
            w.map(obj.members().count())?;
            for (key, v) in obj.members() {
                write_json_str(w, key)?;
                json_to_msgpack(w, v, blobs, depth + 1)?;
            }
            Ok(())
        }
        Some(b'[') => {
            let inner = value
                .get(1..value.len().saturating_sub(1))
                .unwrap_or_default();
            w.array(json::elements(inner).count())?;
            for v in json::elements(inner) {
                json_to_msgpack(w, v, blobs, depth + 1)?;
            }
            Ok(())
        }
        Some(b'"') => {
            let s = JsonStr::parse(value).map_err(|_| EncodeError::InvalidArgs)?;
            write_json_str(w, s)
        }
        Some(b't') => Ok(w.bool(true)?),
        Some(b'f') => Ok(w.bool(false)?),
        Some(b'n') => Ok(w.nil()?),
        _ => {
            let text = core::str::from_utf8(value).map_err(|_| EncodeError::InvalidArgs)?;
            let v: f64 = text.parse().map_err(|_| EncodeError::InvalidArgs)?;
            // notepack's integer forms hold what lies in [-2^63, 2^64); it writes larger
            // integral numbers wrongly, so those go as float 64.
            // In that range a cast to i128 is exact for an integral value and drops the
            // fraction of any other.
            if (-9.223_372_036_854_776e18..1.844_674_407_370_955_2e19).contains(&v)
                && v as i128 as f64 == v
            {
                if v >= 0.0 {
                    Ok(w.uint(v as u64)?)
                } else {
                    Ok(w.int(v as i64)?)
                }
            } else {
                Ok(w.f64(v)?)
            }
        }
    }
}

/// The attachment index of a Socket.IO placeholder object (`"_placeholder": true` with a
/// `num`).
fn placeholder(obj: &Object<'_>) -> Option<usize> {
    let mut is = false;
    let mut num = None;
    for (key, v) in obj.members() {
        if key.eq_str("_placeholder") {
            is = v == b"true";
        } else if key.eq_str("num") {
            num = core::str::from_utf8(v)
                .ok()
                .and_then(|t| t.parse::<usize>().ok());
        }
    }
    if is { num } else { None }
}

/// Writes a JSON string token's value (unescaped) as a `MessagePack` string.
fn write_json_str<S: Sink + ?Sized>(w: &mut S, s: JsonStr<'_>) -> Result<(), EncodeError> {
    if let Some(plain) = s.as_str() {
        return Ok(w.str(plain)?);
    }
    // Escaped: the head, then the pieces unescaped straight into the output.
    w.str_head(s.unescaped_len())?;
    let mut failed = None;
    s.for_each_unescaped(|piece| {
        if failed.is_none() {
            failed = w.raw(piece).err();
        }
    });
    failed.map_or(Ok(()), |e| Err(e.into()))
}

/// A decoded broadcast, borrowing the message.
#[derive(Debug, Clone, Copy)]
pub struct Broadcast<'a> {
    uid: &'a str,
    nsp: &'a str,
    event: &'a str,
    /// The arguments after the event name: the rest of the `data` array, `args` values.
    args: &'a [u8],
    arg_count: u32,
    rooms: &'a [u8],
    except: &'a [u8],
    flags: Flags,
}

impl<'a> Broadcast<'a> {
    /// Reads a broadcast message. Maps are read by key, in any order (the emitter orders
    /// them differently); a packet without `nsp` is for `/`, as Node reads it.
    ///
    /// # Errors
    /// [`DecodeError`] for input that is not a broadcast.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let Value::Array(3..) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        let uid = match r.read()? {
            Value::Str(s) => s,
            // The emitter sends no uid.
            Value::Nil => "",
            _ => return Err(DecodeError::Shape),
        };
        let mut b = Self::packet(&mut r)?;
        b.uid = uid;
        b.opts(&mut r)?;
        Ok(b)
    }

    /// Reads the broadcast request that collects acknowledgements (request type 7, a map
    /// `{uid, requestId, type: 7, packet, opts}`, keys in any order); returns its request
    /// id and the broadcast.
    ///
    /// # Errors
    /// [`DecodeError`] for input that is not one.
    pub fn decode_with_acks(msg: &'a [u8]) -> Result<(&'a str, Self), DecodeError> {
        let mut r = Reader::new(msg);
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        let (mut uid, mut id, mut kind, mut packet, mut opts) = ("", None, None, None, None);
        for _ in 0..n {
            match r.read()? {
                Value::Str("uid") => {
                    uid = match r.read()? {
                        Value::Str(s) => s,
                        _ => "",
                    }
                }
                Value::Str("requestId") => id = Some(r.read()?),
                Value::Str("type") => kind = Some(r.read()?),
                Value::Str("packet") => packet = Some(r.raw()?),
                Value::Str("opts") => opts = Some(r.raw()?),
                _ => r.skip()?,
            }
        }
        let (Some(Value::Str(id)), Some(Value::Int(7)), Some(packet)) = (id, kind, packet) else {
            return Err(DecodeError::Shape);
        };
        let mut b = Self::packet(&mut Reader::new(packet))?;
        b.uid = uid;
        if let Some(opts) = opts {
            b.opts(&mut Reader::new(opts))?;
        }
        Ok((id, b))
    }

    /// Reads a packet map `{type: 2|5, data: [event, ...args], nsp}` (by key; no `nsp` is
    /// `/`).
    fn packet(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        let (mut nsp, mut data, mut kind) = ("/", None, None);
        for _ in 0..n {
            match r.read()? {
                Value::Str("nsp") => {
                    nsp = match r.read()? {
                        Value::Str(s) => s,
                        _ => return Err(DecodeError::Shape),
                    }
                }
                Value::Str("type") => kind = Some(r.read()?),
                Value::Str("data") => data = Some(r.raw()?),
                _ => r.skip()?,
            }
        }
        // Node's adapter publishes EVENT (2) even with binary arguments; BINARY_EVENT (5)
        // is read the same.
        if !matches!(kind, Some(Value::Int(2 | 5))) {
            return Err(DecodeError::Shape);
        }
        let mut d = Reader::new(data.ok_or(DecodeError::Shape)?);
        let Value::Array(len @ 1..) = d.read()? else {
            return Err(DecodeError::Shape);
        };
        let Value::Str(event) = d.read()? else {
            return Err(DecodeError::Shape);
        };
        let args = data
            .and_then(|all| all.get(d.position()..))
            .unwrap_or_default();
        Ok(Self {
            uid: "",
            nsp,
            event,
            args,
            arg_count: len - 1,
            rooms: &[0x90],
            except: &[0x90],
            flags: Flags::NONE,
        })
    }

    /// Reads the options map `{rooms, except, flags}` (by key) into `self`.
    fn opts(&mut self, r: &mut Reader<'a>) -> Result<(), DecodeError> {
        let Value::Map(n) = r.read()? else {
            return Err(DecodeError::Shape);
        };
        for _ in 0..n {
            match r.read()? {
                Value::Str("rooms") => self.rooms = list(r)?,
                Value::Str("except") => self.except = list(r)?,
                Value::Str("flags") => self.flags = Flags::read(r)?,
                _ => r.skip()?,
            }
        }
        Ok(())
    }

    /// The sending server's id (empty for the emitter, which sends none).
    pub const fn uid(&self) -> &'a str {
        self.uid
    }

    /// The namespace.
    pub const fn namespace(&self) -> &'a str {
        self.nsp
    }

    /// The event name.
    pub const fn event(&self) -> &'a str {
        self.event
    }

    /// The flags.
    pub const fn flags(&self) -> Flags {
        self.flags
    }

    /// The rooms targeted (none: every socket of the namespace).
    pub fn rooms(&self) -> Rooms<'a> {
        Rooms::new(self.rooms)
    }

    /// The rooms whose sockets are left out.
    pub fn except(&self) -> Rooms<'a> {
        Rooms::new(self.except)
    }

    /// Writes the arguments as Socket.IO carries them: the JSON list into `json` (with a
    /// placeholder for each binary value) and the binary values, borrowed from the message,
    /// into `blobs`, in order. Returns the JSON length and how many blobs.
    ///
    /// Numbers keep the value Node would send: an integer as its digits up to 2^53, beyond
    /// that the nearest double (what JavaScript holds), a float in its shortest digits
    /// (which JavaScript reads back the same); a non-finite float and an extension value
    /// (notepack's dates) become `null`, as the JSON Node would send has no form for them,
    /// except notepack 2's `ArrayBuffer` (ext 8, 16 or 32 of type 0), which is binary.
    ///
    /// # Errors
    /// [`DecodeError::BufferTooSmall`] when `json` or `blobs` is short.
    pub fn write_args(
        &self,
        json: &mut [u8],
        blobs: &mut [&'a [u8]],
    ) -> Result<(usize, usize), DecodeError> {
        write_args(self.args, self.arg_count, json, blobs)
    }
}

/// A client's answer to a broadcast that collects acknowledgements, as the server of that
/// client relays it (the `packet` of `{type: 9, requestId, packet}`): one value, the first
/// argument the client answered with (`null`, or notepack's `undefined`, when it sent
/// none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckAnswer<'a> {
    raw: &'a [u8],
}

impl<'a> AckAnswer<'a> {
    /// The answer whose `MessagePack` value is `raw`: one whole value, as
    /// [`Response::packet`] gives it (nil, `[0xc0]`, when the response has none).
    pub const fn new(raw: &'a [u8]) -> Self {
        Self { raw }
    }

    /// The value as `MessagePack`, as it came.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Writes the value as Socket.IO carries an argument: JSON text into `json` (with a
    /// placeholder for each binary value) and the binary values, borrowed from the
    /// message, into `blobs`, in order. Returns the JSON length and how many blobs.
    /// Numbers, extension values and non-finite floats as [`Broadcast::write_args`]
    /// writes them.
    ///
    /// # Errors
    /// [`DecodeError::BufferTooSmall`] when `json` or `blobs` is short.
    pub fn write_args(
        &self,
        json: &mut [u8],
        blobs: &mut [&'a [u8]],
    ) -> Result<(usize, usize), DecodeError> {
        write_args(self.raw, 1, json, blobs)
    }

    /// Writes the value as JSON text alone: each binary value becomes a placeholder,
    /// numbered in order, and its bytes are left out. Returns the length.
    ///
    /// # Errors
    /// [`DecodeError::BufferTooSmall`] with the whole length when `json` is short;
    /// [`DecodeError::Shape`] for a value nested too deep.
    pub fn write_json(&self, json: &mut [u8]) -> Result<usize, DecodeError> {
        let mut out = TextWriter::new(json);
        let mut n = 0;
        msgpack_to_json(
            &mut Reader::new(self.raw),
            &mut out,
            &mut |_| {
                n += 1;
                Ok(n - 1)
            },
            0,
        )?;
        Ok(out.finish()?)
    }
}

/// The raw `MessagePack` array of a room list (an array of strings, possibly empty).
fn list<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    let raw = r.raw()?;
    match Reader::new(raw).read()? {
        Value::Array(_) => Ok(raw),
        _ => Err(DecodeError::Shape),
    }
}

/// The rooms of a broadcast, as text; a number (Node allows numeric rooms) comes as an
/// error of shape, as does anything else not a string.
#[derive(Debug, Clone)]
pub struct Rooms<'a> {
    r: Reader<'a>,
    left: u32,
}

impl<'a> Rooms<'a> {
    fn new(raw: &'a [u8]) -> Self {
        let mut r = Reader::new(raw);
        let left = match r.read() {
            Ok(Value::Array(n)) => n,
            _ => 0,
        };
        Self { r, left }
    }
}

impl<'a> Iterator for Rooms<'a> {
    type Item = Result<&'a str, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(match self.r.read() {
            Ok(Value::Str(s)) => Ok(s),
            Ok(_) => Err(DecodeError::Shape),
            Err(e) => Err(e.into()),
        })
    }
}

/// Writes the `count` `MessagePack` values at the start of `args` as a JSON list into
/// `json` (with a placeholder for each binary value) and the binary values, borrowed from
/// `args`, into `blobs`, in order. Returns the JSON length and how many blobs.
pub(crate) fn write_args<'a>(
    args: &'a [u8],
    count: u32,
    json: &mut [u8],
    blobs: &mut [&'a [u8]],
) -> Result<(usize, usize), DecodeError> {
    let mut out = TextWriter::new(json);
    let mut n = 0;
    write_list(&mut Reader::new(args), count, &mut out, &mut |b| {
        let slot = blobs.get_mut(n).ok_or(BufferTooSmall { required: n + 1 })?;
        *slot = b;
        n += 1;
        Ok(n - 1)
    })?;
    Ok((out.finish()?, n))
}

/// Writes the next `count` values of `r` as a JSON list, comma separated, as
/// [`msgpack_to_json`] writes each.
pub(crate) fn write_list<'a>(
    r: &mut Reader<'a>,
    count: u32,
    out: &mut dyn JsonSink,
    bin: &mut dyn FnMut(&'a [u8]) -> Result<usize, DecodeError>,
) -> Result<(), DecodeError> {
    for i in 0..count {
        if i > 0 {
            out.put(b",");
        }
        msgpack_to_json(r, out, bin, 0)?;
    }
    Ok(())
}

/// Writes a finite float as JavaScript does: digits from 1e-6 to 1e21, with an exponent
/// past them (the shortest digits that read back as the same number either way), so that
/// no value of 9 bytes becomes hundreds of digits.
fn put_f64<W: JsonSink + ?Sized>(out: &mut W, v: f64) {
    let a = v.abs();
    let _ = if a == 0.0 {
        // Negative zero too, as JavaScript writes it.
        write!(out, "0")
    } else if (1e-6..1e21).contains(&a) {
        write!(out, "{v}")
    } else {
        write!(out, "{v:e}")
    };
}

/// Where [`msgpack_to_json`] writes JSON text: a slice, or a server's pool.
pub(crate) trait JsonSink: fmt::Write {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Appends `s` as a JSON string token, escaped as `JSON.stringify` does.
    fn put_str(&mut self, s: &str);
}

impl JsonSink for TextWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        TextWriter::put(self, bytes);
    }

    fn put_str(&mut self, s: &str) {
        json::put_str(self, s);
    }
}

/// JSON text that goes nowhere (a walk over the values for their binary ones).
pub(crate) struct Discard;

impl fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

impl JsonSink for Discard {
    fn put(&mut self, _: &[u8]) {}

    fn put_str(&mut self, _: &str) {}
}

/// Writes the next `MessagePack` value as JSON; binary values become placeholders, each
/// handed to `bin`, which gives its attachment number. Notepack 2's `ArrayBuffer` (ext 8,
/// 16 or 32 of type 0) is binary too; any other extension value (its `undefined` and
/// dates) is `null`.
///
/// Numbers keep the value Node would send: an integer as its digits up to 2^53, beyond
/// that the nearest double (what JavaScript holds), a float in its shortest digits (which
/// JavaScript reads back the same), with an exponent below 1e-6 and from 1e21 on, as
/// JavaScript writes them; a non-finite float becomes `null`, as the JSON Node would send
/// has no form for it.
pub(crate) fn msgpack_to_json<'a>(
    r: &mut Reader<'a>,
    out: &mut dyn JsonSink,
    bin: &mut dyn FnMut(&'a [u8]) -> Result<usize, DecodeError>,
    depth: usize,
) -> Result<(), DecodeError> {
    let array_buffer = matches!(r.next_marker(), Some(0xc7..=0xc9));
    let value = r.read()?;
    // No deeper than the JSON the rest of the crate reads: arrays, maps and the objects
    // of placeholders each count.
    let nests = match value {
        Value::Array(_) | Value::Map(_) | Value::Bin(_) => true,
        Value::Ext(0, _) => array_buffer,
        _ => false,
    };
    if nests && depth >= MAX_DEPTH {
        return Err(DecodeError::Shape);
    }
    match value {
        Value::Ext(0, b) if array_buffer => {
            let k = bin(b)?;
            let _ = write!(out, "{{\"_placeholder\":true,\"num\":{k}}}");
        }
        Value::Nil | Value::Ext(..) => out.put(b"null"),
        Value::Bool(b) => out.put(if b { b"true" } else { b"false" }),
        // Past 2^53 JavaScript holds the nearest double, and sends that.
        Value::Int(v) if v.unsigned_abs() <= 1 << 53 => {
            let _ = write!(out, "{v}");
        }
        Value::Int(v) => put_f64(out, v as f64),
        Value::UInt(v) => put_f64(out, v as f64),
        Value::Float(v) if v.is_finite() => put_f64(out, v),
        Value::Float(_) => out.put(b"null"),
        Value::Str(s) => out.put_str(s),
        Value::Bin(b) => {
            let k = bin(b)?;
            let _ = write!(out, "{{\"_placeholder\":true,\"num\":{k}}}");
        }
        Value::Array(n) => {
            out.put(b"[");
            for i in 0..n {
                if i > 0 {
                    out.put(b",");
                }
                msgpack_to_json(r, out, bin, depth + 1)?;
            }
            out.put(b"]");
        }
        Value::Map(n) => {
            out.put(b"{");
            for i in 0..n {
                if i > 0 {
                    out.put(b",");
                }
                // Keys as JavaScript makes them: text, a number's digits.
                match r.read()? {
                    Value::Str(k) => out.put_str(k),
                    Value::Int(k) => {
                        let _ = write!(out, "\"{k}\"");
                    }
                    Value::UInt(k) => {
                        let _ = write!(out, "\"{k}\"");
                    }
                    _ => return Err(DecodeError::Shape),
                }
                out.put(b":");
                msgpack_to_json(r, out, bin, depth + 1)?;
            }
            out.put(b"}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8]) -> &str {
        core::str::from_utf8(buf).unwrap()
    }

    #[test]
    fn channel_names_are_node_adapters() {
        let uid = Uid::from_random([0, 1, 62, 63, 64, 255]);
        assert_eq!(uid.as_str(), "AB-_A_");
        let mut out = [0u8; 64];
        let cases: [(Channel<'_>, &str); 5] = [
            (Channel::Broadcast(None), "socket.io#/chat#"),
            (Channel::Broadcast(Some("r1")), "socket.io#/chat#r1#"),
            (Channel::Request, "socket.io-request#/chat#"),
            (Channel::Response, "socket.io-response#/chat#"),
            (Channel::ResponseTo(uid), "socket.io-response#/chat#AB-_A_#"),
        ];
        for (c, want) in cases {
            let n = channel(&mut out, DEFAULT_PREFIX, "/chat", c).unwrap();
            assert_eq!(text(&out[..n]), want);
        }
        assert_eq!(
            channel(&mut out[..5], DEFAULT_PREFIX, "/", Channel::Request),
            Err(BufferTooSmall { required: 20 })
        );
    }

    /// `[uid, packet, opts]` with the packet's and the options' maps in another order
    /// (as the emitter writes them), an unknown key, and no `nsp`.
    fn emitter_style(w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.array(3)?;
        w.nil()?;
        w.map(3)?;
        w.str("data")?;
        w.array(3)?;
        w.str("ev")?;
        w.f64(1e21)?;
        w.map(2)?;
        w.int(7)?;
        w.bin(&[9])?;
        w.str("b")?;
        w.f64(f64::NAN)?;
        w.str("extra")?;
        w.array(1)?;
        w.nil()?;
        w.str("type")?;
        w.uint(5)?;
        w.map(2)?;
        w.str("flags")?;
        w.map(1)?;
        w.str("volatile")?;
        w.bool(true)?;
        w.str("except")?;
        w.array(1)?;
        w.str("x")
    }

    #[test]
    fn maps_are_read_by_key_in_any_order() {
        let mut buf = [0u8; 128];
        let mut w = Writer::new(&mut buf);
        emitter_style(&mut w).unwrap();
        let b = Broadcast::decode(w.written()).unwrap();
        assert_eq!((b.uid(), b.namespace(), b.event()), ("", "/", "ev"));
        assert_eq!(b.rooms().count(), 0);
        let mut except = b.except();
        assert_eq!(except.next(), Some(Ok("x")));
        assert_eq!(except.next(), None);
        assert!(b.flags().volatile);
        let mut json = [0u8; 128];
        let mut blobs = [&[][..]; 1];
        let (n, count) = b.write_args(&mut json, &mut blobs).unwrap();
        // A float from 1e21 on with an exponent (JavaScript reads the same number), an
        // integer key as text, NaN as null.
        assert_eq!(
            text(&json[..n]),
            r#"1e21,{"7":{"_placeholder":true,"num":0},"b":null}"#
        );
        assert_eq!((count, blobs[0]), (1, &[9u8][..]));
        // Short buffers say so.
        assert_eq!(
            b.write_args(&mut json[..10], &mut blobs),
            Err(DecodeError::BufferTooSmall(BufferTooSmall { required: n }))
        );
        assert_eq!(
            b.write_args(&mut json, &mut []),
            Err(DecodeError::BufferTooSmall(BufferTooSmall { required: 1 }))
        );
    }

    #[test]
    fn what_is_not_a_broadcast_is_an_error() {
        let shape = Err(DecodeError::Shape);
        let cases: &[&[u8]] = &[
            b"\x92\xa1a\x80",                                               // two elements
            b"\x93\x01\x80\x80",                                            // uid a number
            b"\x93\xa1a\x81\xa4type\x03\x80",                               // another packet type
            b"\x93\xa1a\x82\xa4type\x02\xa4data\x90\x80",                   // no event name
            b"\x93\xa1a\x82\xa4type\x02\xa4data\x91\x01\x80",               // event name a number
            b"\x93\xa1a\x82\xa4type\x02\xa4data\x91\xa1e\x81\xa5rooms\x01", // rooms not a list
        ];
        for &msg in cases {
            assert_eq!(Broadcast::decode(msg).map(|b| b.event()), shape, "{msg:x?}");
        }
        assert_eq!(
            Broadcast::decode(b"\x93\xa1a\xc1").map(|b| b.event()),
            Err(DecodeError::Msgpack(msgpack::DecodeError::Reserved))
        );
        // A numeric room is reported, not skipped.
        let b =
            Broadcast::decode(b"\x93\xa1a\x82\xa4type\x02\xa4data\x91\xa1e\x81\xa5rooms\x91\x07")
                .unwrap();
        assert_eq!(b.rooms().next(), Some(Err(DecodeError::Shape)));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let uid = Uid::from_random([0; 6]);
        let mut out = [0u8; 128];
        let bad: &[Args<'_>] = &[
            Args::binary(b"[1", &[]),
            Args::binary(br#"{"_placeholder":true,"num":1}"#, &[&[1]]),
        ];
        for args in bad {
            assert_eq!(
                encode_broadcast(&mut out, &uid, "/", "e", args, &Recipients::ALL),
                Err(EncodeError::InvalidArgs)
            );
        }
        let ok = Args::binary(br#""x""#, &[]);
        assert!(matches!(
            encode_broadcast(&mut out[..8], &uid, "/", "e", &ok, &Recipients::ALL),
            Err(EncodeError::BufferTooSmall(_))
        ));
    }

    #[test]
    fn a_broadcast_collecting_acks_is_written_as_node_writes_it() {
        let uid = Uid::from_random([0, 1, 2, 3, 4, 5]);
        let to = Recipients {
            rooms: &["r"],
            except: &[],
            flags: Flags {
                timeout: Some(3000),
                ..Flags::NONE
            },
        };
        let args = Args::binary(br#"1,{"_placeholder":true,"num":0}"#, &[&[9]]);
        let mut out = [0u8; 256];
        let n = encode_broadcast_with_acks(&mut out, &uid, "q1", "/", "ask", &args, &to).unwrap();
        // notepack.encode({uid, requestId, type: 7, packet: {type: 2, data: ["ask", 1,
        // <bin 9>], nsp: "/"}, opts: {rooms: ["r"], except: [], flags: {timeout: 3000}}}).
        let want: &[u8] = b"\x85\xa3uid\xa6ABCDEF\xa9requestId\xa2q1\xa4type\x07\
            \xa6packet\x83\xa4type\x02\xa4data\x93\xa3ask\x01\xc4\x01\x09\xa3nsp\xa1/\
            \xa4opts\x83\xa5rooms\x91\xa1r\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x0b\xb8";
        assert_eq!(&out[..n], want);
        let (id, b) = Broadcast::decode_with_acks(&out[..n]).unwrap();
        assert_eq!((id, b.uid(), b.event()), ("q1", "ABCDEF", "ask"));
        assert_eq!(b.flags().timeout, Some(3000));
        assert!(
            encode_broadcast_with_acks(&mut out[..n - 1], &uid, "q1", "/", "ask", &args, &to)
                .is_err()
        );
        let bad = Args::json(b"[1");
        assert_eq!(
            encode_broadcast_with_acks(&mut out, &uid, "q1", "/", "ask", &bad, &to),
            Err(EncodeError::InvalidArgs)
        );
    }

    #[test]
    fn acks_with_and_without_a_value() {
        let mut out = [0u8; 64];
        let n = encode_ack(&mut out, "q", &Args::json(br#""a\"b",2"#)).unwrap();
        assert_eq!(
            &out[..n],
            b"\x83\xa4type\x09\xa9requestId\xa1q\xa6packet\xa3a\"b"
        );
        let packet = Response::decode(&out[..n]).unwrap().packet().unwrap();
        let answer = AckAnswer::new(packet);
        let mut json = [0u8; 16];
        let len = answer.write_json(&mut json).unwrap();
        assert_eq!(text(&json[..len]), r#""a\"b""#);
        // None: no `packet` at all, as notepack leaves out `undefined`.
        let n = encode_ack(&mut out, "q", &Args::NONE).unwrap();
        assert_eq!(&out[..n], b"\x82\xa4type\x09\xa9requestId\xa1q");

        // Binary values: placeholders, their bytes in the blobs or left out.
        let answer = AckAnswer::new(b"\x92\xc4\x02\x07\x08\xc4\x00");
        let mut blobs = [&[][..]; 2];
        assert!(matches!(
            answer.write_args(&mut json, &mut blobs),
            Err(DecodeError::BufferTooSmall(_))
        ));
        let mut big = [0u8; 128];
        let (len, count) = answer.write_args(&mut big, &mut blobs).unwrap();
        let want = r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!((text(&big[..len]), count), (want, 2));
        assert_eq!(blobs, [&[7u8, 8][..], &[][..]]);
        let len = answer.write_json(&mut big).unwrap();
        assert_eq!(text(&big[..len]), want);
        assert_eq!(
            answer.write_json(&mut json),
            Err(DecodeError::BufferTooSmall(BufferTooSmall {
                required: want.len()
            }))
        );
    }

    #[test]
    fn long_escaped_strings_and_big_numbers_keep_their_value() {
        let uid = Uid::from_random([0; 6]);
        let mut json = [0u8; 700];
        json[0] = b'"';
        for i in 0..300 {
            json[1 + 2 * i..3 + 2 * i].copy_from_slice(b"\\n");
        }
        json[601..603].copy_from_slice(b"\",");
        json[603..625].copy_from_slice(b"18446744073709551616,2");
        let args = Args::binary(&json[..625], &[]);
        let mut out = [0u8; 1024];
        let n = encode_broadcast(&mut out, &uid, "/", "e", &args, &Recipients::ALL).unwrap();
        let b = Broadcast::decode(&out[..n]).unwrap();
        let mut back = [0u8; 1024];
        let (len, _) = b.write_args(&mut back, &mut []).unwrap();
        // 2^64 does not fit notepack's integers: a float, which reads back as the number.
        assert!(text(&back[..len]).ends_with(r#"\n",18446744073709552000,2"#));
        assert_eq!(&back[..len - 23], &json[..602]);
    }
}
