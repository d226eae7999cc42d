#!/usr/bin/env bash
# Starts the service as a newcomer would (`npm start`, embedded database, fresh data folder) and
# probes health, readiness, docs, the OpenAPI spec and authenticated round trips (a tenant subscribing).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/embedded-server.sh
start_embedded_server smoke

check() {
  local path="$1" expected="$2"
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' "${@:3}" "$base_url$path")"
  [[ "$status" == "$expected" ]] || { cat "$log"; echo "smoke: $path gave $status, wanted $expected"; exit 1; }
  echo "smoke: $path $status"
}
check /healthz 200
check /readyz 200
check /docs/ 200
check /openapi.json 200
check /metrics 200
check /admin/tenants 401

token="$(mint_token --role platform_admin)"
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
