#!/bin/bash
# The many-core scaling benchmark from a checkout, on a machine with no network, no uv and no
# virtual environment module to spare: the way it was run on the 16-core machine (BENCHMARKS.md,
# the 16-core row of "Headline figures"). Where the offline bundle fits, run-scale.sh is simpler; this one carries
# less (the machine's own python3 supplies numpy and scipy).
#
#   bash loadtests/scale-from-checkout.sh PYTHON [scale.py options]
#   e.g. bash loadtests/scale-from-checkout.sh /opt/torch/.venv/bin/python3 --workers 1,2,4,8,12
#
# It reads $SCALE_DIR (default .scale/ in the checkout), made on a machine with the network
# (loadtests/README.md, "The scaling benchmark from a checkout"):
#   wheels/      the locked runtime wheels for PYTHON's version (the bundle's, less what PYTHON has)
#   bin/, lib/   wrk and its libraries (the bundle's)
# As root it copies the checkout to $QS_BASE (default /var/tmp/qs), installs the wheels there with
# `pip install --target` (no network) and runs loadtests/scale.py --embedded as the unprivileged
# user qsbench (PostgreSQL refuses root). The report
# is printed and copied to $OUT (default /tmp)/scale-report.md.
set -eu
PY=$1; shift
repo=$(pwd)
base=${QS_BASE:-/var/tmp/qs}
scale_dir=$(cd "${SCALE_DIR:-$repo/.scale}" && pwd)
echo "== machine"; nproc; lscpu | grep -E "Model name|^CPU\(s\)|Thread|Socket" || true; free -g | head -2; uname -r
grep PRETTY /etc/os-release || true; "$PY" -V
id qsbench >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh qsbench
rm -rf "$base"; mkdir -p "$base"
cp -R "$repo" "$base/repo"
# The folder where qsbench can read it (the checkout may sit under /root).
if [ "$scale_dir" = "$repo/.scale" ]; then mv "$base/repo/.scale" "$base/scale"; else cp -R "$scale_dir" "$base/scale"; fi
scale_dir=$base/scale
cd "$base/repo"
t0=$(date +%s)
# shellcheck disable=SC2086 # QS_EXTRA_WHEELS: more wheels, space-separated (what PYTHON lacks)
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
    --target "$base/site" "$scale_dir"/wheels/*.whl ${QS_EXTRA_WHEELS:-}
echo "== installed in $(( $(date +%s) - t0 )) s"
chown -R qsbench "$base"
as_user() {
  setpriv --reuid=qsbench --regid="$(id -g qsbench)" --init-groups env HOME="$base" \
    PATH="$scale_dir/bin:$PATH" PYTHONPATH="$base/site:$base/repo" PYTHONUNBUFFERED=1 "$@"
}
as_user "$PY" -c "import numpy, scipy.special, quote_service.pricing; print('imports: ok')"
as_user wrk -v 2>&1 | head -1 || true
as_user "$PY" loadtests/scale.py --embedded --out "$base/scale-report.md" "$@"
cp "$base/scale-report.md" "${OUT:-/tmp}/scale-report.md"
