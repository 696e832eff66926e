#!/usr/bin/env bash
# The one test command (CI runs exactly this through .ci/run): installs .venv with the dev
# extras, runs ruff, the import contracts and mypy, starts a throwaway PostgreSQL so the record
# tests also run against it, then the whole pytest suite.
#   scripts/test.sh [PYTEST ARGS...]
# A ZHICHENG_TEST_POSTGRES_URL already set is used as it is. ZHICHENG_SKIP_POSTGRES=1 skips
# PostgreSQL (and so those tests) for a quick local run; CI=true ignores it.
# In CI (CI=true), or with ZHICHENG_TEST_SUITE_ON_POSTGRES=1, the whole suite's record database
# is that PostgreSQL; SQLite (the default elsewhere) is covered by the record/migration tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv dev
ensure_browser # Chromium for tests/e2e/test_e2e_browser.py (as root: apt-get install chromium)

echo "== ruff"
ruff check .
ruff format --check .

echo "== import contracts (lint-imports; pyproject.toml [tool.importlinter])"
lint-imports --no-cache

echo "== mypy"
mypy .

pgdir=""
# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
    [ -n "$pgdir" ] || return 0
    # Quietly, so that pytest's summary stays the last line printed.
    bash scripts/postgres.sh stop "$pgdir" >>"$pgdir.log" 2>&1 \
        || { cat "$pgdir.log" >&2; say "could not stop PostgreSQL in $pgdir"; }
    rm -rf "$pgdir" "$pgdir.log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${ZHICHENG_TEST_POSTGRES_URL:-}" ]; then
    say "PostgreSQL record tests against ${ZHICHENG_TEST_POSTGRES_URL##*@} (ZHICHENG_TEST_POSTGRES_URL)"
elif [ "${ZHICHENG_SKIP_POSTGRES:-}" = 1 ] && [ "${CI:-}" != true ]; then
    say "ZHICHENG_SKIP_POSTGRES=1: the PostgreSQL record tests are skipped"
else
    pgdir=$(mktemp -d /tmp/zhicheng-pg.XXXXXX)
    chmod 755 "$pgdir" # as root, postgres.sh runs the server as the postgres user: it must reach it
    port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if ! url=$(bash scripts/postgres.sh start "$pgdir" "$port" 2>"$pgdir.log"); then
        cat "$pgdir.log" >&2
        die "PostgreSQL did not start; the record tests need it (ZHICHENG_SKIP_POSTGRES=1 skips them locally)"
    fi
    export ZHICHENG_TEST_POSTGRES_URL=$url
    say "throwaway PostgreSQL on 127.0.0.1:$port for the record tests"
fi

# The whole suite on PostgreSQL (its public schema, migrated from empty): CI does it once.
if { [ "${CI:-}" = true ] || [ "${ZHICHENG_TEST_SUITE_ON_POSTGRES:-}" = 1 ]; } \
    && [ -n "${ZHICHENG_TEST_POSTGRES_URL:-}" ]; then
    export ZHICHENG_TEST_DATABASE_URL=$ZHICHENG_TEST_POSTGRES_URL
    say "the whole suite's record database: PostgreSQL ${ZHICHENG_TEST_POSTGRES_URL##*@}"
fi

echo "== pytest"
status=0
python -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    die "pytest collected no tests; there must be tests"
fi
# No process the suite started may outlive it: a PDF renderer (documents/render.py) ends with
# its parent. Orphans of this virtualenv's Python (parent pid 1) would be ones that did not.
sleep 1
orphans=$(ps -eo pid=,ppid=,args= | awk -v py="$VENV/bin/python" '$2 == 1 && index($0, py) && /spawn_main/ {print $1}')
if [ -n "$orphans" ]; then
    ps -o pid,args -p "$(echo "$orphans" | paste -sd, -)" >&2 || true
    die "the suite left renderer processes behind (pids: $(echo "$orphans" | paste -sd' ' -))"
fi
exit "$status"
