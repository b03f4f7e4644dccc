// The mirror client contract (examples/mirror_client.rs, examples/c/mirror_client.c),
// checked by the official Node server (npm socket.io 4.8.4).
//
//   node mirror_suite.mjs [--tls CERT KEY CA] [--msgpack | --v2] <mode> <client command…>
//
// <mode>: polling | websocket | upgrade. The suite starts a socket.io server on a free port
// of 127.0.0.1 (pingInterval 300; pingTimeout 1000, so a loaded machine does not time out a
// pong; connection state recovery on, so every event carries an offset), runs the client
// command with
// `[--transport polling|websocket] http://127.0.0.1:<port>` appended, and checks: the
// transport in use, events mirrored as `E-back` (JSON and binary, nested), acks answered
// with the same arguments (JSON and binary), the heartbeat over several ping periods, the
// client coming back into its session (recovered: the same id, its room, and the events
// emitted while it was away mirrored once each, in order) after the server closed its
// transport, the server restarting on the same port and the client reconnecting and re-joining, and the
// client exiting with status 0 when the server disconnects it.
// With --tls, the server is an https one (`https.createServer` with the PEM files CERT and
// KEY) and the client gets `--ca CA https://127.0.0.1:<port>` instead.
// With --msgpack, the server speaks the msgpack parser (`parser:
// require("socket.io-msgpack-parser")`, 3.0.2), the client gets `--parser msgpack` first, and
// a last check says that every message the client sent was a binary one.
// With --v2, the server is socket.io 2.5.0 (npm alias socket.io-v2: Engine.IO v3, which
// speaks nothing newer) and the client gets `--eio3`: the same checks but recovery (socket.io
// 2 has none), and the heartbeat one counts the client's pings (in v3 the client pings).
// Prints one line per check ("ok NAME" or "FAIL NAME: why"); exits 1 when one failed.

import { createRequire } from "node:module";
import { Server } from "socket.io";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { within, checker } from "./suite.mjs";

let argv = process.argv.slice(2);
let tls = null;
if (argv[0] === "--tls") {
  tls = { cert: readFileSync(argv[1]), key: readFileSync(argv[2]), ca: argv[3] };
  argv = argv.slice(4);
}
const msgpack = argv[0] === "--msgpack";
if (msgpack) argv = argv.slice(1);
const v2 = argv[0] === "--v2";
if (v2) argv = argv.slice(1);
const parser = msgpack ? createRequire(import.meta.url)("socket.io-msgpack-parser") : undefined;
// The client's messages, by kind (Engine.IO `message` packets: text or binary).
const sent = { text: 0, binary: 0 };
const [mode, ...command] = argv;
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
let io;
let port = 0;
const connections = [];
let waiting = null;

function finish(code) {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (code !== 0) console.log(`--- client output ---\n${childLog}`);
  process.exit(code);
}

async function startServer() {
  const http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : createServer();
  io = v2
    ? createRequire(import.meta.url)("socket.io-v2")(http, { pingInterval: 300, pingTimeout: 1000 })
    : new Server(http, {
        pingInterval: 300,
        pingTimeout: 1000,
        connectionStateRecovery: { maxDisconnectionDuration: 60_000 },
        ...(parser ? { parser } : {}),
      });
  io.engine.on("connection", (conn) => {
    conn.on("packet", (p) => {
      if (p.type === "message") sent[typeof p.data === "string" ? "text" : "binary"]++;
    });
  });
  io.on("connection", (socket) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(socket);
    } else {
      connections.push(socket);
    }
  });
  await new Promise((resolve) => http.listen(port, "127.0.0.1", resolve));
  port = http.address().port;
}

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
    new Promise((resolve, reject) => {
      if (v2) {
        // socket.io 2 has no `timeout()`: `within` bounds the wait.
        socket.emit(name, ...args, (...got) => resolve(got));
      } else {
        socket.timeout(STEP).emit(name, ...args, (err, ...got) => (err ? reject(err) : resolve(got)));
      }
    }),
  );
}

