//! Socket.IO v5 wire codec.
