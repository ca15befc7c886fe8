# Sourced by e2e.sh and bench.sh: `start_isolated_server NAME PROFILE PORT [COUNT]` starts the
# built server (target/<PROFILE>/faultline) on 127.0.0.1:PORT over a fresh database
# `faultline_NAME` and its own Redis prefix, waits until it is healthy, and stops it (and removes
# its Redis keys) when the calling script exits. Sets `server` (its pid), `log` (its log file),
# `base_url` and `database_url`. With COUNT > 1 it starts that many servers on consecutive ports,
# sharing the database and the Redis prefix (as instances behind a load balancer would), and also
# sets `servers` and `base_urls` (comma-separated).

start_isolated_server() {
  local name=$1 profile=$2 port=$3 count=${4:-1}
  local pg_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
  local server_root=${pg_url%/*} db="faultline_$1" target_dir=${CARGO_TARGET_DIR:-target}
  isolated_prefix="faultline-$name-$$"
  local p
  for p in $(seq "$port" $((port + count - 1))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "error: port $p is taken; choose another with the script's *_PORT variable" >&2
      exit 1
    fi
  done
  PGOPTIONS="--client-min-messages=warning" psql "$server_root/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  psql "$server_root/postgres" -qc "CREATE DATABASE $db" >/dev/null
  mkdir -p "$target_dir"
  database_url="$server_root/$db"
  base_url="http://127.0.0.1:$port"
  servers=() base_urls=""
  trap stop_isolated_server EXIT
  local i url spool_dir
  # One after the other: the first applies the migrations.
  for i in $(seq 0 $((count - 1))); do
    url="http://127.0.0.1:$((port + i))"
    log="$(cd "$target_dir" && pwd)/$name-server$([ "$i" = 0 ] || echo "-$i").log"
    spool_dir="$(cd "$target_dir" && pwd)/$name-spool-$i"
    rm -rf "$spool_dir"
    LEPTOS_SITE_ADDR="127.0.0.1:$((port + i))" LEPTOS_SITE_ROOT="target/site" \
    DATABASE_URL="$database_url" FAULTLINE_REDIS_PREFIX="$isolated_prefix" FAULTLINE_PUBLIC_URL="$base_url" \
    FAULTLINE_SPOOL_DIR="$spool_dir" \
      "$target_dir/$profile/faultline" >"$log" 2>&1 &
    servers+=($!)
    base_urls="$base_urls${base_urls:+,}$url"
    wait_healthy "$url" "$!" "$log"
  done
  server=${servers[0]}
  log="$(cd "$target_dir" && pwd)/$name-server.log"
}

wait_healthy() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 1 120); do
    curl -fsS "$url/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "error: the server exited; its log:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: the server did not become healthy; its log:" >&2
  cat "$log" >&2
  exit 1
}

stop_isolated_server() {
  local redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
  local pid
  for pid in "${servers[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  redis-cli -u "$redis_url" --scan --pattern "$isolated_prefix:*" 2>/dev/null \
    | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
}
