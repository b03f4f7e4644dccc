//! Fuzz target: arbitrary bytes through the ws decoders (see checks/ws.rs).
#![no_main]

#[path = "../checks/ws.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