await startServer();
const flag = { polling: ["--transport", "polling"], websocket: ["--transport", "websocket"] }[mode] ?? [];
const target = tls ? ["--ca", tls.ca, `https://127.0.0.1:${port}`] : [`http://127.0.0.1:${port}`];
const parserFlag = msgpack ? ["--parser", "msgpack"] : v2 ? ["--eio3"] : [];
child = spawn(command[0], [...command.slice(1), ...parserFlag, ...flag, ...target], {
  stdio: ["ignore", "pipe", "pipe"],
});
child.stdout.on("data", (d) => (childLog += d));
child.stderr.on("data", (d) => (childLog += d));
childExit = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));

let socket;
await check(v2 ? "connects to / over Engine.IO 3" : "connects to / with an empty auth", async () => {
  socket = await nextConnection("the client's connection");
  assert.equal(socket.nsp.name, "/");
  if (v2) {
    assert.equal(socket.conn.request._query.EIO, "3");
  } else {
    assert.deepEqual(socket.handshake.auth, {});
  }
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

await check("the heartbeat: still connected after 2 s of 300 ms ping intervals", async () => {
  // In v3 the client pings: the server counts them.
  let pings = 0;
  const count = () => pings++;
  if (v2) socket.conn.on("heartbeat", count);
  let gone = null;
  socket.once("disconnect", (r) => (gone = r));
  await new Promise((r) => setTimeout(r, 2000));
  if (v2) socket.conn.off("heartbeat", count);
  assert.equal(gone, null);
  if (v2) assert.ok(pings >= 3, `${pings} pings`);
  assert.deepEqual(await mirrored(socket, "after-pings", [1]), [1]);
});

// socket.io 2 has no connection state recovery.
if (!v2) await check("recovers its session after the server closes its transport", async () => {
  const id = socket.id;
  socket.join("room1");
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  socket.conn.close();
  assert.equal(await within(STEP, "the disconnect", gone), "forced close");
  // While it is away: to its room, to everyone (binary), to it.
  io.to("room1").emit("missed", 1);
  io.emit("missed", 2, Buffer.from([1, 2, 3]));
  socket.emit("missed", 3, { k: "v" });
  const back = await nextConnection("the recovered connection");
  const got = [];
  let done;
  const all = new Promise((resolve) => (done = resolve));
  back.on("missed-back", (...args) => {
    got.push(args);
    if (got.length === 3) done();
  });
  assert.equal(back.recovered, true);
  assert.equal(back.id, id);
  assert.ok(back.rooms.has("room1"));
  await within(STEP, "the missed events mirrored", all);
  // Once each: nothing more comes.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], [1]);
  assert.equal(got[1][0], 2);
  assert.deepEqual(Buffer.from(got[1][1]), Buffer.from([1, 2, 3]));
  assert.deepEqual(got[2], [3, { k: "v" }]);
  socket = back;
  assert.deepEqual(await mirrored(socket, "after-recovery", ["x"]), ["x"]);
});

await check("reconnects and re-joins after the server restarts", async () => {
  await new Promise((resolve) => io.close(resolve));
  await new Promise((r) => setTimeout(r, 300));
  await startServer();
  socket = await nextConnection("the reconnection");
  assert.equal(socket.nsp.name, "/");
  assert.deepEqual(await mirrored(socket, "again", ["back"]), ["back"]);
});

await check("exits with status 0 when the server disconnects it", async () => {
  socket.disconnect(true);
  const { code, signal } = await within(STEP, "the client's exit", childExit);
  assert.equal(signal, null);
  assert.equal(code, 0);
});

if (msgpack) {
  await check("every message the client sent was one binary message", async () => {
    assert.equal(sent.text, 0);
    assert.ok(sent.binary > 0);
  });
}

io.close();
finish(checks.failed ? 1 : 0);
