//! Fuzz target: a client fed arbitrary server traffic (see checks/client.rs).
#![no_main]

#[path = "../checks/client.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
