#!/usr/bin/env bash
# Runs the browser tests: the debug server (already built by `cargo leptos build`) on its own
# port, over a fresh database and its own Redis prefix, driven by Playwright in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
target_dir=${CARGO_TARGET_DIR:-target}
port=${FAULTLINE_E2E_PORT:-3123}
server_root=${DATABASE_URL%/*}
e2e_db=faultline_e2e
mkdir -p "$target_dir"
log="$(cd "$target_dir" && pwd)/e2e-server.log"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "error: port $port is taken; set FAULTLINE_E2E_PORT to a free port" >&2
  exit 1
fi

PGOPTIONS="--client-min-messages=warning" psql "$server_root/postgres" -qc "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" >/dev/null
psql "$server_root/postgres" -qc "CREATE DATABASE $e2e_db" >/dev/null

LEPTOS_SITE_ADDR="127.0.0.1:$port" \
LEPTOS_SITE_ROOT="target/site" \
DATABASE_URL="$server_root/$e2e_db" \
FAULTLINE_REDIS_PREFIX="faultline-e2e-$$" \
FAULTLINE_PUBLIC_URL="http://127.0.0.1:$port" \
  "$target_dir/debug/faultline" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "faultline-e2e-$$:*" 2>/dev/null \
    | xargs -r redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" del >/dev/null 2>&1 || true
}
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "error: the server exited; its log:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.5
done

cd end2end
FAULTLINE_E2E_URL="http://127.0.0.1:$port" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test || {
  echo "--- server log ---" >&2
  tail -n 50 "$log" >&2 || true
  exit 1
}
