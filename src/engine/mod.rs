//! Engine.IO v4 wire codec.
