//! siocore's cluster broadcasts against `@socket.io/redis-adapter` 8.3.0's (notepack.io
//! 3.0.1): for a few hundred deterministic pseudo-random broadcasts, siocore encodes the
//! message byte for byte as Node's adapter publishes it, and decodes Node's message into the
//! same Socket.IO arguments (JSON with placeholders, and the attachments) socket.io-parser
//! would send; the same for the request of a broadcast that collects acknowledgements
//! (type 7) and for a client's answer to it (type 9) with these arguments.
//!
//! The test runs `node tests/interop/adapter_reference.mjs`; it needs Node and
//! `npm ci --prefix tests/interop`. Object keys are never integer-like: JavaScript orders
//! those first, so such an object's members would come out in another (equivalent) order.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use siocore::adapter::{self, AckAnswer, Broadcast, Flags, Recipients, RequestId, Response, Uid};
use siocore::server::Args;

const HINT: &str = "this test needs Node.js (20 or later) on PATH and the reference packages: \
                    run `npm ci --prefix tests/interop` (scripts/test.sh does it)";

/// xorshift64* (fixed seed: every run checks the same cases).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const INTS: &[&str] = &[
    "0",
    "1",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9007199254740991",
    "-1",
    "-32",
    "-33",
    "-129",
    "-32769",
    "-2147483649",
    "-9007199254740991",
    "1.0",
    "2e3",
    "-0",
];
const FLOATS: &[&str] = &["1.5", "-0.25", "0.1", "123.456", "3.14159", "-7.5e-3"];
const STRINGS: &[&str] = &[
    r#""""#,
    r#""hello""#,
    r#""with \"quotes\" and \\ backslash""#,
    r#""line\nbreak\ttab""#,
    r#""caf\u00e9 \/ slash""#,
    r#""é€😀""#,
    r#""a much longer string that needs more than thirty-one bytes of room""#,
];
const KEYS: &[&str] = &["a", "b", "key", "ké", "_x", "name", "list"];

/// One JSON value, placeholders pushing their blob onto `blobs`.
fn value(rng: &mut Rng, depth: usize, blobs: &mut Vec<Vec<u8>>, out: &mut String) {
    let kinds = if depth >= 3 { 6 } else { 9 };
    match rng.below(kinds) {
        0 => out.push_str(rng.pick(INTS)),
        1 => out.push_str(rng.pick(FLOATS)),
        2 | 3 => out.push_str(rng.pick(STRINGS)),
        4 => out.push_str(rng.pick(&["true", "false", "null"])),
        5 => {
            let len = rng.below(300);
            blobs.push((0..len).map(|_| rng.next() as u8).collect());
            write!(out, r#"{{"_placeholder":true,"num":{}}}"#, blobs.len() - 1).unwrap();
        }
        6 | 7 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                value(rng, depth + 1, blobs, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            let mut keys: Vec<&str> = KEYS.to_vec();
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                let k = keys.remove(rng.below(keys.len()));
                write!(out, "\"{k}\":").unwrap();
                value(rng, depth + 1, blobs, out);
            }
            out.push('}');
        }
    }
}

struct Case {
    uid: Uid,
    request: RequestId,
    nsp: &'static str,
    event: &'static str,
    args: String,
    blobs: Vec<Vec<u8>>,
    rooms: Vec<&'static str>,
    except: Vec<&'static str>,
    flags: Flags,
}

fn case(rng: &mut Rng) -> Case {
    let mut args = String::new();
    let mut blobs = Vec::new();
    for i in 0..rng.below(5) {
        if i > 0 {
            args.push(',');
        }
        value(rng, 0, &mut blobs, &mut args);
    }
    let mut id = [0u8; 6];
    id.iter_mut().for_each(|b| *b = rng.next() as u8);
    let rooms_of = |rng: &mut Rng| -> Vec<&'static str> {
        (0..rng.below(3))
            .map(|_| rng.pick(&["r1", "room two", "ké", "AAAAAAAAAAAAAAAAAAAA"]))
            .collect()
    };
    let rooms = rooms_of(rng);
    let except = rooms_of(rng);
    let flags = Flags {
        compress: [None, Some(true), Some(false)][rng.below(3)],
        volatile: rng.below(3) == 0,
        local: false,
        timeout: (rng.below(4) == 0).then(|| rng.next() % 100_000),
    };
    let mut rid = [0u8; 6];
    rid.iter_mut().for_each(|b| *b = rng.next() as u8);
    Case {
        uid: Uid::from_random(id),
        request: RequestId::from_random(rid),
        nsp: rng.pick(&["/", "/admin", "/ké"]),
        event: rng.pick(&["chat message", "e", "é"]),
        args,
        blobs,
        rooms,
        except,
        flags,
    }
}

fn json_str(s: &str) -> String {
    format!("{s:?}")
}

