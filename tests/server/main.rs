//! The sans-IO server through its public API: exact bytes in, exact bytes and events out,
//! under a fake clock. PROTOCOL.md's [suite] behaviours each have a test here.

#![allow(unreachable_pub)]

mod harness;

mod chunking;
mod cluster;
#[cfg(feature = "cors")]
mod cors;
mod deadlines;
#[cfg(feature = "eio3")]
mod eio3;
mod heartbeat;
mod hostile;
mod http_routes;
mod limits;
#[cfg(feature = "msgpack-parser")]
mod msgpack;
mod polling;
#[cfg(feature = "recovery")]
mod recovery;
mod rooms;
mod socketio;
mod websocket;
