//! Fuzz check for the validating JSON scanner (`siocore::json`).
//!
//! Invariants: errors point inside the input; valid JSON is UTF-8; a value cut before its
//! last byte ends early (numbers excepted); tighter limits never accept more; array
//! elements are valid on their own and rebuild an equal array; string tokens unescape to
//! UTF-8 that compares equal and survives `write_str`.

use siocore::json::{self, Array, JsonError, JsonStr, Kind, Limits};

fn trim_end(data: &[u8]) -> &[u8] {
    let end = data
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    &data[..end]
}

pub fn check(data: &[u8]) {
    let result = json::validate(data);
    let tight = Limits {
        max_depth: 3,
        max_size: 64,
    };
    let tight_result = tight.validate(data);
    if tight_result.is_ok() {
        assert_eq!(tight_result, result);
    }

    let kind = match result {
        Err(e) => {
            if let Some(offset) = e.offset() {
                assert!(
                    offset < data.len(),
                    "{e:?} past the end of {} bytes",
                    data.len()
                );
            }
            assert!(JsonStr::parse(data).is_err() || matches!(e, JsonError::TooLarge { .. }));
            assert!(Array::parse(data).is_err());
            return;
        }
        Ok(kind) => kind,
    };
    assert!(
        core::str::from_utf8(data).is_ok(),
        "valid JSON that is not UTF-8"
    );

    let value = trim_end(data);
    if kind != Kind::Number {
        let cut = &value[..value.len() - 1];
        assert_eq!(json::validate(cut), Err(JsonError::UnexpectedEnd));
    }

    if kind == Kind::Array {
        let array = Array::parse(data).expect("validated array");
        let mut rebuilt = [0u8; 4096];
        let mut len = 0;
        let mut count = 0;
        let mut fits = true;
        rebuilt[len] = b'[';
        len += 1;
        for item in array.elements() {
            assert!(!item.is_empty());
            assert!(json::validate(item).is_ok(), "element does not stand alone");
            let need = item.len() + 2;
            if len + need > rebuilt.len() {
                fits = false;
                break;
            }
            if count > 0 {
                rebuilt[len] = b',';
                len += 1;
            }
            rebuilt[len..len + item.len()].copy_from_slice(item);
            len += item.len();
            count += 1;
        }
        if fits {
            rebuilt[len] = b']';
            len += 1;
            let again =
                Array::parse_with(&rebuilt[..len], &Limits::DEFAULT).expect("rebuilt array");
            assert_eq!(again.elements().count(), count);
            assert_eq!(again.is_empty(), array.is_empty());
        }
    } else {
        assert!(Array::parse(data).is_err());
    }

    let leading = data.len()
        - data
            .iter()
            .skip_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    let token = &value[leading.min(value.len())..];
    match JsonStr::parse(token) {
        Ok(s) => {
            assert_eq!(kind, Kind::String);
            let mut buf = [0u8; 4096];
            if let Ok(n) = s.unescape_into(&mut buf) {
                assert_eq!(n, s.unescaped_len());
                let text = core::str::from_utf8(&buf[..n]).expect("unescaped text is UTF-8");
                assert!(s.eq_str(text));
                assert_eq!(s.as_str().is_some(), !s.has_escapes());
                let mut out = [0u8; 4096 * 6 + 2];
                let m = json::write_str(&mut out, text).expect("sized for the worst case");
                let back = JsonStr::parse(&out[..m]).expect("write_str output parses");
                assert!(back.eq_str(text));
            }
        }
        Err(_) => assert_ne!(kind, Kind::String),
    }
}
