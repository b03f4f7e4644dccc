//! Links the full sans-IO client (polling, WebSocket and the upgrade, chosen at run time)
//! and the codecs it uses into one bare-metal image, to measure its `.text`, and records its
//! RAM on this 32-bit target in `SIZES`: the `Client` value itself (2 namespaces, 4 acks).
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use siocore::client::{Client, Event, Stream, Transports};

#[path = "../client_image.rs"]
mod client_image;

/// `[size_of::<Client<2, 4>>(), size_of::<Event>()]` on this target.
#[used]
#[unsafe(no_mangle)]
pub static SIZES: [u32; 2] = [
    size_of::<Client<'static, 2, 4>>() as u32,
    size_of::<Event<'static>>() as u32,
];

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Entry point: the transport mode is a run-time value.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let transports = match black_box(0u8) {
        0 => Transports::WebSocket,
        1 => Transports::Polling,
        _ => Transports::PollingThenWebSocket,
    };
    client_image::run::<true>(transports, &Stream::ALL)
}
