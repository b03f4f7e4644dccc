/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/server-58a670f00577564a.d: src/bin/server.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/server-58a670f00577564a: src/bin/server.rs

src/bin/server.rs:
