//! Fuzz target: arbitrary bytes through the Engine.IO v3 body decoder (see checks/eio3.rs).
#![no_main]

#[path = "../checks/eio3.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
