#!/usr/bin/env bash
# Builds the Cloudflare Worker (edge/workers, kefu-edge-workers) with
# worker-build into edge/workers/build/ (index.js + index_bg.wasm), offline:
# worker-build would download wasm-bindgen and wasm-opt from GitHub, so it
# is pointed at the ones scripts/setup.sh installed (wasm-bindgen-cli pinned
# to the wasm-bindgen in Cargo.lock; binaryen's wasm-opt and esbuild from
# npm). Prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/edge/workers/tools/node_modules/.bin
wb=$root/.kefu/tools/bin/worker-build
for f in "$wb" "$root/.kefu/tools/bin/wasm-bindgen" "$tools/wasm-opt" "$tools/esbuild"; do
  [ -x "$f" ] || { echo "$f missing: run scripts/setup.sh" >&2; exit 1; }
done
cd edge/workers
PATH="$tools:$root/.kefu/tools/bin:$PATH" \
  WASM_BINDGEN_BIN="$root/.kefu/tools/bin/wasm-bindgen" WASM_OPT_BIN="$tools/wasm-opt" \
  "$wb" --profile workers-release >"$root/target/worker-build.log" 2>&1 ||
  { tail -40 "$root/target/worker-build.log" >&2; exit 1; }
for f in build/index.js build/index_bg.wasm; do
  [ -f "$f" ] || { echo "worker-build made no $f" >&2; exit 1; }
  printf '%-40s %8d bytes raw %8d bytes gzip -9\n' "edge/workers/$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
