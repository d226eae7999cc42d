# Sourced by scripts/smoke.sh and scripts/quickstart-ci.sh: `start_embedded_server <name>` starts
# the service as a newcomer would (`npm start`, embedded database, a fresh data folder, a free
# port) and waits for /healthz; the EXIT trap stops it and removes the folder. It sets data_dir,
# port, log (the server's output) and base_url.

data_dir="$(mktemp -d)"
# A port nobody holds, so an older server can never answer in this one's place.
port="${SMOKE_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
log="$data_dir/server.log"
base_url="http://127.0.0.1:$port"
cleanup() {
  # npm and the server form one process group of their own: stop both.
  [[ -n "${server_pid:-}" ]] && kill -TERM -- "-$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

start_embedded_server() {
  local name="$1"
  local started
  started=$(date +%s%N)
  setsid env -u DATABASE_URL -u BILLING_JWT_SECRET BILLING_DATA_DIR="$data_dir" PORT="$port" LOG_LEVEL=warn \
    npm start --silent >"$log" 2>&1 &
  server_pid=$!
  # A fresh folder is created and migrated first: seconds, more on a busy machine.
  local deadline=$((SECONDS + 120))
  until curl -fs "$base_url/healthz" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "$name: server exited"; exit 1; }
    ((SECONDS < deadline)) || { cat "$log"; echo "$name: no /healthz answer after 120 s"; exit 1; }
    sleep 0.25
  done
  echo "$name: embedded start-up took $(( ($(date +%s%N) - started) / 1000000 )) ms"
}

# A token minted with the development secret of this server's data folder.
mint_token() {
  BILLING_DATA_DIR="$data_dir" node bin/billing.js token "$@"
}
