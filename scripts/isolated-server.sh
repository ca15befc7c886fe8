# Sourced by e2e.sh and bench.sh: `start_isolated_server NAME PROFILE PORT` starts the built
# server (target/<PROFILE>/faultline) on 127.0.0.1:PORT over a fresh database `faultline_NAME`
# and its own Redis prefix, waits until it is healthy, and stops it (and removes its Redis keys)
# when the calling script exits. Sets `server` (its pid), `log` (its log file) and `base_url`.

start_isolated_server() {
  local name=$1 profile=$2 port=$3
  local database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
  local server_root=${database_url%/*} db="faultline_$1" target_dir=${CARGO_TARGET_DIR:-target}
  isolated_prefix="faultline-$name-$$"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is taken; choose another with the script's *_PORT variable" >&2
    exit 1
  fi
  PGOPTIONS="--client-min-messages=warning" psql "$server_root/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  psql "$server_root/postgres" -qc "CREATE DATABASE $db" >/dev/null
  mkdir -p "$target_dir"
  log="$(cd "$target_dir" && pwd)/$name-server.log"
  base_url="http://127.0.0.1:$port"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="target/site" \
  DATABASE_URL="$server_root/$db" FAULTLINE_REDIS_PREFIX="$isolated_prefix" FAULTLINE_PUBLIC_URL="$base_url" \
    "$target_dir/$profile/faultline" >"$log" 2>&1 &
  server=$!
  trap stop_isolated_server EXIT
  for _ in $(seq 1 120); do
    curl -fsS "$base_url/health" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { echo "error: the server exited; its log:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: the server did not become healthy; its log:" >&2
  cat "$log" >&2
  exit 1
}

stop_isolated_server() {
  local redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -u "$redis_url" --scan --pattern "$isolated_prefix:*" 2>/dev/null \
    | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
}
