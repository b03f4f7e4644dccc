//! HTTP/1.1 heads and bodies for the polling transport, the WebSocket upgrade and plain
//! app routes, on both the server and the client side.
//!
//! Parsing is done by [`httparse`]; this module adds what Engine.IO needs on top of it, all
//! in one pass over the headers:
//!
//! * [`parse_request`] / [`parse_response`] turn a buffer into a typed view ([`Request`],
//!   [`Response`]) that borrows the buffer and the caller-lent [`Header`] slots. An
//!   incomplete head is [`Status::Partial`]; an incomplete head already longer than
//!   [`Limits::max_head`] is [`HeadError::HeadTooLarge`], so an endless header cannot grow
//!   without bound. Running out of header slots is [`HeadError::TooManyHeaders`].
//! * Bodies are framed by `Content-Length` only. `Transfer-Encoding: chunked` is refused
//!   with [`HeadError::ChunkedNotSupported`] (answer 411) rather than misread, and a body
//!   longer than [`Limits::max_body`] is refused by [`BodyError::TooLarge`] as soon as the
//!   head is known (answer 413). [`Request::body`] reports the bytes consumed so the next
//!   pipelined request starts right after.
//! * [`Params`] and [`EngineQuery`] read the query string (`EIO=4&transport=polling&sid=…`);
//!   [`percent_decode_into`] decodes a value into a caller buffer.
//! * [`ResponseHead`] (server) and [`RequestHead`] (client) write byte-exact heads into a
//!   caller buffer, refusing header values that would inject CR/LF.
//!
//! Header values are handed out as raw bytes (`&[u8]`): HTTP allows non-UTF-8 bytes there.
//!
//! ```
//! use siocore::Status;
//! use siocore::http::{self, EMPTY_HEADER, Limits, Method};
//!
//! let buf = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n";
//! let mut slots = [EMPTY_HEADER; 16];
//! let Status::Complete(req) = http::parse_request(buf, &mut slots, &Limits::DEFAULT)? else {
//!     unreachable!("the head is complete")
//! };
//! assert_eq!(req.method(), Method::Get);
//! assert_eq!(req.path(), "/socket.io/");
//! assert_eq!(req.engine_query().transport, Some("polling"));
//! assert!(req.keep_alive());
//! # Ok::<(), http::HeadError>(())
//! ```

mod fields;
mod query;
mod request;
mod response;
mod writer;

#[cfg(test)]
mod tests;

use core::fmt;

pub use httparse::{EMPTY_HEADER, Header};

pub(crate) use fields::trim;
pub use fields::{ConnectionTokens, HeaderField, has_token};
pub use query::{EngineQuery, Param, Params, PercentDecodeError, percent_decode_into};
pub use request::{Request, parse_request};
pub use response::{Response, parse_response};
pub use writer::{Connection, Cors, RequestHead, ResponseHead, WriteError, reason_phrase};
pub(crate) use writer::{check_headers, is_tchar};

use crate::Status;

/// Size limits applied by the parsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted head (request or status line, headers and the blank line), in bytes.
    pub max_head: usize,
    /// Longest accepted body, in bytes (compared with `Content-Length`).
    pub max_body: u64,
}

impl Limits {
    /// 8 KiB heads, 1 000 000-byte bodies (the Engine.IO default `maxPayload`).
    pub const DEFAULT: Self = Self {
        max_head: 8 * 1024,
        max_body: 1_000_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A request method. Matching is case-sensitive, as HTTP methods are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method<'a> {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `OPTIONS`
    Options,
    /// `HEAD`
    Head,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// Any other method token, as written.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// The method for a token as it appears on the request line.
    pub fn from_token(token: &'a str) -> Self {
        match token {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "OPTIONS" => Self::Options,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            other => Self::Other(other),
        }
    }

    /// The method token.
    pub const fn as_str(&self) -> &'a str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Options => "OPTIONS",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A malformed or refused HTTP head (request or response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is longer than [`Limits::max_head`] (or still incomplete at that length).
    HeadTooLarge,
    /// More headers than the caller lent slots for.
    TooManyHeaders,
    /// Invalid byte in the method or request target (request line).
    InvalidToken,
    /// Invalid or unsupported HTTP version (only `HTTP/1.0` and `HTTP/1.1` are accepted).
    InvalidVersion,
    /// Invalid status code or reason phrase (status line).
    InvalidStatus,
    /// Invalid byte in a header name.
    InvalidHeaderName,
    /// Invalid byte in a header value.
    InvalidHeaderValue,
    /// Invalid line ending.
    InvalidNewLine,
    /// A `Content-Length` value that is not a plain decimal number fitting 64 bits.
    InvalidContentLength,
    /// Two `Content-Length` headers with different values.
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` are present (a request-smuggling form).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding: chunked`: chunked bodies are not supported (answer 411).
    ChunkedNotSupported,
    /// A `Transfer-Encoding` other than `chunked`.
    UnsupportedTransferEncoding,
    /// A header that may appear only once appeared twice.
    DuplicateHeader(HeaderField),
}

impl HeadError {
    /// The status a server should answer a request head failing this way with:
    /// 431 for size limits, 411 for chunked bodies, 501 for other transfer codings, else 400.
    pub const fn status_code(&self) -> u16 {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::ChunkedNotSupported => 411,
            Self::UnsupportedTransferEncoding => 501,
            _ => 400,
        }
    }

