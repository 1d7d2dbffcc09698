#!/usr/bin/env bash
# Build the container image without a Docker daemon and without an image registry, then run it.
#
#   deploy/build-offline.sh            build, then check (below)
#   deploy/build-offline.sh build      build only
#   deploy/build-offline.sh check      run the image last built and check it
#   deploy/build-offline.sh clean      remove the cache (base image, uv, image storage)
#   deploy/build-offline.sh build --build-arg EMBEDDED_STORES=0    (any further `buildah build` option)
#
# What it needs (Debian: apt-get install buildah podman runc debootstrap), as root: buildah with
# the vfs storage driver and chroot isolation (no daemon, no overlay mounts), debootstrap and
# Debian's package mirror, PyPI (for uv), podman with runc to run the image, curl and python3.
#
# build: the Dockerfile, unchanged, with three inputs it would otherwise take from registries:
#   BASE_IMAGE  a Debian image made here by debootstrap (Debian's python3.11), kept in the cache;
#   UV_IMAGE    an image holding only /uv, the binary of uv's wheel on PyPI (the Dockerfile's
#               UV_VERSION), kept in the cache;
#   secret ca   QS_EXTRA_CA (default: this machine's CA bundle, which holds the CA of a
#               TLS-intercepting proxy where there is one), so uv can download through it;
#               the build checks afterwards that no file of the image holds its extra certificates.
# check: against this machine's PostgreSQL and Redis, with host networking and
# ENVIRONMENT=production: `quote-service migrate`, the image's own command until /health/ready,
# its HEALTHCHECK, a service key (`create-api-key` in the container), a quote, an order with an
# Idempotency-Key (and its replay), SIGTERM and a clean stop (exit status 0); prints the user
# the service ran as, the image's size and its layers' sizes. DATABASE_URL / REDIS_URL given: it
# uses them as they are (and leaves them); else it creates a scratch database (QS_PG_ADMIN_URL)
# and starts a private redis-server on a free port, and removes both when it ends.
#
# Environment:
#   QS_IMAGE          the image's name (localhost/quote-service:offline)
#   QS_IMAGE_CACHE    what is kept between runs (/var/cache/quote-service-image as root)
#   QS_DEBIAN_MIRROR  (http://deb.debian.org/debian); QS_DEBIAN_SUITE (bookworm: Python 3.11)
#   QS_PYPI_SIMPLE    the package index uv's wheel comes from (https://pypi.org/simple; JSON, PEP 691)
#   QS_EXTRA_CA       the CA bundle given to the build as the secret `ca` (empty: none)
#   QS_PG_ADMIN_URL   where the scratch database is created (postgresql://postgres@127.0.0.1:5432/postgres)
#   QS_IMAGE_REPORT   a file to write the check's results to, as JSON
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${QS_IMAGE:-localhost/quote-service:offline}"
CACHE="${QS_IMAGE_CACHE:-/var/cache/quote-service-image}"
MIRROR="${QS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${QS_DEBIAN_SUITE:-bookworm}"
EXTRA_CA="${QS_EXTRA_CA-/etc/ssl/certs/ca-certificates.crt}"
PYPI="${QS_PYPI_SIMPLE:-https://pypi.org/simple}"
PG_ADMIN_URL="${QS_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
REPORT="${QS_IMAGE_REPORT:-}"
UV_VERSION="$(sed -n 's/^ARG UV_VERSION=//p' "$ROOT/Dockerfile")"
# What the base holds; a change of this list or of the suite makes a new base.
BASE_PACKAGES="python3,ca-certificates,tzdata"
BASE_IMAGE="localhost/quote-service-base:$SUITE-$(printf '%s' "$BASE_PACKAGES" | sha256sum | cut -c1-8)"
UV_IMAGE="localhost/quote-service-uv:$UV_VERSION"
# The service's own grace (SHUTDOWN_TIMEOUT_SECONDS, 30 s) and a margin: as compose's stop_grace_period.
STOP_TIMEOUT=40

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'build-offline: %s\n' "$*" >&2; exit 1; }
need() { for tool in "$@"; do command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install buildah podman runc debootstrap curl)"; done; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

