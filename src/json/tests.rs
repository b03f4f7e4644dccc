use super::*;
use crate::testutil::Rng;

extern crate std;
use std::string::String;
use std::vec::Vec;

use JsonError::*;

#[track_caller]
fn ok(input: &str, kind: Kind) {
    assert_eq!(validate(input.as_bytes()), Ok(kind), "{input:?}");
}

#[track_caller]
fn err(input: &[u8], e: JsonError) {
    assert_eq!(
        validate(input),
        Err(e),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn valid_values() {
    ok("0", Kind::Number);
    ok("-0", Kind::Number);
    ok("-0.0e-0", Kind::Number);
    ok("123456789012345678901234567890", Kind::Number);
    ok("1.5e+10", Kind::Number);
    ok("1E5", Kind::Number);
    ok("2.25", Kind::Number);
    ok("true", Kind::Bool);
    ok("false", Kind::Bool);
    ok("null", Kind::Null);
    ok(r#""""#, Kind::String);
    ok(r#""abc""#, Kind::String);
    ok(
        r#""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \uFFFF""#,
        Kind::String,
    );
    ok(r#""\uD83D\uDE00""#, Kind::String);
    ok("\"é😀 long enough to use the wide path ✓\"", Kind::String);
    ok("\"\u{7f}\"", Kind::String);
    ok("[]", Kind::Array);
    ok("{}", Kind::Object);
    ok(" \t\r\n[ 1 , [ ] , { } ]\n ", Kind::Array);
    ok(r#"[1,[2,{"a":null,"b":[true,false]}],"x"]"#, Kind::Array);
    ok(r#"{"a":{"b":{"c":[]}},"":0,"a":1}"#, Kind::Object);
    ok(r#"{ "k" : "v" , "n" : -1 }"#, Kind::Object);
}

#[test]
fn empty_and_trailing() {
    err(b"", UnexpectedEnd);
    err(b"  \n", UnexpectedEnd);
    err(b"[] []", TrailingData { offset: 3 });
    err(b"{}x", TrailingData { offset: 2 });
    err(b"null x", TrailingData { offset: 5 });
    err(b"0x1", TrailingData { offset: 1 });
    err(b"1 2", TrailingData { offset: 2 });
    err(b"\"a\"\"b\"", TrailingData { offset: 3 });
}

#[test]
fn bad_bytes() {
    err(b"\xEF\xBB\xBF[]", UnexpectedByte { offset: 0 });
    err(b"'a'", UnexpectedByte { offset: 0 });
    err(b"]", UnexpectedByte { offset: 0 });
    err(b"+1", UnexpectedByte { offset: 0 });
    err(b".5", UnexpectedByte { offset: 0 });
    err(b"NaN", UnexpectedByte { offset: 0 });
    err(b"Infinity", UnexpectedByte { offset: 0 });
    err(b"True", UnexpectedByte { offset: 0 });
    err(b"trux", UnexpectedByte { offset: 3 });
    err(b"nul1", UnexpectedByte { offset: 3 });
    err(b"[\xC3\xA9]", UnexpectedByte { offset: 1 });
    err(b"\x0b1", UnexpectedByte { offset: 0 });
}

#[test]
fn literal_prefixes() {
    err(b"tru", UnexpectedEnd);
    err(b"f", UnexpectedEnd);
    err(b"nul", UnexpectedEnd);
}

#[test]
fn numbers() {
    err(b"01", InvalidNumber { offset: 1 });
    err(b"-01", InvalidNumber { offset: 2 });
    err(b"[01]", InvalidNumber { offset: 2 });
    err(b"-", UnexpectedEnd);
    err(b"-a", InvalidNumber { offset: 1 });
    err(b"- 1", InvalidNumber { offset: 1 });
    err(b"1.", UnexpectedEnd);
    err(b"1.e5", InvalidNumber { offset: 2 });
    err(b"1e", UnexpectedEnd);
    err(b"1e+", UnexpectedEnd);
    err(b"1e+x", InvalidNumber { offset: 3 });
    err(b"[1.]", InvalidNumber { offset: 3 });
    err(b"1.5.2", TrailingData { offset: 3 });
}

#[test]
fn strings() {
    err(b"\"abc", UnexpectedEnd);
    err(b"\"a\x01\"", ControlCharacter { offset: 2 });
    err(b"\"a\tb\"", ControlCharacter { offset: 2 });
    err(b"\"0123456789\n\"", ControlCharacter { offset: 11 });
    err(br#""\x""#, InvalidEscape { offset: 1 });
    err(br#""\U0041""#, InvalidEscape { offset: 1 });
    err(br#""ab\u12G4""#, InvalidEscape { offset: 3 });
    err(br#""\uDC00""#, InvalidSurrogate { offset: 1 });
    err(br#""\uD800""#, InvalidSurrogate { offset: 1 });
    err(br#""\uD800x""#, InvalidSurrogate { offset: 1 });
    err(br#""\uD800\n""#, InvalidSurrogate { offset: 1 });
    err(br#""\uD800\u0041""#, InvalidSurrogate { offset: 7 });
    err(br#""\uD800\uD800""#, InvalidSurrogate { offset: 7 });
    err(br#""\uD800\uZZZZ""#, InvalidEscape { offset: 7 });
    err(b"\"\xff\"", InvalidUtf8 { offset: 1 });
    err(b"\"ab\xC3\"", InvalidUtf8 { offset: 3 });
    err(b"\"\xC0\xAF\"", InvalidUtf8 { offset: 1 });
    err(b"\"\xED\xA0\x80\"", InvalidUtf8 { offset: 1 });
    err(b"\"\xF4\x90\x80\x80\"", InvalidUtf8 { offset: 1 });
    err(b"\"0123456789abcdef\x80\"", InvalidUtf8 { offset: 17 });
}

#[test]
fn structure() {
    err(b"[1,]", UnexpectedByte { offset: 3 });
    err(b"[,1]", UnexpectedByte { offset: 1 });
    err(b"[1 2]", UnexpectedByte { offset: 3 });
    err(b"[1}", UnexpectedByte { offset: 2 });
    err(b"{\"a\"}", UnexpectedByte { offset: 4 });
    err(b"{\"a\":}", UnexpectedByte { offset: 5 });
    err(b"{a:1}", UnexpectedByte { offset: 1 });
    err(b"{1:1}", UnexpectedByte { offset: 1 });
    err(b"{\"a\":1,}", UnexpectedByte { offset: 7 });
    err(b"{\"a\":1]", UnexpectedByte { offset: 6 });
    err(b"{\"a\" 1}", UnexpectedByte { offset: 5 });
    err(b"{,}", UnexpectedByte { offset: 1 });
    err(b"[}", UnexpectedByte { offset: 1 });
}

const VALID: &[&str] = &[
    "[]",
    "{}",
    r#"[1,[2,{"a":null,"b":[true,false]}],"x"]"#,
    r#"{"k" : "v\n\u00e9\uD83D\uDE00", "n": [-1.5e+3, 0, 10]}"#,
    "\"é😀 and some ASCII text that is long\"",
    r#"["chat message","hello",1]"#,
    "true",
    "false",
    "null",
    " [ 1.25 , -7 ] ",
];

#[test]
fn strict_prefixes_are_unexpected_end() {
    for v in VALID {
        let v = v.trim_end().as_bytes();
        assert!(validate(v).is_ok());
        for len in 0..v.len() {
            assert_eq!(
                validate(&v[..len]),
                Err(UnexpectedEnd),
                "{:?}",
                String::from_utf8_lossy(&v[..len])
            );
        }
    }
    // Number prefixes that are numbers themselves are valid; the others end early.
    for (p, r) in [
        ("-", Err(UnexpectedEnd)),
        ("-1", Ok(Kind::Number)),
        ("-1.", Err(UnexpectedEnd)),
        ("-1.5e", Err(UnexpectedEnd)),
        ("-1.5e-", Err(UnexpectedEnd)),
        ("-1.5e-3", Ok(Kind::Number)),
    ] {
        assert_eq!(validate(p.as_bytes()), r, "{p}");
    }
}

#[test]
fn depth_limit() {
    fn nested(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            v.push(if i % 2 == 0 { b'[' } else { b'{' });
            if i % 2 == 1 {
                v.extend_from_slice(b"\"k\":");
            }
        }
        v.push(b'0');
        for i in (0..n).rev() {
            v.push(if i % 2 == 0 { b']' } else { b'}' });
        }
        v
    }
    assert_eq!(validate(&nested(64)), Ok(Kind::Array));
    let deep = nested(65);
    let offset = deep
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'[' | b'{'))
        .nth(64)
        .unwrap()
        .0;
    assert_eq!(validate(&deep), Err(TooDeep { offset }));

    // A million open brackets: rejected at the limit, no recursion.
    let mut huge = std::vec![b'['; 999_999];
    huge.push(b']');
    assert_eq!(validate(&huge), Err(TooDeep { offset: 64 }));

    let wide = Limits {
        max_depth: 1000,
        max_size: usize::MAX,
    };
    let s = nested(MAX_DEPTH);
    assert_eq!(wide.validate(&s), Ok(Kind::Array));
    assert!(matches!(
        wide.validate(&nested(MAX_DEPTH + 1)),
        Err(TooDeep { .. })
    ));

    let flat = Limits {
        max_depth: 0,
        ..Limits::DEFAULT
    };
    assert_eq!(flat.validate(b"1"), Ok(Kind::Number));
    assert_eq!(flat.validate(b" []"), Err(TooDeep { offset: 1 }));
}

#[test]
fn size_limit() {
    let small = Limits {
        max_size: 4,
        ..Limits::DEFAULT
    };
    assert_eq!(small.validate(b"[12]"), Ok(Kind::Array));
    assert_eq!(
        small.validate(b"[123]"),
        Err(TooLarge { size: 5, limit: 4 })
    );
}

#[test]
fn error_offsets_and_display() {
    assert_eq!(InvalidEscape { offset: 3 }.offset(), Some(3));
    assert_eq!(UnexpectedEnd.offset(), None);
    assert_eq!(
        InvalidEscape { offset: 3 }.shifted(2),
        InvalidEscape { offset: 5 }
    );
    assert_eq!(
        std::format!("{}", TooLarge { size: 5, limit: 4 }),
        "JSON of 5 bytes exceeds the limit of 4"
    );
}

#[test]
fn string_views() {
    let s = JsonStr::parse(br#""plain""#).unwrap();
    assert_eq!(s.as_str(), Some("plain"));
    assert!(!s.has_escapes());
    assert!(s.eq_str("plain"));
    assert!(!s.eq_str("plai"));
    assert!(!s.eq_str("plainx"));

    let s = JsonStr::parse(br#""a\"b\\c\/d\u00e9\uD83D\uDE00\n\t""#).unwrap();
    assert!(s.has_escapes());
    assert_eq!(s.as_str(), None);
    assert_eq!(s.raw(), br#"a\"b\\c\/d\u00e9\uD83D\uDE00\n\t"#);
    let want = "a\"b\\c/dé😀\n\t";
    assert!(s.eq_str(want));
    assert!(!s.eq_str("a\"b\\c/dé😀\n"));
    assert!(!s.eq_str("a\"b\\c/dé😀\n\t!"));
    assert_eq!(s.unescaped_len(), want.len());
    let mut buf = [0u8; 32];
    let n = s.unescape_into(&mut buf).unwrap();
    assert_eq!(&buf[..n], want.as_bytes());
    let mut short = [0u8; 4];
    assert_eq!(
        s.unescape_into(&mut short),
        Err(BufferTooSmall {
            required: want.len()
        })
    );

    assert!(
        JsonStr::parse(br#""conn\u0065ct""#)
            .unwrap()
            .eq_str("connect")
    );
    assert_eq!(JsonStr::parse(b""), Err(UnexpectedEnd));
    assert_eq!(JsonStr::parse(b"1"), Err(UnexpectedByte { offset: 0 }));
    assert_eq!(JsonStr::parse(b"\"a\" "), Err(TrailingData { offset: 3 }));
    assert_eq!(JsonStr::parse(b"\"a"), Err(UnexpectedEnd));
}

#[track_caller]
fn written(s: &str) -> String {
    let mut buf = [0u8; 256];
    let n = write_str(&mut buf, s).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn write_str_like_json_stringify() {
    assert_eq!(written(""), r#""""#);
    assert_eq!(written("chat message"), r#""chat message""#);
    assert_eq!(written("a\"b\\c/d"), r#""a\"b\\c/d""#);
    assert_eq!(written("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
    assert_eq!(
        written("\u{0}\u{1}\u{1f}\u{7f}"),
        "\"\\u0000\\u0001\\u001f\u{7f}\""
    );
    assert_eq!(written("é😀"), "\"é😀\"");
    let mut short = [0u8; 3];
    assert_eq!(
        write_str(&mut short, "abc"),
        Err(BufferTooSmall { required: 5 })
    );
}

#[test]
fn array_elements() {
    let a = Array::parse(br#" [ 1 , "a,b]" , {"x":[1,2]} ,[] , "\"" ,null] "#).unwrap();
    let items: Vec<&[u8]> = a.elements().collect();
    assert_eq!(
        items,
        [
            &b"1"[..],
            br#""a,b]""#,
            br#"{"x":[1,2]}"#,
            b"[]",
            br#""\"""#,
            b"null"
        ]
    );
    let e = Array::parse(b"[ ]").unwrap();
    assert!(e.is_empty());
    assert_eq!(e.elements().count(), 0);
    assert_eq!(Array::parse(b" {}"), Err(UnexpectedByte { offset: 1 }));
    assert_eq!(Array::parse(b"[1,]"), Err(UnexpectedByte { offset: 3 }));
    assert_eq!(Array::parse(b"[[1],[2]]").unwrap().interior(), b"[1],[2]");
}

// ---------------------------------------------------------------------------------------
// Random JSON generation.

/// Appends a random JSON string token; returns the decoded value.
pub(crate) fn gen_string(rng: &mut Rng, out: &mut Vec<u8>) -> String {
    let mut value = String::new();
    out.push(b'"');
    for _ in 0..rng.below(12) {
        match rng.below(10) {
            0 => {
                out.extend_from_slice(br#"\""#);
                value.push('"');
            }
            1 => {
                out.extend_from_slice(br"\u00e9");
                value.push('é');
            }
            2 => {
                out.extend_from_slice(br"\uD83D\uDE00");
                value.push('😀');
            }
            3 => {
                out.extend_from_slice(br"\n\/");
                value.push_str("\n/");
            }
            4 => {
                out.extend_from_slice("ü€".as_bytes());
                value.push_str("ü€");
            }
            _ => {
                let c = rng.pick(b"abcxyz 019_-,:[]{}");
                out.push(c);
                value.push(char::from(c));
            }
        }
    }
    out.push(b'"');
    value
}

fn gen_number(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.below(3) == 0 {
        out.push(b'-');
    }
    if rng.below(4) == 0 {
        out.push(b'0');
    } else {
        out.push(rng.pick(b"123456789"));
        for _ in 0..rng.below(5) {
            out.push(rng.pick(b"0123456789"));
        }
    }
    if rng.below(3) == 0 {
        out.push(b'.');
        for _ in 0..=rng.below(3) {
            out.push(rng.pick(b"0123456789"));
        }
    }
    if rng.below(4) == 0 {
        out.push(rng.pick(b"eE"));
        if rng.below(2) == 0 {
            out.push(rng.pick(b"+-"));
        }
        for _ in 0..=rng.below(2) {
            out.push(rng.pick(b"0123456789"));
        }
    }
}

fn gen_ws(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.below(5) == 0 {
        for _ in 0..=rng.below(2) {
            out.push(rng.pick(b" \t\r\n"));
        }
    }
}

/// Appends a random valid JSON value nested at most `depth` levels; returns its kind.
pub(crate) fn gen_value(rng: &mut Rng, depth: usize, out: &mut Vec<u8>) -> Kind {
    let choice = if depth == 0 {
        rng.below(5)
    } else {
        rng.below(7)
    };
    match choice {
        0 => {
            gen_string(rng, out);
            Kind::String
        }
        1 => {
            gen_number(rng, out);
            Kind::Number
        }
        2 => {
            out.extend_from_slice(b"true");
            Kind::Bool
        }
        3 => {
            out.extend_from_slice(b"false");
            Kind::Bool
        }
        4 => {
            out.extend_from_slice(b"null");
            Kind::Null
        }
        5 => {
            out.push(b'[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(b',');
                }
                gen_ws(rng, out);
                gen_value(rng, depth - 1, out);
                gen_ws(rng, out);
            }
            out.push(b']');
            Kind::Array
        }
        _ => {
            out.push(b'{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(b',');
                }
                gen_ws(rng, out);
                gen_string(rng, out);
                gen_ws(rng, out);
                out.push(b':');
                gen_ws(rng, out);
                gen_value(rng, depth - 1, out);
                gen_ws(rng, out);
            }
            out.push(b'}');
            Kind::Object
        }
    }
}

#[test]
fn random_valid_values() {
    let mut rng = Rng::new(0x5EED_0001);
    for _ in 0..3000 {
        let mut v = Vec::new();
        let kind = gen_value(&mut rng, 5, &mut v);
        assert_eq!(validate(&v), Ok(kind), "{:?}", String::from_utf8_lossy(&v));
        if kind != Kind::Number {
            let cut = rng.below(v.len());
            assert_eq!(
                validate(&v[..cut]),
                Err(UnexpectedEnd),
                "{:?}",
                String::from_utf8_lossy(&v[..cut])
            );
        }
    }
}

#[test]
fn random_arrays_iterate_their_elements() {
    let mut rng = Rng::new(0x5EED_0002);
    for _ in 0..2000 {
        let mut v = std::vec![b'['];
        let mut spans = Vec::new();
        for i in 0..rng.below(6) {
            if i > 0 {
                v.push(b',');
            }
            gen_ws(&mut rng, &mut v);
            let start = v.len();
            gen_value(&mut rng, 3, &mut v);
            spans.push(start..v.len());
            gen_ws(&mut rng, &mut v);
        }
        v.push(b']');
        let a = Array::parse(&v).unwrap();
        let got: Vec<&[u8]> = a.elements().collect();
        let want: Vec<&[u8]> = spans.iter().map(|r| &v[r.clone()]).collect();
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&v));
    }
}

#[test]
fn random_strings_round_trip() {
    let mut rng = Rng::new(0x5EED_0003);
    for _ in 0..3000 {
        // Decoded value of a random token survives write_str + parse.
        let mut token = Vec::new();
        let value = gen_string(&mut rng, &mut token);
        let s = JsonStr::parse(&token).unwrap();
        assert!(s.eq_str(&value));
        let mut buf = [0u8; 256];
        let n = s.unescape_into(&mut buf).unwrap();
        assert_eq!(&buf[..n], value.as_bytes());
        assert_eq!(s.unescaped_len(), value.len());

        // Arbitrary chars (controls included) survive write_str.
        let mut text = String::new();
        for _ in 0..rng.below(10) {
            let c = match rng.below(4) {
                0 => char::from(rng.below(0x20) as u8),
                1 => char::from_u32(0x80 + rng.below(0x700) as u32).unwrap(),
                2 => '😀',
                _ => char::from(rng.pick(b"\"\\/abc")),
            };
            text.push(c);
        }
        let n = write_str(&mut buf, &text).unwrap();
        assert_eq!(validate(&buf[..n]), Ok(Kind::String));
        let s = JsonStr::parse(&buf[..n]).unwrap();
        assert!(s.eq_str(&text), "{text:?}");
    }
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let mut rng = Rng::new(0x5EED_0004);
    for _ in 0..5000 {
        let mut v = Vec::new();
        gen_value(&mut rng, 4, &mut v);
        if rng.below(3) == 0 {
            let mut junk = [0u8; 24];
            rng.fill(&mut junk);
            v = junk[..rng.below(24)].to_vec();
        } else {
            for _ in 0..=rng.below(3) {
                if v.is_empty() {
                    break;
                }
                let i = rng.below(v.len());
                match rng.below(3) {
                    0 => v[i] = rng.next_u64() as u8,
                    1 => {
                        v.remove(i);
                    }
                    _ => v.insert(i, rng.pick(b"\"\\[]{},:0e.-u\xC3\x80")),
                }
            }
        }
        match validate(&v) {
            Ok(_) => assert!(core::str::from_utf8(&v).is_ok()),
            Err(e) => assert!(e.offset().is_none_or(|o| o < v.len())),
        }
        if let Ok(a) = Array::parse(&v) {
            for item in a.elements() {
                assert!(validate(item).is_ok());
            }
        }
        if let Ok(s) = JsonStr::parse(&v) {
            let mut buf = [0u8; 512];
            let n = s.unescape_into(&mut buf).unwrap();
            let text = core::str::from_utf8(&buf[..n]).unwrap();
            assert!(s.eq_str(text));
        }
    }
}

#[test]
fn lists() {
    let l = Limits::DEFAULT;
    for good in [
        &b""[..],
        b"  ",
        b"1",
        br#"1,"2",{"3":[true]}"#,
        b" [ ] , {} ",
        br#""a""#,
    ] {
        assert_eq!(
            l.validate_list(good),
            Ok(()),
            "{:?}",
            String::from_utf8_lossy(good)
        );
    }
    for (bad, e) in [
        (&b","[..], UnexpectedByte { offset: 0 }),
        (b"1,", UnexpectedEnd),
        (b"1,,2", UnexpectedByte { offset: 2 }),
        (b"1 2", TrailingData { offset: 2 }),
        (b"]", UnexpectedByte { offset: 0 }),
        (b"[1", UnexpectedEnd),
        (b"1]", TrailingData { offset: 1 }),
    ] {
        assert_eq!(
            l.validate_list(bad),
            Err(e),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
