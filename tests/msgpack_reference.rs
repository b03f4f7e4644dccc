//! siocore's `MessagePack` writer against `notepack.io` 3.0.1 (what `@socket.io/redis-adapter`
//! encodes its messages with): the same values give the same bytes, and the reader reads
//! every one of notepack's outputs whole.
//!
//! The test runs `node tests/interop/msgpack_reference.mjs`, which prints notepack's
//! encoding of a fixed list of values; it needs Node and `npm ci --prefix tests/interop`.

use std::process::Command;

use siocore::msgpack::{Reader, Sink, Value, Writer};

const HINT: &str = "this test needs Node.js (20 or later) on PATH and the reference packages: \
                    run `npm ci --prefix tests/interop` (scripts/test.sh does it)";

type Case = Box<dyn Fn(&mut Writer<'_>) -> Result<(), siocore::BufferTooSmall>>;

fn ints(v: i64) -> Case {
    Box::new(move |w| w.int(v))
}

fn text(s: String) -> Case {
    Box::new(move |w| w.str(&s))
}

fn bin(n: usize) -> Case {
    Box::new(move |w| w.bin(&(0..n).map(|i| (i % 251) as u8).collect::<Vec<_>>()))
}

/// The values of `msgpack_reference.mjs`, in its order.
fn cases() -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();
    for v in [
        0,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        4_294_967_295,
        4_294_967_296,
        9_007_199_254_740_991,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32_768,
        -32_769,
        -2_147_483_648,
        -2_147_483_649,
        -9_007_199_254_740_991,
    ] {
        c.push(ints(v));
    }
    for v in [1.5, -0.25, 0.1] {
        c.push(Box::new(move |w| w.f64(v)));
    }
    for s in ["", "abc", "é€😀"] {
        c.push(text(s.to_owned()));
    }
    for n in [31, 32, 255, 256, 65_535, 65_536] {
        c.push(text("a".repeat(n)));
    }
    for n in [0, 1, 255, 256, 65_535, 65_536] {
        c.push(bin(n));
    }
    c.push(Box::new(|w| w.nil()));
    c.push(Box::new(|w| w.bool(true)));
    c.push(Box::new(|w| w.bool(false)));
    c.push(Box::new(|w| w.array(0)));
    c.push(Box::new(|w| {
        w.array(3)?;
        (1..=3).try_for_each(|i| w.int(i))
    }));
    c.push(Box::new(|w| {
        w.array(16)?;
        (0..16).try_for_each(|i| w.int(i))
    }));
    c.push(Box::new(|w| {
        w.array(2)?;
        w.array(1)?;
        w.array(0)?;
        w.array(1)?;
        w.nil()
    }));
    c.push(Box::new(|w| w.map(0)));
    c.push(Box::new(|w| {
        w.map(1)?;
        w.str("a")?;
        w.int(1)
    }));
    c.push(Box::new(|w| {
        w.map(16)?;
        (0..16).try_for_each(|i| {
            w.str(&format!("k{i}"))?;
            w.int(i)
        })
    }));
    c.push(Box::new(|w| {
        w.array(3)?;
        w.str("AbCd-_")?;
        w.map(3)?;
        w.str("type")?;
        w.int(2)?;
        w.str("data")?;
        w.array(5)?;
        w.str("ev")?;
        w.int(1)?;
        w.str("x")?;
        w.bin(&[1, 2, 3])?;
        w.map(1)?;
        w.str("k")?;
        w.array(2)?;
        w.bool(true)?;
        w.nil()?;
        w.str("nsp")?;
        w.str("/")?;
        w.map(3)?;
        w.str("rooms")?;
        w.array(1)?;
        w.str("r1")?;
        w.str("except")?;
        w.array(0)?;
        w.str("flags")?;
        w.map(0)
    }));
    c
}

fn unhex(line: &str) -> Vec<u8> {
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn writes_what_notepack_writes_and_reads_it_back() {
    let out = Command::new("node")
        .arg("tests/interop/msgpack_reference.mjs")
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {HINT}"));
    assert!(
        out.status.success(),
        "node failed: {}\n{HINT}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(unhex)
        .collect();
    let cases = cases();
    assert_eq!(lines.len(), cases.len(), "one line per value");
    let mut buf = vec![0u8; 200_000];
    for (i, (case, want)) in cases.iter().zip(&lines).enumerate() {
        let mut w = Writer::new(&mut buf);
        case(&mut w).unwrap();
        assert_eq!(w.written(), &want[..], "value {i}");
        let mut r = Reader::new(want);
        assert_eq!(r.raw().unwrap(), &want[..], "value {i} read whole");
        assert!(r.is_empty(), "value {i}");
    }
    // The broadcast, read field by field as a receiving server would.
    let msg = lines.last().unwrap();
    let mut r = Reader::new(msg);
    assert_eq!(r.read(), Ok(Value::Array(3)));
    assert_eq!(r.read(), Ok(Value::Str("AbCd-_")));
    assert_eq!(r.read(), Ok(Value::Map(3)));
    assert_eq!(r.read(), Ok(Value::Str("type")));
    assert_eq!(r.read(), Ok(Value::Int(2)));
    assert_eq!(r.read(), Ok(Value::Str("data")));
    assert_eq!(r.read(), Ok(Value::Array(5)));
    assert_eq!(r.read(), Ok(Value::Str("ev")));
    assert_eq!(r.read(), Ok(Value::Int(1)));
    assert_eq!(r.read(), Ok(Value::Str("x")));
    assert_eq!(r.read(), Ok(Value::Bin(&[1, 2, 3])));
}
