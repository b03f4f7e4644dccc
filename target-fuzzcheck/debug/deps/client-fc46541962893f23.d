/work/wt14/target-fuzzcheck/debug/deps/client-fc46541962893f23.d: fuzz_targets/client.rs fuzz_targets/../checks/client.rs

/work/wt14/target-fuzzcheck/debug/deps/libclient-fc46541962893f23.rmeta: fuzz_targets/client.rs fuzz_targets/../checks/client.rs

fuzz_targets/client.rs:
fuzz_targets/../checks/client.rs:
