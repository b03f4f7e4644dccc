//! HTTP error bodies, `{"code":0,"message":"Transport unknown"}` (PROTOCOL.md A.6).

use core::fmt;

use super::json;
use crate::BufferTooSmall;
use crate::write::{Writer, decimal_len};

/// Deepest nesting of arrays and objects accepted in a decoded error body.
const MAX_DEPTH: usize = 16;

/// Why a request was rejected, as sent in an error body.
///
/// This is the closed set of Engine.IO v4 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorCode {
    /// 0: `transport` missing, unknown, or disabled.
    TransportUnknown = 0,
    /// 1: the `sid` is not (or no longer) known.
    SessionIdUnknown = 1,
    /// 2: a request without `sid` that is not a GET.
    BadHandshakeMethod = 2,
    /// 3: anything else malformed (wrong transport for the session, missing `Upgrade`, …).
    BadRequest = 3,
    /// 4: the application refused the handshake (HTTP 403; the message may be custom).
    Forbidden = 4,
    /// 5: `EIO` missing or not `4`.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// All codes in numeric order.
    pub const ALL: [Self; 6] = [
        Self::TransportUnknown,
        Self::SessionIdUnknown,
        Self::BadHandshakeMethod,
        Self::BadRequest,
        Self::Forbidden,
        Self::UnsupportedProtocolVersion,
    ];

    /// The code for a number `0..=5`.
    pub const fn from_u8(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::TransportUnknown,
            1 => Self::SessionIdUnknown,
            2 => Self::BadHandshakeMethod,
            3 => Self::BadRequest,
            4 => Self::Forbidden,
            5 => Self::UnsupportedProtocolVersion,
            _ => return None,
        })
    }

    /// The numeric code.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The reference message text (also the whole body of a refused WebSocket upgrade).
    pub const fn message(self) -> &'static str {
        match self {
            Self::TransportUnknown => "Transport unknown",
            Self::SessionIdUnknown => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::Forbidden => "Forbidden",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status to answer with: 403 for [`ErrorCode::Forbidden`], 400 otherwise.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Forbidden => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The JSON body of a rejected Engine.IO HTTP request (`Content-Type: application/json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorBody<'a> {
    /// The error code.
    pub code: ErrorCode,
    /// The message, unescaped text. The reference uses [`ErrorCode::message`] except for a
    /// custom [`ErrorCode::Forbidden`] message.
    pub message: &'a str,
}

/// Why bytes are not a valid error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorBodyError {
    /// Arrays or objects nest deeper than this decoder accepts.
    TooDeep,
    /// Not well-formed JSON (including trailing bytes after the object).
    Syntax,
    /// Not an object, or `code` is not a non-negative integer, or `message` not a string.
    InvalidValue,
    /// No `code` key.
    MissingCode,
    /// No `message` key.
    MissingMessage,
    /// `code` or `message` appears twice.
    DuplicateKey,
    /// `code` is not one of 0–5.
    UnknownCode {
        /// The number found.
        code: u32,
    },
    /// The message contains an invalid JSON escape.
    InvalidEscape,
    /// The scratch buffer is too small for the unescaped message.
    ScratchTooSmall(BufferTooSmall),
}

impl fmt::Display for ErrorBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooDeep => f.write_str("error body JSON nests too deep"),
            Self::Syntax => f.write_str("error body is not valid JSON"),
            Self::InvalidValue => f.write_str("error body has a value of the wrong type"),
            Self::MissingCode => f.write_str("error body lacks \"code\""),
            Self::MissingMessage => f.write_str("error body lacks \"message\""),
            Self::DuplicateKey => f.write_str("error body repeats a key"),
            Self::UnknownCode { code } => write!(f, "unknown engine.io error code {code}"),
            Self::InvalidEscape => f.write_str("error body message has an invalid escape"),
            Self::ScratchTooSmall(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for ErrorBodyError {}

impl<'a> ErrorBody<'a> {
    /// The body for `code` with its reference message.
    pub const fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.message(),
        }
    }

    /// A code 4 (`Forbidden`) body with an application's own message.
    pub const fn forbidden(message: &'a str) -> Self {
        Self {
            code: ErrorCode::Forbidden,
            message,
        }
    }

    /// The HTTP status to send with this body.
    pub const fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// Length of the encoded body.
    pub fn encoded_len(&self) -> usize {
        const FIXED: usize = r#"{"code":,"message":""}"#.len();
        FIXED
            .saturating_add(decimal_len(self.code.as_u8().into()))
            .saturating_add(crate::json::escaped_len(self.message))
    }

    /// Writes `{"code":<n>,"message":"<text>"}` (the message JSON-escaped) into `out`;
    /// returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        w.put(br#"{"code":"#);
        w.decimal(self.code.as_u8().into());
        w.put(br#","message":""#);
        crate::json::put_escaped(&mut w, self.message);
        w.put(br#""}"#);
        w.finish()
    }

    /// Decodes an error body (client side). Key order is free and unknown keys are ignored.
    ///
    /// The message borrows from `body` when it has no escapes; otherwise it is unescaped
    /// into `scratch` (a buffer as long as the body always suffices).
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode(body: &'a [u8], scratch: &'a mut [u8]) -> Result<Self, ErrorBodyError> {
        let members = json::members(body, MAX_DEPTH).map_err(|e| match e {
            json::Invalid::TooDeep => ErrorBodyError::TooDeep,
            json::Invalid::Syntax => ErrorBodyError::Syntax,
            json::Invalid::NotObject => ErrorBodyError::InvalidValue,
        })?;
        let mut code = None;
        let mut message = None;
        // A value of the wrong type fails at once; a repeated key after the whole object.
        let mut duplicate = false;
        for (key, value) in members {
            if key.eq_str("code") {
                let n = json::uint(value).ok_or(ErrorBodyError::InvalidValue)?;
                duplicate |= code.replace(n).is_some();
            } else if key.eq_str("message") {
                let s = json::string(value).ok_or(ErrorBodyError::InvalidValue)?;
                duplicate |= message.replace(s).is_some();
            }
        }
        if duplicate {
            return Err(ErrorBodyError::DuplicateKey);
        }
        let code = code.ok_or(ErrorBodyError::MissingCode)?;
        let code = u8::try_from(code)
            .ok()
            .and_then(ErrorCode::from_u8)
            .ok_or(ErrorBodyError::UnknownCode { code })?;
        let message = message.ok_or(ErrorBodyError::MissingMessage)?;
        if let Some(message) = message.as_str() {
            return Ok(Self { code, message });
        }
        let n = message
            .unescape_into(scratch)
            .map_err(ErrorBodyError::ScratchTooSmall)?;
        let scratch: &'a [u8] = scratch;
        let text = scratch.get(..n).unwrap_or_default();
        // The scanner validated every escape (surrogates paired) and the rest was UTF-8
        // already, so this cannot fail; the error only keeps the decoder panic-free.
        let message = core::str::from_utf8(text).map_err(|_| ErrorBodyError::InvalidEscape)?;
        Ok(Self { code, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn enc(b: &ErrorBody<'_>) -> ([u8; 512], usize) {
        let mut buf = [0u8; 512];
        let n = b.encode(&mut buf).unwrap();
        assert_eq!(n, b.encoded_len());
        (buf, n)
    }

    #[test]
    fn protocol_a6_table() {
        let expected: [(&[u8], u16); 6] = [
            (br#"{"code":0,"message":"Transport unknown"}"#, 400),
            (br#"{"code":1,"message":"Session ID unknown"}"#, 400),
            (br#"{"code":2,"message":"Bad handshake method"}"#, 400),
            (br#"{"code":3,"message":"Bad request"}"#, 400),
            (br#"{"code":4,"message":"Forbidden"}"#, 403),
            (
                br#"{"code":5,"message":"Unsupported protocol version"}"#,
                400,
            ),
        ];
        for (i, (code, (wire, status))) in ErrorCode::ALL.into_iter().zip(expected).enumerate() {
            assert_eq!(usize::from(code.as_u8()), i);
            assert_eq!(ErrorCode::from_u8(i as u8), Some(code));
            assert_eq!(code.http_status(), status);
            let body = ErrorBody::new(code);
            assert_eq!(body.http_status(), status);
            let (buf, n) = enc(&body);
            assert_eq!(&buf[..n], wire);
            let mut scratch = [0u8; 0];
            assert_eq!(ErrorBody::decode(wire, &mut scratch), Ok(body));
        }
        assert_eq!(ErrorCode::from_u8(6), None);
        let mut small = [0u8; 10];
        assert_eq!(
            ErrorBody::new(ErrorCode::TransportUnknown).encode(&mut small),
            Err(BufferTooSmall { required: 40 })
        );
    }

    #[test]
    fn custom_forbidden_message() {
        let body = ErrorBody::forbidden("Not \"you\"\\\n€");
        assert_eq!(body.http_status(), 403);
        let (buf, n) = enc(&body);
        assert_eq!(
            &buf[..n],
            r#"{"code":4,"message":"Not \"you\"\\\n€"}"#.as_bytes()
        );
        let mut scratch = [0u8; 32];
        assert_eq!(ErrorBody::decode(&buf[..n], &mut scratch), Ok(body));
        let mut tiny = [0u8; 4];
        assert_eq!(
            ErrorBody::decode(&buf[..n], &mut tiny),
            Err(ErrorBodyError::ScratchTooSmall(BufferTooSmall {
                required: 14
            }))
        );
    }

    #[test]
    fn tolerant_decode() {
        let body = br#" { "message" : "Bad request", "extra": [1, {"x": "}"}], "code" : 3 } "#;
        assert_eq!(
            ErrorBody::decode(body, &mut []),
            Ok(ErrorBody::new(ErrorCode::BadRequest))
        );
        let body = br#"{"code":4,"message":"\u004e\u006f \ud83d\ude00"}"#;
        let mut scratch = [0u8; 16];
        assert_eq!(
            ErrorBody::decode(body, &mut scratch),
            Ok(ErrorBody::forbidden("No 😀"))
        );
    }

    #[test]
    fn malformed() {
        use ErrorBodyError::*;
        let d = |s: &str| {
            let mut scratch = [0u8; 64];
            ErrorBody::decode(s.as_bytes(), &mut scratch).map(|b| b.code)
        };
        assert_eq!(d(""), Err(Syntax));
        assert_eq!(d("{"), Err(Syntax));
        assert_eq!(d(r#"{"code":0,"message":"x"}}"#), Err(Syntax));
        assert_eq!(d(r#"{"code":0,"message":"x"#), Err(Syntax));
        assert_eq!(d("[]"), Err(InvalidValue));
        assert_eq!(d(r#"{"code":"0"}"#), Err(InvalidValue));
        assert_eq!(d(r#"{"code":-1}"#), Err(InvalidValue));
        assert_eq!(d(r#"{"message":3}"#), Err(InvalidValue));
        assert_eq!(d(r#"{"message":"x"}"#), Err(MissingCode));
        assert_eq!(d(r#"{"code":1}"#), Err(MissingMessage));
        assert_eq!(d(r#"{"code":1,"code":1,"message":"x"}"#), Err(DuplicateKey));
        assert_eq!(
            d(r#"{"code":1,"message":"x","message":"x"}"#),
            Err(DuplicateKey)
        );
        assert_eq!(
            d(r#"{"code":6,"message":"x"}"#),
            Err(UnknownCode { code: 6 })
        );
        assert_eq!(
            d(r#"{"code":256,"message":"x"}"#),
            Err(UnknownCode { code: 256 })
        );
        // Bad escapes and lone surrogates are invalid JSON, caught by the scanner first.
        assert_eq!(d(r#"{"code":4,"message":"\q"}"#), Err(Syntax));
        assert_eq!(d(r#"{"code":4,"message":"\ud800"}"#), Err(Syntax));
        assert_eq!(ErrorBody::decode(&[b'['; 40], &mut []), Err(TooDeep));
    }

    #[test]
    fn keys_compare_decoded() {
        let body = br#"{"\u0063ode":4,"mess\u0061ge":"x"}"#;
        assert_eq!(
            ErrorBody::decode(body, &mut []),
            Ok(ErrorBody::forbidden("x"))
        );
        let body = br#"{"code":4,"c\u006fde":4,"message":"x"}"#;
        assert_eq!(
            ErrorBody::decode(body, &mut []),
            Err(ErrorBodyError::DuplicateKey)
        );
        for body in [
            &br#"{"code":1.0,"message":"x"}"#[..],
            br#"{"code":4e0,"message":"x"}"#,
        ] {
            assert_eq!(
                ErrorBody::decode(body, &mut []),
                Err(ErrorBodyError::InvalidValue)
            );
        }
    }

    #[test]
    fn round_trip_random() {
        let mut rng = Rng::new(13);
        let mut msg = [0u8; 40];
        let mut scratch = [0u8; 40];
        for _ in 0..2000 {
            let len = rng.below(msg.len() + 1);
            for b in &mut msg[..len] {
                *b = rng.pick(b"Ab \"\\/\n\x00\x1f\x7f");
            }
            let body = ErrorBody {
                code: ErrorCode::ALL[rng.below(6)],
                message: core::str::from_utf8(&msg[..len]).unwrap(),
            };
            let (buf, n) = enc(&body);
            assert_eq!(ErrorBody::decode(&buf[..n], &mut scratch), Ok(body));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(19);
        let mut input = [0u8; 48];
        let mut scratch = [0u8; 48];
        for _ in 0..5000 {
            let len = rng.below(input.len() + 1);
            for b in &mut input[..len] {
                *b = rng.pick(b"{}[]\":,codemsage 0145-\\u\xe2\x82\xac");
            }
            if rng.below(2) == 0 {
                let prefix = br#"{"code":4,"message":""#;
                let k = prefix.len().min(len);
                input[..k].copy_from_slice(&prefix[..k]);
            }
            let cap = rng.below(scratch.len() + 1);
            if let Ok(b) = ErrorBody::decode(&input[..len], &mut scratch[..cap]) {
                let (buf, n) = enc(&b);
                let mut again = [0u8; 128];
                assert_eq!(ErrorBody::decode(&buf[..n], &mut again), Ok(b));
            }
        }
    }
}
