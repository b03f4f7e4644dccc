//! Links the WebSocket-only sans-IO client (`WsClient`: no polling compiled in) and the
//! codecs it uses into one bare-metal image, to measure its `.text` — the client a
//! microcontroller builds — and records its RAM on this 32-bit target in `SIZES`: the
//! `WsClient` value itself (2 namespaces, 4 acks), everything besides the payload buffers.
#![no_std]
#![no_main]

use core::mem::size_of;
use siocore::client::{Event, Stream, Transports, WsClient};

#[path = "../client_image.rs"]
mod client_image;

/// `[size_of::<WsClient<2, 4>>(), size_of::<Event>()]` on this target.
#[used]
#[unsafe(no_mangle)]
pub static SIZES: [u32; 2] = [
    size_of::<WsClient<'static, 2, 4>>() as u32,
    size_of::<Event<'static>>() as u32,
];

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Entry point.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    client_image::run::<false>(Transports::WebSocket, &[Stream::WebSocket])
}
