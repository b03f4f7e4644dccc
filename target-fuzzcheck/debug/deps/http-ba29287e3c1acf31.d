/work/wt14/target-fuzzcheck/debug/deps/http-ba29287e3c1acf31.d: fuzz_targets/http.rs fuzz_targets/../checks/http.rs

/work/wt14/target-fuzzcheck/debug/deps/libhttp-ba29287e3c1acf31.rmeta: fuzz_targets/http.rs fuzz_targets/../checks/http.rs

fuzz_targets/http.rs:
fuzz_targets/../checks/http.rs:
