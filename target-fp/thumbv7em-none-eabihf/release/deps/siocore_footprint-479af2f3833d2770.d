/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/siocore_footprint-479af2f3833d2770.d: src/main.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/siocore_footprint-479af2f3833d2770: src/main.rs

src/main.rs:
