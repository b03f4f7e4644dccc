//! Fuzz target: arbitrary bytes through the json decoders (see checks/json.rs).
#![no_main]

#[path = "../checks/json.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
