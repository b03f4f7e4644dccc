//! Small JSON string helpers for the open packet and error bodies.

use crate::write::Writer;

/// Writes `s` as the content of a JSON string (no quotes), escaped as `JSON.stringify`
/// does: `"` and `\`, the short forms `\b \f \n \r \t`, other control bytes as `\u00xx`.
pub(super) fn escape_to(s: &str, w: &mut Writer<'_>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s.as_bytes();
    while let Some(i) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let (plain, tail) = rest.split_at(i);
        w.put(plain);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        match b {
            b'"' => w.put(b"\\\""),
            b'\\' => w.put(b"\\\\"),
            0x08 => w.put(b"\\b"),
            0x0c => w.put(b"\\f"),
            b'\n' => w.put(b"\\n"),
            b'\r' => w.put(b"\\r"),
            b'\t' => w.put(b"\\t"),
            _ => {
                w.put(b"\\u00");
                w.byte(HEX[usize::from(b >> 4)]);
                w.byte(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = tail;
    }
    w.put(rest);
}

/// Length of `s` once escaped by [`escape_to`].
pub(super) fn escaped_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .fold(0usize, usize::saturating_add)
}

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

/// `true` when arrays and objects in `json` nest at most `limit` deep (strings skipped).
///
/// serde-json-core skips unknown values by recursion; this bounds its stack use on hostile
/// input.
pub(super) fn depth_within(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn esc(s: &str) -> ([u8; 256], usize) {
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        escape_to(s, &mut w);
        let n = w.finish().unwrap();
        assert_eq!(n, escaped_len(s));
        (buf, n)
    }

    fn unesc(raw: &[u8]) -> Option<([u8; 256], usize)> {
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        unescape_to(raw, &mut w)?;
        let n = w.finish().unwrap();
        Some((buf, n))
    }

    #[test]
    fn escapes_like_json_stringify() {
        let (b, n) = esc("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}/€\u{7f}");
        assert_eq!(
            &b[..n],
            "a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/€\u{7f}".as_bytes()
        );
        let (b, n) = esc("plain");
        assert_eq!(&b[..n], b"plain");
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
            let (e, n) = esc(s);
            let (u, m) = unesc(&e[..n]).unwrap();
            assert_eq!(&u[..m], s.as_bytes());
        }
    }

    #[test]
    fn depth() {
        assert!(depth_within(b"{\"a\":[[1]]}", 3));
        assert!(!depth_within(b"{\"a\":[[1]]}", 2));
        assert!(depth_within(b"{\"a\":\"[[[[[\\\"[[[\"}", 1));
        assert!(depth_within(b"]]]]{", 1));
    }
}
