//! RFC 6455 WebSocket codec.
