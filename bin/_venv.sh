# shellcheck shell=bash
# Sourced by bin/run and bin/test (not executable on its own).
#
# venv_ensure [EXTRAS]: make sure .venv exists and holds this project installed in editable
# mode (with the optional dependency group EXTRAS, e.g. "dev"). pip runs only when the
# virtualenv is new or pyproject.toml changed since the last install with the same extras: a
# stamp in .venv records the hash of pyproject.toml that was installed.
#
# node_packages_ensure DIR: make sure DIR/node_modules holds what DIR/package-lock.json pins
# (tests/e2e/sdk: the Talon.One JavaScript SDK the end-to-end tests drive the server with).
# `npm ci` runs only when node_modules is missing or package.json/package-lock.json changed
# since the last install: a stamp in node_modules records their hash.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

venv_python_for_new_venv() {
    # The project needs Python 3.11 (pyproject.toml: requires-python).
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [[ -n $candidate ]] || continue
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    die "Python 3.11 is required to create $VENV (set PYTHON=/path/to/python3.11)"
}

venv_ensure() {
    local extras="${1:-}"
    local spec="$REPO_ROOT"
    [[ -n $extras ]] && spec="$REPO_ROOT[$extras]"

    if [[ ! -x $VENV/bin/python ]]; then
        local python
        python="$(venv_python_for_new_venv)"
        say "Creating the virtualenv $VENV with $python"
        "$python" -m venv "$VENV"
    fi

    local stamp="$VENV/.talonone-installed${extras:+-$extras}"
    local wanted
    wanted="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$wanted" ]]; then
        say "Installing the project into .venv (pip install -e '.${extras:+[$extras]}')"
        # pip's build back end is chatty even with --quiet: keep its output, show it on failure.
        local log="$VENV/pip-install.log"
        if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "pip install failed; the full output is in $log"
        fi
        printf '%s\n' "$wanted" >"$stamp"
    fi
}

node_packages_ensure() {
    local dir=$1
    command -v npm >/dev/null 2>&1 || die "npm is required to install the node packages of $dir"
    local stamp="$dir/node_modules/.talonone-installed"
    local wanted
    wanted="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$wanted" ]]; then
        say "Installing the node packages of ${dir#"$REPO_ROOT/"} (npm ci)"
        # npm ci empties node_modules first, so its log lives outside it.
        local log
        log="$(mktemp "${TMPDIR:-/tmp}/talonone-npm-ci.XXXXXX")"
        if ! (cd "$dir" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "npm ci failed in $dir; the full output is in $log"
        fi
        rm -f "$log"
        printf '%s\n' "$wanted" >"$stamp"
    fi
}
