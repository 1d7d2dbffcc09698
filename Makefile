# The two set-up commands of the README: `make run` and `make test`.
# uv comes from PATH; where it is missing, make installs it into a private virtual environment,
# .tools/, with that environment's own pip (a system pip may refuse to install anything: PEP 668,
# "externally-managed-environment"). Everything else comes from uv.lock.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Where uv is the private one, .tools/bin goes on PATH for everything make runs: the suites that
# build the wheel and the offline bundle call `uv` by name (tests/tooling), and would skip without it.
ifeq ($(UV),.tools/bin/uv)
export PATH := $(CURDIR)/.tools/bin:$(PATH)
endif

.PHONY: run test test-all test-unit test-rest test-long test-replica replica redis-cluster lint bootstrap tools

tools: $(filter .tools/bin/uv,$(UV))
	@true

.tools/bin/uv:
	@echo "uv is not on PATH: installing it into .tools/ (a private virtual environment)"
	@python3 -m venv .tools || { echo "'python3 -m venv' failed: install your system's venv package (Debian/Ubuntu: python3-venv), or install uv"; exit 1; }
	@.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

bootstrap: tools
	@$(UV) sync --frozen --quiet

# `make run PORT=8001` serves on another port (when 8000 is taken).
PORT ?= 8000

run: bootstrap  ## serve on embedded PostgreSQL + Redis with demo data, on PORT (default 8000)
	$(UV) run quote-service serve --demo --port $(PORT)

# Extra pytest options, e.g. `make test PYTEST_ARGS="-k orders"`; WORKERS=1 runs a stage in one process.
PYTEST_ARGS ?=
# One pytest-xdist worker per core, at least two: the tests wait on PostgreSQL and Redis much of the
# time, so two workers use a 2-core machine (docs/development.md#how-long-the-tests-take).
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 2 ] && n=2; echo $$n)
XDIST = $(if $(filter 1,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)
# pytest's exit status 5 ("no tests collected", e.g. a -k that matches only the other stage) is not
# a failure of a stage.
PYTEST = $(UV) run pytest $(XDIST)
ALLOW_EMPTY = || [ $$? -eq 5 ]

# Two tiers, both on real PostgreSQL + Redis (local servers, else embedded ones) and Chromium
# (docs/development.md#two-test-commands). Each runs in stages so a broken build fails early.
# `make test`: the unit tests, then every integration test but the long ones: each feature keeps its
# end-to-end tests here (API, races, a browser test per page, the fast fault checks); ~10 minutes on 2 cores.
test: test-unit test-rest  ## unit, then integration, races, browsers, fast faults (the README's test command)

# `make test-all`: the same, then everything marked `long` (the chaos soak, the image build, the
# long fault experiments, schemathesis, the docs' shell blocks, the CLI's process runs) and the
# unit tests' long property and mutation runs in full. CI runs this one.
test-all: test test-long  ## everything: make test, then the long suites (what CI runs)

# The unit loop runs the property tests with a tenth of their examples (QS_HYPOTHESIS_PROFILE=quick,
# tests/conftest.py); test-long runs them again with every example.
test-unit: bootstrap  ## the unit loop: the unit tests but the long property and mutation runs
	QS_HYPOTHESIS_PROFILE=quick $(PYTEST) tests/unit -m "not slow" $(PYTEST_ARGS) $(ALLOW_EMPTY)

test-rest: bootstrap  ## make test's second stage: integration, races, browsers, fast faults, tooling (not long)
	$(PYTEST) -m "not unit and not long" $(PYTEST_ARGS) $(ALLOW_EMPTY)

test-long: bootstrap  ## make test-all's third stage: the long suites, and the unit property/mutation runs in full
	$(PYTEST) -m "long or (unit and (slow or property))" $(PYTEST_ARGS) $(ALLOW_EMPTY)

# The read-replica suite alone (it is part of `make test-all`): the tests start a private
# PostgreSQL primary + streaming replica in temporary directories and remove them afterwards.
test-replica: bootstrap
	$(UV) run pytest tests/integration/db/test_read_replica.py tests/unit/db/test_read_pools.py $(PYTEST_ARGS)

replica: bootstrap  ## a private PostgreSQL primary + streaming replica until Ctrl-C (prints both URLs)
	$(UV) run python -m tests.replica

# A local Redis Cluster (3 masters on free ports of 127.0.0.1, data in a temporary directory) in
# the foreground, for trying cluster mode by hand: it prints the REDIS_URL to serve with; Ctrl-C
# stops it and removes its data. REPLICAS=1 adds a replica per master.
redis-cluster: bootstrap  ## a local Redis Cluster in the foreground (redis-server and redis-cli from PATH)
	$(UV) run python -m tests.redis_cluster

lint: bootstrap
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy quote_service
