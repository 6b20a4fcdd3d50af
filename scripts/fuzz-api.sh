#!/usr/bin/env bash
# Schema-driven fuzzing of the regional service's HTTP API: schemathesis reads
# /openapi.json and checks every JSON route against it (status codes, response
# schemas, content types, no 5xx). The signed MessagePack edge routes are out
# of its reach and covered by their own tests.
#   scripts/fuzz-api.sh [path/to/kefu-regional]   (default: target/debug/kefu-regional)
#   KEFU_FUZZ_EXAMPLES=200 scripts/fuzz-api.sh      (more examples per route)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/kefu-regional}
[ -x "$bin" ] || cargo build -p kefu-regional --locked
examples=${KEFU_FUZZ_EXAMPLES:-30}

command -v st >/dev/null 2>&1 || { echo "schemathesis missing: run scripts/setup.sh"; exit 1; }

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
op="fuzz-operator-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
# The fuzzer sends thousands of requests, many of them unauthenticated on
# purpose: lift the rate limits so it sees the real answers, not 429s.
printf '[limits]\nfailed_auth_per_minute = 1000000\ntenant_requests_per_minute = 1000000\n' >"$data.toml"
KEFU_CONFIG="$data.toml" KEFU_DATA_DIR="$data" KEFU_LISTEN="127.0.0.1:$port" KEFU_OPERATOR_TOKEN="$op" \
  KEFU_MASTER_KEY=000102030405060708090a0b0c0d0e0f KEFU_LOG=warn \
  "$bin" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.toml"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
key=$(curl -fsS -X POST "$base/admin/v1/tenants" -H "Authorization: Bearer $op" \
  -H 'Content-Type: application/json' -d '{"id":"fuzz-shop","name":"Fuzz Shop"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

common=(--checks all --max-examples "$examples" --max-failures 20 --no-color)
rc=0
# Tenant routes first: the operator run may rotate or delete the tenant.
echo "== tenant and ops routes"
st --config-file scripts/schemathesis.toml run "$base/openapi.json" -H "Authorization: Bearer $key" \
  --include-path-regex '^/(v1/(conversations|audit|kb)|healthz|readyz|metrics|openapi\.json)' \
  "${common[@]}" || rc=1
# Agents, canned replies and handoff rules (tenant key), and the console
# (an agent's session cookie). Signing out would end the session the run
# uses, and the event stream never ends: both are left to their own tests.
curl -fsS -X POST "$base/v1/agents" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"id":"fuzz-agent","name":"Fuzz Agent","password":"fuzz password 123"}' >/dev/null
cookie=$(curl -fsS -D - -o /dev/null -X POST "$base/console/v1/login" -H 'Content-Type: application/json' \
  -d '{"tenant":"fuzz-shop","agent_id":"fuzz-agent","password":"fuzz password 123"}' |
  sed -nE 's/^[Ss]et-[Cc]ookie: (kefu_agent=[^;]+).*/\1/p' | tr -d '\r')
echo "== agent and console routes"
st --config-file scripts/schemathesis.toml run "$base/openapi.json" -H "Authorization: Bearer $key" -H "Cookie: $cookie" \
  --include-path-regex '^/(v1/(agents|canned-replies|handoff)|console)' \
  --exclude-path-regex '^/console/v1/(logout|events)$' \
  "${common[@]}" || rc=1
echo "== operator routes"
st --config-file scripts/schemathesis.toml run "$base/openapi.json" -H "Authorization: Bearer $op" \
  --include-path-regex '^/admin/' "${common[@]}" || rc=1
kill -0 $pid 2>/dev/null || { echo "the service died under fuzzing"; tail -20 "$data/server.log"; rc=1; }
exit $rc
