// The Node reference codecs behind a line protocol, for tests/codec_reference.rs.
//
// Reads one JSON request per line on stdin and writes exactly one JSON answer line per
// request on stdout, in order. The first line written (before any request is read) is
// {"ready":true,...} with the versions in use, or the script exits with status 2 and a
// message on stderr when the packages are not installed.
//
// Values travel in a tagged form so that neither side has to escape strings:
//   string            {"$str":"<hex of UTF-8>"}
//   binary (Buffer)   {"$bin":"<hex>"}
//   object            {"$obj":[["<hex of key UTF-8>", <value>], ...]}  (insertion order)
//   array             [<value>, ...]
//   number, true, false, null as themselves.
// Answers use the same form, so the Rust side can build the expected line byte for byte.
//
// Requests (op → answer):
//   sio_encode  {packet:{type,nsp(hex),id?,data?(tagged)}}
//               → {"text":"<hex>","buffers":["<hex>",...]}  socket.io-parser Encoder
//   sio_decode  {text:"<hex>",buffers:["<hex>",...]}
//               → {"packet":{"type":t,"nsp":"<hex>","id":n|null,"data":<tagged>|null}}
//                 what Decoder emits, or {"error":"<message>"} / {"pending":true}
//   eio_packet  {type,data?(hex)|bin?(hex),supportsBinary}
//               → {"text":"<hex>"} or {"binary":"<hex>"}        engine.io-parser encodePacket
//   eio_payload {packets:[{type,data?(hex)}|{bin:"<hex>"}]}
//               → {"text":"<hex>"}                               engine.io-parser encodePayload
//   eio_decode_payload {text:"<hex>"}
//               → {"packets":[{"type":t,"data":"<hex>"|null}|{"type":t,"bin":"<hex>"}]}
//   eio_open    {sid(hex),upgrades:[...],pingInterval,pingTimeout,maxPayload?}
//               → {"text":"<hex>"}  the open packet exactly as engine.io's Socket#onOpen builds it
//   stringify   {value:<tagged>} → {"text":"<hex>"}              JSON.stringify

import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

// The version in the package.json above a package's entry point (their "exports" hide it).
function versionOf(name) {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json here; keep walking up
    }
  }
  throw new Error("no package.json found for " + name);
}

let sioParser, eioParser, versions;
try {
  sioParser = require("socket.io-parser");
  eioParser = require("engine.io-parser");
  versions = Object.fromEntries(
    ["socket.io", "socket.io-parser", "engine.io-parser"].map((name) => [name, versionOf(name)]),
  );
  // The codecs tested must be the very ones the pinned server uses.
  const fromServer = (pkg, via) =>
    require.resolve(pkg, { paths: [dirname(require.resolve(via))] });
  if (fromServer("socket.io-parser", "socket.io") !== require.resolve("socket.io-parser")) {
    throw new Error("socket.io uses a different socket.io-parser than the top-level one");
  }
  if (fromServer("engine.io-parser", "engine.io") !== require.resolve("engine.io-parser")) {
    throw new Error("engine.io uses a different engine.io-parser than the top-level one");
  }
} catch (e) {
  process.stderr.write(
    `codec_reference.mjs: cannot load the reference packages (${e.message}).\n` +
      "Run `npm ci --prefix tests/interop` first.\n",
  );
  process.exit(2);
}

const hex = (buf) => Buffer.from(buf).toString("hex");
const strHex = (s) => Buffer.from(s, "utf8").toString("hex");
const fromHex = (h) => Buffer.from(h, "hex");
const strFromHex = (h) => fromHex(h).toString("utf8");

