#!/usr/bin/env bash
# Builds the edge's Spin component in its two flavours and prints their sizes:
#   target/edge/kefu-edge-spin.wasm      Spin (spin:key-value, Spin variables)
#   target/edge/kefu-edge-wasmtime.wasm  plain `wasmtime serve` (feature
#                                        wasmtime-serve: instance memory, env)
# The Spin flavour is built last, so the path spin.toml deploys
# (target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm) holds it.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/edge
built=target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm
mkdir -p "$out"
build() { cargo build -p kefu-edge-spin --locked --target wasm32-wasip2 --profile wasm-release "$@"; }

build --features wasmtime-serve
cp "$built" "$out/kefu-edge-wasmtime.wasm"
build
cp "$built" "$out/kefu-edge-spin.wasm"

# The benchmark baseline: an empty wasi-http component built the same way
# (its own workspace: edge/empty).
(cd edge/empty && CARGO_TARGET_DIR="$PWD/../../target" cargo build --locked --target wasm32-wasip2 --profile wasm-release)
cp target/wasm32-wasip2/wasm-release/kefu_edge_empty.wasm "$out/kefu-edge-empty.wasm"

for f in "$out/kefu-edge-spin.wasm" "$out/kefu-edge-wasmtime.wasm" "$out/kefu-edge-empty.wasm"; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  printf '%-40s %8d bytes raw  %8d bytes gzip -9\n' "$f" "$raw" "$gz"
done
