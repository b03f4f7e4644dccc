// The mirror client contract (examples/mirror_client.rs, examples/c/mirror_client.c) over
// Engine.IO v3, checked by a socket.io 2.5.0 server (npm alias socket.io-v2), which speaks
// nothing newer.
//
//   node mirror_v2_suite.mjs <mode> <client command…>
//
// <mode>: polling | websocket | upgrade. The suite starts the server on a free port of
// 127.0.0.1 (pingInterval 300, pingTimeout 1000: the client pings), runs the client command
// with `[--transport polling|websocket] --eio3 http://127.0.0.1:<port>` appended, and
// checks: the Engine.IO protocol 3 and the transport in use, events mirrored as `E-back`
// (JSON and binary, nested, 200 KB), acks answered with the same arguments (JSON and
// binary), the client's pings over several ping periods, and the client exiting with
// status 0 when the server disconnects it.
// Prints one line per check ("ok NAME" or "FAIL NAME: why"); exits 1 when one failed.

import { createRequire } from "node:module";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { within, checker } from "./suite.mjs";

const require = createRequire(import.meta.url);
const ioServer = require("socket.io-v2");

const [mode, ...command] = process.argv.slice(2);
const STEP = 8000;

setTimeout(() => {
  console.log("FAIL suite: overall timeout");
  finish(1);
}, 100_000).unref();

const checks = checker();
const check = checks.check;
let child;
let childExit;
let childLog = "";
const connections = [];
let waiting = null;

function finish(code) {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (code !== 0) console.log(`--- client output ---\n${childLog}`);
  process.exit(code);
}

const http = createServer();
const io = ioServer(http, { pingInterval: 300, pingTimeout: 1000 });
io.on("connection", (socket) => {
  if (waiting) {
    const w = waiting;
    waiting = null;
    w(socket);
  } else {
    connections.push(socket);
  }
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const port = http.address().port;

function nextConnection(what) {
  if (connections.length) return Promise.resolve(connections.shift());
  return within(STEP * 2, what, new Promise((resolve) => (waiting = resolve)));
}

function mirrored(socket, name, args) {
  return within(
    STEP,
    `${name}-back`,
    new Promise((resolve) => {
      socket.once(`${name}-back`, (...got) => resolve(got));
      socket.emit(name, ...args);
    }),
  );
}

function acked(socket, name, args) {
  return within(
    STEP,
    `ack of ${name}`,
    new Promise((resolve) => socket.emit(name, ...args, (...got) => resolve(got))),
  );
}

const flag = { polling: ["--transport", "polling"], websocket: ["--transport", "websocket"] }[mode] ?? [];
child = spawn(command[0], [...command.slice(1), ...flag, "--eio3", `http://127.0.0.1:${port}`], {
  stdio: ["ignore", "pipe", "pipe"],
});
child.stdout.on("data", (d) => (childLog += d));
child.stderr.on("data", (d) => (childLog += d));
childExit = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));

let socket;
await check("connects to / over Engine.IO 3", async () => {
  socket = await nextConnection("the client's connection");
  assert.equal(socket.nsp.name, "/");
  assert.equal(socket.conn.request._query.EIO, "3");
});
if (!socket) finish(1);

await check(`transport is ${mode}`, async () => {
  const conn = socket.conn;
  if (mode === "websocket") {
    assert.equal(conn.transport.name, "websocket");
  } else if (mode === "polling") {
    assert.equal(conn.transport.name, "polling");
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(conn.transport.name, "polling");
  } else {
    if (conn.transport.name !== "websocket") {
      await within(STEP, "the upgrade", new Promise((r) => conn.once("upgrade", r)));
    }
    assert.equal(conn.transport.name, "websocket");
  }
});

await check("mirrors an event with JSON arguments", async () => {
  const args = [1, "two", { three: [true, null, 4.5] }, "é€😀"];
  assert.deepEqual(await mirrored(socket, "hello", args), args);
});

await check("mirrors an event without arguments", async () => {
  assert.deepEqual(await mirrored(socket, "ping-me", []), []);
});

await check("mirrors binary, top level and nested", async () => {
  const a = Buffer.from([1, 2, 3]);
  const b = Buffer.from([0, 255, 128]);
  const got = await mirrored(socket, "bin", [a, { nested: [b] }, "text"]);
  assert.equal(got.length, 3);
  assert.deepEqual(Buffer.from(got[0]), a);
  assert.deepEqual(Buffer.from(got[1].nested[0]), b);
  assert.equal(got[2], "text");
});

await check("a large binary event is mirrored", async () => {
  const big = Buffer.alloc(200_000, 7);
  const got = await mirrored(socket, "big", [big]);
  assert.deepEqual(Buffer.from(got[0]), big);
});

await check("acks an event with the same arguments", async () => {
  assert.deepEqual(await acked(socket, "ask", [7, "x", { y: [1] }]), [7, "x", { y: [1] }]);
});

await check("acks with binary arguments", async () => {
  const got = await acked(socket, "askbin", [Buffer.from([9, 8, 7]), 5]);
  assert.deepEqual(Buffer.from(got[0]), Buffer.from([9, 8, 7]));
  assert.equal(got[1], 5);
});

await check("pings: still connected after 2 s of 300 ms ping intervals", async () => {
  let pings = 0;
  const count = () => pings++;
  socket.conn.on("heartbeat", count);
  let gone = null;
  socket.once("disconnect", (r) => (gone = r));
  await new Promise((r) => setTimeout(r, 2000));
  socket.conn.off("heartbeat", count);
  assert.equal(gone, null);
  assert.ok(pings >= 3, `${pings} pings`);
  assert.deepEqual(await mirrored(socket, "after-pings", [1]), [1]);
});

await check("exits with status 0 when the server disconnects it", async () => {
  socket.disconnect(true);
  const { code, signal } = await within(STEP, "the client's exit", childExit);
  assert.equal(signal, null);
  assert.equal(code, 0);
});

io.close();
finish(checks.failed ? 1 : 0);
