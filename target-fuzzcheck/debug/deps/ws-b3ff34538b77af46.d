/work/wt14/target-fuzzcheck/debug/deps/ws-b3ff34538b77af46.d: fuzz_targets/ws.rs fuzz_targets/../checks/ws.rs

/work/wt14/target-fuzzcheck/debug/deps/libws-b3ff34538b77af46.rmeta: fuzz_targets/ws.rs fuzz_targets/../checks/ws.rs

fuzz_targets/ws.rs:
fuzz_targets/../checks/ws.rs:
