//! Head writers: responses (server side) and requests (client side).

use core::fmt;

use super::{Header, Method};
use crate::BufferTooSmall;
use crate::write::Writer;

/// The `Connection` header a writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Connection {
    /// `Connection: keep-alive`
    KeepAlive,
    /// `Connection: close`
    Close,
    /// `Connection: Upgrade` (a WebSocket handshake; add `Upgrade: websocket` as a header).
    Upgrade,
}

impl Connection {
    const fn value(self) -> &'static [u8] {
        match self {
            Self::KeepAlive => b"keep-alive",
            Self::Close => b"close",
            Self::Upgrade => b"Upgrade",
        }
    }
}

/// A head that cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The output buffer is too short.
    BufferTooSmall(BufferTooSmall),
    /// A status code outside `100..=999`.
    InvalidStatus,
    /// A reason phrase with a control character (CR, LF, NUL, ...).
    InvalidReason,
    /// A header name that is not an HTTP token.
    InvalidHeaderName,
    /// A header value with a control character other than tab (CR/LF would inject headers).
    InvalidHeaderValue,
    /// A method that is not an HTTP token.
    InvalidMethod,
    /// An empty request target, or one with a space or control character.
    InvalidTarget,
}

impl From<BufferTooSmall> for WriteError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::BufferTooSmall(e) => return e.fmt(f),
            Self::InvalidStatus => "HTTP status code out of range",
            Self::InvalidReason => "control character in HTTP reason phrase",
            Self::InvalidHeaderName => "HTTP header name is not a token",
            Self::InvalidHeaderValue => "control character in HTTP header value",
            Self::InvalidMethod => "HTTP method is not a token",
            Self::InvalidTarget => "invalid HTTP request target",
        };
        f.write_str(text)
    }
}

impl core::error::Error for WriteError {}

/// The standard reason phrase for `code` (as Node's `http` module writes them), or `""`
/// for a code without one.
pub const fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// CORS headers for a response: the allowed origin (echoed from the request's `Origin`,
/// or a configured value), credentials, `Vary`, plus the preflight answers for an
/// `OPTIONS` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cors<'a> {
    origin: Option<&'a [u8]>,
    credentials: bool,
    vary: Option<&'a [u8]>,
    allow_methods: Option<&'a [u8]>,
    allow_headers: Option<&'a [u8]>,
    max_age: u32,
}

impl<'a> Cors<'a> {
    /// `Access-Control-Allow-Origin: <origin>` and `Access-Control-Allow-Credentials: true`.
    pub const fn new(origin: &'a [u8]) -> Self {
        Self::origin(Some(origin)).credentials(true)
    }

    /// `Access-Control-Allow-Origin: <origin>` when given (a refused origin gets none), and
    /// nothing else yet.
    pub const fn origin(origin: Option<&'a [u8]>) -> Self {
        Self {
            origin,
            credentials: false,
            vary: None,
            allow_methods: None,
            allow_headers: None,
            max_age: 0,
        }
    }

    /// Whether `Access-Control-Allow-Credentials: true` is added.
    #[must_use]
    pub const fn credentials(mut self, on: bool) -> Self {
        self.credentials = on;
        self
    }

    /// Adds `Vary` (e.g. `b"Origin"` when the allowed origin depends on the request's).
    #[must_use]
    pub const fn vary(mut self, value: Option<&'a [u8]>) -> Self {
        self.vary = value;
        self
    }

    /// Adds `Access-Control-Allow-Methods` (e.g. `b"GET, POST"`) and, when given,
    /// `Access-Control-Allow-Headers` (e.g. the request's `Access-Control-Request-Headers`).
    #[must_use]
    pub const fn preflight(mut self, methods: &'a [u8], headers: Option<&'a [u8]>) -> Self {
        self.allow_methods = Some(methods);
        self.allow_headers = headers;
        self
    }

    /// Adds `Access-Control-Max-Age: <seconds>` (none for 0).
    #[must_use]
    pub const fn max_age(mut self, seconds: u32) -> Self {
        self.max_age = seconds;
        self
    }

    fn validate(&self) -> Result<(), WriteError> {
        for v in [
            self.origin,
            self.vary,
            self.allow_methods,
            self.allow_headers,
        ]
        .into_iter()
        .flatten()
        {
            check_value(v)?;
        }
        Ok(())
    }

    fn emit(&self, w: &mut Writer<'_>) {
        if let Some(v) = self.origin {
            header(w, b"Access-Control-Allow-Origin", v);
        }
        if self.credentials {
            header(w, b"Access-Control-Allow-Credentials", b"true");
        }
        if let Some(v) = self.allow_methods {
            header(w, b"Access-Control-Allow-Methods", v);
        }
        if let Some(v) = self.allow_headers {
            header(w, b"Access-Control-Allow-Headers", v);
        }
        if self.max_age > 0 {
            w.put(b"Access-Control-Max-Age: ");
            w.decimal(u64::from(self.max_age));
            w.put(b"\r\n");
        }
        if let Some(v) = self.vary {
            header(w, b"Vary", v);
        }
    }
}

