#!/usr/bin/env bash
# The test command (README): sets up the machine, then runs every check CI
# runs and ends with one "N passed, N failed" line.
#   scripts/test.sh            everything
#   KEFU_SKIP_LINT=1 ...       skip fmt/clippy (quicker local loop)
set -uo pipefail
cd "$(dirname "$0")/.."

# A fresh clone builds everything once: incremental caches would only take disk
# (several GB), which CI machines have little of.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

failed_steps=()
step() {
  local name=$1; shift
  printf '\n== %s\n' "$name"
  if ! "$@"; then failed_steps+=("$name"); fi
}

if [ -z "${KEFU_SKIP_LINT:-}" ]; then
  step "cargo fmt --check" cargo fmt --all -- --check
  step "cargo clippy" cargo clippy --workspace --exclude kefu-edge-spin --exclude kefu-edge-workers --all-targets --locked -- -D warnings
  # The Worker only builds for its wasm target.
  step "cargo clippy (kefu-edge-workers, wasm32-unknown-unknown)" cargo clippy -p kefu-edge-workers --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
  # The Spin shim only builds for its component target, in both flavours.
  step "cargo clippy (kefu-edge-spin, wasip2)" cargo clippy -p kefu-edge-spin --target wasm32-wasip2 --all-targets --locked -- -D warnings
  step "cargo clippy (kefu-edge-spin, wasmtime-serve)" cargo clippy -p kefu-edge-spin --target wasm32-wasip2 --features wasmtime-serve --all-targets --locked -- -D warnings
  step "cargo clippy (kefu-core, sm4-par8)" cargo clippy -p kefu-core --all-targets --locked --features sm4-par8 -- -D warnings
fi

# no_std proof and the edge targets.
step "kefu-core for wasm32v1-none (no_std)" cargo build -p kefu-core --locked --target wasm32v1-none
step "kefu-core for wasm32-wasip2" cargo build -p kefu-core --locked --target wasm32-wasip2
step "kefu-core for wasm32-unknown-unknown" cargo build -p kefu-core --locked --target wasm32-unknown-unknown

# The Spin component, both flavours, and the Worker, with sizes.
step "edge component (scripts/build-edge.sh)" scripts/build-edge.sh
step "Worker (scripts/build-workers.sh)" scripts/build-workers.sh

# The test suites. nextest prints one summary line; we keep its counts.
log=$(mktemp)
printf '\n== cargo nextest run --workspace\n'
cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee "$log"
nextest_rc=${PIPESTATUS[0]}
[ "$nextest_rc" -eq 0 ] || failed_steps+=("cargo nextest")
step "seal with the sm4-par8 backend" cargo test -p kefu-core --locked --features sm4-par8 -- seal
step "schemathesis against /openapi.json" scripts/fuzz-api.sh target/debug/kefu-regional
step "doctests" cargo test --workspace --locked --doc

# >>> widget: browser tests (scripts/test-browser.sh) >>>
# The widget in Chromium, every scenario through the in-process and the wasm
# edge; node's test runner prints "ℹ pass N" / "ℹ fail N", counted below.
printf '\n== browser tests (scripts/test-browser.sh)\n'
blog=$(mktemp)
scripts/test-browser.sh 2>&1 | tee "$blog"
browser_rc=${PIPESTATUS[0]}
bpass=$(sed -nE 's/^ℹ pass ([0-9]+).*/\1/p' "$blog" | tail -n1)
bfail=$(sed -nE 's/^ℹ fail ([0-9]+).*/\1/p' "$blog" | tail -n1)
rm -f "$blog"
bpass=${bpass:-0}; bfail=${bfail:-0}
if [ "$browser_rc" -ne 0 ] && [ "$bfail" -eq 0 ]; then bfail=1; echo "FAILED step: browser tests (did not finish)"; fi
# <<< widget: browser tests <<<

summary=$(grep -E '^ *Summary \[' "$log" | tail -n1)
passed=$(sed -nE 's/.* ([0-9]+) (tests? )?passed.*/\1/p' <<<"$summary" | head -n1)
failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary" | head -n1)
skipped=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$summary" | head -n1)
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
rm -f "$log"

# Steps other than nextest count as one failed check each.
extra=0
for s in "${failed_steps[@]}"; do
  [ "$s" = "cargo nextest" ] || { echo "FAILED step: $s"; extra=$((extra + 1)); }
done
if [ "$nextest_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then extra=$((extra + 1)); echo "FAILED step: cargo nextest (did not finish)"; fi
failed=$((failed + extra + bfail))
passed=$((passed + bpass))

echo
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
