/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/siocore-38e7b68dafaec822.d: /work/wt14/src/lib.rs /work/wt14/src/base64.rs /work/wt14/src/client/mod.rs /work/wt14/src/client/config.rs /work/wt14/src/client/head.rs /work/wt14/src/client/inbound.rs /work/wt14/src/client/outbox.rs /work/wt14/src/client/transmit.rs /work/wt14/src/engine/mod.rs /work/wt14/src/engine/error_body.rs /work/wt14/src/engine/json.rs /work/wt14/src/engine/open.rs /work/wt14/src/engine/packet.rs /work/wt14/src/engine/payload.rs /work/wt14/src/error.rs /work/wt14/src/http/mod.rs /work/wt14/src/http/fields.rs /work/wt14/src/http/query.rs /work/wt14/src/http/request.rs /work/wt14/src/http/response.rs /work/wt14/src/http/writer.rs /work/wt14/src/json.rs /work/wt14/src/rand.rs /work/wt14/src/server/mod.rs /work/wt14/src/server/config.rs /work/wt14/src/server/engine.rs /work/wt14/src/server/event.rs /work/wt14/src/server/http.rs /work/wt14/src/server/pool.rs /work/wt14/src/server/rooms.rs /work/wt14/src/server/session.rs /work/wt14/src/server/socketio.rs /work/wt14/src/server/storage.rs /work/wt14/src/server/stream.rs /work/wt14/src/server/timer.rs /work/wt14/src/server/transmit.rs /work/wt14/src/sio/mod.rs /work/wt14/src/sio/args.rs /work/wt14/src/sio/binary.rs /work/wt14/src/sio/packet.rs /work/wt14/src/time.rs /work/wt14/src/ws/mod.rs /work/wt14/src/ws/close.rs /work/wt14/src/ws/frame.rs /work/wt14/src/ws/handshake.rs /work/wt14/src/ws/mask.rs /work/wt14/src/ws/message.rs /work/wt14/src/ws/scan.rs /work/wt14/src/ws/sha1.rs /work/wt14/src/write.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/libsiocore-38e7b68dafaec822.rlib: /work/wt14/src/lib.rs /work/wt14/src/base64.rs /work/wt14/src/client/mod.rs /work/wt14/src/client/config.rs /work/wt14/src/client/head.rs /work/wt14/src/client/inbound.rs /work/wt14/src/client/outbox.rs /work/wt14/src/client/transmit.rs /work/wt14/src/engine/mod.rs /work/wt14/src/engine/error_body.rs /work/wt14/src/engine/json.rs /work/wt14/src/engine/open.rs /work/wt14/src/engine/packet.rs /work/wt14/src/engine/payload.rs /work/wt14/src/error.rs /work/wt14/src/http/mod.rs /work/wt14/src/http/fields.rs /work/wt14/src/http/query.rs /work/wt14/src/http/request.rs /work/wt14/src/http/response.rs /work/wt14/src/http/writer.rs /work/wt14/src/json.rs /work/wt14/src/rand.rs /work/wt14/src/server/mod.rs /work/wt14/src/server/config.rs /work/wt14/src/server/engine.rs /work/wt14/src/server/event.rs /work/wt14/src/server/http.rs /work/wt14/src/server/pool.rs /work/wt14/src/server/rooms.rs /work/wt14/src/server/session.rs /work/wt14/src/server/socketio.rs /work/wt14/src/server/storage.rs /work/wt14/src/server/stream.rs /work/wt14/src/server/timer.rs /work/wt14/src/server/transmit.rs /work/wt14/src/sio/mod.rs /work/wt14/src/sio/args.rs /work/wt14/src/sio/binary.rs /work/wt14/src/sio/packet.rs /work/wt14/src/time.rs /work/wt14/src/ws/mod.rs /work/wt14/src/ws/close.rs /work/wt14/src/ws/frame.rs /work/wt14/src/ws/handshake.rs /work/wt14/src/ws/mask.rs /work/wt14/src/ws/message.rs /work/wt14/src/ws/scan.rs /work/wt14/src/ws/sha1.rs /work/wt14/src/write.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/libsiocore-38e7b68dafaec822.rmeta: /work/wt14/src/lib.rs /work/wt14/src/base64.rs /work/wt14/src/client/mod.rs /work/wt14/src/client/config.rs /work/wt14/src/client/head.rs /work/wt14/src/client/inbound.rs /work/wt14/src/client/outbox.rs /work/wt14/src/client/transmit.rs /work/wt14/src/engine/mod.rs /work/wt14/src/engine/error_body.rs /work/wt14/src/engine/json.rs /work/wt14/src/engine/open.rs /work/wt14/src/engine/packet.rs /work/wt14/src/engine/payload.rs /work/wt14/src/error.rs /work/wt14/src/http/mod.rs /work/wt14/src/http/fields.rs /work/wt14/src/http/query.rs /work/wt14/src/http/request.rs /work/wt14/src/http/response.rs /work/wt14/src/http/writer.rs /work/wt14/src/json.rs /work/wt14/src/rand.rs /work/wt14/src/server/mod.rs /work/wt14/src/server/config.rs /work/wt14/src/server/engine.rs /work/wt14/src/server/event.rs /work/wt14/src/server/http.rs /work/wt14/src/server/pool.rs /work/wt14/src/server/rooms.rs /work/wt14/src/server/session.rs /work/wt14/src/server/socketio.rs /work/wt14/src/server/storage.rs /work/wt14/src/server/stream.rs /work/wt14/src/server/timer.rs /work/wt14/src/server/transmit.rs /work/wt14/src/sio/mod.rs /work/wt14/src/sio/args.rs /work/wt14/src/sio/binary.rs /work/wt14/src/sio/packet.rs /work/wt14/src/time.rs /work/wt14/src/ws/mod.rs /work/wt14/src/ws/close.rs /work/wt14/src/ws/frame.rs /work/wt14/src/ws/handshake.rs /work/wt14/src/ws/mask.rs /work/wt14/src/ws/message.rs /work/wt14/src/ws/scan.rs /work/wt14/src/ws/sha1.rs /work/wt14/src/write.rs

