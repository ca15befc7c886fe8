#!/usr/bin/env bash
# `make bench`: builds the release server and the load generator, starts the server against a
# fresh database and Redis prefix on its own port, runs the benchmark, prints the table and
# writes the figures to bench-results.json (in the build directory).
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
target_dir=${CARGO_TARGET_DIR:-target}
port=${FAULTLINE_BENCH_PORT:-3400}
seconds=${FAULTLINE_BENCH_SECONDS:-20}
server_root=${DATABASE_URL%/*}
db=faultline_bench
prefix="faultline-bench-$$"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "error: port $port is taken; set FAULTLINE_BENCH_PORT" >&2
  exit 1
fi

cargo leptos build --release
# Its own target directory: built with cargo-leptos' LEPTOS_* settings the shared one would
# recompile the leptos crates on every run.
cargo build --release --features ssr --bin bench --target-dir "$target_dir/bench"

PGOPTIONS="--client-min-messages=warning" psql "$server_root/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
psql "$server_root/postgres" -qc "CREATE DATABASE $db" >/dev/null

mkdir -p "$target_dir"
log="$(cd "$target_dir" && pwd)/bench-server.log"
LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="target/site" RUST_LOG=warn \
DATABASE_URL="$server_root/$db" FAULTLINE_REDIS_PREFIX="$prefix" FAULTLINE_PUBLIC_URL="http://127.0.0.1:$port" \
  "$target_dir/release/faultline" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "$prefix:*" 2>/dev/null \
    | xargs -r redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" del >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.5
done
sleep 2 # let the server settle before the idle memory reading

"$target_dir/bench/release/bench" --url "http://127.0.0.1:$port" --pid "$server" --seconds "$seconds" \
  --out "$(cd "$target_dir" && pwd)/bench-results.json"
