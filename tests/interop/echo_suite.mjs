// The echo contract (examples/echo_server.rs), checked with the official clients.
//
//   node echo_suite.mjs <url> <suite> [transport]
//
// <suite>: "socketio" (needs [transport]: polling | websocket | upgrade), "engineio"
// (likewise), "heartbeat" (a server with pingInterval 300 / pingTimeout 200), "garbage", or
// "untrusted" (an https server: a client that does not trust its certificate is refused).
// For an https server, the environment variable SIOCORE_TEST_CA names the PEM file of the CA
// the clients trust (the `ca` option of socket.io-client and engine.io-client).
// Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 when one failed.
// Every wait has a timeout; the whole run has one too.

import { io, Manager } from "socket.io-client";
import { Socket as EngineSocket } from "engine.io-client";
import net from "node:net";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const [url, suite, mode] = process.argv.slice(2);
const transports = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
}[mode];
const STEP = 5000;
const tls = process.env.SIOCORE_TEST_CA ? { ca: readFileSync(process.env.SIOCORE_TEST_CA) } : {};

overallTimeout(120_000);

const open = new Set();
const checks = checker(() => {
  for (const s of open) s.close ? s.close() : s.disconnect();
  open.clear();
});
const check = checks.check;

/** A connected client socket for namespace `ns`; resolves once `auth` came. */
async function client(ns = "/", opts = {}) {
  const socket = io(url + ns, { transports, forceNew: true, reconnection: false, ...tls, ...opts });
  open.add(socket);
  const auth = await within(
    STEP,
    `auth on ${ns}`,
    new Promise((resolve, reject) => {
      socket.once("auth", resolve);
      socket.once("connect_error", reject);
    }),
  );
  if (mode === "upgrade") {
    await within(STEP, "the upgrade", new Promise((resolve) => {
      if (socket.io.engine.transport.name === "websocket") resolve();
      else socket.io.engine.once("upgrade", resolve);
    }));
  }
  return { socket, auth };
}

const next = (socket, event) =>
  within(STEP, event, new Promise((resolve) => socket.once(event, (...args) => resolve(args))));

const none = (socket, event, ms = 300) =>
  new Promise((resolve, reject) => {
    const fail = () => reject(new Error(`unexpected ${event}`));
    socket.once(event, fail);
    setTimeout(() => {
      socket.off(event, fail);
      resolve();
    }, ms);
  });

const big = "x".repeat(500_000);
const bigBinary = Buffer.alloc(500_000, 7);
const samples = [
  [1, "2", { 3: [true] }],
  [null, { nested: { a: [1, 2, { b: "é€😀" }] } }],
  [Buffer.from([1, 2, 3]), { inner: Buffer.from([4, 5]) }],
  [],
];

async function socketio() {
  await check("connect hands the auth payload back", async () => {
    const { auth } = await client("/", { auth: { token: "t1", n: 2 } });
    assert.deepEqual(auth, { token: "t1", n: 2 });
    const second = await client("/");
    assert.deepEqual(second.auth, {});
  });

  await check("message -> message-back, JSON and binary", async () => {
    const { socket } = await client();
    for (const args of samples) {
      socket.emit("message", ...args);
      assert.deepEqual(await next(socket, "message-back"), args);
    }
  });

  await check("echo -> echo", async () => {
    const { socket } = await client();
    for (const args of samples) {
      const reply = next(socket, "echo");
      socket.emit("echo", ...args);
      assert.deepEqual(await reply, args);
    }
  });

  await check("message-with-ack and echo-ack answer with the same args", async () => {
    const { socket } = await client();
    for (const event of ["message-with-ack", "echo-ack"]) {
      for (const args of samples) {
        const reply = await within(STEP, event, new Promise((resolve) =>
          socket.emit(event, ...args, (...r) => resolve(r))));
        assert.deepEqual(reply, args);
      }
    }
  });

  await check("broadcast reaches every socket, the sender too", async () => {
    const a = (await client()).socket;
    const b = (await client()).socket;
    const got = Promise.all([next(a, "broadcast"), next(b, "broadcast")]);
    a.emit("broadcast", { n: 1 }, Buffer.from([9]));
    for (const args of await got) assert.deepEqual(args, [{ n: 1 }, Buffer.from([9])]);
  });

  await check("join and to-room", async () => {
    const a = (await client()).socket;
    const b = (await client()).socket;
    a.emit("join", "r1");
    // A round trip on a's connection: the server handles its packets in order, so the join
    // is done once the echo is back.
    a.emit("message", "sync");
    await next(a, "message-back");
    const got = next(a, "room-msg");
    const silent = none(b, "room-msg");
    b.emit("to-room", "r1", "hello", Buffer.from([1, 2]));
    assert.deepEqual(await got, ["hello", Buffer.from([1, 2])]);
    await silent;
  });

  await check("request-ack: the server asks, the client answers, the answer comes back", async () => {
    const { socket } = await client();
    socket.on("ack-request", (...args) => {
      const callback = args.pop();
      assert.deepEqual(args, ["q", 1]);
      callback("reply", { ok: true }, Buffer.from([3]));
    });
    const response = next(socket, "ack-response");
    socket.emit("request-ack", "q", 1);
    assert.deepEqual(await response, ["reply", { ok: true }, Buffer.from([3])]);
  });

  await check("/custom, and an unknown namespace refused", async () => {
    const { auth } = await client("/custom", { auth: { c: 1 } });
    assert.deepEqual(auth, { c: 1 });
    const bad = io(url + "/nope", { transports, forceNew: true, reconnection: false, ...tls });
    open.add(bad);
    const err = await within(STEP, "connect_error", new Promise((resolve) => bad.once("connect_error", resolve)));
    assert.equal(err.message, "Invalid namespace");
  });

  await check("namespaces multiplexed on one connection", async () => {
    const manager = new Manager(url, { transports, reconnection: false, ...tls });
    const root = manager.socket("/");
    const custom = manager.socket("/custom");
    open.add(root);
    open.add(custom);
    const auths = await within(STEP, "both namespaces", Promise.all([
      new Promise((r) => root.once("auth", r)),
      new Promise((r) => custom.once("auth", r)),
    ]));
    assert.deepEqual(auths, [{}, {}]);
    root.emit("message", "on root");
    assert.deepEqual(await next(root, "message-back"), ["on root"]);
    manager.engine.close();
  });

  await check("payloads of 500 KB, text and binary", async () => {
    const { socket } = await client();
    socket.emit("message", big);
    assert.equal((await next(socket, "message-back"))[0], big);
    socket.emit("message", bigBinary);
    assert.deepEqual((await next(socket, "message-back"))[0], bigBinary);
  });

  await check("100 concurrent clients", async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => client()));
    const replies = await Promise.all(clients.map(({ socket }, i) => {
      const r = next(socket, "message-back");
      socket.emit("message", i);
      return r;
    }));
    replies.forEach((args, i) => assert.deepEqual(args, [i]));
  });

  await check("reconnect after a client disconnect", async () => {
    const { socket } = await client();
    socket.disconnect();
    const again = next(socket, "auth");
    socket.connect();
    assert.deepEqual(await again, [{}]);
    socket.emit("message", "after");
    assert.deepEqual(await next(socket, "message-back"), ["after"]);
  });
}