[ "$(id -u)" = 0 ] || die "run it as root: buildah's vfs storage and chroot isolation need it here"
[ -n "$UV_VERSION" ] || die "no 'ARG UV_VERSION=' in $ROOT/Dockerfile"
mkdir -p "$CACHE"
RUNROOT="$CACHE/run"
STORE=(--root "$CACHE/storage" --runroot "$RUNROOT" --storage-driver vfs)
buildah_() { TMPDIR="$CACHE/tmp" buildah "${STORE[@]}" "$@"; }
# runc: crun 1.8 refuses a machine whose cgroups are mounted v1 and v2 at once ("hybrid").
PODMAN=(podman "${STORE[@]}" --runtime "${QS_OCI_RUNTIME:-runc}" --cgroup-manager cgroupfs
    --tmpdir "$RUNROOT/libpod" --events-backend file)
podman_() { "${PODMAN[@]}" "$@"; }
mkdir -p "$CACHE/tmp"
# One build or check at a time per cache (they share the image storage and the base).
exec 9>"$CACHE/lock"
flock 9

# --- build -------------------------------------------------------------------------------------

has_image() { buildah_ inspect --type image "$1" >/dev/null 2>&1; }

make_base() {
    has_image "$BASE_IMAGE" && return
    local tarball="$CACHE/base-$SUITE.tar" rootfs="$CACHE/rootfs-$SUITE" started container
    started=$(date +%s)
    if [ ! -s "$tarball" ]; then
        need debootstrap
        say "debootstrap $SUITE ($BASE_PACKAGES) from $MIRROR"
        rm -rf "$rootfs"
        debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (whole log: $CACHE/debootstrap.log)"; }
        # As Debian's own images: no package lists, downloaded packages, docs or logs; no host files.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
            "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
            "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
        tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    fi
    say "base image $BASE_IMAGE from $tarball"
    container=$(buildah_ from scratch)
    buildah_ add "$container" "$tarball" / >/dev/null
    buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd python3 --label org.opencontainers.image.description="Debian $SUITE ($BASE_PACKAGES), by debootstrap" \
        "$container"
    buildah_ commit --quiet --rm "$container" "$BASE_IMAGE" >/dev/null
    say "base ready in $(seconds_since "$started") s"
}

make_uv() {
    has_image "$UV_IMAGE" && return
    local dir="$CACHE/uv-$UV_VERSION" container started
    started=$(date +%s)
    need python3
    mkdir -p "$dir"
    if [ ! -x "$dir/uv" ]; then
        say "uv $UV_VERSION from PyPI"
        # The index's JSON Simple API (PEP 691) and the standard library: no pip needed; the wheel
        # is checked against the index's sha256.
        python3 - "$dir" "$UV_VERSION" "$(uname -m)" "$PYPI" <<'EOF'
import hashlib, io, json, pathlib, sys, urllib.parse, urllib.request, zipfile
folder, version, arch, index = pathlib.Path(sys.argv[1]), *sys.argv[2:]
page = f"{index.rstrip('/')}/uv/"
request = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
with urllib.request.urlopen(request, timeout=60) as answer:
    files = json.load(answer)["files"]
wheels = [f for f in files if f["filename"].startswith(f"uv-{version}-") and "-manylinux" in f["filename"]
          and f["filename"].endswith(f"_{arch}.whl")]
if not wheels:
    sys.exit(f"{page} has no manylinux wheel of uv {version} for {arch}")
wheel = min(wheels, key=lambda f: f["filename"])
with urllib.request.urlopen(urllib.parse.urljoin(page, wheel["url"]), timeout=300) as answer:
    data = answer.read()
if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
    sys.exit(f"{wheel['filename']}: the download does not match the index's sha256")
with zipfile.ZipFile(io.BytesIO(data)) as archive:
    (name,) = [n for n in archive.namelist() if n.endswith(".data/scripts/uv")]
    (folder / "uv.part").write_bytes(archive.read(name))
(folder / "uv.part").chmod(0o755)
(folder / "uv.part").rename(folder / "uv")
EOF
    fi
    "$dir/uv" --version | grep -qx "uv $UV_VERSION.*" || die "$dir/uv is not uv $UV_VERSION"
    container=$(buildah_ from scratch)
    buildah_ copy --chmod 0755 "$container" "$dir/uv" /uv >/dev/null
    buildah_ commit --quiet --rm "$container" "$UV_IMAGE" >/dev/null
    say "uv image $UV_IMAGE ready in $(seconds_since "$started") s"
}

