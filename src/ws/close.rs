//! Close codes and the close frame payload (RFC 6455 sections 5.5.1 and 7.4).

use core::fmt;

/// A close status code (RFC 6455 section 7.4).
///
/// Any `u16` can be held; [`CloseCode::is_sendable`] says whether it may appear in a close
/// frame on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present (local use only, never sent).
    pub const NO_STATUS_RECEIVED: Self = Self(1005);
    /// 1006: the connection dropped without a close frame (local use only, never sent).
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data inconsistent with its type (for example invalid UTF-8 text).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: TLS handshake failure (local use only, never sent).
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether the code may be sent in a close frame.
    ///
    /// Allowed: 1000-1003, 1007-1014, and 3000-4999 (registered and private use). Refused:
    /// below 1000, 1004 (reserved), 1005, 1006 and 1015 (local use only), 1016-2999
    /// (unassigned protocol range), and 5000 and above (no range is defined there).
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest close reason that fits a control frame (125 minus the 2-byte code).
pub const MAX_CLOSE_REASON: usize = 123;

/// A parsed close frame payload: a status code and a UTF-8 reason (possibly empty).
///
/// An empty close payload has no code; it is represented as `None` by the parsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, always [sendable](CloseCode::is_sendable) when parsed.
    pub code: CloseCode,
    /// The reason text.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses an (unmasked) close frame payload.
    ///
    /// Empty → `Ok(None)`. Otherwise a big-endian code that must be sendable, then UTF-8.
    #[must_use = "the parsed frame or error is the result"]
    pub fn parse(payload: &'a [u8]) -> Result<Option<Self>, CloseError> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            [_] => return Err(CloseError::OneBytePayload),
            [hi, lo, reason @ ..] => (CloseCode(u16::from_be_bytes([*hi, *lo])), reason),
        };
        if reason.len() > MAX_CLOSE_REASON {
            return Err(CloseError::ReasonTooLong);
        }
        if !code.is_sendable() {
            return Err(CloseError::InvalidCode(code));
        }
        match core::str::from_utf8(reason) {
            Ok(reason) => Ok(Some(Self { code, reason })),
            Err(_) => Err(CloseError::InvalidUtf8),
        }
    }

    /// Length of the payload [`CloseFrame::write_payload`] produces.
    pub const fn payload_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Writes the payload (code then reason) into `out`; returns its length.
    ///
    /// This does not check the code or the reason length; the frame encoder does.
    pub fn write_payload(&self, out: &mut [u8]) -> Result<usize, crate::BufferTooSmall> {
        let mut w = crate::write::Writer::new(out);
        w.put(&self.code.0.to_be_bytes());
        w.put(self.reason.as_bytes());
        w.finish()
    }
}

/// Why a close frame payload was refused. Each maps to the close code to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseError {
    /// A 1-byte payload: a code needs two bytes (1002).
    OneBytePayload,
    /// A code that may not be sent on the wire (1002).
    InvalidCode(CloseCode),
    /// The reason is not UTF-8 (1007).
    InvalidUtf8,
    /// The reason is longer than [`MAX_CLOSE_REASON`] (1002; only from hand-made payloads,
    /// the frame decoder already bounds control payloads).
    ReasonTooLong,
}

impl CloseError {
    /// The close code to answer this error with.
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::OneBytePayload | Self::InvalidCode(_) | Self::ReasonTooLong => {
                CloseCode::PROTOCOL_ERROR
            }
        }
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OneBytePayload => f.write_str("close frame with a 1-byte payload"),
            Self::InvalidCode(code) => write!(f, "close code {code} is not allowed on the wire"),
            Self::InvalidUtf8 => f.write_str("close reason is not valid UTF-8"),
            Self::ReasonTooLong => f.write_str("close reason longer than 123 bytes"),
        }
    }
}

impl core::error::Error for CloseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
        ] {
            assert!(CloseCode(ok).is_sendable(), "{ok}");
        }
        for ok in [3999, 4000, 4999] {
            assert!(CloseCode(ok).is_sendable(), "{ok}");
        }
        for bad in [
            0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(bad).is_sendable(), "{bad}");
        }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(CloseFrame::parse(b""), Ok(None));
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8"),
            Ok(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: ""
            }))
        );
        assert_eq!(
            CloseFrame::parse(b"\x0f\xa0bye \xc3\xa9"),
            Ok(Some(CloseFrame {
                code: CloseCode(4000),
                reason: "bye é"
            }))
        );
        assert_eq!(CloseFrame::parse(b"\x03"), Err(CloseError::OneBytePayload));
        assert_eq!(
            CloseFrame::parse(b"\x03\xed"),
            Err(CloseError::InvalidCode(CloseCode(1005)))
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xff"),
            Err(CloseError::InvalidUtf8)
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xe2\x82"),
            Err(CloseError::InvalidUtf8)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03; 126]),
            Err(CloseError::ReasonTooLong)
        );
        assert_eq!(CloseError::OneBytePayload.close_code(), CloseCode(1002));
        assert_eq!(
            CloseError::InvalidCode(CloseCode(0)).close_code(),
            CloseCode(1002)
        );
        assert_eq!(CloseError::InvalidUtf8.close_code(), CloseCode(1007));
    }

    #[test]
    fn write_payload_round_trips() {
        let frame = CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "restart",
        };
        let mut out = [0u8; 16];
        let n = frame.write_payload(&mut out).unwrap();
        assert_eq!(n, frame.payload_len());
        assert_eq!(&out[..n], b"\x03\xe9restart");
        assert_eq!(CloseFrame::parse(&out[..n]), Ok(Some(frame)));
        assert_eq!(
            frame.write_payload(&mut out[..3]),
            Err(crate::BufferTooSmall { required: 9 })
        );
    }
}
