#!/usr/bin/env bash
# The kefu demo on one machine: the regional service (with the in-process
# edge on its public listener, or --wasm-edge: the Spin component under
# `wasmtime serve`), a demo tenant, the bilingual shop knowledge base and a
# shop page with the chat widget. Re-running reuses what is there; Ctrl-C
# stops everything this script started.
#
#   scripts/demo.sh              # regional + in-process edge
#   scripts/demo.sh --wasm-edge  # the edge as a wasm component under wasmtime serve
#   scripts/demo.sh --llm        # + grounded generation by SmolLM2-135M in-process (English)
#   scripts/demo.sh --llm=qwen   # + Qwen2.5-0.5B in-process (Chinese + English; ~400 MB fetch)
#
# Ports (override with env): KEFU_DEMO_API (8080), KEFU_DEMO_EDGE (8081),
# KEFU_DEMO_PAGE (8082); KEFU_DEMO_PROFILE=dev for the debug build. State
# lives in .kefu/demo/ (delete it to start over).
# Retrieval is hybrid with the multilingual-e5-small embedder when
# scripts/fetch-models.sh is in the tree (it fetches the model once), lexical
# otherwise. Answers are curated FAQ + extractive, or grounded generation when
# KEFU_LLM_URL + KEFU_LLM_MODEL name an OpenAI-compatible server, or with
# --llm a small GGUF model run in-process on the CPU (slow: answers stream).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
wasm=0
llm=""
for a in "$@"; do
  case "$a" in
    --wasm-edge) wasm=1 ;;
    --llm|--llm=smollm2) llm=smollm2 ;;
    --llm=qwen) llm=qwen ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
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

# KEFU_DEMO_PROFILE=dev uses the debug build (quicker to build, slower to run).
if [ "${KEFU_DEMO_PROFILE:-release}" = dev ]; then
  say "building kefu-regional (debug)"
  cargo build --locked -p kefu-regional
  bin=target/debug/kefu-regional
else
  say "building kefu-regional (release; the first build takes a few minutes)"
  cargo build --release --locked -p kefu-regional
  bin=target/release/kefu-regional
fi

[ -s "$dir/operator.token" ] || python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/operator.token"
[ -s "$dir/edge.key" ] || python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/edge.key"
op=$(cat "$dir/operator.token")

# The embedding model (hybrid retrieval), when this tree can fetch it.
embedder=""
if [ -x scripts/fetch-models.sh ]; then
  say "fetching the embedding model (scripts/fetch-models.sh; skipped when present)"
  if scripts/fetch-models.sh && [ -s .kefu/models/e5-small-q4/e5-small-q4.bin ]; then
    embedder=.kefu/models/e5-small-q4
  else
    echo "    the model could not be fetched: running with lexical retrieval only" >&2
  fi
else
  echo "    scripts/fetch-models.sh is not in this tree: running with lexical retrieval only"
fi

public=127.0.0.1:$edge_port
if [ $wasm = 1 ]; then
  public=off
  say "building the edge component (scripts/build-edge.sh)"
  scripts/build-edge.sh
fi

say "starting the regional service (dev mode: a demo master key is generated into $dir/data; never use dev mode for real customers)"
[ -n "$embedder" ] && export KEFU_EMBEDDER="$embedder"
# An in-process generative model (--llm), fetched like the embedder.
case "$llm" in
  smollm2) export KEFU_LLM_GGUF="$root/.kefu/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
  qwen)
    say "fetching Qwen2.5-0.5B (scripts/fetch-models.sh --qwen; skipped when present)"
    scripts/fetch-models.sh --qwen
    export KEFU_LLM_GGUF="$root/.kefu/models/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf" ;;
esac
if [ -n "$llm" ] && [ ! -s "$KEFU_LLM_GGUF" ]; then
  echo "the model $KEFU_LLM_GGUF is missing (scripts/fetch-models.sh fetches it)" >&2; exit 1
fi
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
# The KB is reloaded when kb.json or the embedder changed.
sum="$(sha256sum fixtures/shop/kb.json | cut -c1-64) ${embedder:-lexical}"
kb_status=$(curl -sS -o "$dir/kb-overview.json" -w '%{http_code}' "$api/v1/kb" "${tk[@]}")
retrieval=""
if [ "$kb_status" = 404 ]; then
  echo "    the knowledge-base routes are not in this build (/v1/kb is 404): the KB issue is not merged;"
  echo "    the bot answers with its labelled fallback"