/work/wt14/src/lib.rs:
/work/wt14/src/base64.rs:
/work/wt14/src/client/mod.rs:
/work/wt14/src/client/config.rs:
/work/wt14/src/client/head.rs:
/work/wt14/src/client/inbound.rs:
/work/wt14/src/client/outbox.rs:
/work/wt14/src/client/transmit.rs:
/work/wt14/src/engine/mod.rs:
/work/wt14/src/engine/error_body.rs:
/work/wt14/src/engine/json.rs:
/work/wt14/src/engine/open.rs:
/work/wt14/src/engine/packet.rs:
/work/wt14/src/engine/payload.rs:
/work/wt14/src/error.rs:
/work/wt14/src/http/mod.rs:
/work/wt14/src/http/fields.rs:
/work/wt14/src/http/query.rs:
/work/wt14/src/http/request.rs:
/work/wt14/src/http/response.rs:
/work/wt14/src/http/writer.rs:
/work/wt14/src/json.rs:
/work/wt14/src/rand.rs:
/work/wt14/src/server/mod.rs:
/work/wt14/src/server/config.rs:
/work/wt14/src/server/engine.rs:
/work/wt14/src/server/event.rs:
/work/wt14/src/server/http.rs:
/work/wt14/src/server/pool.rs:
/work/wt14/src/server/rooms.rs:
/work/wt14/src/server/session.rs:
/work/wt14/src/server/socketio.rs:
/work/wt14/src/server/storage.rs:
/work/wt14/src/server/stream.rs:
/work/wt14/src/server/timer.rs:
/work/wt14/src/server/transmit.rs:
/work/wt14/src/sio/mod.rs:
/work/wt14/src/sio/args.rs:
/work/wt14/src/sio/binary.rs:
/work/wt14/src/sio/packet.rs:
/work/wt14/src/time.rs:
/work/wt14/src/ws/mod.rs:
/work/wt14/src/ws/close.rs:
/work/wt14/src/ws/frame.rs:
/work/wt14/src/ws/handshake.rs:
/work/wt14/src/ws/mask.rs:
/work/wt14/src/ws/message.rs:
/work/wt14/src/ws/scan.rs:
/work/wt14/src/ws/sha1.rs:
/work/wt14/src/write.rs:
