//! Small JSON string helpers for the open packet and error bodies.

use crate::sio::json::{JsonError, Limits};
use crate::write::Writer;

/// Four hex digits at the start of `b`, and the bytes after them.
fn hex4(b: &[u8]) -> Option<(u32, &[u8])> {
    let (digits, rest) = b.split_at_checked(4)?;
    let mut v = 0u32;
    for &d in digits {
        v = v << 4 | char::from(d).to_digit(16)?;
    }
    Some((v, rest))
}

/// Resolves the escapes of raw JSON string content into `w`. `None` for an invalid escape
/// (unknown letter, bad hex, unpaired surrogate).
pub(super) fn unescape_to(raw: &[u8], w: &mut Writer<'_>) -> Option<()> {
    let mut rest = raw;
    while let Some(i) = rest.iter().position(|&b| b == b'\\') {
        let (plain, tail) = rest.split_at(i);
        w.put(plain);
        let (&letter, after) = tail.get(1..)?.split_first()?;
        rest = after;
        let ch = match letter {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (hi, after) = hex4(rest)?;
                rest = after;
                if (0xD800..0xDC00).contains(&hi) {
                    let (lo, after) = hex4(rest.strip_prefix(b"\\u")?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    rest = after;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        };
        let mut utf8 = [0u8; 4];
        w.put(ch.encode_utf8(&mut utf8).as_bytes());
    }
    w.put(rest);
    Some(())
}

/// Why [`prevalidate`] refused a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Invalid {
    /// Nested deeper than allowed.
    TooDeep,
    /// Not one well-formed JSON value.
    Syntax,
}

/// Checks `json` with the crate's validating scanner before serde-json-core sees it:
/// serde-json-core skips unknown values by recursion, so the depth bound here keeps its
/// stack use small on hostile input.
pub(super) fn prevalidate(json: &[u8], max_depth: usize) -> Result<(), Invalid> {
    let limits = Limits {
        max_depth,
        max_size: usize::MAX,
    };
    match limits.validate(json) {
        Ok(_) => Ok(()),
        Err(JsonError::TooDeep { .. }) => Err(Invalid::TooDeep),
        Err(_) => Err(Invalid::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sio::json::{escaped_len, put_escaped};
    use crate::testutil::Rng;

    fn unesc(raw: &[u8]) -> Option<([u8; 256], usize)> {
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        unescape_to(raw, &mut w)?;
        let n = w.finish().unwrap();
        Some((buf, n))
    }

    #[test]
    fn unescapes() {
        let (b, n) = unesc(br#"a\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00z"#).unwrap();
        assert_eq!(
            core::str::from_utf8(&b[..n]).unwrap(),
            "a\"\\/\u{8}\u{c}\n\r\t\u{e9}€😀z"
        );
        for bad in [
            &br"\x"[..],
            br"\",
            br"\u12",
            br"\u12g4",
            br"\ud83d",
            br"\ud83dx",
            br"\ud83d\u0041",
            br"\ude00",
        ] {
            assert!(unesc(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn escape_round_trip() {
        let mut rng = Rng::new(5);
        let mut data = [0u8; 40];
        for _ in 0..2000 {
            let len = rng.below(data.len() + 1);
            for b in &mut data[..len] {
                *b = rng.pick(b"a\"\\/\x00\x01\x08\x0c\n\r\t\x1e\x7fu");
            }
            let s = core::str::from_utf8(&data[..len]).unwrap();
            let mut e = [0u8; 256];
            let mut w = Writer::new(&mut e);
            put_escaped(&mut w, s);
            let n = w.finish().unwrap();
            assert_eq!(n, escaped_len(s));
            let (u, m) = unesc(&e[..n]).unwrap();
            assert_eq!(&u[..m], s.as_bytes());
        }
    }

    #[test]
    fn prevalidation() {
        assert_eq!(prevalidate(b"{\"a\":[[1]]}", 3), Ok(()));
        assert_eq!(prevalidate(b"{\"a\":[[1]]}", 2), Err(Invalid::TooDeep));
        assert_eq!(prevalidate(b"{\"a\":\"[[[[[\\\"[[[\"}", 1), Ok(()));
        assert_eq!(prevalidate(b"]]]]{", 1), Err(Invalid::Syntax));
    }
}
