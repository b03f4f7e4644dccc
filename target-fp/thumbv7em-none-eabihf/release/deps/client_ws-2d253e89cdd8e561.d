/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/client_ws-2d253e89cdd8e561.d: src/bin/client_ws.rs src/bin/../client_image.rs

/work/wt14/target-fp/thumbv7em-none-eabihf/release/deps/client_ws-2d253e89cdd8e561: src/bin/client_ws.rs src/bin/../client_image.rs

src/bin/client_ws.rs:
src/bin/../client_image.rs:
