// socket.io-client 4.8.4 with the msgpack parser (socket.io-msgpack-parser 3.0.2) against
// the echo server started with `--parser msgpack` (examples/echo_server.rs).
//
//   node msgpack_suite.mjs <url> <mode>
//
// <mode>: polling | websocket | upgrade (the transports the clients use).
// Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 when one failed.
// Every wait has a timeout; the whole run has one too.

import { createRequire } from "node:module";
import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const require = createRequire(import.meta.url);
const parser = require("socket.io-msgpack-parser");

const [url, mode] = process.argv.slice(2);
const transportsOf = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};
const STEP = 5000;

overallTimeout(100_000);

const open = new Set();
const checks = checker(() => {
  for (const s of open) s.close();
  open.clear();
});
const check = checks.check;

/** A msgpack client socket on namespace `ns` with `auth`; resolves once the server's
 * `auth` event came, and, in upgrade mode, the upgrade. */
async function client(ns = "/", auth = undefined) {
  const socket = io(url + ns, {
    parser,
    auth,
    transports: transportsOf[mode],
    forceNew: true,
    reconnection: false,
  });
  open.add(socket);
  const got = await within(
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
  return { socket, auth: got };
}

const next = (socket, event) =>
  within(STEP, event, new Promise((resolve) => socket.once(event, (...args) => resolve(args))));

await check(`connects over ${mode}; no auth is an empty object`, async () => {
  const { socket, auth } = await client();
  assert.deepEqual(auth, {});
  assert.equal(socket.connected, true);
  assert.match(socket.id, /^[A-Za-z0-9_-]{20}$/);
  const want = mode === "polling" ? "polling" : "websocket";
  assert.equal(socket.io.engine.transport.name, want);
});

await check("the auth object comes back as the client sent it", async () => {
  const sent = { token: "abc", n: 42, f: 1.5, nested: { list: [true, null, -7] } };
  const { auth } = await client("/", sent);
  assert.deepEqual(auth, sent);
});

await check("an event with JSON-like arguments comes back, numbers and all", async () => {
  const { socket } = await client();
  const args = [
    1, -1, 0, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296,
    -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648, -2_147_483_649,
    // (notepack writes an integral number from 2^64 on wrongly, so none is sent.)
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 4.5, -0.1, 1e-300, 5e-324,
    "two", "é€😀", "a\"b\\c\n\u0001", "x".repeat(70_000), "",
    { three: [true, false, null, 4.5], "": {}, empty: [] },
    Array.from({ length: 20 }, (_, i) => i),
  ];
  socket.emit("message", ...args);
  assert.deepEqual(await next(socket, "message-back"), args);
});

await check("binary arguments (100 KB) come back as binary, top level and nested", async () => {
  const { socket } = await client();
  const a = Buffer.from([1, 2, 3]);
  const b = Buffer.alloc(100_000, 7);
  const empty = Buffer.alloc(0);
  socket.emit("message", a, { nested: [b] }, "text", empty);
  const [x, y, z, e] = await next(socket, "message-back");
  assert.deepEqual(Buffer.from(x), a);
  assert.deepEqual(Buffer.from(y.nested[0]), b);
  assert.equal(z, "text");
  assert.deepEqual(Buffer.from(e), empty);
});

await check("an ArrayBuffer argument (ext of type 0) comes back as binary", async () => {
  const { socket } = await client();
  const bytes = new Uint8Array([4, 5, 6, 7]);
  socket.emit("message", bytes.buffer);
  const [x] = await next(socket, "message-back");
  assert.deepEqual(Buffer.from(x), Buffer.from(bytes));
});

await check("the server acks with the same arguments, binary too", async () => {
  const { socket } = await client();
  const got = await within(
    STEP,
    "the ack",
    new Promise((resolve) =>
      socket.emit("message-with-ack", 7, Buffer.from([9, 8]), { k: "v" }, (...r) => resolve(r)),
    ),
  );
  assert.equal(got[0], 7);
  assert.deepEqual(Buffer.from(got[1]), Buffer.from([9, 8]));
  assert.deepEqual(got[2], { k: "v" });
});

await check("the client acks the server's request, binary too", async () => {
  const { socket } = await client();
  socket.on("ack-request", (...args) => args.pop()("answer", ...args, Buffer.from([5])));
  socket.emit("request-ack", "q", 2);
  const [answer, q, two, bin] = await next(socket, "ack-response");
  assert.equal(answer, "answer");
  assert.equal(q, "q");
  assert.equal(two, 2);
  assert.deepEqual(Buffer.from(bin), Buffer.from([5]));
});

await check("a broadcast reaches every client, the sender too", async () => {
  const a = (await client()).socket;
  const b = (await client()).socket;
  const got = Promise.all([next(a, "broadcast"), next(b, "broadcast")]);
  a.emit("broadcast", 1, Buffer.from([1, 2]), { x: "y" });
  for (const [n, bin, obj] of await got) {
    assert.equal(n, 1);
    assert.deepEqual(Buffer.from(bin), Buffer.from([1, 2]));
    assert.deepEqual(obj, { x: "y" });
  }
});

await check("a room gets what is sent to it, others do not", async () => {
  const a = (await client()).socket;
  const b = (await client()).socket;
  const c = (await client()).socket;
  for (const s of [a, b]) {
    s.emit("join", "r1");
    // Joins are handled in order per client; an echo after the join proves it was handled.
    s.emit("echo", "joined");
    await next(s, "echo");
  }
  let leaked = false;
  c.on("room-msg", () => (leaked = true));
  const inRoom = Promise.all([next(a, "room-msg"), next(b, "room-msg")]);
  c.emit("to-room", "r1", "hi", Buffer.from([3]));
  for (const [hi, bin] of await inRoom) {
    assert.equal(hi, "hi");
    assert.deepEqual(Buffer.from(bin), Buffer.from([3]));
  }
  // An echo after the room message: had c been sent it, it would have come first.
  c.emit("echo", "after");
  await next(c, "echo");
  assert.equal(leaked, false);
});

await check("/custom with its auth", async () => {
  const { socket, auth } = await client("/custom", { user: "ada" });
  assert.deepEqual(auth, { user: "ada" });
  assert.equal(socket.nsp, "/custom");
});

await check("a refused namespace gets a connect_error, / stays up", async () => {
  const root = await client();
  const socket = io(url + "/nope", {
    parser,
    transports: transportsOf[mode],
    forceNew: true,
    reconnection: false,
  });
  open.add(socket);
  const [err] = await next(socket, "connect_error");
  assert.equal(err.message, "Invalid namespace");
  root.socket.emit("echo", 1);
  assert.deepEqual(await next(root.socket, "echo"), [1]);
});

await check("a client disconnect is clean, the server goes on", async () => {
  const { socket } = await client();
  socket.disconnect();
  const { socket: again } = await client();
  again.emit("echo", "ok");
  assert.deepEqual(await next(again, "echo"), ["ok"]);
});

await check("a default-parser client is closed, the others go on", async () => {
  const root = await client();
  const plain = io(url, { transports: transportsOf[mode], forceNew: true, reconnection: false });
  open.add(plain);
  const gone = await within(
    STEP,
    "the plain client's end",
    new Promise((resolve) => {
      plain.once("connect_error", (e) => resolve(`connect_error ${e.message}`));
      plain.once("disconnect", (r) => resolve(`disconnect ${r}`));
    }),
  );
  assert.ok(gone, "refused");
  root.socket.emit("echo", 2);
  assert.deepEqual(await next(root.socket, "echo"), [2]);
});

process.exit(checks.failed ? 1 : 0);
