// The Node socket.io 4.8.4 server the Rust client tests talk to (tests/client_interop.rs).
//
//   node client_server.mjs
//
// Prints "listening <port>" (a free port of 127.0.0.1), then serves:
// * namespaces "/", "/admin" (its middleware wants auth {"token":"secret"}) and "/locked"
//   (its middleware always refuses: Error "unauthorized" with data {"code":42});
// * on every connection: emits "welcome" (namespace, auth, query "mode", header "x-device");
// * "echo" (args…) → "echo" (args…); "echo-ack" (args…, ack) → ack(args…);
// * "ask" → emits "question" (1, "two") with an ack request (3 s); the answer (args…) comes
//   back as "answer" (args…), or "answer" ("timeout");
// * a handshake whose query has deny=1 is refused (HTTP 403).
// Exits when stdin closes.

import { Server } from "socket.io";
import { createServer } from "node:http";

const http = createServer();
const io = new Server(http, {
  pingInterval: 1000,
  pingTimeout: 1000,
  allowRequest: (req, cb) => cb(req.url.includes("deny=1") ? "denied" : null, !req.url.includes("deny=1")),
});

function serve(nsp) {
  nsp.on("connection", (socket) => {
    socket.emit(
      "welcome",
      nsp.name,
      socket.handshake.auth,
      socket.handshake.query.mode ?? null,
      socket.handshake.headers["x-device"] ?? null,
    );
    socket.on("echo", (...args) => socket.emit("echo", ...args));
    socket.on("echo-ack", (...args) => {
      const ack = args.pop();
      ack(...args);
    });
    socket.on("ask", () => {
      socket.timeout(3000).emit("question", 1, "two", (err, ...answer) => {
        socket.emit("answer", ...(err ? ["timeout"] : answer));
      });
    });
  });
}

serve(io.of("/"));
const admin = io.of("/admin");
admin.use((socket, next) => (socket.handshake.auth.token === "secret" ? next() : next(new Error("bad token"))));
serve(admin);
const locked = io.of("/locked");
locked.use((socket, next) => {
  const e = new Error("unauthorized");
  e.data = { code: 42 };
  next(e);
});
serve(locked);

http.listen(0, "127.0.0.1", () => console.log(`listening ${http.address().port}`));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