# The certificates of `$1` (a PEM bundle) that the image's own bundle lacks must be in no file of
# the image: the CA given as a build secret stays out of every layer.
check_no_extra_ca() {
    local bundle=$1 mounted patterns
    mounted=$(podman_ image mount "$IMAGE")
    patterns=$(python3 - "$bundle" "$mounted/etc/ssl/certs/ca-certificates.crt" <<'EOF'
import pathlib, re, sys
def certs(path):
    p = pathlib.Path(path)
    text = p.read_text() if p.exists() else ""
    return {m.group(1).replace("\n", "") for m in re.finditer(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END", text, re.S)}
for body in sorted(certs(sys.argv[1]) - certs(sys.argv[2])):
    print(body[64:128])  # a line from inside the certificate, as PEM files wrap it
EOF
)
    if [ -n "$patterns" ]; then
        local found
        found=$(grep -rlsF -e "$patterns" "$mounted" || true)
        podman_ image unmount "$IMAGE" >/dev/null
        [ -z "$found" ] || die "the image holds the build's extra CA certificates: $found"
        say "none of the $(wc -l <<<"$patterns") extra CA certificates is in the image"
    else
        podman_ image unmount "$IMAGE" >/dev/null
    fi
}

build() {
    need buildah podman python3
    local started secret=()
    make_base
    make_uv
    if [ -n "$EXTRA_CA" ]; then
        [ -s "$EXTRA_CA" ] || die "QS_EXTRA_CA=$EXTRA_CA: no such file"
        secret=(--secret "id=ca,src=$EXTRA_CA")
    fi
    say "buildah build $IMAGE (BASE_IMAGE=$BASE_IMAGE UV_IMAGE=$UV_IMAGE${EXTRA_CA:+, secret ca=$EXTRA_CA})"
    started=$(date +%s)
    # --format docker keeps the HEALTHCHECK (OCI image configs have none); --pull=never: every
    # image named is local, nothing is pulled from a registry. No --layers: vfs stores every layer
    # as a full copy of the tree, so a cached layer per instruction costs more time than it saves
    # (the downloads are cached anyway, in the uv cache mount under $CACHE/tmp).
    buildah_ build --format docker --pull=never --isolation chroot --network host \
        --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg UV_IMAGE="$UV_IMAGE" "${secret[@]}" \
        --tag "$IMAGE" --file "$ROOT/Dockerfile" "$@" "$ROOT"
    BUILD_SECONDS=$(seconds_since "$started")
    say "built $IMAGE in $BUILD_SECONDS s"
    [ -z "$EXTRA_CA" ] || check_no_extra_ca "$EXTRA_CA"
    # What the build leaves behind: the working container of the uv stage (buildah 1.28 keeps it),
    # the builder stage's image, earlier builds' images that lost their name.
    buildah_ rm --all >/dev/null
    buildah_ rmi --prune >/dev/null 2>&1 || true
}

# --- check -------------------------------------------------------------------------------------

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# `json_field FILE EXPR`: a Python expression over the answer `a` (its `data` is `d`).
json_field() { python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); d = a.get("data"); print(eval(sys.argv[2]))' "$1" "$2"; }

CONTAINER=""
SCRATCH_DB=""
REDIS_PIDFILE=""
ANSWERS=""
cleanup() {
    set +e
    if [ -n "$CONTAINER" ]; then podman_ rm --force --time 0 "$CONTAINER" >/dev/null 2>&1; fi
    if [ -n "$REDIS_PIDFILE" ] && [ -s "$REDIS_PIDFILE" ]; then kill "$(cat "$REDIS_PIDFILE")" 2>/dev/null; fi
    if [ -n "$ANSWERS" ]; then rm -rf "$ANSWERS"; fi
    if [ -n "$SCRATCH_DB" ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$SCRATCH_DB\" WITH (FORCE)" >/dev/null; fi
}

stores() {
    if [ -z "${DATABASE_URL:-}" ]; then
        need psql
        SCRATCH_DB="qs_image_check_$$"
        psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$SCRATCH_DB\"" >/dev/null
        DATABASE_URL="${PG_ADMIN_URL%/*}/$SCRATCH_DB"
        say "scratch database $SCRATCH_DB"
    fi
    if [ -z "${REDIS_URL:-}" ]; then
        need redis-server
        local port
        port=$(free_port)
        REDIS_PIDFILE="$ANSWERS/redis.pid"
        redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
            --pidfile "$REDIS_PIDFILE" --logfile "$ANSWERS/redis.log" --dir "$ANSWERS"
        REDIS_URL="redis://127.0.0.1:$port/0"
        say "private redis-server on port $port"
    fi
}

check() {
    need podman curl python3
    has_image "$IMAGE" || die "no image $IMAGE: run '$0 build' first"
    local checking port secret started key quote order replay pid uid user stopped code nofile nproc pid_max
    checking=$(date +%s)
    trap cleanup EXIT
    ANSWERS=$(mktemp -d "$CACHE/tmp/check-XXXXXX")
    local answers=$ANSWERS
    stores
    port=$(free_port)
    secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
    # The host's own limits: podman's defaults (nofile 1048576, nproc 4194304) exceed what this
    # machine lets a process raise to; podman itself runs with nproc at most the kernel's pid_max.
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    pid_max=$(cat /proc/sys/kernel/pid_max)
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc=$pid_max; fi
    local run=(--network host --no-healthcheck --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
        -e DATABASE_URL="$DATABASE_URL" -e REDIS_URL="$REDIS_URL" -e SECRET_KEY="$secret"
        -e ENVIRONMENT=production -e PORT="$port" -e LOG_FORMAT=json)

    say "migrate (quote-service migrate, in the image)"
    podman_ run --rm "${run[@]}" -e LOG_LEVEL=WARNING "$IMAGE" quote-service migrate

    say "serve (the image's command) on 127.0.0.1:$port"
    CONTAINER="qs-image-check-$$"
    started=$(date +%s)
    podman_ run --detach --name "$CONTAINER" "${run[@]}" "$IMAGE" >/dev/null
    local base="http://127.0.0.1:$port"
    until curl -sf -o "$answers/ready.json" "$base/health/ready"; do
        if [ "$(podman_ inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]; then
            podman_ logs "$CONTAINER" | tail -30 >&2
            die "the container stopped before it was ready"
        fi
        [ "$(seconds_since "$started")" -lt 180 ] || { podman_ logs "$CONTAINER" | tail -30 >&2; die "not ready after 180 s"; }
        sleep 1
    done
    say "ready after $(seconds_since "$started") s: $(cat "$answers/ready.json")"
    # The image's HEALTHCHECK, run as an engine runs it (podman's own scheduler needs systemd).
    local probe=()
    mapfile -d '' probe < <(podman_ image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE" \
        | python3 -c 'import json, sys; test = json.load(sys.stdin); assert test[0] == "CMD", test; sys.stdout.write("\0".join(test[1:]) + "\0")')
    podman_ exec "$CONTAINER" "${probe[@]}" || die "the image's HEALTHCHECK failed on a ready service"
    say "HEALTHCHECK (${probe[*]:0:2} ...): healthy"

    # The container's main process, as the host sees it: the service itself (the CMD's `exec`).
    pid=$(podman_ inspect --format '{{.State.Pid}}' "$CONTAINER")
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    user=$(podman_ top "$CONTAINER" user | sed -n 2p)
    podman_ top "$CONTAINER" user huser pid args >&2
    [ "$uid" != 0 ] || die "the service runs as root"

    key=$(podman_ exec "$CONTAINER" quote-service create-api-key --name image-check --role service 2>/dev/null)
    [ -n "$key" ] || die "create-api-key printed no key"
    # 2 × 25.50 priced by the client, express, nothing configured (docs/pricing.md): 51.00 + 18 %
    # tax 9.18 + express delivery 2 × 10.00 = 80.18.
    curl -sS -o "$answers/quote.json" -w '%{http_code}' -X POST "$base/api/v1/quote" \
        -H "X-API-Key: $key" -H 'Content-Type: application/json' -d '{
          "customer_id": "image-check", "currency": "TRY", "is_express_delivery": true,
          "items": [{"product_id": "image-check-item", "quantity": 2, "unit_price": "25.50"}],
          "delivery_address": {"city": "Istanbul", "country": "TR"}}' >"$answers/quote.status"
    [ "$(cat "$answers/quote.status")" = 200 ] || die "quote: HTTP $(cat "$answers/quote.status"): $(cat "$answers/quote.json")"
    quote=$(json_field "$answers/quote.json" 'd["quote_id"]')
    say "quote $quote: $(json_field "$answers/quote.json" '" ".join(f"{k}={d[k]}" for k in ("subtotal", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount", "currency"))')"
    [ "$(json_field "$answers/quote.json" 'd["total_amount"]')" = 80.18 ] || die "the quote's total is not 80.18"

    for attempt in order replay; do
        curl -sS -o "$answers/$attempt.json" -w '%{http_code}' -X POST "$base/api/v1/orders" \
            -H "X-API-Key: $key" -H 'Content-Type: application/json' -H "Idempotency-Key: image-check-$quote" \
            -d "{\"quote_id\": \"$quote\"}" >"$answers/$attempt.status"
        [ "$(cat "$answers/$attempt.status")" = 201 ] || die "$attempt: HTTP $(cat "$answers/$attempt.status"): $(cat "$answers/$attempt.json")"
    done
    order=$(json_field "$answers/order.json" 'd["id"]')
    replay=$(json_field "$answers/replay.json" 'd["id"]')
    say "order $order: $(json_field "$answers/order.json" '" ".join(f"{k}={d[k]}" for k in ("status", "total_amount", "quote_id"))')"
    [ "$replay" = "$order" ] || die "the same Idempotency-Key placed a second order ($replay)"
    [ "$(json_field "$answers/order.json" 'd["quote_id"]')" = "$quote" ] || die "the order is not the quote's"
    [ "$(json_field "$answers/order.json" 'd["total_amount"]')" = 80.18 ] || die "the order's total is not the quote's"
    say "the same Idempotency-Key again: the same order"

    say "SIGTERM"
    started=$(date +%s)
    podman_ kill --signal TERM "$CONTAINER" >/dev/null
    code=$(timeout "$STOP_TIMEOUT" "${PODMAN[@]}" wait "$CONTAINER") || die "still running $STOP_TIMEOUT s after SIGTERM"
    stopped=$(seconds_since "$started")
    podman_ logs "$CONTAINER" 2>&1 | tail -3 >&2
    [ "$code" = 0 ] || die "exit status $code after SIGTERM (0 expected)"
    say "stopped cleanly (exit status 0) $stopped s after SIGTERM; checked in $(seconds_since "$checking") s"

    say "image $IMAGE"
    local size
    size=$(podman_ image inspect --format '{{.Size}}' "$IMAGE")
    printf 'user: uid %s (%s)\nimage size: %s MB\nlayers (newest first):\n' "$uid" "$user" "$((size / 1000000))" >&2
    podman_ history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-150 >&2
    podman_ history --format json "$IMAGE" >"$answers/history.json"
    local mounted
    mounted=$(podman_ image mount "$IMAGE")
    printf 'the largest installed distributions (/app/.venv):\n' >&2
    # awk reads all of sort's output: `head` would exit after 8 lines, and under pipefail the SIGPIPE
    # that sort may then get failed the whole script (exit 141) after the image had passed every check.
    du -s --block-size=1MB "$mounted"/app/.venv/lib/python3*/site-packages/* | sort -rn | awk "NR <= 8" \
        | sed "s#$mounted/app/.venv/lib/python3[^/]*/site-packages/##; s#^#  #; s#\t# MB  #" >&2
    podman_ image unmount "$IMAGE" >/dev/null
    if [ -n "$REPORT" ]; then
        python3 - "$answers" "$REPORT" "$uid" "$code" "$stopped" "$size" "${BUILD_SECONDS:-}" <<'EOF'
import json, pathlib, sys
answers, report, uid, code, stopped, size, built = sys.argv[1:]
read = lambda name: json.loads((pathlib.Path(answers) / name).read_text())
layers = read("history.json")
pathlib.Path(report).write_text(json.dumps({
    "uid": int(uid), "exit_code": int(code), "stop_seconds": int(stopped), "image_size": int(size),
    "build_seconds": int(built) if built else None, "ready": read("ready.json"),
    "quote": read("quote.json")["data"], "order": read("order.json")["data"], "replay": read("replay.json")["data"],
    "layers": [{"size": layer["size"], "created_by": layer["CreatedBy"]} for layer in layers],
}, indent=2))
EOF
    fi
}

case "${1:-all}" in
    build) shift; build "$@" ;;
    check) check ;;
    all) shift || true; build "$@"; check ;;
    clean) rm -rf "$CACHE/storage" "$CACHE/run" "$CACHE/tmp" "$CACHE"/base-*.tar "$CACHE"/uv-* ;;
    *) die "usage: $0 [build|check|all|clean] [buildah build options...]" ;;
esac
