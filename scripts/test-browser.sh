#!/usr/bin/env bash
# The widget in headless Chromium (Debian's chromium, driven by playwright-core)
# against live kefu-regional processes: tests/browser/*.test.mjs. Needs what
# scripts/setup.sh installs (chromium, node_modules) and the edge component
# (scripts/build-edge.sh) for the wasm-edge scenarios. Runs every
# tests/browser/*.test.mjs (each widget scenario once per edge: in-process and
# wasm; KEFU_BROWSER_EDGES=in-process narrows it). Prints node's summary
# ("ℹ pass N" / "ℹ fail N", counted by scripts/test.sh); exits non-zero on
# any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p kefu-regional -p kefu-fake-openai --locked
# The wasm edge serves the widget it was built with: rebuild (a no-op when fresh).
scripts/build-edge.sh >/dev/null
cd tests/browser
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs
