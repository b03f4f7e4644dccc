//! Fuzz target: arbitrary cluster traffic beside a server (see checks/cluster.rs).
#![no_main]

#[path = "../checks/cluster.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
