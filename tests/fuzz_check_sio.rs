//! Replays the sio and json fuzz seeds through `fuzz/checks/{sio,json}.rs` on the stable
//! toolchain, plus deterministic mutations of them.

#[path = "../fuzz/checks/sio.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target.
mod sio_check;

#[path = "../fuzz/checks/json.rs"]
#[allow(unreachable_pub)]
mod json_check;

fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| std::fs::read(e.expect("corpus entry").path()).expect("seed file"))
        .collect();
    out.sort();
    assert!(
        out.len() >= 5,
        "only {} seeds in {}",
        out.len(),
        dir.display()
    );
    out
}

fn mutate(seeds: &[Vec<u8>], alphabet: &[u8], runs_per_seed: usize, check: fn(&[u8])) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds {
        check(seed);
        for _ in 0..runs_per_seed {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 4 {
                let len = data.len();
                match next() % 3 {
                    0 if len > 1 => {
                        let i = 1 + (next() as usize) % (len - 1);
                        data[i] = next() as u8;
                    }
                    1 if len > 1 => data.truncate(1 + (next() as usize) % (len - 1)),
                    _ => {
                        let i = 1 + (next() as usize) % len.max(1);
                        let b = alphabet[(next() as usize) % alphabet.len()];
                        data.insert(i.min(len), b);
                    }
                }
            }
            check(&data);
        }
    }
}

#[test]
fn sio_corpus_and_mutations() {
    mutate(
        &seeds("sio"),
        b"\x1eb0123456789-/,[]{}\":_\\ ",
        400,
        sio_check::check,
    );
}

#[test]
fn json_corpus_and_mutations() {
    mutate(
        &seeds("json"),
        b"\"\\[]{},:0-.eEu \xc3\xa9tfn",
        400,
        json_check::check,
    );
}
