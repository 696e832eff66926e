#!/usr/bin/env bash
# Writes the locks from pyproject.toml; commit them with it:
#   requirements-dev.lock  the dependencies and the dev extra (scripts/test.sh)
#   requirements.lock      the dependencies alone (scripts/run.sh, the Dockerfile), with the same
#                          pins as requirements-dev.lock
# Every package, direct or not, is pinned exactly (==) with its sha256 hashes; scripts/lib.sh
# (ensure_venv) and the Dockerfile install them with pip, hashes checked.
# uv resolves them (`uv pip compile`); it is installed into .venv for this alone (UV_VERSION).
# Pins already in a lock are kept while pyproject.toml allows them, so a run changes only what a
# change to pyproject.toml needs; uv's options move pins on purpose:
#   scripts/lock.sh                             after editing pyproject.toml's dependencies
#   scripts/lock.sh --upgrade                   every package to the newest pyproject.toml allows
#   scripts/lock.sh --upgrade-package fastapi   that one package (and what it needs)
# The locks serve CPython 3.11 on x86_64 Linux (glibc) only: the developers' machines, CI and the
# image (python:3.11-slim-bookworm). Environment markers are evaluated for that platform, so
# another OS, CPU or Python version needs locks of its own.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

UV_VERSION=0.13.8

make_venv
version=$("$VENV/bin/uv" --version 2>/dev/null || true)
if [[ $version != "uv $UV_VERSION" && $version != "uv $UV_VERSION "* ]]; then
    say "installing uv $UV_VERSION into .venv (for locking only)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "uv==$UV_VERSION" \
        || die "pip install uv==$UV_VERSION failed"
fi

# compile LOCK DESCRIPTION [UV ARGS...]: LOCK from pyproject.toml, starting from its old pins.
compile() {
    local lock=$1 description=$2 work
    shift 2
    work=$(mktemp "$VENV/lock.XXXXXX")
    # uv keeps the pins it finds in its output file.
    if [ -f "$lock" ]; then cp "$lock" "$work"; fi
    if ! "$VENV/bin/uv" pip compile pyproject.toml --no-config --quiet --no-progress \
        --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes \
        --custom-compile-command scripts/lock.sh --output-file "$work" "$@"; then
        rm -f "$work"
        die "uv pip compile failed for $lock"
    fi
    {
        echo "# $description"
        echo "# Written by scripts/lock.sh from pyproject.toml: do not edit by hand (change"
        echo "# pyproject.toml, run scripts/lock.sh, commit both). Resolved for CPython 3.11 on"
        echo "# x86_64 Linux only (developers, CI, the image); other platforms need their own lock."
        cat "$work"
    } >"$lock.new"
    rm -f "$work"
    if cmp -s "$lock.new" "$lock"; then
        rm -f "$lock.new"
        say "$lock unchanged"
    else
        mv "$lock.new" "$lock"
        say "wrote $lock"
    fi
}

# The dev lock first (the whole set resolved together), then the plain one held to its pins.
compile requirements-dev.lock \
    "zhicheng's dependencies and its dev extra (scripts/test.sh: pip install -r)." \
    --extra dev "$@"
compile requirements.lock \
    "zhicheng's dependencies (scripts/run.sh, the Dockerfile: pip install -r)." \
    --constraint requirements-dev.lock "$@"
