/work/wt14/target-fuzzcheck/debug/deps/json-7ade70c2404aa1cf.d: fuzz_targets/json.rs fuzz_targets/../checks/json.rs

/work/wt14/target-fuzzcheck/debug/deps/libjson-7ade70c2404aa1cf.rmeta: fuzz_targets/json.rs fuzz_targets/../checks/json.rs

fuzz_targets/json.rs:
fuzz_targets/../checks/json.rs:
