// Prints notepack.io's encoding of a fixed list of values, one hex line each, in the order
// tests/msgpack_reference.rs writes the same values with siocore's msgpack::Writer.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const notepack = require("notepack.io");

const a = (n) => "a".repeat(n);
const bytes = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
const values = [
  0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991,
  -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991,
  1.5, -0.25, 0.1,
  "", "abc", "é€😀", a(31), a(32), a(255), a(256), a(65535), a(65536),
  bytes(0), bytes(1), bytes(255), bytes(256), bytes(65535), bytes(65536),
  null, true, false,
  [], [1, 2, 3], Array.from({ length: 16 }, (_, i) => i), [[[]], [null]],
  {}, { a: 1 }, Object.fromEntries(Array.from({ length: 16 }, (_, i) => ["k" + i, i])),
  // A broadcast as @socket.io/redis-adapter 8.3.0 publishes it.
  [
    "AbCd-_",
    { type: 2, data: ["ev", 1, "x", Buffer.from([1, 2, 3]), { k: [true, null] }], nsp: "/" },
    { rooms: ["r1"], except: [], flags: {} },
  ],
];
for (const v of values) {
  process.stdout.write(notepack.encode(v).toString("hex") + "\n");
}
