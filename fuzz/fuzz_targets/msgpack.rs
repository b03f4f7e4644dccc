//! Fuzz target: arbitrary bytes through the msgpack parser's packet decoder (see
//! checks/msgpack.rs).
#![no_main]

#[path = "../checks/msgpack.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
