#!/usr/bin/env bash
# `make bench`: builds the release server and the load generator, starts the server against a
# fresh database and Redis prefix on its own port, runs the benchmark, prints the table and
# writes the figures to bench-results.json (in the build directory).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/isolated-server.sh

target_dir=${CARGO_TARGET_DIR:-target}
cargo leptos build --release
# Its own target directory: built with cargo-leptos' LEPTOS_* settings the shared one would
# recompile the leptos crates on every run.
cargo build --release --features ssr --bin bench --target-dir "$target_dir/bench"

RUST_LOG=warn start_isolated_server bench release "${FAULTLINE_BENCH_PORT:-3400}"
sleep 2 # let the server settle before the idle memory reading

"$target_dir/bench/release/bench" --url "$base_url" --pid "$server" --seconds "${FAULTLINE_BENCH_SECONDS:-20}" \
  --out "$(cd "$target_dir" && pwd)/bench-results.json"
