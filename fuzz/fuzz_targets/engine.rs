//! Fuzz target: arbitrary bytes through the engine decoders (see checks/engine.rs).
#![no_main]

#[path = "../checks/engine.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
