//! Codec benchmarks (criterion). Results and the machine they ran on: BENCHMARKS.md.
//!
//! Run with `cargo bench --bench codecs`. The paths are shared with `tests/no_alloc.rs`,
//! which proves they make no heap allocation.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siocore::ws::apply_mask;
use std::hint::black_box;

#[path = "support/workloads.rs"]
#[allow(unreachable_pub)]
mod workloads;

use workloads::Fixtures;

fn benches(c: &mut Criterion) {
    let fx = Fixtures::new();
    let mut rx = vec![0u8; 256 * 1024];
    let mut out = vec![0u8; 64 * 1024];
    let mut scratch = vec![0u8; 256];

    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode small (masked ws frame to name + args)", |b| {
        b.iter(|| workloads::decode_ws_event(black_box(&fx.small_frame), &mut rx));
    });
    g.bench_function("encode small (name + args to ws frame)", |b| {
        b.iter(|| workloads::encode_ws_event(black_box(&mut out)));
    });
    g.finish();

    let mut g = c.benchmark_group("event 1 KiB");
    g.throughput(Throughput::Bytes(fx.json_frame.len() as u64));
    g.bench_function("decode (masked ws frame to name + args)", |b| {
        b.iter(|| workloads::decode_ws_event(black_box(&fx.json_frame), &mut rx));
    });
    g.finish();

    let mut g = c.benchmark_group("binary event 64 KiB");
    g.throughput(Throughput::Bytes(fx.binary_frames.len() as u64));
    g.bench_function("decode (header + attachment frames, reassembled)", |b| {
        b.iter(|| workloads::decode_binary_event(black_box(&fx.binary_frames), &mut rx));
    });
    g.finish();

    let mut g = c.benchmark_group("polling payload 50 packets");
    g.throughput(Throughput::Elements(50));
    g.bench_function("decode (records to name + args)", |b| {
        b.iter(|| workloads::decode_payload(black_box(&fx.payload50)));
    });
    g.bench_function("encode (50 events batched)", |b| {
        b.iter(|| workloads::encode_payload(black_box(&mut out), &mut scratch));
    });
    g.finish();

    let mut data = vec![0x5au8; 64 * 1024];
    let mut g = c.benchmark_group("ws");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("unmask 64 KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut data), black_box(workloads::MASK), 0));
    });
    g.finish();
}

criterion_group!(codecs, benches);
criterion_main!(codecs);
