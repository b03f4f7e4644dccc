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
            let name = h.name.as_bytes();
            let value = h.value;
            // Dispatch on the length first: most headers are rejected by one compare.
            match name.len() {
                4 if name.eq_ignore_ascii_case(b"host") => {
                    once(&mut f.host, value, HeaderField::Host)?;
                }
                6 if name.eq_ignore_ascii_case(b"origin") => {
                    once(&mut f.origin, value, HeaderField::Origin)?;
                }
                6 if name.eq_ignore_ascii_case(b"cookie") => {
                    // A client sends one Cookie header; further ones stay in the raw list.
                    f.cookie.get_or_insert(value);
                }
                7 if name.eq_ignore_ascii_case(b"upgrade") => {
                    f.upgrade_websocket |=
                        tokens(value).any(|t| t.eq_ignore_ascii_case(b"websocket"));
                }
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    for t in tokens(value) {
                        if t.eq_ignore_ascii_case(b"keep-alive") {
                            f.connection.keep_alive = true;
                        } else if t.eq_ignore_ascii_case(b"close") {
                            f.connection.close = true;
                        } else if t.eq_ignore_ascii_case(b"upgrade") {
                            f.connection.upgrade = true;
                        }
                    }
                }
                12 if name.eq_ignore_ascii_case(b"content-type") => {
                    once(&mut f.content_type, value, HeaderField::ContentType)?;
                }
                14 if name.eq_ignore_ascii_case(b"content-length") => {
                    let n = parse_content_length(value)?;
                    match f.content_length {
                        Some(old) if old != n => return Err(HeadError::ConflictingContentLength),
                        _ => f.content_length = Some(n),
                    }
                }
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                    transfer_encoding = true;
                    chunked |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"chunked"));
                }
                17 if name.eq_ignore_ascii_case(b"sec-websocket-key") => {
                    once(&mut f.ws_key, value, HeaderField::SecWebSocketKey)?;
                }
                20 if name.eq_ignore_ascii_case(b"sec-websocket-accept") => {
                    once(&mut f.ws_accept, value, HeaderField::SecWebSocketAccept)?;
                }
                21 if name.eq_ignore_ascii_case(b"sec-websocket-version") => {
                    once(&mut f.ws_version, value, HeaderField::SecWebSocketVersion)?;
                }
                _ => {}
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

/// Comma-separated list elements with surrounding spaces and tabs removed; empty
/// elements are skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// Finds the first header named `name` (case-insensitive).
pub(super) fn find<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}
