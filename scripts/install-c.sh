#!/usr/bin/env bash
# Builds libsiocore and installs it under a prefix (default /usr/local): the static and
# shared libraries in lib/ (the shared one as libsiocore.so.<version>, with the links
# libsiocore.so.0, its SONAME, and libsiocore.so), siocore.h in include/, a pkg-config file
# (lib/pkgconfig/siocore.pc) and a CMake package (lib/cmake/siocore/), so that `pkg-config --cflags --libs siocore` and
# `find_package(siocore)` work.
#
#   bash scripts/install-c.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(realpath -m "${1:-/usr/local}")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' ffi/Cargo.toml | head -n 1)
cargo build --locked --release -p siocore-ffi
install -d "$prefix/lib/pkgconfig" "$prefix/lib/cmake/siocore" "$prefix/include"
install -m 644 target/release/libsiocore.a "$prefix/lib/"
install -m 755 target/release/libsiocore.so "$prefix/lib/libsiocore.so.$version"
ln -sfn "libsiocore.so.$version" "$prefix/lib/libsiocore.so.0"
ln -sfn libsiocore.so.0 "$prefix/lib/libsiocore.so"
install -m 644 include/siocore.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/dist/siocore.pc.in \
  >"$prefix/lib/pkgconfig/siocore.pc"
install -m 644 ffi/dist/siocoreConfig.cmake "$prefix/lib/cmake/siocore/"
sed -e "s|@VERSION@|$version|" ffi/dist/siocoreConfigVersion.cmake.in \
  >"$prefix/lib/cmake/siocore/siocoreConfigVersion.cmake"
echo "installed siocore $version under $prefix"
