"""The container contract: Dockerfile, .dockerignore, docker-compose.yml and the collector config.

Docker does not run here, so the files are read as Docker and Compose read them, and the image's
own command is then run as the image runs it: the final stage's CMD, unchanged, with PATH led by
this virtual environment's bin (the image's is led by /app/.venv/bin), the image's ENV and the
compose file's app environment, against this session's PostgreSQL and Redis. The Dockerfile's
HEALTHCHECK probe is then run against that process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import psutil
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from quote_service.config import Settings
from tests.conftest import free_port
from tests.integration.servers import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
IMAGE_VENV_BIN = "/app/.venv/bin"
SECRET = "container-contract-secret-key-0123456789abcdef"
COMMAND_TIMEOUT = 60


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """The stage's ENV, in order (`KEY=value` pairs, quotes removed as Docker removes them)."""
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in shlex.split(args):
                key, sep, value = token.partition("=")
                assert sep, f"ENV {args!r}: use the KEY=value form"
                values[key] = value
        return values


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def _logical_lines(text: str) -> Iterator[str]:
    """Instructions with their continuation lines joined; comment lines dropped, as Docker does."""
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        yield " ".join(pending)
        pending = []
    assert not pending, "the Dockerfile ends inside a continuation line"


def _expand_args(value: str, args: Mapping[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value)


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = [p for p in args.split() if not p.startswith("--platform")]
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=_expand_args(parts[0], global_args), name=name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede the first FROM, not {keyword}"
            key, _, default = args.partition("=")
            global_args[key] = _expand_args(default, global_args)  # a default may use earlier ARGs
        else:
            stages[-1].instructions.append(Instruction(keyword, args))
    return Dockerfile(global_args, stages)


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"{args!r} is not the exec (JSON array) form"
    assert all(isinstance(v, str) for v in value)
    return value


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """(options, probe argv) of the stage's HEALTHCHECK."""
    options, sep, command = stage.last("HEALTHCHECK").partition(" CMD ")
    assert sep, "HEALTHCHECK must run a command (HEALTHCHECK [options] CMD [...])"
    parsed = {}
    for token in shlex.split(options):
        key, _, value = token.removeprefix("--").partition("=")
        parsed[key] = value
    return parsed, exec_form(command.strip())


def served_argv(cmd: list[str]) -> list[str]:
    """The `quote-service ...` argv a CMD runs, looking through `sh -c "exec ..."`."""
    if cmd[:2] == ["sh", "-c"]:
        assert len(cmd) == 3
        script = cmd[2]
        assert script.startswith("exec "), "the shell must exec the service (signals reach granian)"
        return shlex.split(script.removeprefix("exec "))
    return cmd


def option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(ROOT / "Dockerfile")


# --- .dockerignore ---------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore globs: `*` and `?` stay inside one path segment, `**` spans any."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def excluded_from_context(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out: the last pattern matching it or a parent wins."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.removeprefix("!").strip().strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- docker-compose.yml ----------------------------------------------------------------------


class MissingVariable(Exception):
    """Compose refuses the file: a `${NAME:?message}` variable is unset or empty."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Compose's interpolation: `$$`, `${A}`, `$A`, `${A:-default}`, `${A-default}`, `${A:?err}`, `${A?err}`."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg, current = match["op"], match["arg"] or "", shell.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op is None:
            return current or ""
        if op.endswith("-"):
            return arg if missing else str(current)
        if missing:
            raise MissingVariable(f"{name}: {arg}")
        return str(current)

    return _VARIABLE.sub(substitute, value)


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name}"
    found: dict[str, Any] = services[name]
    return found


def service_environment(name: str, shell: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as compose passes it to the container, given the operator's shell."""
    raw = service(name).get("environment", {})
    assert isinstance(raw, dict), "write environment as a mapping"
    return {key: interpolate("" if value is None else str(value), shell) for key, value in raw.items()}


def deployment_section(heading: str) -> str:
    """The text of docs/deployment.md under `### heading`, up to the next heading."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    start = text.find(f"\n### {heading}\n")
    assert start >= 0, f"docs/deployment.md has no section '### {heading}'"
    following = re.search(r"\n#{1,3} ", text[start + 1 :])
    return text[start : start + 1 + following.start()] if following else text[start:]


def markdown_table(text: str, first_header: str) -> dict[str, str]:
    """{first cell: second cell} of the table whose header starts with `first_header`; backticks
    around a cell removed."""
    rows: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and cells[0] == first_header:
            inside = True
        elif not cells:
            inside = False
        elif inside and not set(cells[0]) <= {"-"}:
            rows[cells[0].strip("`")] = cells[1].strip("`")
    assert rows, f"no table headed {first_header!r}"
    return rows


def compose_variables() -> dict[str, str | None]:
    """{variable: its default} of every `${...}` in the compose file's values; None: required."""
    found: dict[str, str | None] = {}

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            for match in _VARIABLE.finditer(value):
                name = match["braced"] or match["bare"]
                if name:
                    default = None if (match["op"] or "").endswith("?") else (match["arg"] or "")
                    assert found.setdefault(name, default) == default, f"{name}: two defaults"

    walk(compose())
    return found


def duration_seconds(value: str) -> float:
    """A compose duration (`30s`, `1m30s`, `500ms`) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts, f"not a duration: {value!r}"
    assert "".join(number + unit for number, unit in parts) == value, f"not a duration: {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def settings_variables() -> set[str]:
    """Every variable `Settings.from_env` reads."""
    names = {f.name.upper() for f in msgspec.structs.fields(Settings)}
    return (names - {"HOME"}) | {"QUOTE_SERVICE_HOME"}


def command_variables(cmd: list[str]) -> set[str]:
    """Variables the image's CMD itself expands (PORT, WEB_CONCURRENCY)."""
    return {m["braced"] or m["bare"] for m in _VARIABLE.finditer(" ".join(cmd)) if not m["escaped"]}


# --- the image, statically -------------------------------------------------------------------


def test_the_image_is_built_by_uv_in_a_builder_stage_and_ships_without_it(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2, "multi-stage build"
    builder = dockerfile.stage("builder")
    syncs = [args for args in builder.all("RUN") if "uv sync" in args]
    assert len(syncs) == 2, "one layer for the locked dependencies, one for the project"
    for args in syncs:
        assert "--frozen" in args
        assert "--no-dev" in args
    assert "--no-install-project" in syncs[0]
    assert builder.env().get("UV_PYTHON_DOWNLOADS") == "never", "the venv must use the base image's Python"
    for args in syncs:  # the extra CA bundle (a build behind a TLS-intercepting proxy) reaches uv
        assert "--mount=type=secret,id=ca" in args
    assert not any("secret" in args for args in dockerfile.final.all("RUN")), "the runtime stage sees no secret"
    final = dockerfile.final
    # The venv's python links to the base image's interpreter: both stages need the same one.
    assert final.base == builder.base
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", final.base), final.base
    copies = final.all("COPY")
    assert not any(c.startswith("--from=uv") for c in copies), "uv stays in the builder"
    assert not any("uv " in args for args in final.all("RUN")), "nothing is installed in the final stage"
    assert any(c.split()[:3] == ["--from=builder", "/app", "/app"] for c in copies), "the venv stays at /app"


def test_the_build_arguments_default_to_the_official_images(dockerfile: Dockerfile) -> None:
    """BASE_IMAGE and UV_IMAGE let a build without registries (deploy/build-offline.sh) give its own;
    unset, they are what a `docker build` with registries has always used."""
    args = dockerfile.global_args
    assert dockerfile.stage("builder").base == f"python:{args['PYTHON_VERSION']}-slim-{args['DEBIAN_RELEASE']}"
    assert dockerfile.stage("uv").base == f"ghcr.io/astral-sh/uv:{args['UV_VERSION']}"
    builder = dockerfile.stage("builder")
    assert builder.all("COPY")[0].split() == ["--from=uv", "/uv", "/bin/uv"], "any UV_IMAGE with /uv will do"


def test_the_image_python_satisfies_the_project_and_has_a_pgserver_wheel(dockerfile: Dockerfile) -> None:
    version = dockerfile.global_args["PYTHON_VERSION"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert SpecifierSet(pyproject["project"]["requires-python"]).contains(f"{version}.0")
    # pgserver ships wheels only (no sdist): the image's Python must be one it was built for.
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pgserver = next(p for p in lock["package"] if p["name"] == "pgserver")
    tag = "cp" + version.replace(".", "")
    wheels = [w["url"].rsplit("/", 1)[1] for w in pgserver.get("wheels", [])]
    assert any(f"-{tag}-" in w and "manylinux" in w and "x86_64" in w for w in wheels), wheels


def test_the_image_runs_as_an_unprivileged_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.final.last("USER")
    uid = user.split(":")[0]
    assert uid not in {"root", "0"}, user
    creates = " ".join(dockerfile.final.all("RUN"))
    assert re.search(rf"useradd\b.*--uid {uid}\b", creates), f"USER {user} is not created in the final stage"


def test_the_image_serves_on_all_interfaces_on_port_8000(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    assert final.last("EXPOSE").split() == ["8000"]
    assert not final.all("ENTRYPOINT"), "CMD only: `docker run IMAGE quote-service seed-demo` must work"
    argv = served_argv(exec_form(final.last("CMD")))
    assert argv[:2] == ["quote-service", "serve"]
    assert option(argv, "--host") == "0.0.0.0"  # noqa: S104 - a container listens on its own interfaces
    env = final.env()
    assert interpolate(option(argv, "--port"), env) == "8000"
    assert int(interpolate(option(argv, "--workers"), env)) >= 1
    assert env["PATH"].startswith(f"{IMAGE_VENV_BIN}:"), "the venv's console scripts come first"


def test_the_healthcheck_probes_liveness_with_python(dockerfile: Dockerfile) -> None:
    options, probe = healthcheck(dockerfile.final)
    assert probe[:2] == ["python", "-c"], "the slim image has no curl"
    assert "/health'" in probe[2], "GET /health: liveness, without dependencies"
    assert {"interval", "timeout", "start-period", "retries"} <= options.keys()


def test_the_build_context_holds_what_the_build_copies_and_nothing_private(dockerfile: Dockerfile) -> None:
    patterns = dockerignore_patterns()
    sources: list[str] = []
    for stage in dockerfile.stages:
        for args in stage.all("COPY"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            if not any(w.startswith("--from") for w in shlex.split(args)):
                sources += words[:-1]
        for args in stage.all("RUN"):
            sources += re.findall(r"--mount=type=bind,source=([^,\s]+)", args)
    assert {"pyproject.toml", "uv.lock", "README.md", "quote_service", "migrations"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not excluded_from_context(source, patterns), f"{source} is excluded by .dockerignore"
    for sql in (ROOT / "migrations").glob("*.sql"):
        assert not excluded_from_context(f"migrations/{sql.name}", patterns)
    for path in [".venv/bin/python", ".git/HEAD", ".quote-service/postgres/PG_VERSION", ".env", "tests/conftest.py"]:
        assert excluded_from_context(path, patterns), f"{path} would be sent to the builder"
    assert excluded_from_context("quote_service/__pycache__/cli.cpython-311.pyc", patterns)


# --- compose, statically ---------------------------------------------------------------------


def test_compose_runs_the_app_after_healthy_postgres_and_redis(dockerfile: Dockerfile) -> None:
    app = service("app")
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert app["restart"] in {"unless-stopped", "always", "on-failure"}
    exposed = dockerfile.final.last("EXPOSE")
    assert [str(port).rsplit(":", 1)[1] for port in app["ports"]] == [exposed], "the port the image serves on"
    volumes = compose()["volumes"]

    postgres = service("postgres")
    assert re.fullmatch(r"postgres:1[56](\.\d+)?(-\w+)?", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["volumes"][0].split(":")[0] in volumes

    redis = service("redis")
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", redis["image"])
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert option(redis["command"], "--appendonly") == "yes"
    assert redis["volumes"][0] == "redis-data:/data"
    assert "redis-data" in volumes

    for name in ("postgres", "redis"):
        assert "ports" not in service(name), f"{name} stays inside the compose network"


def test_compose_health_check_is_the_images(dockerfile: Dockerfile) -> None:
    """compose restates the image's HEALTHCHECK (so that `docker compose ps` shows it): the same
    probe, with the same timing."""
    options, probe = healthcheck(dockerfile.final)
    check = service("app")["healthcheck"]
    assert check["test"] == ["CMD", *probe]
    for name in ("interval", "timeout", "start-period", "retries"):
        assert str(check[name.replace("-", "_")]) == options[name], name


def test_compose_waits_longer_than_the_service_takes_to_stop() -> None:
    """`docker compose stop` sends SIGTERM, then SIGKILL after stop_grace_period. The service gives
    its workers SHUTDOWN_TIMEOUT_SECONDS, then kills them and exits by itself: a grace no longer
    than that lets compose's SIGKILL land while the service is still stopping (exit status 137,
    its last log lines lost) instead of after it has stopped."""
    grace = Settings.from_env(service_environment("app", {"SECRET_KEY": SECRET})).shutdown_timeout_seconds
    assert grace > 0
    assert duration_seconds(str(service("app")["stop_grace_period"])) > grace


def test_compose_keeps_the_quote_log_spool_on_a_volume_the_image_user_owns(dockerfile: Dockerfile) -> None:
    """The spool holds answered quotes' rows until PostgreSQL has them: it must outlive the
    container (a named volume at QUOTE_SERVICE_HOME), and Docker gives a new named volume the
    ownership of the image's directory, which the Dockerfile makes the unprivileged user's."""
    home = dockerfile.final.env()["QUOTE_SERVICE_HOME"]
    mounts = dict(reversed(volume.split(":")[:2]) for volume in service("app")["volumes"])
    assert mounts.get(home) in compose()["volumes"], f"{home} is not on a named volume: {mounts}"
    env = service_environment("app", {"SECRET_KEY": SECRET})
    spool = Settings.from_env({**dockerfile.final.env(), **env}).quote_log_spool
    assert spool.is_relative_to(home), spool
    runs = " ".join(dockerfile.final.all("RUN"))
    uid = dockerfile.final.last("USER").split(":")[0]
    user = re.search(rf"useradd\b[^&]*--uid {uid}\b[^&]*\s(\w+)\s*(?:&&|$)", runs)
    assert user is not None, f"no useradd of uid {uid}"
    assert re.search(rf"install -d -o {user[1]} -g \S+ -m 07[0-7]0 {re.escape(home)}(\s|$)", runs), "not the user's"


def test_the_deployment_guide_lists_every_build_argument_with_its_default(dockerfile: Dockerfile) -> None:
    declared = dict(dockerfile.global_args)
    for stage in dockerfile.stages:
        for args in stage.all("ARG"):
            name, sep, default = args.partition("=")
            if sep:
                declared[name] = default
    documented = markdown_table(deployment_section("Building with Docker"), "argument")
    assert {name: _expand_args(default, dockerfile.global_args) for name, default in documented.items()} == declared
    assert "--secret id=ca," in deployment_section("Building with Docker"), "the build secret's use"


def test_the_deployment_guide_lists_every_compose_service_and_variable() -> None:
    section = deployment_section("docker compose")
    services = {name: ", ".join(spec.get("profiles", [])) or "—" for name, spec in compose()["services"].items()}
    assert markdown_table(section, "service") == services
    defaults = {name: "required" if value is None else value or "empty" for name, value in compose_variables().items()}
    assert markdown_table(section, "variable") == defaults


def test_compose_sets_only_variables_the_service_reads(dockerfile: Dockerfile) -> None:
    readable = settings_variables() | command_variables(exec_form(dockerfile.final.last("CMD")))
    for name in ("app", "seed"):
        unknown = set(service(name)["environment"]) - readable
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"
    app_env = service("app")["environment"]
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENVIRONMENT", "LOG_FORMAT", "METRICS_PUBLIC"} <= set(app_env)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in app_env
    api = ROOT.parent / "shared" / "API.md"
    if api.exists():  # the contract's list (§10) names only variables Settings reads
        section = api.read_text().split("## 10.", 1)[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)[^`]*`", section.split("Environment", 1)[1]))
        assert listed, "docs/configuration.md lists no environment variables"
        assert listed <= settings_variables(), sorted(listed - settings_variables())


def test_compose_app_environment_is_a_valid_production_configuration() -> None:
    env = service_environment("app", {"SECRET_KEY": SECRET})
    settings = Settings.from_env(env)
    assert settings.is_production
    assert settings.secret_key == SECRET
    assert settings.log_format == "json"
    assert settings.otel_exporter_otlp_endpoint is None, "tracing is off unless asked for"
    assert settings.metrics_public is False
    assert urlsplit(settings.database_url or "").hostname == "postgres"
    assert urlsplit(settings.redis_url or "").hostname == "redis"
    postgres = service("postgres")["environment"]
    assert urlsplit(settings.database_url or "").path == f"/{postgres['POSTGRES_DB']}"
    assert urlsplit(settings.database_url or "").username == postgres["POSTGRES_USER"]
    assert service_environment("seed", {"SECRET_KEY": SECRET}) == env


def test_compose_refuses_to_start_without_a_secret_key() -> None:
    for shell in ({}, {"SECRET_KEY": ""}):
        with pytest.raises(MissingVariable, match="SECRET_KEY"):
            service_environment("app", shell)


def test_the_tracing_profile_runs_a_collector_the_app_can_reach() -> None:
    collector = service("otel-collector")
    assert collector["profiles"] == ["tracing"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    mounted = {v.split(":")[0]: v.split(":")[1] for v in collector["volumes"]}
    assert "./deploy/otel-collector.yaml" in mounted
    assert f"--config={mounted['./deploy/otel-collector.yaml']}" in collector["command"]
    config = yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert "debug" in config["exporters"]
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config.get(kind) or {}), f"undefined {kind} in a pipeline"
    assert {"4317:4317", "4318:4318"} <= {str(p) for p in collector["ports"]}
    env = service_environment(
        "app", {"SECRET_KEY": SECRET, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318"}
    )
    assert Settings.from_env(env).otel_exporter_otlp_endpoint == "http://otel-collector:4318"


def test_the_demo_seed_is_a_one_shot_opt_in_service() -> None:
    seed = service("seed")
    assert seed["command"] == ["quote-service", "seed-demo", "--force"], "production settings: generated passwords"
    assert seed["profiles"] == ["demo"], "demo data is opt-in: never started by default"
    assert seed["restart"] == "no"
    assert seed["image"] == service("app")["image"]


# --- the image's command, run --------------------------------------------------------------


def container_environment(dockerfile: Dockerfile, settings: Settings, home: Path, **shell: str) -> dict[str, str]:
    """What the app container's process sees, with this test's stores and port instead of compose's.

    The image's ENV, then the compose app environment (the operator's shell holding SECRET_KEY);
    DATABASE_URL/REDIS_URL point at this session's servers; PORT is a free one; the image's PATH is
    led by this venv's bin as the image's is by /app/.venv/bin.
    """
    assert settings.database_url is not None
    assert settings.redis_url is not None
    image_env = dockerfile.final.env()
    env = {"LANG": "C.UTF-8", "HOME": str(home), **image_env}
    env["PATH"] = f"{VENV_BIN}:{os.environ['PATH']}"
    env["QUOTE_SERVICE_HOME"] = str(home / "quote-service")  # unused: both URLs are set
    env.update(service_environment("app", {"SECRET_KEY": SECRET, **shell}))
    env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, PORT=str(free_port()))
    return env


def probe_health(probe: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(probe, env=env, capture_output=True, timeout=COMMAND_TIMEOUT, check=False)  # noqa: S603


@pytest.mark.long
@pytest.mark.slow
def test_the_image_command_serves_with_the_compose_environment(
    dockerfile: Dockerfile, settings: Settings, tmp_path: Path
) -> None:
    env = container_environment(dockerfile, settings, tmp_path)
    workers = int(env["WEB_CONCURRENCY"])
    base = f"http://127.0.0.1:{env['PORT']}"
    cmd = exec_form(dockerfile.final.last("CMD"))
    _, probe = healthcheck(dockerfile.final)
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as sink:
        process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_until_ready(process, base, log_file)
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/health").json() == {"status": "ok"}
            ready = http.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ready"
        # `exec`: the service itself is the container's main process, so SIGTERM reaches granian.
        main = psutil.Process(process.pid)
        assert "serve" in main.cmdline(), main.cmdline()
        assert not main.cmdline()[0].endswith("sh"), main.cmdline()
        assert len(main.children()) >= workers, f"WEB_CONCURRENCY={workers}: {main.children()}"
        assert f"listening on http://0.0.0.0:{env['PORT']}" in log_file.read_text()
        healthy = probe_health(probe, env)
        assert healthy.returncode == 0, healthy.stderr.decode()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, f"docker stop must shut down cleanly:\n{log_file.read_text()}"
    unhealthy = probe_health(probe, env)
    assert unhealthy.returncode != 0, "the probe must fail when nothing answers"


@pytest.mark.long
@pytest.mark.slow
def test_the_image_command_refuses_a_weak_secret_in_production(
    dockerfile: Dockerfile, settings: Settings, tmp_path: Path
) -> None:
    env = container_environment(dockerfile, settings, tmp_path, SECRET_KEY="short-secret")
    result = subprocess.run(  # noqa: S603
        exec_form(dockerfile.final.last("CMD")),
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 2, result.stderr.decode()
    assert "SECRET_KEY" in result.stderr.decode()


@pytest.mark.long
@pytest.mark.slow
def test_the_image_is_production_and_refuses_to_serve_without_a_secret_key(
    dockerfile: Dockerfile, settings: Settings, tmp_path: Path
) -> None:
    """`docker run -e DATABASE_URL=... -e REDIS_URL=... image`: no SECRET_KEY, no ENVIRONMENT given."""
    assert dockerfile.final.env().get("ENVIRONMENT") == "production"
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = {"LANG": "C.UTF-8", "HOME": str(tmp_path), **dockerfile.final.env()}
    env.update(PATH=f"{VENV_BIN}:{os.environ['PATH']}", QUOTE_SERVICE_HOME=str(tmp_path / "quote-service"))
    env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, PORT=str(free_port()))

    result = subprocess.run(  # noqa: S603
        exec_form(dockerfile.final.last("CMD")), env=env, cwd=ROOT, capture_output=True, timeout=COMMAND_TIMEOUT,
        check=False,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr.decode()
    assert "SECRET_KEY" in result.stderr.decode()
    assert b"listening" not in result.stdout


@pytest.mark.long
@pytest.mark.slow
def test_the_compose_seed_command_loads_the_demo_data(
    dockerfile: Dockerfile, settings: Settings, tmp_path: Path
) -> None:
    env = container_environment(dockerfile, settings, tmp_path)
    result = subprocess.run(  # noqa: S603
        service("seed")["command"], env=env, cwd=ROOT, capture_output=True, timeout=COMMAND_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert "demo data: " in result.stdout.decode()
