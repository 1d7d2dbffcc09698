# The two set-up commands of the README: `make run` and `make test`.
# uv is installed with pip when it is missing; everything else comes from uv.lock.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test lint bootstrap

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: bootstrap  ## serve on embedded PostgreSQL + Redis with demo data
	$(UV) run quote-service serve --demo

test: bootstrap  ## the whole suite on real PostgreSQL + Redis (local servers, else embedded ones)
	$(UV) run pytest

lint: bootstrap
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy quote_service
