//! The committed C header's version macros match the crate versions (the C unit test checks
//! `sio_version()` against the macros, so library, header and Cargo agree).

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value of `#define NAME value` in the header.
fn define<'a>(header: &'a str, name: &str) -> &'a str {
    header
        .lines()
        .find_map(|l| {
            l.strip_prefix("#define ")?
                .strip_prefix(name)?
                .strip_prefix(' ')
        })
        .unwrap_or_else(|| panic!("no #define {name}"))
        .trim()
}

#[test]
fn header_versions_match_cargo() {
    let header = read("include/siocore.h");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(define(&header, "SIOCORE_VERSION"), format!("\"{version}\""));
    let mut parts = version.split('.');
    for name in [
        "SIOCORE_VERSION_MAJOR",
        "SIOCORE_VERSION_MINOR",
        "SIOCORE_VERSION_PATCH",
    ] {
        assert_eq!(define(&header, name), parts.next().unwrap(), "{name}");
    }
    let ffi = read("ffi/Cargo.toml");
    let ffi_version = ffi
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("ffi version");
    assert_eq!(
        ffi_version, version,
        "siocore-ffi and siocore share a version"
    );
}
