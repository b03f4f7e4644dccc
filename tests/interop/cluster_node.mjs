// A Node socket.io 4.8.4 server on @socket.io/redis-adapter 8.3.0 (redis 4.7.1 clients),
// speaking the echo server's cluster contract (examples/echo_server.rs), for the mixed
// cluster test (tests/cluster.rs).
//
//   node cluster_node.mjs redis://127.0.0.1:PORT
//
// Prints "listening <port>" (a free port of 127.0.0.1) once subscribed. Exits when stdin
// closes.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const url = process.argv[2];
const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
let port = 0;

for (const name of ["/", "/custom"]) {
  io.of(name).on("connection", (socket) => socket.emit("auth", socket.handshake.auth));
}

io.on("connection", (socket) => {
  socket.on("broadcast", (...a) => io.emit("broadcast", ...a));
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack("ok");
  });
  socket.on("leave", (room) => socket.leave(room));
  socket.on("to-room", (room, ...d) => io.to(room).emit("room-msg", ...d));
  socket.on("to-room-except", (room, ex, ...d) => io.to(room).except(ex).emit("room-msg", ...d));
  socket.on("fetch-sockets", async (room, ack) => {
    const sockets = await (room === null ? io : io.in(room)).fetchSockets();
    ack(sockets.map((s) => s.id).sort());
  });
  socket.on("remote-join", (room, target, ack) => {
    io.in(target).socketsJoin(room);
    ack("ok");
  });
  socket.on("remote-leave", (room, target, ack) => {
    io.in(target).socketsLeave(room);
    ack("ok");
  });
  socket.on("remote-disconnect", (room, ack) => {
    ack("ok");
    io.in(room).disconnectSockets(true);
  });
  socket.on("ask-all", (ack) => {
    io.timeout(3000).emit("question", (err, answers) => ack(err ? ["timeout", answers.length] : answers.sort()));
  });
  // A broadcast collecting acknowledgements across the cluster (cluster_ack_suite.mjs):
  // to `room` (or everyone), everyone but the sender when `exceptMe`; acked with whether
  // every answer came in time, and the answers.
  socket.on("ask", (room, timeout, exceptMe, ack) => {
    let to = exceptMe ? socket.broadcast : io;
    if (room !== null) to = to.to(room);
    to.timeout(timeout).emit("question", (err, answers) => ack({ complete: !err, answers }));
  });
  socket.on("server-side-emit", (data, ack) => {
    io.serverSideEmit("ping-servers", data, (err, answers) => ack(err ? ["error"] : answers.sort()));
  });
});

io.on("ping-servers", (data, cb) => {
  cb(`pong:${port}`);
  io.local.emit("server-side", data);
});

http.listen(0, "127.0.0.1", () => {
  port = http.address().port;
  // The adapter subscribes asynchronously: give it a moment before saying so.
  setTimeout(() => console.log(`listening ${port}`), 300);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
