// The Node socket.io 4.8.4 server with connection state recovery on, for the Rust client's
// recovery tests (tests/client_interop.rs).
//
//   node client_recovery.mjs
//
// Prints "listening <port>" (a free port of 127.0.0.1), then serves "/" with
// connectionStateRecovery (maxDisconnectionDuration 2 minutes, skipMiddlewares):
// * on a new connection: joins the room "room1", emits "before" ("b") so that the client
//   has an offset, then "welcome" (socket id, recovered);
// * "drop" → closes the client's transport (`socket.conn.close()`: "forced close", a
//   reason the server keeps the session for); while the client is away it emits, in this
//   order: to "room1" "missed" (1), to everyone "missed" (2, <01 02 03>), to the socket's
//   id "missed" (3), on the socket "missed" (4, {"k":"v"}), to everyone but "room1"
//   "not-for-you", and a volatile "volatile" (neither may reach the client);
// * on a recovered connection: emits "status" (socket id, recovered, its rooms besides
//   its own id, the auth's token, and the types of its pid and offset), then "after" ("a").
// Exits when stdin closes.

import { Server } from "socket.io";
import { createServer } from "node:http";

const http = createServer();
const io = new Server(http, {
  pingInterval: 1000,
  pingTimeout: 1000,
  connectionStateRecovery: {
    maxDisconnectionDuration: 2 * 60 * 1000,
    skipMiddlewares: true,
  },
});

io.on("connection", (socket) => {
  if (socket.recovered) {
    const { token, pid, offset } = socket.handshake.auth;
    const rooms = [...socket.rooms].filter((r) => r !== socket.id);
    socket.emit("status", socket.id, socket.recovered, rooms, token, typeof pid, typeof offset);
    socket.emit("after", "a");
    return;
  }
  socket.join("room1");
  socket.emit("before", "b");
  socket.emit("welcome", socket.id, socket.recovered);
  socket.on("drop", () => {
    socket.on("disconnect", (reason) => {
      io.to("room1").emit("missed", 1);
      io.emit("missed", 2, Buffer.from([1, 2, 3]));
      io.to(socket.id).emit("missed", 3);
      socket.emit("missed", 4, { k: "v" });
      io.except("room1").emit("not-for-you");
      io.volatile.emit("volatile");
      if (reason !== "forced close") console.error(`unexpected disconnect: ${reason}`);
    });
    socket.conn.close();
  });
});

http.listen(0, "127.0.0.1", () => console.log(`listening ${http.address().port}`));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
