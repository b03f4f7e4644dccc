// For each JSON line on stdin (a broadcast: uid, nsp, event, args as Socket.IO's JSON list
// text, blobs in hex, rooms, except, flags), prints one line: the hex of the message
// @socket.io/redis-adapter 8.3.0 would publish for it (notepack.encode of
// [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]), a space, and the
// arguments as socket.io-parser would send them again after decoding that message (JSON
// with placeholders, in deconstructPacket's order).
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const notepack = require("notepack.io");

function reconstruct(v, blobs) {
  if (Array.isArray(v)) return v.map((x) => reconstruct(x, blobs));
  if (v && typeof v === "object") {
    if (v._placeholder === true) return blobs[v.num];
    const out = {};
    for (const k of Object.keys(v)) out[k] = reconstruct(v[k], blobs);
    return out;
  }
  return v;
}

function deconstruct(v, found) {
  if (Buffer.isBuffer(v)) {
    found.push(v);
    return { _placeholder: true, num: found.length - 1 };
  }
  if (Array.isArray(v)) return v.map((x) => deconstruct(x, found));
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = deconstruct(v[k], found);
    return out;
  }
  return v;
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line) continue;
  const c = JSON.parse(line);
  const blobs = c.blobs.map((h) => Buffer.from(h, "hex"));
  const args = reconstruct(JSON.parse("[" + c.args + "]"), blobs);
  const packet = { type: 2, data: [c.event, ...args], nsp: c.nsp };
  const msg = notepack.encode([c.uid, packet, { rooms: c.rooms, except: c.except, flags: c.flags }]);
  const [, decoded] = notepack.decode(msg);
  const again = JSON.stringify(deconstruct(decoded.data.slice(1), [])).slice(1, -1);
  process.stdout.write(msg.toString("hex") + " " + Buffer.from(again).toString("hex") + "\n");
}
