// The benchmark contract of examples/echo_server on Node's socket.io (the version pinned in
// tests/interop/package-lock.json): on "/", `echo` (args) -> `echo` (the same args) to the
// sender; `broadcast` (args) -> `broadcast` to every socket of "/", the sender included.
// Usage: node server.cjs [PORT] (0 picks one); prints `listening on http://ADDR`.
"use strict";
const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "../../tests/interop/node_modules/socket.io"));

const port = Number(process.argv[2] || 3000);
const httpServer = http.createServer({ noDelay: true });
const io = new Server(httpServer, { maxHttpBufferSize: 1e6 });
io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("broadcast", (...args) => io.emit("broadcast", ...args));
});
httpServer.listen(port, "127.0.0.1", () => {
  const a = httpServer.address();
  console.log(`listening on http://${a.address}:${a.port}`);
});
