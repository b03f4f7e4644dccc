/work/wt14/target-fuzzcheck/debug/deps/server-ee5bea3a654d8e3c.d: fuzz_targets/server.rs fuzz_targets/../checks/server.rs

/work/wt14/target-fuzzcheck/debug/deps/libserver-ee5bea3a654d8e3c.rmeta: fuzz_targets/server.rs fuzz_targets/../checks/server.rs

fuzz_targets/server.rs:
fuzz_targets/../checks/server.rs:
