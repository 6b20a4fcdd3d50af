#!/usr/bin/env bash
# Installs what kefu's tests and demo need on a fresh machine. Idempotent:
# every step checks first and skips what is already there. Only package
# registries are used (crates.io via rustup/cargo, PyPI, Debian, npm).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

# Rust targets: wasm32v1-none proves kefu-core is no_std; wasip2 is the Spin
# component; wasm32-unknown-unknown is the Workers shim.
need_targets=()
installed=$(rustup target list --installed)
for t in wasm32v1-none wasm32-wasip2 wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed" || need_targets+=("$t")
done
if [ ${#need_targets[@]} -gt 0 ]; then
  log "rustup target add ${need_targets[*]}"
  rustup target add "${need_targets[@]}"
else
  log "rust targets present"
fi

# Test runner.
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest from crates.io"
  cargo install cargo-nextest --locked
else
  log "cargo-nextest present"
fi

# Python msgpack: the interop test proves our MessagePack is readable by
# another implementation.
if ! python3 -c 'import msgpack' >/dev/null 2>&1; then
  log "pip install msgpack"
  python3 -m pip install --quiet --disable-pip-version-check 'msgpack==1.1.*'
else
  log "python msgpack present"
fi

# schemathesis: schema-driven fuzzing of the regional API (scripts/fuzz-api.sh).
if ! st --version 2>/dev/null | grep -q '4\.32\.5'; then
  log "pip install schemathesis"
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
else
  log "schemathesis present"
fi

log "done"
