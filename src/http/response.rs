//! Response heads (client side), parsed whole into caller-lent header slots: for a general
//! HTTP client or a test. The Socket.IO client reads its responses with a smaller reader
//! of its own (`client/head.rs`: the status and the few fields it acts on, in one pass,
//! without a header table), because on a microcontroller this general parser would be a
//! third of the client's flash. Both apply the same strict rules.

use super::fields::{self, Fields};
use super::{Body, BodyError, ConnectionTokens, HeadError, Header, Limits};
use crate::Status;

/// A parsed response head, borrowing the input buffer (`'b`) and the header slots (`'h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'h, 'b> {
    buf: &'b [u8],
    code: u16,
    reason: &'b str,
    minor_version: u8,
    head_len: usize,
    headers: &'h [Header<'b>],
    fields: Fields<'b>,
    max_body: u64,
}

/// Parses a response head at the start of `buf`, using `headers` as header storage.
///
/// Same rules as [`parse_request`](super::parse_request): `Partial` while incomplete and
/// within `limits.max_head`, then the body with [`Response::body`].
///
/// # Errors
/// Any [`HeadError`].
#[must_use = "the status says whether more bytes are needed"]
pub fn parse_response<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Status<Response<'h, 'b>>, HeadError> {
    let mut res = httparse::Response::new(headers);
    let head_len = match super::bounded_parse(buf, limits.max_head, |w| res.parse(w))? {
        Status::Complete(n) => n,
        Status::Partial => return Ok(Status::Partial),
    };
    // httparse fills all three on a complete parse; the fallback is never used.
    let (Some(code), Some(reason), Some(minor_version)) = (res.code, res.reason, res.version)
    else {
        return Err(HeadError::InvalidStatus);
    };
    let headers: &'h [Header<'b>] = res.headers;
    let fields = Fields::scan(headers)?;
    Ok(Status::Complete(Response {
        buf,
        code,
        reason,
        minor_version,
        head_len,
        headers,
        fields,
        max_body: limits.max_body,
    }))
}

impl<'h, 'b> Response<'h, 'b> {
    /// The status code.
    pub const fn code(&self) -> u16 {
        self.code
    }

    /// The reason phrase (empty when missing or not ASCII).
    pub const fn reason(&self) -> &'b str {
        self.reason
    }

    /// The HTTP minor version.
    pub const fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Length of the head in bytes, including the blank line.
    pub const fn head_len(&self) -> usize {
        self.head_len
    }

    /// All headers, in order (`Set-Cookie` lines are found here).
    pub const fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        fields::find(self.headers, name)
    }

    /// The `Content-Length`, if present.
    pub const fn content_length(&self) -> Option<u64> {
        self.fields.content_length
    }

    /// The recognised `Connection` tokens.
    pub const fn connection(&self) -> ConnectionTokens {
        self.fields.connection
    }

    /// Whether the server keeps the connection open (same rule as for requests).
    pub const fn keep_alive(&self) -> bool {
        super::keep_alive(self.minor_version, self.fields.connection)
    }

    /// `Upgrade` lists `websocket`.
    pub const fn upgrade_websocket(&self) -> bool {
        self.fields.upgrade_websocket
    }

    /// `Sec-WebSocket-Accept`.
    pub const fn sec_websocket_accept(&self) -> Option<&'b [u8]> {
        self.fields.ws_accept
    }

    /// `Content-Type`.
    pub const fn content_type(&self) -> Option<&'b [u8]> {
        self.fields.content_type
    }

    /// Whether the status forbids a body (1xx, 204, 304): then the body is empty whatever
    /// the headers say. (A response to `HEAD` has none either; the caller knows that.)
    pub const fn status_has_no_body(&self) -> bool {
        matches!(self.code, 100..=199 | 204 | 304)
    }

    /// The body, framed by `Content-Length`; empty for 1xx, 204 and 304.
    ///
    /// `consumed` counts head and body from the start of the buffer given to
    /// [`parse_response`]; after a 101 the WebSocket bytes start there.
    ///
    /// # Errors
    /// [`BodyError::TooLarge`] as soon as `Content-Length` exceeds [`Limits::max_body`];
    /// [`BodyError::NoContentLength`] for a response that has a body but no length.
    #[must_use = "the status says whether more bytes are needed"]
    pub fn body(&self) -> Result<Status<Body<'b>>, BodyError> {
        let len = if self.status_has_no_body() {
            0
        } else {
            self.fields
                .content_length
                .ok_or(BodyError::NoContentLength)?
        };
        super::framed_body(self.buf, self.head_len, len, self.max_body)
    }
}
