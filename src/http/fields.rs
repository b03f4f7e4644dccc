//! The one pass over parsed headers that picks out what the protocol needs.

use core::fmt;

use super::{HeadError, Header};

/// Tokens of the `Connection` header(s) that the protocol acts on (case-insensitive;
/// other tokens are ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionTokens {
    /// `keep-alive` was listed.
    pub keep_alive: bool,
    /// `close` was listed.
    pub close: bool,
    /// `upgrade` was listed.
    pub upgrade: bool,
}

/// A header that may appear at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderField {
    /// `Host`
    Host,
    /// `Origin`
    Origin,
    /// `Content-Type`
    ContentType,
    /// `Sec-WebSocket-Key`
    SecWebSocketKey,
    /// `Sec-WebSocket-Version`
    SecWebSocketVersion,
    /// `Sec-WebSocket-Accept`
    SecWebSocketAccept,
}

impl HeaderField {
    /// The header name in its usual spelling.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Host => "Host",
            Self::Origin => "Origin",
            Self::ContentType => "Content-Type",
            Self::SecWebSocketKey => "Sec-WebSocket-Key",
            Self::SecWebSocketVersion => "Sec-WebSocket-Version",
            Self::SecWebSocketAccept => "Sec-WebSocket-Accept",
        }
    }
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Protocol headers found in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fields<'b> {
    pub(super) content_length: Option<u64>,
    pub(super) connection: ConnectionTokens,
    pub(super) upgrade_websocket: bool,
    pub(super) host: Option<&'b [u8]>,
    pub(super) origin: Option<&'b [u8]>,
    pub(super) content_type: Option<&'b [u8]>,
    pub(super) cookie: Option<&'b [u8]>,
    pub(super) ws_key: Option<&'b [u8]>,
    pub(super) ws_version: Option<&'b [u8]>,
    pub(super) ws_accept: Option<&'b [u8]>,
}

impl<'b> Fields<'b> {
    /// Scans `headers` once. Errors on a bad or conflicting `Content-Length`, on any
    /// `Transfer-Encoding`, and on duplicated single-valued headers.
    pub(super) fn scan(headers: &[Header<'b>]) -> Result<Self, HeadError> {
        let mut f = Self::default();
        let mut transfer_encoding = false;
        let mut chunked = false;
        for h in headers {
            let value = h.value;
            let Some(known) = Known::of(h.name.as_bytes()) else {
                continue;
            };
            match known {
                Known::Host => once(&mut f.host, value, HeaderField::Host)?,
                Known::Origin => once(&mut f.origin, value, HeaderField::Origin)?,
                Known::Cookie => {
                    // A client sends one Cookie header; further ones stay in the raw list.
                    f.cookie.get_or_insert(value);
                }
                Known::Upgrade => f.upgrade_websocket |= has_token(value, b"websocket"),
                Known::Connection => {
                    let c = &mut f.connection;
                    c.keep_alive |= has_token(value, b"keep-alive");
                    c.close |= has_token(value, b"close");
                    c.upgrade |= has_token(value, b"upgrade");
                }
                Known::ContentType => once(&mut f.content_type, value, HeaderField::ContentType)?,
                Known::ContentLength => {
                    let n = parse_content_length(value)?;
                    match f.content_length {
                        Some(old) if old != n => return Err(HeadError::ConflictingContentLength),
                        _ => f.content_length = Some(n),
                    }
                }
                Known::TransferEncoding => {
                    transfer_encoding = true;
                    chunked |= has_token(value, b"chunked");
                }
                Known::SecWebSocketKey => {
                    once(&mut f.ws_key, value, HeaderField::SecWebSocketKey)?;
                }
                Known::SecWebSocketAccept => {
                    once(&mut f.ws_accept, value, HeaderField::SecWebSocketAccept)?;
                }
                Known::SecWebSocketVersion => {
                    once(&mut f.ws_version, value, HeaderField::SecWebSocketVersion)?;
                }
            }
        }
        if transfer_encoding {
            return Err(if f.content_length.is_some() {
                HeadError::ContentLengthWithTransferEncoding
            } else if chunked {
                HeadError::ChunkedNotSupported
            } else {
                HeadError::UnsupportedTransferEncoding
            });
        }
        Ok(f)
    }
}

/// The headers [`Fields::scan`] acts on.
#[derive(Clone, Copy)]
enum Known {
    Host,
    Origin,
    Cookie,
    Upgrade,
    Connection,
    ContentType,
    ContentLength,
    TransferEncoding,
    SecWebSocketKey,
    SecWebSocketAccept,
    SecWebSocketVersion,
}

impl Known {
    /// Lower-case names; one table walk with a length check first keeps the code small
    /// (most headers are rejected by the length compare alone).
    const TABLE: [(&'static [u8], Self); 11] = [
        (b"host", Self::Host),
        (b"origin", Self::Origin),
        (b"cookie", Self::Cookie),
        (b"upgrade", Self::Upgrade),
        (b"connection", Self::Connection),
        (b"content-type", Self::ContentType),
        (b"content-length", Self::ContentLength),
        (b"transfer-encoding", Self::TransferEncoding),
        (b"sec-websocket-key", Self::SecWebSocketKey),
        (b"sec-websocket-accept", Self::SecWebSocketAccept),
        (b"sec-websocket-version", Self::SecWebSocketVersion),
    ];

    fn of(name: &[u8]) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(known, _)| known.len() == name.len() && name.eq_ignore_ascii_case(known))
            .map(|&(_, k)| k)
    }
}

fn once<'b>(
    slot: &mut Option<&'b [u8]>,
    value: &'b [u8],
    field: HeaderField,
) -> Result<(), HeadError> {
    if slot.is_some() {
        return Err(HeadError::DuplicateHeader(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Strict `Content-Length`: one or more ASCII digits, nothing else, fitting `u64`.
fn parse_content_length(value: &[u8]) -> Result<u64, HeadError> {
    if value.is_empty() {
        return Err(HeadError::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(HeadError::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(HeadError::InvalidContentLength)?;
    }
    Ok(n)
}

/// Whether the comma-separated header `value` lists `token`, ignoring ASCII case and
/// surrounding spaces or tabs (`Connection: keep-alive, Upgrade` lists `upgrade`); httparse
/// admits no other white space in a value.
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| trim(item).eq_ignore_ascii_case(token))
}

/// `value` without the optional white space (spaces, tabs) around it.
pub(crate) fn trim(value: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// Finds the first header named `name` (case-insensitive).
pub(super) fn find<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}
