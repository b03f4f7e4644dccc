//! What the application chooses: where to connect, which transports, the reconnection
//! policy and every capacity.

use core::fmt;

use crate::http::{self, Header};
use crate::server::Parser;

/// Which transports the client uses, like the JavaScript client's `transports` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transports {
    /// HTTP long-polling first, then an upgrade to WebSocket when the server offers it
    /// (the JavaScript client's default).
    #[default]
    PollingThenWebSocket,
    /// WebSocket only (`transports: ["websocket"]`): one TCP stream, the least memory.
    WebSocket,
    /// HTTP long-polling only (`transports: ["polling"]`).
    Polling,
}

impl Transports {
    /// Whether polling streams are used.
    pub const fn polling(self) -> bool {
        !matches!(self, Self::WebSocket)
    }

    /// Whether a WebSocket stream is used.
    pub const fn websocket(self) -> bool {
        !matches!(self, Self::Polling)
    }
}

/// The reconnection policy, with the JavaScript client's meaning and defaults.
///
/// After a session is lost (or an attempt fails) the client waits
/// `delay_ms * 2^(n-1)` for attempt `n`, moved up or down by a random share of at most
/// `randomization_permille / 1000` of it, and capped at `delay_max_ms`. After `attempts`
/// failed attempts in a row it gives up with [`Event::ReconnectFailed`](super::Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reconnection {
    /// Whether to reconnect at all (`reconnection`).
    pub enabled: bool,
    /// Attempts before giving up (`reconnectionAttempts`; `u32::MAX` for no limit).
    pub attempts: u32,
    /// First delay in milliseconds (`reconnectionDelay`, 1000).
    pub delay_ms: u32,
    /// Largest delay in milliseconds (`reconnectionDelayMax`, 5000).
    pub delay_max_ms: u32,
    /// Jitter in thousandths (`randomizationFactor` 0.5 is 500).
    pub randomization_permille: u16,
}

impl Reconnection {
    /// The JavaScript client's defaults: on, no attempt limit, 1 s doubling to 5 s, 0.5 jitter.
    pub const DEFAULT: Self = Self {
        enabled: true,
        attempts: u32::MAX,
        delay_ms: 1000,
        delay_max_ms: 5000,
        randomization_permille: 500,
    };

    /// No reconnection: a lost session stays lost.
    pub const OFF: Self = Self {
        enabled: false,
        ..Self::DEFAULT
    };

    /// The delay before attempt `attempt` (1-based), given a random value `r` in
    /// `[0, 2^32)` and one random bit for the direction.
    pub(crate) fn delay(&self, attempt: u32, r: u32, up: bool) -> u64 {
        // 32-bit arithmetic (the delays are `u32` milliseconds): no 64-bit division on
        // small targets.
        let shift = attempt.saturating_sub(1).min(31);
        let base = self
            .delay_ms
            .checked_shl(shift)
            .filter(|b| b >> shift == self.delay_ms);
        let base = base.unwrap_or(u32::MAX);
        let permille = u32::from(self.randomization_permille.min(1000));
        let jitter = base / 1000 * permille + base % 1000 * permille / 1000;
        let deviation = ((u64::from(jitter) * u64::from(r)) >> 32) as u32;
        let ms = if up {
            base.saturating_add(deviation)
        } else {
            base - deviation
        };
        u64::from(ms.min(self.delay_max_ms))
    }
}