    fn from_httparse(e: httparse::Error) -> Self {
        match e {
            httparse::Error::HeaderName => Self::InvalidHeaderName,
            httparse::Error::HeaderValue => Self::InvalidHeaderValue,
            httparse::Error::NewLine => Self::InvalidNewLine,
            httparse::Error::Status => Self::InvalidStatus,
            httparse::Error::Token => Self::InvalidToken,
            httparse::Error::TooManyHeaders => Self::TooManyHeaders,
            httparse::Error::Version => Self::InvalidVersion,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::HeadTooLarge => "HTTP head too large",
            Self::TooManyHeaders => "too many HTTP headers",
            Self::InvalidToken => "invalid HTTP method or request target",
            Self::InvalidVersion => "invalid HTTP version",
            Self::InvalidStatus => "invalid HTTP status line",
            Self::InvalidHeaderName => "invalid HTTP header name",
            Self::InvalidHeaderValue => "invalid HTTP header value",
            Self::InvalidNewLine => "invalid HTTP line ending",
            Self::InvalidContentLength => "invalid Content-Length",
            Self::ConflictingContentLength => "conflicting Content-Length headers",
            Self::ContentLengthWithTransferEncoding => {
                "both Content-Length and Transfer-Encoding present"
            }
            Self::ChunkedNotSupported => "chunked transfer encoding not supported",
            Self::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
            Self::DuplicateHeader(field) => {
                return write!(f, "duplicate {} header", field.name());
            }
        };
        f.write_str(text)
    }
}

impl core::error::Error for HeadError {}

/// A body that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// `Content-Length` exceeds the configured maximum (answer 413). Reported as soon as
    /// the head is known, before any body byte arrives.
    TooLarge {
        /// The announced `Content-Length`.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A response with a body but no `Content-Length`: it would run until the connection
    /// closes, which this framing does not handle.
    NoContentLength,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { length, max } => {
                write!(f, "HTTP body of {length} bytes exceeds the limit of {max}")
            }
            Self::NoContentLength => f.write_str("HTTP response body without Content-Length"),
        }
    }
}

impl core::error::Error for BodyError {}

/// A complete body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body<'b> {
    /// The body bytes.
    pub bytes: &'b [u8],
    /// Bytes of the input used so far, counted from the start of the buffer the call was
    /// given (for [`Request::body`] / [`Response::body`]: head plus body). The next
    /// pipelined message starts at this offset.
    pub consumed: usize,
}

/// Frames a body of `content_length` bytes at the start of `after_head`.
///
/// `Partial` until all of it is there; [`BodyError::TooLarge`] at once when
/// `content_length > max_body`. `consumed` is counted from the start of `after_head`.
#[must_use = "the body status says whether more bytes are needed"]
pub fn body_by_length(
    after_head: &[u8],
    content_length: u64,
    max_body: u64,
) -> Result<Status<Body<'_>>, BodyError> {
    framed_body(after_head, 0, content_length, max_body)
}

/// Body of `len` bytes starting at `start` in `buf`.
fn framed_body(
    buf: &[u8],
    start: usize,
    len: u64,
    max_body: u64,
) -> Result<Status<Body<'_>>, BodyError> {
    let too_large = BodyError::TooLarge {
        length: len,
        max: max_body,
    };
    if len > max_body {
        return Err(too_large);
    }
    // A length that cannot be addressed cannot be held in memory either.
    let end = usize::try_from(len)
        .ok()
        .and_then(|n| start.checked_add(n))
        .ok_or(too_large)?;
    match buf.get(start..end) {
        Some(bytes) => Ok(Status::Complete(Body {
            bytes,
            consumed: end,
        })),
        None => Ok(Status::Partial),
    }
}

/// Runs `parse` over at most `max_head` bytes of `buf` and applies the size rule.
fn bounded_parse<'b, T>(
    buf: &'b [u8],
    max_head: usize,
    parse: impl FnOnce(&'b [u8]) -> httparse::Result<T>,
) -> Result<Status<T>, HeadError> {
    let window = buf.get(..max_head).unwrap_or(buf);
    match parse(window) {
        Ok(httparse::Status::Complete(t)) => Ok(Status::Complete(t)),
        // The head needs at least one more byte, so it would be longer than allowed.
        Ok(httparse::Status::Partial) if window.len() >= max_head => Err(HeadError::HeadTooLarge),
        Ok(httparse::Status::Partial) => Ok(Status::Partial),
        Err(e) => Err(HeadError::from_httparse(e)),
    }
}

/// Keep-alive rule shared by requests and responses.
const fn keep_alive(minor_version: u8, connection: ConnectionTokens) -> bool {
    if connection.close {
        false
    } else if minor_version >= 1 {
        true
    } else {
        connection.keep_alive
    }
}
