//! Small JSON helpers for the open packet and error bodies, on top of the crate's scanner.

use crate::json::{Elements, JsonError, JsonStr, Kind, Limits, Members, Object};

/// Why [`members`] refused a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Invalid {
    /// Nested deeper than allowed.
    TooDeep,
    /// Not one well-formed JSON value.
    Syntax,
    /// Well-formed, but not an object.
    NotObject,
}

/// Validates `json` as one JSON value nested at most `max_depth` deep and, when it is an
/// object, returns its members.
pub(super) fn members(json: &[u8], max_depth: usize) -> Result<Members<'_>, Invalid> {
    let limits = Limits {
        max_depth,
        max_size: usize::MAX,
    };
    match limits.validate(json) {
        Ok(Kind::Object) => Ok(Object::from_validated(json).members()),
        Ok(_) => Err(Invalid::NotObject),
        Err(JsonError::TooDeep { .. }) => Err(Invalid::TooDeep),
        Err(_) => Err(Invalid::Syntax),
    }
}

/// A raw value as a string token, if it is one.
pub(super) fn string(value: &[u8]) -> Option<JsonStr<'_>> {
    JsonStr::from_value(value)
}

/// The elements of a raw value that is an array, if it is one.
pub(super) fn array(value: &[u8]) -> Option<Elements<'_>> {
    let interior = value.strip_prefix(b"[")?.strip_suffix(b"]")?;
    Some(Elements::new(interior))
}

/// A raw JSON number that is an integer in `0..=u32::MAX` written with digits only (no sign,
/// fraction or exponent); `None` for anything else.
pub(super) fn uint(value: &[u8]) -> Option<u32> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u32, |n, &b| {
        let digit = char::from(b).to_digit(10)?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_members() {
        let mut m = members(br#" {"a":[[1]], "b" : "x"} "#, 3).unwrap();
        let (k, v) = m.next().unwrap();
        assert!(k.eq_str("a"));
        assert_eq!(v, b"[[1]]");
        let (k, v) = m.next().unwrap();
        assert!(k.eq_str("b"));
        assert_eq!(v, br#""x""#);
        assert!(m.next().is_none());
        assert_eq!(members(b"{\"a\":[[1]]}", 2).err(), Some(Invalid::TooDeep));
        assert!(members(b"{\"a\":\"[[[[[\\\"[[[\"}", 1).is_ok());
        assert_eq!(members(b"]]]]{", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"{", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"x", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"{}x", 1).err(), Some(Invalid::Syntax));
        for not_object in [&b"[]"[..], b" 1", b"\"{}\"", b"true", b"null", b"-2"] {
            assert_eq!(
                members(not_object, 1).err(),
                Some(Invalid::NotObject),
                "{not_object:?}"
            );
        }
        // Syntax errors inside a non-object are still syntax errors.
        assert_eq!(members(b"[1,]", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"tru", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"[1 2]", 1).err(), Some(Invalid::Syntax));
        assert_eq!(members(b"x", 1).err(), Some(Invalid::Syntax));
    }

    #[test]
    fn unsigned_integers() {
        assert_eq!(uint(b"0"), Some(0));
        assert_eq!(uint(b"25000"), Some(25_000));
        assert_eq!(uint(b"4294967295"), Some(u32::MAX));
        for bad in [
            &b""[..],
            b"4294967296",
            b"99999999999999999999",
            b"-1",
            b"-0",
            b"1.0",
            b"1e3",
            b"+1",
            b" 1",
            b"\"1\"",
            b"true",
        ] {
            assert_eq!(uint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strings_and_arrays() {
        assert_eq!(string(br#""a\nb""#).map(|s| s.has_escapes()), Some(true));
        assert_eq!(string(br#""ab""#).and_then(|s| s.as_str()), Some("ab"));
        assert!(string(b"1").is_none());
        assert!(string(b"").is_none());
        let mut e = array(br#"[ "a" , 1 ]"#).unwrap();
        assert_eq!(e.next(), Some(&br#""a""#[..]));
        assert_eq!(e.next(), Some(&b"1"[..]));
        assert_eq!(e.next(), None);
        assert_eq!(array(b"[ ]").unwrap().next(), None);
        assert!(array(b"{}").is_none());
        assert!(array(b"\"[]\"").is_none());
    }
}
