#!/usr/bin/env bash
# Makes TLS material for one test run in DIR (openssl): a fresh CA (ca.pem), a certificate it
# issued for localhost and 127.0.0.1 with the CA after it, as a fullchain.pem (cert.pem), its
# key (key.pem), and a key that belongs to neither (other.key). Valid for two days: each run
# makes its own. Used by scripts/c-tests.sh and scripts/cross-tests.sh.
set -euo pipefail
dir=$1
mkdir -p "$dir"
ec=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
openssl genpkey "${ec[@]}" -out "$dir/ca.key" 2>/dev/null
openssl req -x509 -new -key "$dir/ca.key" -days 2 -subj "/CN=siocore C test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -out "$dir/ca.pem" 2>/dev/null
openssl genpkey "${ec[@]}" -out "$dir/key.pem" 2>/dev/null
openssl genpkey "${ec[@]}" -out "$dir/other.key" 2>/dev/null
openssl req -new -key "$dir/key.pem" -subj "/CN=siocore C test server" -out "$dir/leaf.csr" \
  2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$dir/leaf.ext"
openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 2 -extfile "$dir/leaf.ext" -out "$dir/leaf.pem" 2>/dev/null
cat "$dir/leaf.pem" "$dir/ca.pem" >"$dir/cert.pem"