/// A response head to write (server side).
///
/// Headers come out in a fixed order: status line, `Content-Type`, `Content-Length`,
/// `Cache-Control`, `Connection`, the CORS headers, then the extra headers in the order
/// given, then the blank line.
///
/// ```
/// use siocore::http::{Connection, ResponseHead};
///
/// let mut out = [0u8; 256];
/// let n = ResponseHead::new(200)
///     .content_type(b"text/plain; charset=UTF-8")
///     .connection(Connection::KeepAlive)
///     .no_store()
///     .write(b"ok", &mut out)?;
/// assert_eq!(
///     &out[..n],
///     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 2\r\n\
///       Cache-Control: no-store\r\nConnection: keep-alive\r\n\r\nok"
/// );
/// # Ok::<(), siocore::http::WriteError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    status: u16,
    reason: Option<&'a str>,
    content_type: Option<&'a [u8]>,
    connection: Option<Connection>,
    no_store: bool,
    cors: Option<Cors<'a>>,
    headers: &'a [Header<'a>],
}

impl<'a> ResponseHead<'a> {
    /// A head with `status`, its standard reason phrase and no headers.
    pub const fn new(status: u16) -> Self {
        Self {
            status,
            reason: None,
            content_type: None,
            connection: None,
            no_store: false,
            cors: None,
            headers: &[],
        }
    }

    /// Uses `reason` instead of the standard phrase.
    #[must_use]
    pub const fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds `Content-Type`.
    #[must_use]
    pub const fn content_type(mut self, value: &'a [u8]) -> Self {
        self.content_type = Some(value);
        self
    }

    /// Adds `Connection`.
    #[must_use]
    pub const fn connection(mut self, value: Connection) -> Self {
        self.connection = Some(value);
        self
    }

    /// Adds `Cache-Control: no-store` (all polling responses carry it).
    #[must_use]
    pub const fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }

    /// Adds the CORS headers.
    #[must_use]
    pub const fn cors(mut self, cors: Cors<'a>) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Appends these headers after the others, in order.
    #[must_use]
    pub const fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }

    /// Writes the head with `Content-Length: body.len()`, then `body`; returns the length.
    ///
    /// # Errors
    /// A [`WriteError`] for invalid input (checked before anything is written), else
    /// [`WriteError::BufferTooSmall`] with the size needed.
    pub fn write(&self, body: &[u8], out: &mut [u8]) -> Result<usize, WriteError> {
        write_message(self, body, out)
    }

    /// Writes only the head, with `Content-Length` when `content_length` is given (leave
    /// it out for 101 and 204); returns the length.
    ///
    /// # Errors
    /// As [`ResponseHead::write`].
    pub fn write_head(
        &self,
        content_length: Option<u64>,
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        write_head_only(self, content_length, out)
    }
}

/// A request head to write (client side): polling `GET`/`POST`, or the base of a
/// WebSocket upgrade request (with [`Connection::Upgrade`] and the `Upgrade`/`Sec-WebSocket-*`
/// headers as extra headers).
///
/// Headers come out in a fixed order: request line (always `HTTP/1.1`), `Host`,
/// `Content-Type`, `Content-Length`, `Connection`, the extra headers in order, the blank
/// line.
///
/// ```
/// use siocore::http::{Connection, Method, RequestHead};
///
/// let mut out = [0u8; 256];
/// let n = RequestHead::new(Method::Get, "/socket.io/?EIO=4&transport=polling")
///     .host(b"localhost:3000")
///     .connection(Connection::KeepAlive)
///     .write_head(None, &mut out)?;
/// assert_eq!(
///     &out[..n],
///     b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost:3000\r\n\
///       Connection: keep-alive\r\n\r\n"
/// );
/// # Ok::<(), siocore::http::WriteError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    method: Method<'a>,
    target: &'a str,
    host: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    connection: Option<Connection>,
    headers: &'a [Header<'a>],
}

impl<'a> RequestHead<'a> {
    /// A head for `method` on `target` (path and query, e.g. `/socket.io/?EIO=4&…`).
    pub const fn new(method: Method<'a>, target: &'a str) -> Self {
        Self {
            method,
            target,
            host: None,
            content_type: None,
            connection: None,
            headers: &[],
        }
    }

    /// Adds `Host` (required by HTTP/1.1 servers).
    #[must_use]
    pub const fn host(mut self, value: &'a [u8]) -> Self {
        self.host = Some(value);
        self
    }

    /// Adds `Content-Type`.
    #[must_use]
    pub const fn content_type(mut self, value: &'a [u8]) -> Self {
        self.content_type = Some(value);
        self
    }

    /// Adds `Connection`.
    #[must_use]
    pub const fn connection(mut self, value: Connection) -> Self {
        self.connection = Some(value);
        self
    }

