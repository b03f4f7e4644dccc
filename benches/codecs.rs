//! Codec benchmarks (criterion). Results and the machine they ran on: BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siocore::ws::apply_mask;
use std::hint::black_box;

fn unmask(c: &mut Criterion) {
    let mut data = vec![0x5au8; 64 * 1024];
    let mut group = c.benchmark_group("ws");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("unmask 64 KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut data), black_box([0x37, 0xfa, 0x21, 0x3d]), 0));
    });
    group.finish();
}

criterion_group!(benches, unmask);
criterion_main!(benches);
