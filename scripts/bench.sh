#!/usr/bin/env bash
# `make bench`: builds the release server and the load generator, starts the server against a
# fresh database and Redis prefix on its own port, runs the benchmark, prints the table and
# writes the figures to bench-results.json (in the build directory).
#
#   scripts/bench.sh                  one server: throughput, latency, time to visible, reads, memory
#   scripts/bench.sh --instances 3    three servers sharing PostgreSQL and Redis; one is SIGKILLed
#
# FAULTLINE_BENCH_SECONDS (default 60) sets each load phase's length (the overload phase's:
# FAULTLINE_BENCH_OVERLOAD_SECONDS, default 300); FAULTLINE_BENCH_SOAK_SECONDS
# (default 0: skipped) adds a memory soak at FAULTLINE_BENCH_SOAK_RATE events/s (default 2000);
# FAULTLINE_BENCH_PHASES (e.g. small,reads) runs only the phases named: small, medium, alerts,
# latency, visible, reads, signin, overload, ceiling, faults (the fault phase: PostgreSQL cut,
# Redis restarted). Ten alert rules to a local webhook are on the project through the load
# phases (FAULTLINE_BENCH_ALERT_RULES=0: none).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/isolated-server.sh

instances=1
while [ $# -gt 0 ]; do
  case $1 in
    --instances) instances=$2; shift 2 ;;
    *) echo "usage: $0 [--instances N]" >&2; exit 2 ;;
  esac
done

target_dir=${CARGO_TARGET_DIR:-target}
cargo leptos build --release --precompress
# Its own target directory: built with cargo-leptos' LEPTOS_* settings the shared one would
# recompile the leptos crates on every run.
cargo build --release --features ssr --bin bench --target-dir "$target_dir/bench"

# Entries a killed instance left pending are reclaimed after 5 s instead of the default 30 s.
export FAULTLINE_CLAIM_IDLE_MS=${FAULTLINE_CLAIM_IDLE_MS:-5000}
name=bench
[ "$instances" -gt 1 ] && name=bench_scale
# The account the sign-in phase signs in with.
export FAULTLINE_ADMIN_EMAIL=bench@example.com FAULTLINE_ADMIN_PASSWORD="bench admin password"
# The token the bench sets up its alert rules with; their webhook receiver is on loopback.
export FAULTLINE_ADMIN_TOKEN=bench-admin-token-0123456789abcdef FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS=true
RUST_LOG=warn start_isolated_server "$name" release "${FAULTLINE_BENCH_PORT:-3400}" "$instances"
sleep 2 # let the server settle before the idle memory reading

"$target_dir/bench/release/bench" --url "$base_urls" --pid "$(IFS=,; echo "${servers[*]}")" \
  --seconds "${FAULTLINE_BENCH_SECONDS:-60}" --database-url "$database_url" \
  --soak-seconds "${FAULTLINE_BENCH_SOAK_SECONDS:-0}" --soak-rate "${FAULTLINE_BENCH_SOAK_RATE:-2000}" \
  --overload-seconds "${FAULTLINE_BENCH_OVERLOAD_SECONDS:-300}" \
  --out "$(cd "$target_dir" && pwd)/$name-results.json" ${FAULTLINE_BENCH_PHASES:+--phases "$FAULTLINE_BENCH_PHASES"}

# The fault phase (with every phase, or when named): a server of its own over a fresh database,
# behind fault proxies the load generator runs (PostgreSQL cut, Redis restarted).
phases=",${FAULTLINE_BENCH_PHASES:-faults},"
if [ "$instances" = 1 ] && [[ $phases == *,faults,* ]]; then
  stop_isolated_server
  pg_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
  faults_db="${pg_url%/*}/faultline_bench_faults"
  PGOPTIONS="--client-min-messages=warning" psql "${pg_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS faultline_bench_faults WITH (FORCE)" >/dev/null
  psql "${pg_url%/*}/postgres" -qc "CREATE DATABASE faultline_bench_faults" >/dev/null
  "$target_dir/bench/release/bench" --faults-server "$target_dir/release/faultline" \
    --database-url "$faults_db" --redis-url "${REDIS_URL:-redis://127.0.0.1:6379}" \
    --out "$(cd "$target_dir" && pwd)/bench-faults-results.json"
fi
redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "faultline-bench-faults-*" 2>/dev/null \
  | xargs -r redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" del >/dev/null 2>&1 || true