    /// Appends these headers after the others, in order.
    #[must_use]
    pub const fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }

    /// Writes the head with `Content-Length: body.len()`, then `body`; returns the length.
    ///
    /// # Errors
    /// A [`WriteError`] for invalid input (checked before anything is written), else
    /// [`WriteError::BufferTooSmall`] with the size needed.
    pub fn write(&self, body: &[u8], out: &mut [u8]) -> Result<usize, WriteError> {
        write_message(self, body, out)
    }

    /// Writes only the head, with `Content-Length` when given (a `GET` has none).
    ///
    /// # Errors
    /// As [`RequestHead::write`].
    pub fn write_head(
        &self,
        content_length: Option<u64>,
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        write_head_only(self, content_length, out)
    }
}

fn header(w: &mut Writer<'_>, name: &[u8], value: &[u8]) {
    w.put(name);
    w.put(b": ");
    w.put(value);
    w.put(b"\r\n");
}

fn content_length_header(w: &mut Writer<'_>, n: u64) {
    w.put(b"Content-Length: ");
    w.decimal(n);
    w.put(b"\r\n");
}

pub(crate) fn check_headers(headers: &[Header<'_>]) -> Result<(), WriteError> {
    for h in headers {
        if !is_token(h.name.as_bytes()) {
            return Err(WriteError::InvalidHeaderName);
        }
        check_value(h.value)?;
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), WriteError> {
    if value.iter().all(|&b| is_value_byte(b)) {
        Ok(())
    } else {
        Err(WriteError::InvalidHeaderValue)
    }
}

/// Tab, space, visible ASCII and non-ASCII bytes: what a header value may contain.
const fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// An HTTP token: one or more `tchar`.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// What [`ResponseHead`] and [`RequestHead`] share: checks before writing, then the head.
trait Head {
    fn validate(&self) -> Result<(), WriteError>;
    fn emit(&self, w: &mut Writer<'_>, content_length: Option<u64>);
}

/// Validates `head`, then writes it with `Content-Length: body.len()` and the body.
fn write_message(head: &impl Head, body: &[u8], out: &mut [u8]) -> Result<usize, WriteError> {
    head.validate()?;
    let mut w = Writer::new(out);
    head.emit(&mut w, Some(body.len() as u64));
    w.put(body);
    Ok(w.finish()?)
}

/// Validates `head`, then writes only the head.
fn write_head_only(
    head: &impl Head,
    content_length: Option<u64>,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    head.validate()?;
    let mut w = Writer::new(out);
    head.emit(&mut w, content_length);
    Ok(w.finish()?)
}

impl Head for ResponseHead<'_> {
    fn validate(&self) -> Result<(), WriteError> {
        if !(100..=999).contains(&self.status) {
            return Err(WriteError::InvalidStatus);
        }
        if let Some(reason) = self.reason
            && !reason.bytes().all(is_value_byte)
        {
            return Err(WriteError::InvalidReason);
        }
        if let Some(v) = self.content_type {
            check_value(v)?;
        }
        if let Some(cors) = &self.cors {
            cors.validate()?;
        }
        check_headers(self.headers)
    }

    fn emit(&self, w: &mut Writer<'_>, content_length: Option<u64>) {
        w.put(b"HTTP/1.1 ");
        w.decimal(u64::from(self.status));
        w.byte(b' ');
        w.put(
            self.reason
                .unwrap_or_else(|| reason_phrase(self.status))
                .as_bytes(),
        );
        w.put(b"\r\n");
        if let Some(v) = self.content_type {
            header(w, b"Content-Type", v);
        }
        if let Some(n) = content_length {
            content_length_header(w, n);
        }
        if self.no_store {
            header(w, b"Cache-Control", b"no-store");
        }
        if let Some(c) = self.connection {
            header(w, b"Connection", c.value());
        }
        if let Some(cors) = &self.cors {
            cors.emit(w);
        }
        for h in self.headers {
            header(w, h.name.as_bytes(), h.value);
        }
        w.put(b"\r\n");
    }
}

impl Head for RequestHead<'_> {
    fn validate(&self) -> Result<(), WriteError> {
        if !is_token(self.method.as_str().as_bytes()) {
            return Err(WriteError::InvalidMethod);
        }
        // Visible ASCII or UTF-8 beyond it; no space, no control character.
        let target_ok =
            !self.target.is_empty() && self.target.bytes().all(|b| b > b' ' && b != 0x7f);
        if !target_ok {
            return Err(WriteError::InvalidTarget);
        }
        for v in [self.host, self.content_type].into_iter().flatten() {
            check_value(v)?;
        }
        check_headers(self.headers)
    }

    fn emit(&self, w: &mut Writer<'_>, content_length: Option<u64>) {
        w.put(self.method.as_str().as_bytes());
        w.byte(b' ');
        w.put(self.target.as_bytes());
        w.put(b" HTTP/1.1\r\n");
        if let Some(v) = self.host {
            header(w, b"Host", v);
        }
        if let Some(v) = self.content_type {
            header(w, b"Content-Type", v);
        }
        if let Some(n) = content_length {
            content_length_header(w, n);
        }
        if let Some(c) = self.connection {
            header(w, b"Connection", c.value());
        }
        for h in self.headers {
            header(w, h.name.as_bytes(), h.value);
        }
        w.put(b"\r\n");
    }
}
