//! Server benchmarks (criterion): the echo path and a broadcast to 10 000 clients.
//! Results and the machine they ran on: BENCHMARKS.md.
//!
//! Run with `cargo bench --bench server`. The paths are shared with `tests/no_alloc.rs`,
//! which proves they make no heap allocation.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "support/server.rs"]
#[allow(unreachable_pub)]
mod server;

fn benches(c: &mut Criterion) {
    let mut echo = server::Echo::new();
    let expected = echo.expected.clone();
    assert_eq!(echo.round_trip(), expected.as_slice());
    let mut g = c.benchmark_group("server echo");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame in, event out, emit, frame out", |b| {
        b.iter(|| black_box(echo.round_trip().len()));
    });
    g.finish();

    let mut broadcast = server::Broadcast::new(10_000);
    let mut g = c.benchmark_group("server broadcast");
    g.throughput(Throughput::Elements(broadcast.clients as u64));
    g.sample_size(20);
    g.bench_function(
        "one event to 10 000 WebSocket clients, every frame polled",
        |b| {
            b.iter(|| black_box(broadcast.once()));
        },
    );
    g.finish();
}

criterion_group!(server_benches, benches);
criterion_main!(server_benches);
