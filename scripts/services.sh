#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at DATABASE_URL and REDIS_URL, and that the database
# exists. Where nothing answers, starts project-local servers under .data/ from the installed
# server binaries (installing Debian's postgresql / redis-server first when missing and root).
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/faultline}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
DATA_DIR=${FAULTLINE_DATA_DIR:-$PWD/.data}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if ! is_root; then
    echo "error: $* missing; install with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# postgres://user[:pass]@host[:port]/db[?…]
pg_rest=${DATABASE_URL#*://}
pg_auth=${pg_rest%%@*}
[ "$pg_auth" = "$pg_rest" ] && pg_auth=""
pg_hostpart=${pg_rest#*@}
pg_hostport=${pg_hostpart%%/*}
pg_db=${pg_hostpart#*/}
pg_db=${pg_db%%\?*}
pg_user=${pg_auth%%:*}
pg_user=${pg_user:-postgres}
pg_host=${pg_hostport%%:*}
pg_port=${pg_hostport##*:}
[ "$pg_port" = "$pg_hostport" ] && pg_port=5432
admin_url="${DATABASE_URL%%/"$pg_db"*}/postgres"

# redis://[:pass@]host[:port][/db]
rd_rest=${REDIS_URL#*://}
rd_rest=${rd_rest#*@}
rd_hostport=${rd_rest%%/*}
rd_host=${rd_hostport%%:*}
rd_port=${rd_hostport##*:}
[ "$rd_port" = "$rd_hostport" ] && rd_port=6379

pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

pg_answers() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h "$pg_host" -p "$pg_port" -t 2
  else
    (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null
  fi
}

redis_answers() {
  command -v redis-cli >/dev/null && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ]
}

start_local_postgres() {
  local bin
  bin=$(pg_bin_dir)
  if [ -z "$bin" ]; then
    say "installing PostgreSQL (Debian package postgresql)"
    apt_install postgresql
    bin=$(pg_bin_dir)
    # The package may have started its own cluster on the standard port.
    pg_answers && return 0
  fi
  local dir="$DATA_DIR/postgres" run=()
  mkdir -p "$DATA_DIR"
  if is_root; then
    # PostgreSQL refuses to run as root: run it as the package's postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --home "$DATA_DIR" postgres
    run=(runuser -u postgres --)
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "creating a project-local PostgreSQL cluster in $dir"
    mkdir -p "$dir"
    is_root && chown postgres "$DATA_DIR" "$dir"
    "${run[@]}" "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  say "starting PostgreSQL on $pg_host:$pg_port (data in $dir)"
  "${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
    -o "-p $pg_port -c listen_addresses=$pg_host -k $dir" start >/dev/null
}

start_local_redis() {
  if ! command -v redis-server >/dev/null; then
    say "installing Redis (Debian package redis-server)"
    apt_install redis-server
    redis_answers && return 0
  fi
  mkdir -p "$DATA_DIR/redis"
  say "starting Redis on $rd_host:$rd_port (data in $DATA_DIR/redis)"
  redis-server --daemonize yes --bind "$rd_host" --port "$rd_port" --dir "$DATA_DIR/redis" \
    --appendonly yes --save "" --logfile "$DATA_DIR/redis/redis.log" --pidfile "$DATA_DIR/redis/redis.pid"
}

command -v psql >/dev/null || apt_install postgresql-client
command -v redis-cli >/dev/null || apt_install redis-tools

if ! pg_answers; then
  start_local_postgres
fi
for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
pg_answers || { echo "error: PostgreSQL does not answer at $pg_host:$pg_port" >&2; exit 1; }

if ! redis_answers; then
  start_local_redis
fi
for _ in $(seq 1 30); do redis_answers && break; sleep 0.5; done
redis_answers || { echo "error: Redis does not answer at $REDIS_URL" >&2; exit 1; }

# The database itself.
if ! psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$pg_db'" 2>/dev/null | grep -q 1; then
  say "creating database $pg_db"
  psql "$admin_url" -qc "CREATE DATABASE \"$pg_db\"" >/dev/null
fi
echo "PostgreSQL ($pg_host:$pg_port/$pg_db) and Redis ($rd_host:$rd_port) answer."
