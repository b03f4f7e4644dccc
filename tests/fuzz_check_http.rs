//! Replays the `http` fuzz seeds through the fuzz check on the stable toolchain.

#[allow(unreachable_pub)]
#[path = "../fuzz/checks/http.rs"]
mod check;

#[test]
fn replay_http_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/http");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("seed file");
        check::check(&data);
        seen += 1;
    }
    assert!(seen >= 5, "expected the committed seeds, found {seen}");
}
