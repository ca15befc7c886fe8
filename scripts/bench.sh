#!/usr/bin/env bash
# `make bench`: builds the release server and the load generator, starts the server against a
# fresh database and Redis prefix on its own port, runs the benchmark, prints the table and
# writes the figures to bench-results.json (in the build directory).
#
#   scripts/bench.sh                  one server: throughput, latency, time to visible, reads, memory
#   scripts/bench.sh --instances 3    three servers sharing PostgreSQL and Redis; one is SIGKILLed
#
# FAULTLINE_BENCH_SECONDS (default 60) sets each load phase's length; FAULTLINE_BENCH_SOAK_SECONDS
# (default 0: skipped) adds a memory soak at FAULTLINE_BENCH_SOAK_RATE events/s (default 2000);
# FAULTLINE_BENCH_PHASES (e.g. small,reads) runs only the phases named: small, medium, latency,
# visible, reads, overload, ceiling.
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
cargo leptos build --release
# Its own target directory: built with cargo-leptos' LEPTOS_* settings the shared one would
# recompile the leptos crates on every run.
cargo build --release --features ssr --bin bench --target-dir "$target_dir/bench"

# Entries a killed instance left pending are reclaimed after 5 s instead of the default 30 s.
export FAULTLINE_CLAIM_IDLE_MS=${FAULTLINE_CLAIM_IDLE_MS:-5000}
name=bench
[ "$instances" -gt 1 ] && name=bench_scale
RUST_LOG=warn start_isolated_server "$name" release "${FAULTLINE_BENCH_PORT:-3400}" "$instances"
sleep 2 # let the server settle before the idle memory reading

"$target_dir/bench/release/bench" --url "$base_urls" --pid "$(IFS=,; echo "${servers[*]}")" \
  --seconds "${FAULTLINE_BENCH_SECONDS:-60}" --database-url "$database_url" \
  --soak-seconds "${FAULTLINE_BENCH_SOAK_SECONDS:-0}" --soak-rate "${FAULTLINE_BENCH_SOAK_RATE:-2000}" \
  --out "$(cd "$target_dir" && pwd)/$name-results.json" ${FAULTLINE_BENCH_PHASES:+--phases "$FAULTLINE_BENCH_PHASES"}
