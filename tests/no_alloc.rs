//! The codec hot paths make no heap allocation: each one runs under a counting global
//! allocator that must see zero allocations while it runs. The paths are the ones
//! `benches/codecs.rs` times (`benches/support/workloads.rs`).
//!
//! This target has no libtest harness (`harness = false`), so no other thread can
//! allocate while a path is being counted.

#![allow(unsafe_code)] // a global allocator is an unsafe trait

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../benches/support/workloads.rs"]
#[allow(dead_code, unreachable_pub)]
mod workloads;

#[path = "../benches/support/server.rs"]
#[allow(dead_code, unreachable_pub)]
mod server;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `path` 100 times and returns how many allocations it made.
fn allocations(mut path: impl FnMut()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        path();
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn main() {
    let fx = workloads::Fixtures::new();
    // Warm up: the first round trips may settle table slots; steady state is what counts.
    let mut echo = server::Echo::new();
    for _ in 0..10 {
        let expected = echo.expected.clone();
        assert_eq!(echo.round_trip(), expected.as_slice());
    }
    let mut broadcast = server::Broadcast::new(1000);
    broadcast.once();
    let mut rx = vec![0u8; 256 * 1024];
    let mut out = vec![0u8; 64 * 1024];
    let mut scratch = vec![0u8; 256];
    let mut data = vec![0x5au8; 64 * 1024];

    // Sanity: the counter does see allocations.
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 100);

    let results = [
        (
            "decode small event",
            allocations(|| {
                assert_eq!(
                    workloads::decode_ws_event(&fx.small_frame, &mut rx),
                    (12, 7)
                );
            }),
        ),
        (
            "encode small event",
            allocations(|| {
                let range = workloads::encode_ws_event(&mut out);
                assert_eq!(&out[range.start + 2..range.end], workloads::SMALL_EVENT);
            }),
        ),
        (
            "decode 1 KiB event",
            allocations(|| {
                let (name, args) = workloads::decode_ws_event(&fx.json_frame, &mut rx);
                assert!(name == 6 && args > 1000);
            }),
        ),
        (
            "decode 64 KiB binary event",
            allocations(|| {
                assert_eq!(
                    workloads::decode_binary_event(&fx.binary_frames, &mut rx),
                    64 * 1024
                );
            }),
        ),
        (
            "decode 50-packet payload",
            allocations(|| {
                assert_eq!(workloads::decode_payload(&fx.payload50), 50);
            }),
        ),
        (
            "encode 50-packet payload",
            allocations(|| {
                assert!(workloads::encode_payload(&mut out, &mut scratch) > 50 * 26);
            }),
        ),
        (
            "server echo round trip",
            allocations(|| {
                let reply = echo.round_trip();
                assert_eq!(reply.len(), 20);
            }),
        ),
        (
            "server broadcast to 1000 clients",
            allocations(|| {
                assert_eq!(broadcast.once(), 20 * 1000);
            }),
        ),
        (
            "unmask 64 KiB",
            allocations(|| {
                siocore::ws::apply_mask(&mut data, workloads::MASK, 0);
            }),
        ),
    ];
    let mut failed = 0;
    for (name, count) in results {
        if count == 0 {
            println!("{name}: no allocation ... ok");
        } else {
            println!("{name}: {count} allocations in 100 runs ... FAILED");
            failed += 1;
        }
    }
    println!(
        "zero-allocation paths: {} passed, {failed} failed",
        results.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