function untag(v) {
  if (Array.isArray(v)) return v.map(untag);
  if (v !== null && typeof v === "object") {
    if ("$str" in v) return strFromHex(v.$str);
    if ("$bin" in v) return fromHex(v.$bin);
    if ("$obj" in v) {
      const o = {};
      for (const [k, val] of v.$obj) {
        // defineProperty so that a key such as "__proto__" stays a plain own key
        Object.defineProperty(o, strFromHex(k), {
          value: untag(val),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    throw new Error("unknown tag " + JSON.stringify(v));
  }
  return v;
}

function tag(v) {
  if (v === null || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "string") return { $str: strHex(v) };
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $bin: hex(v instanceof ArrayBuffer ? Buffer.from(v) : v) };
  }
  if (Array.isArray(v)) return v.map(tag);
  if (typeof v === "object") {
    return { $obj: Object.keys(v).map((k) => [strHex(k), tag(v[k])]) };
  }
  throw new Error("cannot tag a " + typeof v);
}

function sioEncode({ packet }) {
  const p = { type: packet.type, nsp: strFromHex(packet.nsp) };
  if (packet.id !== undefined) p.id = packet.id;
  if (packet.data !== undefined) p.data = untag(packet.data);
  const [text, ...buffers] = new sioParser.Encoder().encode(p);
  if (typeof text !== "string") throw new Error("first encoder output is not a string");
  return { text: strHex(text), buffers: buffers.map(hex) };
}

function sioDecode({ text, buffers }) {
  const decoder = new sioParser.Decoder();
  const decoded = [];
  decoder.on("decoded", (p) => decoded.push(p));
  try {
    decoder.add(strFromHex(text));
    for (const b of buffers || []) decoder.add(fromHex(b));
  } catch (e) {
    return { error: e.message };
  }
  if (decoded.length === 0) return { pending: true };
  if (decoded.length > 1) throw new Error("decoder emitted more than one packet");
  const p = decoded[0];
  return {
    packet: {
      type: p.type,
      nsp: strHex(p.nsp),
      id: p.id === undefined ? null : p.id,
      data: p.data === undefined ? null : tag(p.data),
    },
  };
}

function eioPacketObject(p) {
  if (p.bin !== undefined) return { type: "message", data: fromHex(p.bin) };
  const o = { type: p.type };
  if (p.data !== undefined) o.data = strFromHex(p.data);
  return o;
}

function callbackResult(f) {
  let out;
  let called = false;
  f((v) => {
    out = v;
    called = true;
  });
  if (!called) throw new Error("the reference did not call back synchronously");
  return out;
}

function eioPacket(req) {
  const out = callbackResult((cb) =>
    eioParser.encodePacket(eioPacketObject(req), req.supportsBinary, cb),
  );
  return typeof out === "string" ? { text: strHex(out) } : { binary: hex(out) };
}

function eioPayload({ packets }) {
  if (packets.length === 0) throw new Error("encodePayload never calls back for no packets");
  return { text: strHex(callbackResult((cb) => eioParser.encodePayload(packets.map(eioPacketObject), cb))) };
}

function eioDecodePayload({ text }) {
  return {
    packets: eioParser.decodePayload(strFromHex(text), "nodebuffer").map((p) =>
      Buffer.isBuffer(p.data)
        ? { type: p.type, bin: hex(p.data) }
        : { type: p.type, data: p.data === undefined ? null : strHex(p.data) },
    ),
  };
}

function eioOpen(req) {
  // engine.io lib/socket.ts onOpen(): the same object literal, in the same key order.
  const json = JSON.stringify({
    sid: strFromHex(req.sid),
    upgrades: req.upgrades,
    pingInterval: req.pingInterval,
    pingTimeout: req.pingTimeout,
    maxPayload: req.maxPayload,
  });
  const out = callbackResult((cb) => eioParser.encodePacket({ type: "open", data: json }, false, cb));
  return { text: strHex(out) };
}

const ops = {
  sio_encode: sioEncode,
  sio_decode: sioDecode,
  eio_packet: eioPacket,
  eio_payload: eioPayload,
  eio_decode_payload: eioDecodePayload,
  eio_open: eioOpen,
  stringify: ({ value }) => ({ text: strHex(JSON.stringify(untag(value))) }),
};

process.stdout.write(JSON.stringify({ ready: true, versions }) + "\n");

const out = [];
const flush = () => {
  if (out.length > 0) process.stdout.write(out.join(""));
  out.length = 0;
};
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let answer;
  try {
    const req = JSON.parse(line);
    const op = ops[req.op];
    if (!op) throw new Error("unknown op " + req.op);
    answer = op(req);
  } catch (e) {
    // A failure of the harness itself, not a codec answer: the Rust side reports it.
    answer = { fault: String(e && e.stack ? e.stack : e) };
  }
  out.push(JSON.stringify(answer) + "\n");
  if (out.length >= 256) flush();
});
lines.on("close", flush);