fn request(c: &Case) -> String {
    let list = |v: &[&str]| {
        let items: Vec<String> = v.iter().map(|s| json_str(s)).collect();
        format!("[{}]", items.join(","))
    };
    let mut flags = Vec::new();
    if let Some(x) = c.flags.compress {
        flags.push(format!("\"compress\":{x}"));
    }
    if c.flags.volatile {
        flags.push("\"volatile\":true".to_owned());
    }
    if let Some(t) = c.flags.timeout {
        flags.push(format!("\"timeout\":{t}"));
    }
    let blobs: Vec<String> = c
        .blobs
        .iter()
        .map(|b| {
            format!(
                "\"{}\"",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            )
        })
        .collect();
    format!(
        r#"{{"uid":{},"requestId":{},"nsp":{},"event":{},"args":{},"blobs":[{}],"rooms":{},"except":{},"flags":{{{}}}}}"#,
        json_str(c.uid.as_str()),
        json_str(c.request.as_str()),
        json_str(c.nsp),
        json_str(c.event),
        json_str(&c.args),
        blobs.join(","),
        list(&c.rooms),
        list(&c.except),
        flags.join(",")
    )
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn broadcasts_match_the_node_adapter_both_ways() {
    let mut rng = Rng(0x5EED_CAFE_0000_0001);
    let cases: Vec<Case> = (0..400).map(|_| case(&mut rng)).collect();
    let mut child = Command::new("node")
        .arg("tests/interop/adapter_reference.mjs")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {HINT}"));
    let mut input = String::new();
    for c in &cases {
        input.push_str(&request(c));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}\n{HINT}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), cases.len());
    let mut buf = vec![0u8; 64 * 1024];
    for (i, (c, line)) in cases.iter().zip(&lines).enumerate() {
        let fields: Vec<Vec<u8>> = line.split(' ').map(unhex).collect();
        let [node_msg, node_again, node_request, node_ack, node_answer] = &fields[..] else {
            panic!("case {i}: {line}");
        };
        let blobs: Vec<&[u8]> = c.blobs.iter().map(Vec::as_slice).collect();
        let args = Args::binary(c.args.as_bytes(), &blobs);
        let to = Recipients {
            rooms: &c.rooms,
            except: &c.except,
            flags: c.flags,
        };
        let n = adapter::encode_broadcast(&mut buf, &c.uid, c.nsp, c.event, &args, &to)
            .unwrap_or_else(|e| panic!("case {i}: {e} ({})", c.args));
        assert_eq!(&buf[..n], &node_msg[..], "case {i}: encode {}", c.args);

        let b = Broadcast::decode(node_msg).unwrap();
        assert_eq!(b.uid(), c.uid.as_str(), "case {i}");
        assert_eq!(b.namespace(), c.nsp, "case {i}");
        assert_eq!(b.event(), c.event, "case {i}");
        assert_eq!(b.flags(), c.flags, "case {i}");
        let rooms: Vec<&str> = b.rooms().map(Result::unwrap).collect();
        assert_eq!(rooms, c.rooms, "case {i}");
        let except: Vec<&str> = b.except().map(Result::unwrap).collect();
        assert_eq!(except, c.except, "case {i}");
        let mut json = vec![0u8; 16 * 1024];
        let mut got: Vec<&[u8]> = vec![&[]; 64];
        let (len, count) = b.write_args(&mut json, &mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&json[..len]),
            String::from_utf8_lossy(node_again),
            "case {i}: decode of {}",
            c.args
        );
        assert_eq!(&got[..count], &blobs[..], "case {i}: attachments");

        // The broadcast that collects acknowledgements, both ways.
        let id = c.request.as_str();
        let n =
            adapter::encode_broadcast_with_acks(&mut buf, &c.uid, id, c.nsp, c.event, &args, &to)
                .unwrap_or_else(|e| panic!("case {i}: {e} ({})", c.args));
        assert_eq!(
            &buf[..n],
            &node_request[..],
            "case {i}: encode type 7 {}",
            c.args
        );
        let (rid, b) = Broadcast::decode_with_acks(node_request).unwrap();
        assert_eq!(
            (rid, b.uid(), b.event()),
            (id, c.uid.as_str(), c.event),
            "case {i}"
        );
        assert_eq!(b.flags(), c.flags, "case {i}");
        let (len, count) = b.write_args(&mut json, &mut got).unwrap();
        assert_eq!(&json[..len], &node_again[..], "case {i}: decode of type 7");
        assert_eq!(&got[..count], &blobs[..], "case {i}: type 7 attachments");

        // A client's answer with these arguments (its first one), both ways.
        let n = adapter::encode_ack(&mut buf, id, &args)
            .unwrap_or_else(|e| panic!("case {i}: {e} ({})", c.args));
        assert_eq!(
            &buf[..n],
            &node_ack[..],
            "case {i}: encode type 9 {}",
            c.args
        );
        let packet = Response::decode(node_ack).unwrap().packet();
        let answer = AckAnswer::new(packet.unwrap_or(&[0xc0]));
        let (len, count) = answer.write_args(&mut json, &mut got).unwrap();
        let hexes: Vec<String> = got[..count]
            .iter()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .collect();
        let mine = format!(
            "{}/{}",
            String::from_utf8_lossy(&json[..len]),
            hexes.join(",")
        );
        assert_eq!(
            mine,
            String::from_utf8_lossy(node_answer),
            "case {i}: decode of type 9 {}",
            c.args
        );
    }
}
