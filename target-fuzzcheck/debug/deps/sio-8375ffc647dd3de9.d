/work/wt14/target-fuzzcheck/debug/deps/sio-8375ffc647dd3de9.d: fuzz_targets/sio.rs fuzz_targets/../checks/sio.rs

/work/wt14/target-fuzzcheck/debug/deps/libsio-8375ffc647dd3de9.rmeta: fuzz_targets/sio.rs fuzz_targets/../checks/sio.rs

fuzz_targets/sio.rs:
fuzz_targets/../checks/sio.rs:
