//! Request heads (server side).

use super::fields::{self, Fields};
use super::{
    Body, BodyError, ConnectionTokens, EngineQuery, HeadError, Header, Limits, Method, Params,
};
use crate::Status;

/// A parsed request head, borrowing the input buffer (`'b`) and the header slots (`'h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'h, 'b> {
    buf: &'b [u8],
    method: Method<'b>,
    target: &'b str,
    path: &'b str,
    query: &'b str,
    minor_version: u8,
    head_len: usize,
    headers: &'h [Header<'b>],
    fields: Fields<'b>,
    max_body: u64,
}

/// Parses a request head at the start of `buf`, using `headers` as header storage.
///
/// `Partial` while the head is incomplete and no longer than `limits.max_head`. The body
/// (if any) is read afterwards with [`Request::body`].
///
/// # Errors
/// Any [`HeadError`]: syntax errors from the parser, size limits, bad or conflicting
/// `Content-Length`, any `Transfer-Encoding`, duplicated single-valued headers.
#[must_use = "the status says whether more bytes are needed"]
pub fn parse_request<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Status<Request<'h, 'b>>, HeadError> {
    let mut req = httparse::Request::new(headers);
    let head_len = match super::bounded_parse(buf, limits.max_head, |w| req.parse(w))? {
        Status::Complete(n) => n,
        Status::Partial => return Ok(Status::Partial),
    };
    // httparse fills all three on a complete parse; the fallbacks are never used.
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HeadError::InvalidToken);
    };
    let headers: &'h [Header<'b>] = req.headers;
    let fields = Fields::scan(headers)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Status::Complete(Request {
        buf,
        method: Method::from_token(method),
        target,
        path,
        query,
        minor_version,
        head_len,
        headers,
        fields,
        max_body: limits.max_body,
    }))
}

impl<'h, 'b> Request<'h, 'b> {
    /// The method.
    pub const fn method(&self) -> Method<'b> {
        self.method
    }

    /// The request target as written (`/socket.io/?EIO=4&transport=polling`).
    pub const fn target(&self) -> &'b str {
        self.target
    }

    /// The target up to the first `?` (the whole target when there is none).
    pub const fn path(&self) -> &'b str {
        self.path
    }

    /// The target after the first `?`, still percent-encoded; empty when there is none.
    pub const fn query(&self) -> &'b str {
        self.query
    }

    /// The `key=value` pairs of the query.
    pub fn params(&self) -> Params<'b> {
        Params::new(self.query)
    }

    /// The Engine.IO parameters of the query.
    pub fn engine_query(&self) -> EngineQuery<'b> {
        EngineQuery::parse(self.query)
    }

    /// The HTTP minor version: 1 for `HTTP/1.1`, 0 for `HTTP/1.0`.
    pub const fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Length of the head in bytes, including the blank line: the body starts here.
    pub const fn head_len(&self) -> usize {
        self.head_len
    }

    /// All headers, in order, as received.
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

    /// Whether the connection stays open after this request: on HTTP/1.1 unless `close`
    /// is listed, on HTTP/1.0 only if `keep-alive` is listed (and `close` is not).
    pub const fn keep_alive(&self) -> bool {
        super::keep_alive(self.minor_version, self.fields.connection)
    }

    /// `Upgrade` lists `websocket` (case-insensitive).
    pub const fn upgrade_websocket(&self) -> bool {
        self.fields.upgrade_websocket
    }

    /// Asks for a WebSocket upgrade: `Connection` lists `upgrade` and `Upgrade` lists
    /// `websocket`. (Method, version and key are checked by the WebSocket handshake.)
    pub const fn wants_websocket_upgrade(&self) -> bool {
        self.fields.connection.upgrade && self.fields.upgrade_websocket
    }

    /// `Sec-WebSocket-Key`.
    pub const fn sec_websocket_key(&self) -> Option<&'b [u8]> {
        self.fields.ws_key
    }

    /// `Sec-WebSocket-Version`.
    pub const fn sec_websocket_version(&self) -> Option<&'b [u8]> {
        self.fields.ws_version
    }

    /// `Origin`.
    pub const fn origin(&self) -> Option<&'b [u8]> {
        self.fields.origin
    }

    /// `Content-Type`.
    pub const fn content_type(&self) -> Option<&'b [u8]> {
        self.fields.content_type
    }

    /// The first `Cookie` header (any further ones are in [`Request::headers`]).
    pub const fn cookie(&self) -> Option<&'b [u8]> {
        self.fields.cookie
    }

    /// `Host`.
    pub const fn host(&self) -> Option<&'b [u8]> {
        self.fields.host
    }

    /// The body, framed by `Content-Length` (none means an empty body).
    ///
    /// `Partial` until the buffer given to [`parse_request`] holds the whole body;
    /// `consumed` counts head and body, so a pipelined request starts there.
    ///
    /// # Errors
    /// [`BodyError::TooLarge`] as soon as `Content-Length` exceeds [`Limits::max_body`].
    #[must_use = "the status says whether more bytes are needed"]
    pub fn body(&self) -> Result<Status<Body<'b>>, BodyError> {
        let len = self.fields.content_length.unwrap_or(0);
        super::framed_body(self.buf, self.head_len, len, self.max_body)
    }
}
