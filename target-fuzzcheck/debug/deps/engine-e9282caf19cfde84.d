/work/wt14/target-fuzzcheck/debug/deps/engine-e9282caf19cfde84.d: fuzz_targets/engine.rs fuzz_targets/../checks/engine.rs

/work/wt14/target-fuzzcheck/debug/deps/libengine-e9282caf19cfde84.rmeta: fuzz_targets/engine.rs fuzz_targets/../checks/engine.rs

fuzz_targets/engine.rs:
fuzz_targets/../checks/engine.rs:
