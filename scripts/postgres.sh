#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests (trust auth, fsync off: never for real data).
#   scripts/postgres.sh start DIR PORT   prints the SQLAlchemy URL on stdout
#   scripts/postgres.sh stop DIR
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
say() { echo "postgres.sh: $*" >&2; }

pg_bin() {
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin
    elif command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
    fi
}

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir port bin
    dir=$(realpath -m "$1") port=$2
    bin=$(pg_bin)
    if [ -z "$bin" ]; then
        say "pg_ctl not found; installing postgresql-15"
        apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 >&2
        bin=$(pg_bin)
    fi
    mkdir -p "$dir/data" "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then
        id -u postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home postgres
        chown -R postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir/data"; then
            say "the postgres user cannot reach $dir (a parent directory is private); pick another DIR"
            exit 1
        fi
    fi
    chmod 700 "$dir/data"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1 || { say "initdb failed; see $dir/initdb.log"; exit 1; }
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        say "already running in $dir"
    else
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start -o \
            "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/socket \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 || {
            say "start failed; log follows"; tail -n 20 "$dir/postgres.log" >&2; exit 1
        }
    fi
    # pg_ctl -w waits for startup; pg_isready also proves the TCP listener answers.
    for _ in $(seq 60); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        sleep 0.5
    done
    say "not accepting connections on 127.0.0.1:$port; see $dir/postgres.log"
    exit 1
}

stop() {
    local dir bin
    dir=$(realpath -m "$1")
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -s "$dir/data/PG_VERSION" ] \
        && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -w -m fast stop >&2
    else
        say "nothing running in $dir"
    fi
}

case "${1:-}" in
    start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
    stop) [ $# -eq 2 ] || usage; stop "$2" ;;
    *) usage ;;
esac
