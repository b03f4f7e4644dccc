//! Gives the shared library its SONAME, `libsiocore.so.0`, on the targets that use one, so
//! that programs linked against it record that name and an installed
//! `libsiocore.so.0 -> libsiocore.so.<version>` link finds the library (scripts/install-c.sh).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsiocore.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
