#!/usr/bin/env bash
# Installs and runs zhicheng in one command: .venv, the embedded Temporal dev server (Web UI
# http://127.0.0.1:8233, state in var/temporal.db, log in var/temporal.log), the codec server
# the Web UI decrypts payloads with (codec_server.py, http://127.0.0.1:8234), then the worker in
# the foreground. Ctrl-C or SIGTERM stops the worker and the dev server.
# It runs as development (ZHICHENG_ENV=development unless the environment says otherwise): the
# development codec key and token stand in for ZHICHENG_CODEC_KEYS and ZHICHENG_CODEC_TOKEN.
# With TEMPORAL_ADDRESS set, no dev server is started and the worker connects there. The other
# settings (TEMPORAL_NAMESPACE, ZHICHENG_TASK_QUEUE, DATABASE_URL, SMTP_*, ...) are settings.py's,
# from the environment or .env. The record database is migrated (alembic) before the worker starts.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv "" # no extras: what the worker needs
mkdir -p var

# A development run: the secrets may be unset, development-only values stand in (settings.py,
# docs/security.md). ZHICHENG_ENV=production bash scripts/run.sh checks them as production does.
export ZHICHENG_ENV=${ZHICHENG_ENV:-development}

ADDRESS=127.0.0.1:7233
# 127.0.0.1 for the UI as for the codec server: the codec's login cookie (SameSite) is sent
# only to the same site, and http://localhost is another site than http://127.0.0.1.
UI=http://127.0.0.1:8233
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
export ZHICHENG_ENV=${ZHICHENG_ENV:-development}
CODEC_ADDRESS=${ZHICHENG_CODEC_ADDRESS:-127.0.0.1:8234}
CODEC=http://$CODEC_ADDRESS

# The worker and the server run in the background so that a signal reaches this script at once
# (bash runs a trap only after a foreground child exits); without job control they ignore
# SIGINT, so Ctrl-C reaches only this script, which then stops them in order with SIGTERM.
worker="" server="" portal="" codec=""

# end PID NAME: SIGTERM a child and wait for it, killing it after 15 s.
# shellcheck disable=SC2317 # (only the trap calls it)
end() {
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; say "$2 stopped"; return 0; }
        sleep 0.5
    done
    say "$2 did not stop within 15 s; killing it (pid $1)"
    kill -KILL "$1" 2>/dev/null || true
}
# shellcheck disable=SC2317
cleanup() { # the worker first, then the server it talks to
    trap - EXIT INT TERM HUP
    [ -z "$portal" ] || end "$portal" portal
    [ -z "$codec" ] || end "$codec" "codec server"
    [ -z "$worker" ] || end "$worker" worker
    [ -z "$server" ] || end "$server" "Temporal dev server"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
    if temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; then
        die "a Temporal server already answers on $ADDRESS (another run.sh?): stop it," \
            "or set TEMPORAL_ADDRESS=$ADDRESS to use it"
    fi
    # The search attributes (models/search_attributes.py) are registered at every start; on an
    # existing db file the known ones are a no-op and a new one is added.
    attributes=()
    while read -r pair; do attributes+=(--search-attribute "$pair"); done \
        < <(python -m models.search_attributes)
    temporal server start-dev --db-filename var/temporal.db --ip 127.0.0.1 --port 7233 \
        --ui-port 8233 --namespace "$NAMESPACE" --ui-disable-news-fetch \
        --ui-codec-endpoint "$CODEC" "${attributes[@]}" >var/temporal.log 2>&1 &
    server=$!
    tries=0
    until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
        if ! kill -0 "$server" 2>/dev/null; then
            tail -n 20 var/temporal.log >&2
            server=
            die "the Temporal dev server exited; see var/temporal.log"
        fi
        ((++tries <= 120)) || die "the Temporal dev server did not answer on $ADDRESS in 60 s"
        sleep 0.5
    done
    export TEMPORAL_ADDRESS=$ADDRESS
    echo "Temporal dev server on $ADDRESS, namespace $NAMESPACE (log: var/temporal.log)"
    echo "Web UI: $UI"
    # One Delivery workflow per message would drown the list: the link opens it on the
    # declarations, rounds and sessions (docs/operations.md, "Views to save")
    echo "  the people's workflows, without the deliveries: $UI/namespaces/$NAMESPACE/workflows?query=WorkflowType%20IN%20%28%27Declaration%27%2C%20%27Round%27%2C%20%27RoundLauncher%27%2C%20%27CommitteeSession%27%29"
else
    echo "Temporal at $TEMPORAL_ADDRESS, namespace $NAMESPACE (TEMPORAL_ADDRESS is set: no dev server)"
fi

# Settings checked (one line per bad one, exit 2), then the record database as settings.py
# resolves it brought to the newest migration (migrations/; a SQLite file's directory is
# created, a database made by create_all before migrations is stamped first). The worker
# applies them too; doing it here first shows a migration failure before anything starts.
python - <<'EOF'
import asyncio

from sqlalchemy.engine import make_url

from store.db import dispose_engines, ensure_schema
from settings import load_settings_or_exit

settings = load_settings_or_exit()
url = make_url(settings.database_url)
if url.get_backend_name() == "sqlite" and url.database:
    print(f"Records database: {url.database} (SQLite)")
else:
    print(f"Records database: {url.render_as_string(hide_password=True)}")


async def migrate() -> None:
    await ensure_schema(settings.database_url)
    await dispose_engines()


asyncio.run(migrate())
print("Records database migrated to head (alembic)")
EOF

python worker.py &
worker=$!

# The codec server (codec_server.py): the Web UI shows decrypted payloads through it, once this
# browser has signed in at $CODEC/login with the token (docs/security.md).
ZHICHENG_CODEC_ADDRESS=$CODEC_ADDRESS python codec_server.py &
codec=$!
if [ -n "${ZHICHENG_CODEC_TOKEN:-}" ]; then
    echo "Codec server: $CODEC (sign in at $CODEC/login with ZHICHENG_CODEC_TOKEN)"
else
    echo "Codec server: $CODEC (sign in at $CODEC/login with the development token" \
        "zhicheng-development-codec-token; in the Web UI's Codec Server settings tick" \
        "'Include cross-origin credentials')"
fi

# The portal (portal/app.py) beside the worker; demo accounts for every role, made only when
# missing and printed (python -m portal.demo).
PORTAL_PORT=${PORTAL_PORT:-8000}
python -m portal.demo
python -m uvicorn portal.app:app --host 127.0.0.1 --port "$PORTAL_PORT" --no-proxy-headers &
portal=$!
echo "Portal: http://localhost:$PORTAL_PORT"

# Whichever stops first (the worker, the portal, or the dev server under them) ends the run.
status=0
wait -n -p first ${server:+"$server"} "$worker" "$portal" "$codec" || status=$?
if [ "${first:-}" = "$server" ]; then
    say "the Temporal dev server exited (status $status); see var/temporal.log"
    server=
elif [ "${first:-}" = "$portal" ]; then
    say "the portal exited (status $status)"
    portal=
elif [ "${first:-}" = "$codec" ]; then
    say "the codec server exited (status $status)"
    codec=
else
    say "the worker exited (status $status)"
    worker=
fi
exit "$status"
