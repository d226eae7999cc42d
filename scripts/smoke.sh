#!/usr/bin/env bash
# Starts the service as a newcomer would (`npm start`, embedded database, fresh data folder) and
# probes health, readiness, docs, the OpenAPI spec and authenticated round trips (a tenant subscribing).
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="$(mktemp -d)"
# A port nobody holds, so an older server can never answer in this one's place.
port="${SMOKE_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
log="$data_dir/server.log"
cleanup() {
  # npm and the server form one process group of their own: stop both.
  [[ -n "${server_pid:-}" ]] && kill -TERM -- "-$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

started=$(date +%s%N)
setsid env -u DATABASE_URL -u BILLING_JWT_SECRET BILLING_DATA_DIR="$data_dir" PORT="$port" LOG_LEVEL=warn \
  npm start --silent >"$log" 2>&1 &
server_pid=$!

for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "smoke: server exited"; exit 1; }
  sleep 0.25
done
echo "smoke: embedded start-up took $(( ($(date +%s%N) - started) / 1000000 )) ms"

check() {
  local path="$1" expected="$2"
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' "${@:3}" "http://127.0.0.1:$port$path")"
  [[ "$status" == "$expected" ]] || { cat "$log"; echo "smoke: $path gave $status, wanted $expected"; exit 1; }
  echo "smoke: $path $status"
}
check /healthz 200
check /readyz 200
check /docs/ 200
check /openapi.json 200
check /metrics 200
check /admin/tenants 401

token="$(BILLING_DATA_DIR="$data_dir" node bin/billing.js token --role platform_admin)"
check /admin/tenants 201 -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"tenant_id":"tnt_smoke","name":"Smoke","admin_user_id":"usr_smoke"}'
check /billing/tenants/tnt_smoke 200 -H "authorization: Bearer $token"
check /admin/plans 201 -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"plan_id":"pro","name":"Pro","currency":"CNY","monthly_price":499,"trial_days":14}'
check /billing/subscriptions/tnt_smoke 201 -X POST -H "authorization: Bearer $token" -H 'idempotency-key: smoke-1' \
  -H 'content-type: application/json' -d '{"plan_id":"pro","billing_cycle":"monthly"}'
check /billing/subscriptions/tnt_smoke 200 -H "authorization: Bearer $token"
check /admin/billing-run 200 -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' -d '{}'
grep -q 'API docs:' "$log" || { cat "$log"; echo "smoke: no welcome banner"; exit 1; }
echo "smoke: passed"
