#!/bin/bash
# The scaling benchmark as one command on a lent many-core machine (the "device": no network, a
# python3 with numpy and scipy, root, the working tree plus at most 64 MiB of carried files, one
# command at most 10 minutes, what is written under $OUT comes back). It unpacks .scale/ from the
# tarball carried beside the checkout, runs scale-from-checkout.sh under a time limit, and leaves
# the report and the log in $OUT, whatever happens.
#
#   bash loadtests/device-scale.sh                      # the defaults below
#   bash loadtests/device-scale.sh --workers 1,12 --rounds 3 --duration 8 --body readme \
#       --compare-with /var/tmp/qs/scale/base           # scale.py options: they replace all the defaults
#
# Defaults: --workers 1,4,12 --rounds 3 --duration 8 --body readme --compare-with $QS_BASE/scale/base
# (this checkout beside 8e7ec84, the README's one-line basket): ~6-7 minutes on 16 cores (set-up and
# seeding ~2, each worker count ~1.6: servers' start, 9 s of warm-up, 3 rounds of 3 phases of 8 s).
# scale.py measures 1 worker, then 12, then 4: a run cut at SCALE_LIMIT loses 4 workers first.
# Environment:
#   PY           the interpreter (default /opt/torch/.venv/bin/python3, the device's, which has numpy and scipy)
#   SCALE_TAR    the tarball of .scale/ (default loadtests/reports/scale.tar.xz; name it in the run's carry)
#   SCALE_LIMIT  seconds for the whole command (default 540): the run is interrupted (SIGINT, then
#                SIGKILL 30 s later) in time to copy what it has; scale.py writes the worker counts it
#                finished to the report after each one
#   QS_BASE      where scale-from-checkout.sh copies and installs (default /var/tmp/qs)
#   OUT          where the report and log go (default /tmp)
#
# Make the tarball on a machine with the network (loadtests/README.md, "The scaling benchmark from
# a checkout"): .scale/ for CPython 3.12 with .scale/base = 8e7ec84 and aiocache's wheel, then
#   tar -cJf loadtests/reports/scale.tar.xz .scale       # ~48 MiB; the checkout ~10 MiB
set -u
SECONDS=0
PY=${PY:-/opt/torch/.venv/bin/python3}
tarball=${SCALE_TAR:-loadtests/reports/scale.tar.xz}
limit=${SCALE_LIMIT:-540}
out=${OUT:-/tmp}
base=${QS_BASE:-/var/tmp/qs}
log=$out/device-scale.log
mkdir -p "$out"
: >"$log"
say() { printf '[%4d s] %s\n' "$SECONDS" "$*" | tee -a "$log"; }

if [ $# -eq 0 ]; then
    set -- --workers 1,4,12 --rounds 3 --duration 8 --body readme --compare-with "$base/scale/base"
fi
say "device-scale.sh: $PY, scale.py $*"
commit=$(git log -1 --format='%h %cI %s' 2>/dev/null) || commit="(no git here)"
say "checkout: $commit; $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
rm -f "$base/scale-report.md"  # a report left by an earlier call on the same machine is not this one's

say "unpacking $tarball"
[ -f "$tarball" ] || { say "no $tarball: name it in the run's carry"; exit 2; }
rm -rf .scale
tar -xJf "$tarball" || { say "could not unpack $tarball"; exit 2; }
say "unpacked: $(du -sm .scale | cut -f1) MiB, $(ls .scale/wheels | wc -l) wheels"

left=$(( limit - SECONDS - 40 ))  # room for SIGKILL's 30 s grace and the copy
say "scale-from-checkout.sh, at most $left s (each line below: seconds since the start)"
# timeout signals its whole process group (scale.py, the servers, wrk): SIGINT lets scale.py stop
# its servers and the private PostgreSQL and Redis it started in sessions of their own.
timeout --signal=INT --kill-after=30 "$left" bash loadtests/scale-from-checkout.sh "$PY" "$@" 2>&1 |
    while IFS= read -r line; do printf '[%4d s] %s\n' "$SECONDS" "$line"; done | tee -a "$log"
status=${PIPESTATUS[0]}
case $status in
    0) say "finished" ;;
    124 | 137) say "stopped at the time limit ($status): the report holds the worker counts that finished" ;;
    *) say "scale-from-checkout.sh failed ($status)" ;;
esac

if [ -s "$base/scale-report.md" ]; then
    cp "$base/scale-report.md" "$out/scale-report.md"
    say "report: $out/scale-report.md"
    cat "$out/scale-report.md"
else
    say "no report was written"
fi
say "done in $SECONDS s, $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
exit "$status"
