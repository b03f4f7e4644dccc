//! The client's reader of HTTP/1.1 response heads: the status and the few headers the
//! client acts on, in one pass, with no header table.
//!
//! The [`http`](crate::http) codec parses whole heads into caller-lent header slots (what a
//! server or a general client wants); the Socket.IO client only needs the status, the body
//! framing, keep-alive and the WebSocket handshake fields, and on a microcontroller the
//! general parser would be a third of the client's flash. The rules are the same strict
//! ones: a status line `HTTP/1.x NNN reason`, header names that are tokens, no bare CR or
//! LF, no folded lines, one `Content-Length` (or several equal), and never both
//! `Content-Length` and `Transfer-Encoding`.

use super::CloseReason;
use crate::http::is_tchar;
use crate::http::{has_token, trim};

/// What the client reads from a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head<'b> {
    pub(crate) status: u16,
    /// Bytes of the head, the blank line included.
    pub(crate) len: usize,
    pub(crate) content_length: Option<usize>,
    pub(crate) chunked: bool,
    pub(crate) keep_alive: bool,
    /// `Upgrade` lists `websocket`.
    pub(crate) upgrade: bool,
    /// `Connection` lists `upgrade`.
    pub(crate) connection_upgrade: bool,
    pub(crate) accept: Option<&'b [u8]>,
}

/// `HTTP/1.1 101` is the shortest status line (the reason may be absent).
const MIN_STATUS_LINE: usize = 12;

/// Header names compare without ASCII case (one shared loop: smaller than one per name).
#[inline(never)]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses the head at the start of `buf`: `Ok(None)` while its blank line has not arrived.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<Head<'_>>, CloseReason> {
    // Garbage is refused as soon as it cannot be the start of a status line.
    let n = buf.len().min(7);
    if buf[..n] != b"HTTP/1."[..n] {
        return Err(CloseReason::ParseError);
    }
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buf[..end + 2];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = lines.next().ok_or(CloseReason::ParseError)?;
    let (minor, status) = status(status_line)?;
    let mut h = Head {
        status,
        len: end + 4,
        content_length: None,
        chunked: false,
        keep_alive: minor == 1,
        upgrade: false,
        connection_upgrade: false,
        accept: None,
    };
    let (mut close, mut keep, mut te) = (false, false, false);
    for line in lines {
        // The split leaves each line ending in CR; the final empty piece has none.
        let Some(line) = line.strip_suffix(b"\r") else {
            if line.is_empty() {
                continue;
            }
            return Err(CloseReason::ParseError);
        };
        if line.contains(&b'\r') || line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(CloseReason::ParseError);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(CloseReason::ParseError)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(CloseReason::ParseError);
        }
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(CloseReason::ParseError);
        }
        let is = |n: &str| same_name(name, n.as_bytes());
        if is("content-length") {
            let n = content_length(value).ok_or(CloseReason::ParseError)?;
            if h.content_length.is_some_and(|old| old != n) {
                return Err(CloseReason::ParseError);
            }
            h.content_length = Some(n);
        } else if is("transfer-encoding") {
            te = true;
            h.chunked |= has_token(value, b"chunked");
        } else if is("connection") {
            close |= has_token(value, b"close");
            keep |= has_token(value, b"keep-alive");
            h.connection_upgrade |= has_token(value, b"upgrade");
        } else if is("upgrade") {
            h.upgrade |= has_token(value, b"websocket");
        } else if is("sec-websocket-accept") {
            if h.accept.is_some() {
                return Err(CloseReason::ParseError);
            }
            h.accept = Some(value);
        }
    }
    if te && (h.content_length.is_some() || !h.chunked) {
        // Both framings at once, or a coding this reader cannot undo.
        return Err(CloseReason::ParseError);
    }
    h.keep_alive = !close && (h.keep_alive || keep);
    Ok(Some(h))
}

/// `HTTP/1.<minor> <3 digits>[ <reason>]` (the line's CR included): the minor version and
/// the status.
fn status(line: &[u8]) -> Result<(u8, u16), CloseReason> {
    let line = line.strip_suffix(b"\r").ok_or(CloseReason::ParseError)?;
    if line.len() < MIN_STATUS_LINE || !line.starts_with(b"HTTP/1.") {
        return Err(CloseReason::ParseError);
    }
    let minor = match line[7] {
        b'0' => 0,
        b'1' => 1,
        _ => return Err(CloseReason::ParseError),
    };
    let code = &line[9..12];
    if line[8] != b' ' || !code.iter().all(u8::is_ascii_digit) {
        return Err(CloseReason::ParseError);
    }
    if line.get(12).is_some_and(|&b| b != b' ') {
        return Err(CloseReason::ParseError);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if status < 100 {
        return Err(CloseReason::ParseError);
    }
    Ok((minor, status))
}

/// A `Content-Length` value: 1 to 9 digits (no response the client takes is that large).
fn content_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        v.iter()
            .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_the_client_uses() {
        let r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept:  abc= \r\n\r\nrest";
        let h = parse(r).unwrap().unwrap();
        assert_eq!(h.status, 101);
        assert_eq!(h.len, r.len() - 4);
        assert!(h.upgrade && h.connection_upgrade && h.keep_alive);
        assert_eq!(h.accept, Some(&b"abc="[..]));
        let h = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.content_length, h.keep_alive), (Some(12), false));
        let h = parse(b"HTTP/1.1 400 \r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.chunked && !h.keep_alive);
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        assert_eq!(parse(b"HTT").unwrap(), None);
        assert_eq!(parse(b"GET / HTTP/1.1"), Err(CloseReason::ParseError));
    }

    #[test]
    fn refuses_what_the_strict_parser_refuses() {
        for bad in [
            &b"HTTP/2.0 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 10\r\n\r\n",
            b"HTTP/1.1 200OK\r\n\r\n",
            b"HTTP/1.1 099 x\r\n\r\n",
            b"HTTP/1.1 200 OK\nX: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: a\r\nSec-WebSocket-Accept: b\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad),
                Err(CloseReason::ParseError),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    extern crate std;
    use std::string::String;
}
