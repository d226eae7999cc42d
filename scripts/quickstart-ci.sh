#!/usr/bin/env bash
# Runs examples/quickstart.ts, the typed client's walk-through, against `npm start` on a fresh
# embedded database, and checks that it got as far as printing the tenant's invoices.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/embedded-server.sh
start_embedded_server quickstart

output="$data_dir/quickstart.out"
if ! BILLING_URL="$base_url" BILLING_TOKEN="$(mint_token --role platform_admin service)" \
  npm run --silent example:quickstart >"$output" 2>&1; then
  cat "$output" "$log"
  echo "quickstart: the example failed"
  exit 1
fi
cat "$output"
# At least one line of the invoice list: an invoice number, its status and total.
grep -Eq '^invoices of tnt_[A-Za-z0-9_-]+: [1-9][0-9]*$' "$output" &&
  grep -Eq '^  INV-[0-9]{4}-[0-9]{3,}  (pending|paid)  [0-9.]+ CNY' "$output" ||
  { echo "quickstart: no invoice printed"; exit 1; }
# The renewal and the usage invoice came from advancing the clock; their webhooks arrived, verified.
[ "$(grep -Ec '^  INV-[0-9]{4}-[0-9]{3,} ' "$output")" -ge 3 ] ||
  { echo "quickstart: expected the first, the renewal and the usage invoice"; exit 1; }
grep -Eq '^webhooks received: ([1-9][0-9]*) of \1 events' "$output" ||
  { echo "quickstart: not every event arrived as a webhook"; exit 1; }
echo "quickstart: passed"
