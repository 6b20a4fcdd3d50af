#!/usr/bin/env bash
# The kefu demo on one machine: the regional service (with the in-process
# edge on its public listener, or --wasm-edge: the Spin component under
# `wasmtime serve`), a demo tenant, the bilingual shop knowledge base and a
# shop page with the chat widget. Re-running reuses what is there; Ctrl-C
# stops everything this script started.
#
#   scripts/demo.sh              # regional + in-process edge
#   scripts/demo.sh --wasm-edge  # the edge as a wasm component under wasmtime serve
#
# Ports (override with env): KEFU_DEMO_API (8080), KEFU_DEMO_EDGE (8081),
# KEFU_DEMO_PAGE (8082). State lives in .kefu/demo/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
wasm=0
for a in "$@"; do
  case "$a" in
    --wasm-edge) wasm=1 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown option: $a (try --help)" >&2; exit 2 ;;
  esac
done
api_port=${KEFU_DEMO_API:-8080}; edge_port=${KEFU_DEMO_EDGE:-8081}; page_port=${KEFU_DEMO_PAGE:-8082}
api="http://127.0.0.1:$api_port"; edge="http://127.0.0.1:$edge_port"; page="http://127.0.0.1:$page_port"
dir=.kefu/demo; mkdir -p "$dir/site"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

pids=()
cleanup() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping (${#pids[@]} processes)"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap cleanup INT TERM EXIT

for p in "$api_port" "$edge_port" "$page_port"; do
  if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$p))!=0)"; then
    echo "port $p is in use (another demo running?). Set KEFU_DEMO_API/EDGE/PAGE to other ports." >&2; exit 1
  fi
done

say "building kefu-regional (release; the first build takes a few minutes)"
cargo build --release --locked -p kefu-regional
bin=target/release/kefu-regional

[ -s "$dir/operator.token" ] || python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/operator.token"
[ -s "$dir/edge.key" ] || python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/edge.key"
op=$(cat "$dir/operator.token")

public=127.0.0.1:$edge_port
if [ $wasm = 1 ]; then
  public=off
  say "building the edge component (scripts/build-edge.sh)"
  scripts/build-edge.sh
fi

say "starting the regional service (dev mode: a demo master key is generated into $dir/data; never use dev mode for real customers)"
KEFU_DATA_DIR="$dir/data" KEFU_LISTEN="127.0.0.1:$api_port" KEFU_PUBLIC_LISTEN="$public" \
  KEFU_OPERATOR_TOKEN="$op" KEFU_EDGE_KEY="$(cat "$dir/edge.key")" KEFU_LOG="${KEFU_LOG:-warn}" \
  "$bin" serve --dev >"$dir/regional.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do curl -fsS "$api/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$api/readyz" >/dev/null || { echo "the regional service did not start; see $dir/regional.log" >&2; tail -20 "$dir/regional.log" >&2; exit 1; }

if [ $wasm = 1 ]; then
  wt=${KEFU_WASMTIME:-.kefu/bin/wasmtime}
  [ -x "$wt" ] || { echo "wasmtime missing: run scripts/setup.sh" >&2; exit 1; }
  say "starting the edge: the Spin component under wasmtime serve"
  "$wt" serve --addr "127.0.0.1:$edge_port" -S cli \
    --env "SPIN_VARIABLE_REGIONAL_URL=$api" --env "SPIN_VARIABLE_REGIONAL_SECRET=$(cat "$dir/edge.key")" \
    target/edge/kefu-edge-wasmtime.wasm >"$dir/edge.log" 2>&1 &
  pids+=($!)
fi
for _ in $(seq 1 150); do curl -fsS "$edge/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

auth=(-H "Authorization: Bearer $op" -H 'Content-Type: application/json')
if [ ! -s "$dir/tenant.json" ]; then
  say "creating the demo tenant"
  if ! curl -fsS -X POST "$api/admin/v1/tenants" "${auth[@]}" \
      -d '{"id":"demo-shop","name":"Spruce Shop (demo)"}' >"$dir/tenant.json"; then
    # It exists but its key file was lost: issue a new key.
    key=$(curl -fsS -X POST "$api/admin/v1/tenants/demo-shop/api-key" "${auth[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
    curl -fsS "$api/admin/v1/tenants/demo-shop" "${auth[@]}" |
      python3 -c 'import json,sys; t=json.load(sys.stdin); t["api_key"]=sys.argv[1]; print(json.dumps(t))' "$key" >"$dir/tenant.json"
  fi
fi
key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$dir/tenant.json")
wk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["widget_key"])' "$dir/tenant.json")
curl -fsS -X PATCH "$api/admin/v1/tenants/demo-shop/settings" "${auth[@]}" \
  -d "{\"allowed_origins\":[\"$page\",\"http://localhost:$page_port\"]}" >/dev/null

tk=(-H "Authorization: Bearer $key" -H 'Content-Type: application/json')
sum=$(sha256sum fixtures/shop/kb.json | cut -c1-64)
version=$(curl -fsS "$api/v1/kb" "${tk[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kb_version"])')
if [ "$version" = 0 ] || [ "$(cat "$dir/kb.sha256" 2>/dev/null)" != "$sum" ]; then
  say "loading the shop knowledge base (fixtures/shop/kb.json)"
  python3 - "$dir" <<'PY'
import json, sys
kb = json.load(open("fixtures/shop/kb.json"))
json.dump(kb["faqs"], open(sys.argv[1] + "/faqs.json", "w"), ensure_ascii=False)
json.dump(kb["documents"], open(sys.argv[1] + "/documents.json", "w"), ensure_ascii=False)
PY
  curl -fsS -X POST "$api/v1/kb/faqs" "${tk[@]}" --data-binary @"$dir/faqs.json" >/dev/null
  curl -fsS -X POST "$api/v1/kb/documents" "${tk[@]}" --data-binary @"$dir/documents.json" >/dev/null
  curl -fsS -X POST "$api/v1/kb/publish" "${tk[@]}" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("    published version %(kb_version)s: %(entries)s entries, %(chunks)s chunks, retrieval %(retrieval)s, %(build_ms)s ms" % r)'
  echo "$sum" >"$dir/kb.sha256"
else
  echo "    knowledge base version $version already loaded"
fi

mode="curated FAQ + extractive answers (no generative model configured)"
sed -e "s#__EDGE__#$edge#" -e "s#__WIDGET_KEY__#$wk#" -e "s#__MODE__#$mode#" edge/widget/demo/index.html >"$dir/site/index.html"
python3 -m http.server "$page_port" --bind 127.0.0.1 --directory "$dir/site" >"$dir/page.log" 2>&1 &
pids+=($!)

edge_kind="in-process edge (kefu-regional's public listener)"
[ $wasm = 1 ] && edge_kind="wasm edge (Spin component under wasmtime serve)"
cat <<MSG

  kefu demo is running.
    shop page with the widget:  $page/
    edge (public API):          $edge   — $edge_kind
    regional API:               $api    (tenant key in $dir/tenant.json)
    answers:                    $mode
  Logs in $dir/*.log. Press Ctrl-C to stop.

MSG
wait "${pids[0]}"
