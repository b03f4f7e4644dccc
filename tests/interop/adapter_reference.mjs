// For each JSON line on stdin (a broadcast: uid, nsp, event, args as Socket.IO's JSON list
// text, blobs in hex, rooms, except, flags, requestId), prints one line of five hex fields
// separated by spaces:
// 1. the message @socket.io/redis-adapter 8.3.0 would publish for it (notepack.encode of
//    [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]);
// 2. the arguments as socket.io-parser would send them again after decoding that message
//    (JSON with placeholders, in deconstructPacket's order);
// 3. the request its broadcastWithAck would publish for it
//    ({uid, requestId, type: 7, packet, opts});
// 4. the BROADCAST_ACK a server would publish for a client that answered with these
//    arguments ({type: 9, requestId, packet: the first one}; no packet without one);
// 5. that answer as socket.io-parser would send it again after decoding it (one value's
//    JSON with placeholders), then "/" and its attachments in hex, comma separated.
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
  const opts = { rooms: c.rooms, except: c.except, flags: c.flags };
  const msg = notepack.encode([c.uid, packet, opts]);
  const [, decoded] = notepack.decode(msg);
  const again = JSON.stringify(deconstruct(decoded.data.slice(1), [])).slice(1, -1);
  const request = notepack.encode({ uid: c.uid, requestId: c.requestId, type: 7, packet, opts });
  const ack = notepack.encode({ type: 9, requestId: c.requestId, packet: args[0] });
  const found = [];
  const answer = JSON.stringify(deconstruct([notepack.decode(ack).packet], found)).slice(1, -1);
  const answerOut = answer + "/" + found.map((b) => b.toString("hex")).join(",");
  const hex = (x) => Buffer.from(x).toString("hex");
  process.stdout.write([hex(msg), hex(again), hex(request), hex(ack), hex(answerOut)].join(" ") + "\n");
}
