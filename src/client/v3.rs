//! The client's side of Engine.IO v3 / Socket.IO protocol v4 (feature `eio3`,
//! [`ClientConfig::eio3`](super::ClientConfig::eio3)): the CONNECT of a namespace with its
//! auth object as a query, the socket ids socket.io 2.x gives, and its ERROR packet.

use crate::json::{JsonStr, Object};
use crate::write::Writer;

/// Namespace `pkt`'s CONNECT in protocol v4, put together in `scratch`: `pkt` is the v5
/// packet as stored (`40/chat,{"token":"a b","n":1}`), the result `40/chat?token=a%20b&n=1,`.
/// `None` for `/`, which the server joins by itself, and when it does not fit.
pub(super) fn connect_packet<'p>(pkt: &[u8], scratch: &'p mut [u8]) -> Option<&'p [u8]> {
    let rest = pkt.get(2..)?;
    let (name, auth) = match rest.first() {
        Some(b'/') => {
            let comma = rest.iter().position(|&b| b == b',')?;
            (&rest[..comma], rest.get(comma + 1..).unwrap_or_default())
        }
        // `/`, with or without an auth object.
        _ => return None,
    };
    let mut w = Writer::new(scratch);
    w.put(b"40");
    w.put(name);
    if !auth.is_empty() {
        let object = Object::from_validated(auth);
        for (k, (key, value)) in object.members().enumerate() {
            w.byte(if k == 0 { b'?' } else { b'&' });
            key.for_each_unescaped(|bytes| put_encoded(&mut w, bytes));
            w.byte(b'=');
            match JsonStr::from_value(value) {
                Some(text) => text.for_each_unescaped(|bytes| put_encoded(&mut w, bytes)),
                // Numbers, booleans and null as written; `connect` refused anything else.
                None => put_encoded(&mut w, value),
            }
        }
    }
    w.byte(b',');
    let n = w.finish().ok()?;
    scratch.get(..n)
}

/// `bytes` percent-encoded: all but the unreserved characters as `%XX`.
fn put_encoded(w: &mut Writer<'_>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            w.byte(b);
        } else {
            w.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// Whether an auth object can become a query: members whose values are strings, numbers,
/// booleans or null.
pub(super) fn flat_object(auth: &[u8]) -> bool {
    Object::from_validated(auth)
        .members()
        .all(|(_, v)| !matches!(v.first(), Some(b'{' | b'[')))
}

/// The socket id socket.io 2.x gives a socket of namespace `name` on session `sid`: the
/// session id for `/`, `name#sid` for the others; written into `out`, its length returned.
pub(super) fn socket_id(name: &str, sid: &[u8], out: &mut [u8]) -> usize {
    let mut w = Writer::new(out);
    if name != "/" {
        w.put(name.as_bytes());
        w.byte(b'#');
    }
    w.put(sid);
    w.finish().unwrap_or(0)
}
