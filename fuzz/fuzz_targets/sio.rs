//! Fuzz target: arbitrary bytes through the sio decoders (see checks/sio.rs).
#![no_main]

#[path = "../checks/sio.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
