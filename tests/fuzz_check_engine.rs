//! Replays the engine fuzz seeds through `fuzz/checks/engine.rs` on the stable toolchain.

#[path = "../fuzz/checks/engine.rs"]
#[allow(unreachable_pub)] // `check` is public for the cargo-fuzz target.
mod check;

#[test]
fn engine_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/engine");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("seed file");
        check::check(&data);
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} seeds in {}", dir.display());
}

#[test]
fn engine_pseudo_random() {
    // A cheap stand-in for the fuzzer: mutate the seeds deterministically.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/engine");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut runs = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let seed = std::fs::read(entry.expect("corpus entry").path()).expect("seed file");
        for _ in 0..300 {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 4 {
                let len = data.len();
                match next() % 3 {
                    0 if len > 1 => {
                        let i = 1 + (next() as usize) % (len - 1);
                        data[i] = next() as u8;
                    }
                    1 if len > 1 => {
                        data.truncate(1 + (next() as usize) % (len - 1));
                    }
                    _ => {
                        let i = 1 + (next() as usize) % len.max(1);
                        let b = [0x1e, b'"', b'\\', b'{', b'[', b'b', b'=', b'0']
                            [(next() % 8) as usize];
                        data.insert(i.min(len), b);
                    }
                }
            }
            check::check(&data);
            runs += 1;
        }
    }
    assert!(runs >= 1500, "{runs} runs");
}
