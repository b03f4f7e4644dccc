/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/client-fc55a3dd87135a01.d: src/bin/client.rs src/bin/../client_image.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/client-fc55a3dd87135a01: src/bin/client.rs src/bin/../client_image.rs

src/bin/client.rs:
src/bin/../client_image.rs:
