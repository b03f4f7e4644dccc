//! The open packet, `0{"sid":…}` (PROTOCOL.md A.5, A.11).

use core::fmt;

use super::json;
use super::packet::PacketType;
use crate::BufferTooSmall;
use crate::write::{Writer, decimal_len};

/// Deepest nesting of arrays and objects accepted in a decoded open packet.
const MAX_DEPTH: usize = 16;

/// The handshake a server sends first: type `0` followed by a JSON object.
///
/// [`OpenPacket::encode`] writes the keys in the reference order:
/// `0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`.
/// [`OpenPacket::decode`] accepts any key order and ignores unknown keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenPacket<'a> {
    /// The session id. Encoding escapes it as JSON; decoding borrows it and refuses an id
    /// that contains escapes or control characters (session ids are URL-safe text).
    pub sid: &'a str,
    /// Whether `websocket` is offered in `upgrades`: `true` on a polling handshake, `false`
    /// on a WebSocket one (`"upgrades":[]`). Other transport names are ignored on decode.
    pub upgrade_websocket: bool,
    /// `pingInterval`: the server pings this often, in milliseconds.
    pub ping_interval: u32,
    /// `pingTimeout`: how long the server waits for the pong, in milliseconds.
    pub ping_timeout: u32,
    /// `maxPayload`: the largest POST body or WebSocket message the server accepts, in
    /// bytes. `None` when absent (servers older than engine.io 5.1 omit it); encoding then
    /// leaves the key out.
    pub max_payload: Option<u32>,
}

/// A key of the open packet, as named in errors.
///
/// This is the closed set of keys of protocol v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenField {
    /// `sid`
    Sid,
    /// `upgrades`
    Upgrades,
    /// `pingInterval`
    PingInterval,
    /// `pingTimeout`
    PingTimeout,
    /// `maxPayload`
    MaxPayload,
}

impl OpenField {
    /// The JSON key.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Sid => "sid",
            Self::Upgrades => "upgrades",
            Self::PingInterval => "pingInterval",
            Self::PingTimeout => "pingTimeout",
            Self::MaxPayload => "maxPayload",
        }
    }

    /// The field whose key equals the (decoded) JSON key `key`.
    fn from_key(key: &crate::json::JsonStr<'_>) -> Option<Self> {
        [
            Self::Sid,
            Self::Upgrades,
            Self::PingInterval,
            Self::PingTimeout,
            Self::MaxPayload,
        ]
        .into_iter()
        .find(|f| key.eq_str(f.key()))
    }
}

/// Why bytes are not a valid open packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// No bytes at all.
    Empty,
    /// The first byte is not the open type `0`.
    NotOpen {
        /// The first byte found.
        found: u8,
    },
    /// Arrays or objects nest deeper than this decoder accepts.
    TooDeep,
    /// The data is not well-formed JSON (including trailing bytes after the object).
    Syntax,
    /// The JSON is not an object, or a known key has a value of the wrong type or out of
    /// range (`sid` not a string, `upgrades` not an array of strings, a number that is not
    /// an integer in `0..=u32::MAX`).
    InvalidValue,
    /// A required key is absent (all but `maxPayload` are required).
    MissingField(OpenField),
    /// A key appears twice.
    DuplicateField(OpenField),
    /// The `sid` string contains a JSON escape or a control character.
    InvalidSid,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty open packet"),
            Self::NotOpen { found } => write!(f, "not an open packet (type byte 0x{found:02x})"),
            Self::TooDeep => f.write_str("open packet JSON nests too deep"),
            Self::Syntax => f.write_str("open packet is not valid JSON"),
            Self::InvalidValue => f.write_str("open packet has a value of the wrong type"),
            Self::MissingField(k) => write!(f, "open packet lacks \"{}\"", k.key()),
            Self::DuplicateField(k) => write!(f, "open packet repeats \"{}\"", k.key()),
            Self::InvalidSid => f.write_str("open packet sid contains an escape or control byte"),
        }
    }
}

impl core::error::Error for OpenError {}

impl<'a> OpenPacket<'a> {
    /// A packet with the reference defaults: ping every 25 s, 20 s timeout, 1 MB payloads.
    pub const fn new(sid: &'a str, upgrade_websocket: bool) -> Self {
        Self {
            sid,
            upgrade_websocket,
            ping_interval: 25_000,
            ping_timeout: 20_000,
            max_payload: Some(1_000_000),
        }
    }

    /// Length of the encoded packet, type digit included.
    pub fn encoded_len(&self) -> usize {
        const FIXED: usize = r#"0{"sid":"","upgrades":[],"pingInterval":,"pingTimeout":}"#.len();
        let mut n = FIXED
            .saturating_add(crate::json::escaped_len(self.sid))
            .saturating_add(decimal_len(self.ping_interval.into()))
            .saturating_add(decimal_len(self.ping_timeout.into()));
        if self.upgrade_websocket {
            n = n.saturating_add(r#""websocket""#.len());
        }
        if let Some(max) = self.max_payload {
            n = n
                .saturating_add(r#","maxPayload":"#.len())
                .saturating_add(decimal_len(max.into()));
        }
        n
    }

    /// Writes the whole packet (`0` and the JSON) into `out`; returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        w.byte(PacketType::Open.digit());
        w.put(br#"{"sid":""#);
        crate::json::put_escaped(&mut w, self.sid);
        w.put(br#"","upgrades":["#);
        if self.upgrade_websocket {
            w.put(br#""websocket""#);
        }
        w.put(br#"],"pingInterval":"#);
        w.decimal(self.ping_interval.into());
        w.put(br#","pingTimeout":"#);
        w.decimal(self.ping_timeout.into());
        if let Some(max) = self.max_payload {
            w.put(br#","maxPayload":"#);
            w.decimal(max.into());
        }
        w.byte(b'}');
        w.finish()
    }

    /// Decodes a whole open packet (`0{…}`), as received in a polling body or the first
    /// WebSocket message. The `sid` borrows from `packet`.
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode(packet: &'a [u8]) -> Result<Self, OpenError> {
        match packet.split_first() {
            None => Err(OpenError::Empty),
            Some((&b'0', json)) => Self::decode_json(json),
            Some((&found, _)) => Err(OpenError::NotOpen { found }),
        }
    }

    /// Decodes the JSON object alone (the data of a type-`0` text packet).
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode_json(json: &'a [u8]) -> Result<Self, OpenError> {
        let members = json::members(json, MAX_DEPTH).map_err(|e| match e {
            json::Invalid::TooDeep => OpenError::TooDeep,
            json::Invalid::Syntax => OpenError::Syntax,
            json::Invalid::NotObject => OpenError::InvalidValue,
        })?;
        let mut sid = None;
        let mut upgrades = None;
        let mut ping_interval = None;
        let mut ping_timeout = None;
        let mut max_payload = None;
        // A value of the wrong type fails at once; a repeated key only after the whole
        // object was read, and the first one repeated is reported.
        let mut duplicate = None;
        for (key, value) in members {
            let Some(field) = OpenField::from_key(&key) else {
                continue;
            };
            let number = || json::uint(value).ok_or(OpenError::InvalidValue);
            let repeated = match field {
                OpenField::Sid => {
                    let s = json::string(value).ok_or(OpenError::InvalidValue)?;
                    sid.replace(s).is_some()
                }
                OpenField::Upgrades => {
                    let names = json::array(value).ok_or(OpenError::InvalidValue)?;
                    let mut websocket = false;
                    for name in names {
                        let name = json::string(name).ok_or(OpenError::InvalidValue)?;
                        websocket |= name.eq_str("websocket");
                    }
                    upgrades.replace(websocket).is_some()
                }
                OpenField::PingInterval => ping_interval.replace(number()?).is_some(),
                OpenField::PingTimeout => ping_timeout.replace(number()?).is_some(),
                OpenField::MaxPayload => max_payload.replace(number()?).is_some(),
            };
            if repeated {
                duplicate.get_or_insert(field);
            }
        }
        if let Some(field) = duplicate {
            return Err(OpenError::DuplicateField(field));
        }
        let sid = sid.ok_or(OpenError::MissingField(OpenField::Sid))?;
        // Escapes are refused; raw control bytes are invalid JSON already.
        let sid = sid.as_str().ok_or(OpenError::InvalidSid)?;
        Ok(Self {
            sid,
            upgrade_websocket: upgrades.ok_or(OpenError::MissingField(OpenField::Upgrades))?,
            ping_interval: ping_interval.ok_or(OpenError::MissingField(OpenField::PingInterval))?,
            ping_timeout: ping_timeout.ok_or(OpenError::MissingField(OpenField::PingTimeout))?,
            max_payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    const EXAMPLE: &[u8] = br#"0{"sid":"Yk3cRq9vLm2Xw0PaAAAB","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

    fn enc(p: &OpenPacket<'_>) -> ([u8; 256], usize) {
        let mut buf = [0u8; 256];
        let n = p.encode(&mut buf).unwrap();
        assert_eq!(n, p.encoded_len());
        (buf, n)
    }

    #[test]
    fn protocol_a5_example() {
        let p = OpenPacket::new("Yk3cRq9vLm2Xw0PaAAAB", true);
        let (buf, n) = enc(&p);
        assert_eq!(&buf[..n], EXAMPLE);
        assert_eq!(OpenPacket::decode(EXAMPLE), Ok(p));
        assert_eq!(OpenPacket::decode_json(&EXAMPLE[1..]), Ok(p));
        // Too small by one: the exact size is reported.
        let mut small = [0u8; 128];
        assert_eq!(
            p.encode(&mut small[..EXAMPLE.len() - 1]),
            Err(BufferTooSmall {
                required: EXAMPLE.len()
            })
        );
    }

    #[test]
    fn websocket_handshake_has_no_upgrades() {
        let p = OpenPacket::new("abc", false);
        let (buf, n) = enc(&p);
        assert_eq!(
            &buf[..n],
            br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(OpenPacket::decode(&buf[..n]), Ok(p));
    }

    #[test]
    fn custom_values_and_missing_max_payload() {
        let p = OpenPacket {
            sid: "s\"1",
            upgrade_websocket: true,
            ping_interval: 300,
            ping_timeout: 200,
            max_payload: None,
        };
        let (buf, n) = enc(&p);
        assert_eq!(
            &buf[..n],
            br#"0{"sid":"s\"1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200}"#
        );
        // The escaped sid is encoded faithfully but refused on decode.
        assert_eq!(OpenPacket::decode(&buf[..n]), Err(OpenError::InvalidSid));
        let old =
            br#"0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}"#;
        assert_eq!(
            OpenPacket::decode(old),
            Ok(OpenPacket {
                max_payload: None,
                ping_timeout: 5000,
                ..OpenPacket::new("x", true)
            })
        );
    }

    #[test]
    fn tolerant_decode() {
        let shuffled = br#"0 { "maxPayload" : 5, "extra": {"a":[1,{"b":null}], "c":"]}"},
            "pingTimeout":2, "upgrades":["webtransport", "websocket"], "n": -1.5e3,
            "sid":"q-_Z", "pingInterval":1, "t": true } "#;
        let p = OpenPacket::decode(shuffled).unwrap();
        assert_eq!(
            p,
            OpenPacket {
                sid: "q-_Z",
                upgrade_websocket: true,
                ping_interval: 1,
                ping_timeout: 2,
                max_payload: Some(5)
            }
        );
        let other = br#"0{"sid":"a","upgrades":["polling"],"pingInterval":1,"pingTimeout":2}"#;
        assert!(!OpenPacket::decode(other).unwrap().upgrade_websocket);
    }

    #[test]
    fn malformed() {
        let d = |s: &str| OpenPacket::decode(s.as_bytes()).map(|p| p.ping_interval);
        use OpenError::*;
        assert_eq!(d(""), Err(Empty));
        assert_eq!(d("4{}"), Err(NotOpen { found: b'4' }));
        assert_eq!(d("0"), Err(Syntax));
        assert_eq!(d("0{"), Err(Syntax));
        assert_eq!(d(r#"0{"sid":"a""#), Err(Syntax));
        assert_eq!(d(r#"0{"sid":"a",}"#), Err(Syntax));
        assert_eq!(d("0{}x"), Err(Syntax));
        assert_eq!(d("0[]"), Err(InvalidValue));
        assert_eq!(d(r#"0{"sid":1}"#), Err(InvalidValue));
        assert_eq!(d(r#"0{"upgrades":"websocket"}"#), Err(InvalidValue));
        assert_eq!(d(r#"0{"upgrades":[1]}"#), Err(InvalidValue));
        assert_eq!(d(r#"0{"pingInterval":-1}"#), Err(InvalidValue));
        assert_eq!(d(r#"0{"pingInterval":"1"}"#), Err(InvalidValue));
        assert_eq!(d(r#"0{"pingInterval":4294967296}"#), Err(InvalidValue));
        assert_eq!(d("0{}"), Err(MissingField(OpenField::Sid)));
        assert_eq!(d(r#"0{"sid":"a"}"#), Err(MissingField(OpenField::Upgrades)));
        assert_eq!(
            d(r#"0{"sid":"a","upgrades":[]}"#),
            Err(MissingField(OpenField::PingInterval))
        );
        assert_eq!(
            d(r#"0{"sid":"a","upgrades":[],"pingInterval":1}"#),
            Err(MissingField(OpenField::PingTimeout))
        );
        assert_eq!(
            d(r#"0{"sid":"a","sid":"b","upgrades":[],"pingInterval":1,"pingTimeout":1}"#),
            Err(DuplicateField(OpenField::Sid))
        );
        assert_eq!(
            d(
                r#"0{"maxPayload":1,"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}"#
            ),
            Err(DuplicateField(OpenField::MaxPayload))
        );
        assert_eq!(d(r#"0{"sid":"a\/b"}"#), Err(InvalidSid));
        // A raw control character is invalid JSON.
        assert_eq!(d("0{\"sid\":\"a\u{1}b\"}"), Err(Syntax));
        assert_eq!(d(r#"0{"sid":"a\u0001b"}"#), Err(InvalidSid));
        let mut deep = [b'['; 40];
        deep[..7].copy_from_slice(br#"0{"x":["#);
        assert_eq!(OpenPacket::decode(&deep), Err(TooDeep));
    }

    #[test]
    fn keys_and_names_compare_decoded() {
        // Keys and transport names are compared after unescaping, as JSON defines them.
        let escaped = br#"0{"s\u0069d":"a","upgrades":["web\u0073ocket"],"pingInterval":1,"ping\u0054imeout":2}"#;
        assert_eq!(
            OpenPacket::decode(escaped),
            Ok(OpenPacket {
                ping_interval: 1,
                ping_timeout: 2,
                max_payload: None,
                ..OpenPacket::new("a", true)
            })
        );
        let twice =
            br#"0{"sid":"a","s\u0069d":"b","upgrades":[],"pingInterval":1,"pingTimeout":1}"#;
        assert_eq!(
            OpenPacket::decode(twice),
            Err(OpenError::DuplicateField(OpenField::Sid))
        );
        // Numbers must be plain unsigned integers.
        for n in ["1.0", "1e3", "-0", "null", "[1]"] {
            let mut buf = [0u8; 96];
            let mut w = Writer::new(&mut buf);
            w.put(br#"{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":"#);
            w.put(n.as_bytes());
            w.byte(b'}');
            let len = w.finish().unwrap();
            assert_eq!(
                OpenPacket::decode_json(&buf[..len]),
                Err(OpenError::InvalidValue),
                "{n}"
            );
        }
    }

    #[test]
    fn round_trip_random() {
        let mut rng = Rng::new(3);
        let mut sid = [0u8; 24];
        for _ in 0..2000 {
            let len = rng.below(sid.len() + 1);
            for b in &mut sid[..len] {
                *b = rng.pick(b"ABCxyz019-_");
            }
            let p = OpenPacket {
                sid: core::str::from_utf8(&sid[..len]).unwrap(),
                upgrade_websocket: rng.below(2) == 0,
                ping_interval: rng.next_u64() as u32,
                ping_timeout: rng.next_u64() as u32 >> rng.below(32),
                max_payload: (rng.below(3) > 0).then(|| rng.next_u64() as u32),
            };
            let (buf, n) = enc(&p);
            assert_eq!(OpenPacket::decode(&buf[..n]), Ok(p));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(17);
        let mut input = [0u8; 64];
        for _ in 0..5000 {
            let len = rng.below(input.len() + 1);
            for b in &mut input[..len] {
                *b = rng.pick(b"0{}[]\":,sidpngI1 -.e\\u\xff");
            }
            if rng.below(2) == 0 {
                let prefix = br#"0{"sid":"#;
                let k = prefix.len().min(len);
                input[..k].copy_from_slice(&prefix[..k]);
            }
            if let Ok(p) = OpenPacket::decode(&input[..len]) {
                let (buf, n) = enc(&p);
                assert_eq!(OpenPacket::decode(&buf[..n]), Ok(p));
            }
        }
    }
}