async function engineio() {
  const connect = () => {
    const socket = new EngineSocket(url, { path: "/engine.io", transports, ...tls });
    open.add(socket);
    return within(STEP, "open", new Promise((resolve, reject) => {
      socket.once("open", () => resolve(socket));
      socket.once("error", reject);
    }));
  };
  const nextMessage = (socket) =>
    within(STEP, "message", new Promise((resolve) => socket.once("message", resolve)));

  await check("engine.io echo: text as text, binary as binary", async () => {
    const socket = await connect();
    if (mode === "upgrade") {
      await within(STEP, "the upgrade", new Promise((r) => socket.once("upgrade", r)));
    }
    for (const text of ["hello", "é€😀", "x".repeat(100_000)]) {
      socket.send(text);
      assert.equal(await nextMessage(socket), text);
    }
    // An empty message travels as `4` both ways; engine.io-client hands it over as
    // `undefined`.
    socket.send("");
    assert.equal(await nextMessage(socket), undefined);
    const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    socket.send(bytes);
    const back = await nextMessage(socket);
    assert.ok(typeof back !== "string", "binary came back as binary");
    assert.deepEqual(new Uint8Array(back.buffer ? back.buffer.slice(back.byteOffset, back.byteOffset + back.byteLength) : back), bytes);
  });
}

async function heartbeat() {
  await check("pings answered keep a client connected", async () => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    open.add(socket);
    await within(STEP, "auth", new Promise((r) => socket.once("auth", r)));
    const gone = none(socket, "disconnect", 1500);
    await gone;
    assert.ok(socket.connected);
  });

  await check("a client that never answers is closed by 500 ms", async () => {
    const base = url + "/socket.io/?EIO=4&transport=polling";
    const open = await fetch(base);
    const body = await open.text();
    const sid = JSON.parse(body.slice(1)).sid;
    await new Promise((r) => setTimeout(r, 700));
    // The ping (due at 300 ms) is queued; its pong never came: the session is gone.
    const res = await fetch(`${base}&sid=${sid}`);
    assert.equal(res.status, 400);
  });
}

async function garbage() {
  await check("a raw client sending garbage does not disturb the others", async () => {
    const { socket } = await client("/", {});
    const { port, hostname } = new URL(url);
    const raw = net.connect(Number(port), hostname);
    const closed = within(STEP, "the garbage connection closed", new Promise((resolve) => {
      raw.on("close", resolve);
      raw.on("error", () => {});
      raw.resume(); // read, so the end of the stream is seen
    }));
    raw.write(Buffer.from("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n"));
    socket.emit("message", "still here");
    assert.deepEqual(await next(socket, "message-back"), ["still here"]);
    await closed;
    // A WebSocket that turns to garbage after its handshake.
    const ws = net.connect(Number(port), hostname);
    ws.on("error", () => {});
    ws.resume();
    const wsClosed = within(STEP, "the bad websocket closed", new Promise((r) => ws.on("close", r)));
    ws.write("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    ws.write(Buffer.from([0x81, 0x05, 1, 2, 3, 4, 5])); // unmasked: a protocol error
    await wsClosed;
    socket.emit("message", "and still");
    assert.deepEqual(await next(socket, "message-back"), ["and still"]);
  });
}

async function untrusted() {
  for (const t of [["polling"], ["websocket"]]) {
    await check(`a client that does not trust the certificate is refused (${t})`, async () => {
      // No `ca`: Node's own roots only, which do not hold the test CA.
      const socket = io(url, { transports: t, forceNew: true, reconnection: false });
      open.add(socket);
      const err = await within(STEP, "connect_error", new Promise((resolve, reject) => {
        socket.once("connect_error", resolve);
        socket.once("connect", () => reject(new Error("connected without trusting the CA")));
      }));
      // WebSocket: the `ws` error as `description`; polling: the request's error as the
      // XMLHttpRequest's `statusText` (`description` is its status, 0).
      const cause = err.context?.statusText ?? err.description;
      const why = String(cause?.message ?? cause);
      assert.match(why, /certificate|self.signed|verify/i, why);
    });
  }
}

const suites = { socketio, engineio, heartbeat, garbage, untrusted };
if (!suites[suite] || ((suite === "socketio" || suite === "engineio") && !transports)) {
  console.log(`FAIL usage: node echo_suite.mjs <url> ${Object.keys(suites).join("|")} [polling|websocket|upgrade]`);
  process.exit(2);
}
await suites[suite]();
process.exit(checks.failed ? 1 : 0);
