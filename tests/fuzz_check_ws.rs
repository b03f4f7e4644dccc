//! Replays the WebSocket fuzz seeds (and deterministic mutations of them) through
//! `fuzz/checks/ws.rs`.

#[allow(unreachable_pub)]
#[path = "../fuzz/checks/ws.rs"]
mod check;

use std::fs;
use std::path::Path;

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ws");
    let mut seeds: Vec<Vec<u8>> = fs::read_dir(dir)
        .expect("corpus directory")
        .map(|entry| fs::read(entry.expect("corpus entry").path()).expect("seed file"))
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn seeds_pass() {
    let seeds = seeds();
    assert!(seeds.len() >= 5);
    for seed in &seeds {
        check::check(seed);
    }
}

#[test]
fn mutated_seeds_pass() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds() {
        for _ in 0..300 {
            let mut data = seed.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % data.len().max(1);
                match next() % 3 {
                    0 if !data.is_empty() => data[at] ^= 1 << (next() % 8),
                    1 if !data.is_empty() => data[at] = next() as u8,
                    _ => data.truncate(at),
                }
            }
            check::check(&data);
        }
    }
}