elif [ ! -s fixtures/shop/kb.json ]; then
  echo "    fixtures/shop/kb.json is not in this tree: no knowledge base loaded"
else
  version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("kb_version", 0))' "$dir/kb-overview.json")
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
    curl -fsS -X POST "$api/v1/kb/publish" "${tk[@]}" >"$dir/publish.json"
    # A publish that runs as a job answers {"job_id"}: wait for it.
    job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("job_id") or "")' "$dir/publish.json")
    if [ -n "$job" ]; then
      for _ in $(seq 1 600); do
        curl -fsS "$api/v1/kb/jobs/$job" "${tk[@]}" >"$dir/publish.json"
        st=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get("state") or j.get("status") or "")' "$dir/publish.json")
        case "$st" in done|succeeded) break ;; failed) echo "publish job failed: $(cat "$dir/publish.json")" >&2; exit 1 ;; esac
        sleep 0.5
      done
    fi
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("    published version %s: %s entries, %s chunks, retrieval %s, %s ms" % tuple(r.get(k, "?") for k in ("kb_version","entries","chunks","retrieval","build_ms")))' "$dir/publish.json"
    echo "$sum" >"$dir/kb.sha256"
  else
    echo "    knowledge base version $version already loaded"
  fi
  curl -fsS "$api/v1/kb" "${tk[@]}" >"$dir/kb-overview.json"
  retrieval=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("retrieval") or "lexical")' "$dir/kb-overview.json")
fi

if [ -n "$llm" ]; then
  mode="grounded generation by $(basename "$KEFU_LLM_GGUF") in-process on the CPU (curated FAQ first; answers stream; extractive when the model refuses)"
elif [ -n "${KEFU_LLM_URL:-}" ]; then
  mode="grounded generation by ${KEFU_LLM_MODEL:-?} at $KEFU_LLM_URL (curated FAQ first; extractive when the model fails)"
else
  mode="curated FAQ + extractive answers (no generative model: --llm for a small in-process one, or KEFU_LLM_URL + KEFU_LLM_MODEL for a server)"
fi
case "$retrieval" in
  "") mode="$mode; no knowledge base" ;;
  lexical) mode="$mode; lexical retrieval (BM25)" ;;
  *) mode="$mode; hybrid retrieval (BM25 + $retrieval)" ;;
esac
sed -e "s#__EDGE__#$edge#" -e "s#__WIDGET_KEY__#$wk#" -e "s#__MODE__#$mode#" edge/widget/demo/index.html >"$dir/site/index.html"
python3 -m http.server "$page_port" --bind 127.0.0.1 --directory "$dir/site" >"$dir/page.log" 2>&1 &
pids+=($!)

# Two agents for the console (created once; 409 on later runs is fine), and
# a few canned replies.
for a in "lin:Lin 林" "sam:Sam"; do
  id=${a%%:*}; name=${a#*:}
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$api/v1/agents" "${tk[@]}" \
    -d "{\"id\":\"$id\",\"name\":\"$name\",\"password\":\"kefu-demo-password\"}")
  case "$code" in 201|409) ;; *) echo "creating agent $id: HTTP $code" >&2 ;; esac
done
curl -fsS -X POST "$api/v1/canned-replies" "${tk[@]}" -d '{"id":"greet","title":"问候 Greeting","text":"您好，我是人工客服，很高兴为您服务！"}' >/dev/null
curl -fsS -X POST "$api/v1/canned-replies" "${tk[@]}" -d '{"id":"refund","title":"Refund timeline","text":"Refunds reach your original payment method within 3-5 working days after we receive the item."}' >/dev/null

edge_kind="in-process edge (kefu-regional's public listener)"
[ $wasm = 1 ] && edge_kind="wasm edge (Spin component under wasmtime serve)"
cat <<MSG

  kefu demo is running.
    shop page with the widget:  $page/
    edge (public API):          $edge   — $edge_kind
    regional API:               $api    (tenant key in $dir/tenant.json)
    agent console:              $api/console   (tenant demo-shop, agents lin / sam, password kefu-demo-password)
    answers:                    $mode
  Logs in $dir/*.log. Press Ctrl-C to stop.

MSG
wait "${pids[0]}"