impl Default for Reconnection {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything a [`Client`](super::Client) is configured with. The strings are borrowed for
/// the client's life; the capacities decide the size of the arena it is given
/// ([`ClientConfig::arena_len`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig<'a> {
    /// The `Host` header: `example.com` or `example.com:3000`.
    pub host: &'a str,
    /// The Engine.IO path with its trailing slash (`/socket.io/`, the JavaScript `path`).
    pub path: &'a str,
    /// Extra query parameters, already percent-encoded, without a leading `&` or `?`
    /// (`token=abc&v=2`; the JavaScript `query`). Empty for none.
    pub query: &'a str,
    /// Extra headers sent with every request (the JavaScript `extraHeaders`).
    pub headers: &'a [Header<'a>],
    /// The transports to use.
    pub transports: Transports,
    /// What to do after losing the session.
    pub reconnection: Reconnection,
    /// How long an attempt may take from its first TCP connect to the open packet, in
    /// milliseconds (the JavaScript `timeout`, 20000).
    pub connect_timeout_ms: u32,
    /// Receive buffer per downlink stream (the polling GET and the WebSocket): the largest
    /// HTTP response (head and body) or WebSocket message accepted, plus room for a control
    /// frame. A larger one closes the session ([`CloseReason::TooLarge`](super::CloseReason)).
    pub rx_capacity: usize,
    /// Bytes of packets waiting to be sent, emits made while disconnected included. An emit
    /// that does not fit fails with [`CommandError::OutboxFull`](super::CommandError).
    pub outbox_capacity: usize,
    /// Room to reassemble one received binary event or ack (its text and attachments, plus
    /// 4 bytes per attachment). 0 refuses binary: such a packet closes the session. With the
    /// msgpack parser every received packet is put together here ([`parser`](Self::parser)).
    pub binary_capacity: usize,
    /// Room for the CONNECT packets of all namespaces (names and auth payloads), kept to
    /// join them again after a reconnection.
    pub namespace_capacity: usize,
    /// Speak Engine.IO v3 / Socket.IO protocol v4, to a server that speaks only that (a
    /// socket.io 2.x server; feature `eio3`): the client pings, polling bodies are
    /// length-prefixed (binary as base64, `b64=1`), `/` is joined by the server itself
    /// when the session opens (connect `/` before [`start`](super::Client::start)), and a
    /// namespace's auth object goes as the query of its CONNECT (`/admin?token=abc`: its
    /// members must be strings, numbers, booleans or null). A socket id is then the one
    /// socket.io 2.x gives (`/` the session id, another namespace `/nsp#` and it).
    /// Without the feature [`Client::new`](super::Client::new) refuses `true`
    /// ([`ConfigError::Eio3NotCompiled`]).
    pub eio3: bool,
    /// How Socket.IO packets are written, as the server's `parser` option: the default
    /// parser ([`Parser::Json`]), or the msgpack parser ([`Parser::MsgPack`], feature
    /// `msgpack-parser`, for a server started with `socket.io-msgpack-parser`): each packet
    /// one `MessagePack` map in one binary message, binary arguments in place. The
    /// application does not change: it still gives and gets arguments as JSON with
    /// placeholders and attachments, which the client converts at its edge. Every packet
    /// received is then put together in the binary buffer ([`binary_capacity`]) in that
    /// form, which may be larger than the message (a binary value gains its placeholder, a
    /// small number its digits): a packet whose form does not fit closes the session with
    /// [`CloseReason::TooLarge`](super::CloseReason::TooLarge), as one with more than 10
    /// binary values closes it with `ParseError`. Emits go into the outbox as `MessagePack`
    /// (what does not fit is [`CommandError::OutboxFull`](super::CommandError::OutboxFull),
    /// with the bytes needed), and a namespace's CONNECT must fit the namespace area in
    /// that form too ([`CommandError::NamespaceSpace`](super::CommandError::NamespaceSpace)).
    /// Without the feature [`Client::new`](super::Client::new) refuses it
    /// ([`ConfigError::MsgPackNotCompiled`]); it does not go with [`eio3`](Self::eio3)
    /// ([`ConfigError::MsgPackWithEio3`]).
    ///
    /// [`binary_capacity`]: Self::binary_capacity
    pub parser: Parser,
}

/// Receive buffer of the polling POST stream (its responses are `ok` and a few headers).
pub(crate) const POST_RX: usize = 1024;

impl<'a> ClientConfig<'a> {
    /// A configuration for `host` with the JavaScript client's defaults and buffers sized
    /// for messages of up to 16 KiB.
    pub const fn new(host: &'a str) -> Self {
        Self {
            host,
            path: "/socket.io/",
            query: "",
            headers: &[],
            transports: Transports::PollingThenWebSocket,
            reconnection: Reconnection::DEFAULT,
            connect_timeout_ms: 20_000,
            rx_capacity: 16 * 1024 + 512,
            outbox_capacity: 16 * 1024,
            binary_capacity: 16 * 1024,
            namespace_capacity: 512,
            eio3: false,
            parser: Parser::Json,
        }
    }

    /// Bytes of arena a client with this configuration needs.
    pub const fn arena_len(&self) -> usize {
        let ws = if self.transports.websocket() {
            self.rx_capacity
        } else {
            0
        };
        let polling = if self.transports.polling() {
            self.rx_capacity + POST_RX
        } else {
            0
        };
        ws + polling + self.outbox_capacity + self.binary_capacity + self.namespace_capacity
    }

    /// The size of buffer [`Client::poll_io`](super::Client::poll_io) needs for the largest
    /// packet the outbox (or the namespace area) can hold: base64-expanded in a POST with its
    /// head, or in one WebSocket frame.
    pub fn out_len(&self) -> usize {
        // Request line, `Host`, the body or WebSocket headers, a session id: under 320.
        let head = 320
            + self.path.len()
            + self.query.len()
            + self.host.len()
            + self
                .headers
                .iter()
                .map(|h| h.name.len() + h.value.len() + 4)
                .sum::<usize>();
        let packet = self.outbox_capacity.max(self.namespace_capacity);
        let len = packet.div_ceil(3) * 4 + 16 + head;
        // Room at the end to put together a CONNECT that offers a session to resume, a v3
        // CONNECT with its query, or the msgpack parser's.
        len + self.scratch_len()
    }

    /// Room at the end of [`Client::poll_io`](super::Client::poll_io)'s buffer to put a
    /// CONNECT together: one offering a session to resume (feature `recovery`: the
    /// namespace area and the members it adds), or a v3 one whose auth became a query
    /// (feature `eio3`: three bytes per byte of the area at most, percent-encoded), or one
    /// of the msgpack parser (feature `msgpack-parser`: the same room again after the one to
    /// resume, for its `MessagePack`).
    pub(crate) const fn scratch_len(&self) -> usize {
        #[cfg(feature = "msgpack-parser")]
        if matches!(self.parser, Parser::MsgPack) {
            return self.resume_len() + self.msgpack_connect_len();
        }
        #[cfg(feature = "recovery")]
        let resume = self.namespace_capacity + super::recovery::MEMBERS_MAX;
        #[cfg(not(feature = "recovery"))]
        let resume = 0;
        #[cfg(feature = "eio3")]
        let v3 = if self.eio3 {
            self.namespace_capacity * 3
        } else {
            0
        };
        #[cfg(not(feature = "eio3"))]
        let v3 = 0;
        if resume > v3 { resume } else { v3 }
    }

    /// The first part of [`scratch_len`](Self::scratch_len) with the msgpack parser: room to
    /// offer a session to resume (feature `recovery`), where the JSON CONNECT is put
    /// together before it becomes `MessagePack`.
    #[cfg(feature = "msgpack-parser")]
    pub(crate) const fn resume_len(&self) -> usize {
        #[cfg(feature = "recovery")]
        let room = self.namespace_capacity + super::recovery::MEMBERS_MAX;
        #[cfg(not(feature = "recovery"))]
        let room = 0;
        room
    }

    /// The room for a CONNECT of the msgpack parser: the namespace area (which
    /// [`Client::connect`](super::Client::connect) checks its `MessagePack` against), and
    /// the members a session to resume adds (their `MessagePack` is shorter than their
    /// JSON, a longer map head included).
    #[cfg(feature = "msgpack-parser")]
    pub(crate) const fn msgpack_connect_len(&self) -> usize {
        #[cfg(feature = "recovery")]
        let members = super::recovery::MEMBERS_MAX;
        #[cfg(not(feature = "recovery"))]
        let members = 0;
        self.namespace_capacity + members
    }

    /// Checks the strings: printable ASCII without spaces in `host`, `path` and `query`,
    /// `path` starting and ending with `/`, header names as HTTP tokens and values without
    /// control characters.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if self.host.is_empty() || !plain(self.host) {
            return Err(ConfigError::Host);
        }
        if !self.path.starts_with('/') || !self.path.ends_with('/') || !plain(self.path) {
            return Err(ConfigError::Path);
        }
        if !plain(self.query) || self.query.contains('#') {
            return Err(ConfigError::Query);
        }
        if http::check_headers(self.headers).is_err() {
            return Err(ConfigError::Header);
        }
        if self.rx_capacity < 512 {
            return Err(ConfigError::RxCapacity);
        }
        Ok(())
    }
}

/// A configuration the client refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `host` is empty or has spaces or control characters.
    Host,
    /// `path` does not start and end with `/`, or has spaces or control characters.
    Path,
    /// `query` has spaces, control characters or `#`.
    Query,
    /// A header name is not a token or a value has control characters.
    Header,
    /// `rx_capacity` is below 512 bytes.
    RxCapacity,
    /// The arena is shorter than [`ClientConfig::arena_len`]; the value is that length.
    ArenaTooSmall(usize),
    /// A [`WsClient`](super::WsClient) (no polling compiled in) needs
    /// [`Transports::WebSocket`].
    PollingNotCompiled,
    /// [`ClientConfig::eio3`] is set, but the crate was built without its feature `eio3`.
    Eio3NotCompiled,
    /// [`ClientConfig::parser`] is [`Parser::MsgPack`], but the crate was built without
    /// its feature `msgpack-parser`.
    MsgPackNotCompiled,
    /// [`ClientConfig::parser`] is [`Parser::MsgPack`] with [`ClientConfig::eio3`]: the
    /// msgpack parser speaks Socket.IO v5 only.
    MsgPackWithEio3,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host => f.write_str("invalid host"),
            Self::Path => f.write_str("invalid path (it must start and end with '/')"),
            Self::Query => f.write_str("invalid query string"),
            Self::Header => f.write_str("invalid extra header"),
            Self::RxCapacity => f.write_str("rx_capacity must be at least 512 bytes"),
            Self::ArenaTooSmall(n) => write!(f, "the arena must be at least {n} bytes"),
            Self::PollingNotCompiled => {
                f.write_str("this client is WebSocket only: set transports to WebSocket")
            }
            Self::Eio3NotCompiled => f.write_str("Engine.IO v3 support is not compiled in"),
            Self::MsgPackNotCompiled => f.write_str("the msgpack parser is not compiled in"),
            Self::MsgPackWithEio3 => {
                f.write_str("the msgpack parser does not speak to socket.io 2.x servers")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let r = Reconnection::DEFAULT;
        assert_eq!(r.delay(1, 0, true), 1000);
        assert_eq!(r.delay(2, 0, false), 2000);
        assert_eq!(r.delay(3, 0, true), 4000);
        assert_eq!(r.delay(4, 0, true), 5000);
        assert_eq!(r.delay(40, u32::MAX, true), 5000);
        // Half the base at most, either way.
        assert_eq!(r.delay(1, u32::MAX, true), 1499);
        assert_eq!(r.delay(1, u32::MAX, false), 501);
        assert_eq!(r.delay(1, 1 << 31, false), 750);
    }

    #[test]
    fn config_strings_are_checked() {
        let ok = ClientConfig::new("localhost:3000");
        assert_eq!(ok.validate(), Ok(()));
        let bad = |f: fn(&mut ClientConfig<'static>)| {
            let mut c = ClientConfig::new("localhost");
            f(&mut c);
            c.validate()
        };
        assert_eq!(bad(|c| c.host = "a b"), Err(ConfigError::Host));
        assert_eq!(bad(|c| c.path = "/socket.io"), Err(ConfigError::Path));
        assert_eq!(bad(|c| c.query = "a=1\r\nX: y"), Err(ConfigError::Query));
        assert_eq!(
            bad(|c| c.headers = &[Header {
                name: "Bad Name",
                value: b"v"
            }]),
            Err(ConfigError::Header)
        );
    }
}
