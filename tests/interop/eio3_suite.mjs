// Engine.IO v3 clients (socket.io-client 2.5.0, npm alias socket.io-client-v2) against the
// echo server started with `--allow-eio3` (examples/echo_server.rs).
//
//   node eio3_suite.mjs <url> <mode>
//
// <mode>: polling | websocket | upgrade, or "heartbeat" (a server with pingInterval 300 /
// pingTimeout 200: a quiet v2 client is kept up by its own pings, over each transport).
// Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 when one failed.
// Every wait has a timeout; the whole run has one too.

import { createRequire } from "node:module";
import { io as io4 } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const require = createRequire(import.meta.url);
const io2 = require("socket.io-client-v2");

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

/** A v2 client socket on namespace `ns` (a query in `ns` is sent with its CONNECT);
 * resolves once the server's `auth` event came, and, in upgrade mode, the upgrade. */
async function client(ns = "/", t = mode) {
  const socket = io2(url + ns, { transports: transportsOf[t], forceNew: true, reconnection: false });
  open.add(socket);
  const auth = await within(
    STEP,
    `auth on ${ns}`,
    new Promise((resolve, reject) => {
      socket.once("auth", resolve);
      socket.once("error", reject);
    }),
  );
  if (t === "upgrade") {
    await within(STEP, "the upgrade", new Promise((resolve) => {
      if (socket.io.engine.transport.name === "websocket") resolve();
      else socket.io.engine.once("upgrade", resolve);
    }));
  }
  return { socket, auth };
}

const next = (socket, event) =>
  within(STEP, event, new Promise((resolve) => socket.once(event, (...args) => resolve(args))));

if (mode === "heartbeat") {
  for (const t of ["polling", "websocket", "upgrade"]) {
    await check(`a quiet ${t} client is kept up by its pings (300/200 ms)`, async () => {
      const { socket } = await client("/", t);
      assert.equal(socket.io.engine.pingInterval, 300);
      assert.equal(socket.io.engine.pingTimeout, 200);
      let gone = null;
      socket.once("disconnect", (r) => (gone = r));
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(gone, null);
      socket.emit("echo", "still here");
      assert.deepEqual(await next(socket, "echo"), ["still here"]);
    });
  }
  process.exit(checks.failed ? 1 : 0);
}

await check(`connects to / over ${mode} with an empty auth`, async () => {
  const { socket, auth } = await client();
  assert.deepEqual(auth, {});
  assert.equal(socket.connected, true);
  const want = mode === "polling" ? "polling" : "websocket";
  assert.equal(socket.io.engine.transport.name, want);
});

await check("an event with JSON arguments comes back", async () => {
  const { socket } = await client();
  const args = [1, "two", { three: [true, null, 4.5] }, "é€😀"];
  socket.emit("message", ...args);
  assert.deepEqual(await next(socket, "message-back"), args);
});

await check("binary arguments come back as binary, top level and nested", async () => {
  const { socket } = await client();
  const a = Buffer.from([1, 2, 3]);
  const b = Buffer.alloc(100_000, 7);
  socket.emit("message", a, { nested: [b] }, "text");
  const [x, y, z] = await next(socket, "message-back");
  assert.deepEqual(Buffer.from(x), a);
  assert.deepEqual(Buffer.from(y.nested[0]), b);
  assert.equal(z, "text");
});

await check("the server acks with the same arguments, binary too", async () => {
  const { socket } = await client();
  const got = await within(
    STEP,
    "the ack",
    new Promise((resolve) => socket.emit("message-with-ack", 7, Buffer.from([9, 8]), (...r) => resolve(r))),
  );
  assert.equal(got[0], 7);
  assert.deepEqual(Buffer.from(got[1]), Buffer.from([9, 8]));
});

await check("the client acks the server's request", async () => {
  const { socket } = await client();
  socket.on("ack-request", (...args) => args.pop()("answer", ...args, Buffer.from([5])));
  socket.emit("request-ack", "q", 2);
  const [answer, q, two, bin] = await next(socket, "ack-response");
  assert.equal(answer, "answer");
  assert.equal(q, "q");
  assert.equal(two, 2);
  assert.deepEqual(Buffer.from(bin), Buffer.from([5]));
});

await check("/custom with its query as the auth object", async () => {
  const { socket, auth } = await client("/custom?token=a%20b&n=1");
  assert.deepEqual(auth, { token: "a b", n: "1" });
  assert.equal(socket.nsp, "/custom");
});

await check("a refused namespace gets an error, / stays up", async () => {
  const root = await client();
  const socket = io2(url + "/nope", { transports: transportsOf[mode], forceNew: true, reconnection: false });
  open.add(socket);
  const [err] = await next(socket, "error");
  assert.deepEqual(err, { message: "Invalid namespace" });
  root.socket.emit("echo", 1);
  assert.deepEqual(await next(root.socket, "echo"), [1]);
});

await check("a v2 and a v4 client in one broadcast and one room", async () => {
  const v2 = (await client()).socket;
  const v4 = io4(url, { transports: transportsOf[mode], forceNew: true, reconnection: false });
  open.add(v4);
  await within(STEP, "v4 auth", new Promise((r) => v4.once("auth", r)));
  for (const s of [v2, v4]) {
    s.emit("join", "mixed");
  }
  // Joins are handled in order per client; an echo after the join proves it was handled.
  for (const s of [v2, v4]) {
    s.emit("echo", "joined");
    await next(s, "echo");
  }
  const payload = [1, Buffer.from([1, 2])];
  const got = Promise.all([next(v2, "broadcast"), next(v4, "broadcast")]);
  v4.emit("broadcast", ...payload);
  for (const [n, bin] of await got) {
    assert.equal(n, 1);
    assert.deepEqual(Buffer.from(bin), Buffer.from([1, 2]));
  }
  const inRoom = Promise.all([next(v2, "room-msg"), next(v4, "room-msg")]);
  v2.emit("to-room", "mixed", "hi", Buffer.from([3]));
  for (const [hi, bin] of await inRoom) {
    assert.equal(hi, "hi");
    assert.deepEqual(Buffer.from(bin), Buffer.from([3]));
  }
});

await check("a client disconnect is clean, the server goes on", async () => {
  const { socket } = await client();
  socket.disconnect();
  const { socket: again } = await client();
  again.emit("echo", "ok");
  assert.deepEqual(await next(again, "echo"), ["ok"]);
});

process.exit(checks.failed ? 1 : 0);
