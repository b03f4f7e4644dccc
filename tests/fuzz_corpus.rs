//! Replays the committed fuzz corpus through the same checks the cargo-fuzz targets run,
//! on the stable toolchain, so every CI run exercises them. Each seed is also mutated a
//! fixed number of times (bit flips, truncations, splices, byte insertions) with a fixed
//! seed, which gives a small, repeatable fuzzing pass without libFuzzer.

use std::fs;
use std::path::Path;

#[path = "../fuzz/checks/adapter.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod adapter;
#[path = "../fuzz/checks/client.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod client;
#[path = "../fuzz/checks/cluster.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod cluster;
#[cfg(feature = "eio3")]
#[path = "../fuzz/checks/eio3.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod eio3;
#[path = "../fuzz/checks/engine.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod engine;
#[path = "../fuzz/checks/http.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod http;
#[path = "../fuzz/checks/json.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod json;
#[cfg(feature = "msgpack-parser")]
#[path = "../fuzz/checks/msgpack.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod msgpack;
#[path = "../fuzz/checks/server.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod server;
#[path = "../fuzz/checks/sio.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod sio;
#[path = "../fuzz/checks/ws.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target
mod ws;

/// Mutations per seed file.
const MUTATIONS: usize = 3000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|p| fs::read(p).expect("seed file"))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Mutates `seed`; the first byte selects a check's mode, so it is kept most of the time.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let keep_mode = !seed.is_empty() && rng.below(8) != 0;
    let (mode, body) = if keep_mode {
        seed.split_at(1)
    } else {
        (&[][..], seed)
    };
    let mut data = body.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.truncate(rng.below(data.len() + 1)),
            2 => {
                let i = rng.below(data.len() + 1);
                data.insert(i, rng.next() as u8);
            }
            3 if !other.is_empty() => {
                let cut = rng.below(data.len() + 1);
                let from = rng.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            4 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] =
                    [0x00, 0x1e, b'"', b'\\', b'-', b'/', b',', 0x7f, 0x80, 0xff][rng.below(10)];
            }
            _ => {
                let i = rng.below(data.len() + 1);
                let n = rng.below(data.len().saturating_sub(i) + 1);
                let copy = data[i..i + n].to_vec();
                data.splice(i..i, copy);
            }
        }
    }
    [mode, &data].concat()
}

fn replay(target: &str, check: fn(&[u8])) {
    let seeds = seeds(target);
    let mut rng = Rng(0x5eed ^ (target.len() as u64 * 0x9E37_79B9));
    for (i, seed) in seeds.iter().enumerate() {
        check(seed);
        let other = &seeds[(i + 1) % seeds.len()];
        for _ in 0..MUTATIONS {
            check(&mutate(&mut rng, seed, other));
        }
    }
}

#[test]
fn adapter_corpus() {
    replay("adapter", adapter::check);
}

#[test]
fn cluster_corpus() {
    replay("cluster", cluster::check);
}

#[test]
fn client_corpus() {
    replay("client", client::check);
}

#[cfg(feature = "eio3")]
#[test]
fn eio3_corpus() {
    replay("eio3", eio3::check);
}

#[test]
fn engine_corpus() {
    replay("engine", engine::check);
}

#[cfg(feature = "msgpack-parser")]
#[test]
fn msgpack_corpus() {
    replay("msgpack", msgpack::check);
}

#[test]
fn sio_corpus() {
    replay("sio", sio::check);
}

#[test]
fn json_corpus() {
    replay("json", json::check);
}

#[test]
fn http_corpus() {
    replay("http", http::check);
}

#[test]
fn server_corpus() {
    replay("server", server::check);
}

#[test]
fn ws_corpus() {
    replay("ws", ws::check);
}
