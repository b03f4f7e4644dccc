//! Fuzz target: arbitrary traffic on the streams of one server (see checks/server.rs).
#![no_main]

#[path = "../checks/server.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
