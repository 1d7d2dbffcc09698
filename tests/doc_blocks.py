"""The shell blocks of README.md and docs/*.md, as a reader copies them (docs/development.md#the-docs-shell-blocks).

A fenced block labelled `bash`, `sh` or `shell` is commands. The comment on the line before it
may say how the docs test treats it:

- `<!-- not-run: why -->`: not run (it starts the server the test stands in for, runs for
  minutes, installs software, needs a second terminal, ...); every run that runs or parses the
  blocks ends with a section listing these, each with its reason (this module is a pytest plugin,
  tests/conftest.py; not skips, which CI's QS_REQUIRE_ALL_SUITES turns into failures);
- `<!-- refusals: CODE CODE -->`: its answers carry exactly these error envelopes
  (`"success": false` with these `error.code`s), in this order: a refusal it shows on purpose.

Every other block must run with exit status 0 and answer no error envelope. A document's blocks
run in one bash session, in order (a later block uses the variables an earlier one set), from the
repository root, with `set -euo pipefail`. Output that is not commands (a synopsis, a
transcript) is labelled `text`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = frozenset({"bash", "sh", "shell"})
DEMO_ORIGINS = ("127.0.0.1:8000", "localhost:8000")
"""Where the docs' commands find `make run`'s service; the test's own server takes their place."""

_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(not-run|refusals)\s*:\s*(.*?)\s*-->\s*$")
_ANY_MARKER = re.compile(r"^\s*<!--\s*(not-run|refusals)\b")
_SENTINEL = "@@doc-block {}@@"


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    """The line of its opening fence (1-based)."""
    language: str
    code: str
    not_run: str | None = None
    """Why the docs test does not run it (None: it runs)."""
    refusals: tuple[str, ...] = ()
    """The error codes its answers carry on purpose, in order."""

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


class MarkerError(ValueError):
    """A doc-test marker that is malformed or not on the line before a shell block."""


def fenced_blocks(doc: Path) -> list[Block]:
    """Every fenced block of the document (any language), with the marker before it, if any."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, language = opening.groups()
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        code = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end])
        marker = _MARKER.match(lines[index - 1]) if index else None
        not_run = refusals = None
        if marker is not None:
            kind, value = marker.groups()
            if kind == "not-run":
                not_run = value
            else:
                refusals = tuple(value.split())
        found.append(Block(doc, index + 1, language, code, not_run=not_run, refusals=refusals or ()))
        index = end + 1
    return found


def shell_blocks(doc: Path) -> list[Block]:
    """The document's shell blocks, in order; fails on a marker that is not right before one."""
    blocks = fenced_blocks(doc)
    marked_lines = {block.line - 1 for block in blocks if block.language in SHELLS}
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if not _ANY_MARKER.match(line):
            continue
        marker = _MARKER.match(line)
        if marker is None:
            raise MarkerError(f"{doc.name}:{number}: write `<!-- not-run: why -->` or `<!-- refusals: CODE ... -->`")
        if number not in marked_lines:
            raise MarkerError(f"{doc.name}:{number}: a marker goes on the line right before a ```bash block")
        if not marker.group(2):
            raise MarkerError(f"{doc.name}:{number}: the marker says nothing (why is it not run? which codes?)")
    return [block for block in blocks if block.language in SHELLS]


NEEDED = ("bash", "curl", "python3")
"""What the docs' blocks call besides the checkout's own files."""


def reader_environment(root: Path, home: Path, **extra: str) -> dict[str, str]:
    """A reader's shell after `make run` on a machine without uv: neither this virtual
    environment's bin nor make's private .tools/bin on PATH, no directory that holds `uv` (or a
    `quote-service`), and nothing of this test process's Python set-up; plus `extra`.

    Where a directory with uv also holds one of NEEDED that no other directory has, it stays, and
    a `uv` earlier on PATH fails as a missing command does."""
    hidden = {h.resolve() for h in (Path(sys.prefix) / "bin", root / ".tools" / "bin", root / ".venv" / "bin")}
    entries = [e for e in os.environ.get("PATH", "").split(os.pathsep) if e and Path(e).resolve() not in hidden]
    clean = [e for e in entries if not any((Path(e) / name).exists() for name in ("uv", "quote-service"))]
    path = os.pathsep.join(clean)
    if any(shutil.which(tool, path=path) is None for tool in NEEDED):
        shadow = home / "no-uv"
        shadow.mkdir(parents=True, exist_ok=True)
        for name in ("uv", "uvx", "quote-service"):
            (shadow / name).write_text(f'#!/bin/sh\necho "bash: {name}: command not found" >&2\nexit 127\n')
            (shadow / name).chmod(0o755)
        path = os.pathsep.join([str(shadow), *entries])
    for tool in NEEDED:
        if shutil.which(tool, path=path) is None:
            raise RuntimeError(f"the docs' blocks need {tool} on PATH: {path}")
    env = {
        name: value
        for name, value in os.environ.items()
        if name in {"HOME", "LANG", "LC_ALL", "TERM", "TZ", "USER", "LOGNAME", "TMPDIR"}
    }
    env.update(PATH=path, QUOTE_SERVICE_HOME=str(home / "stores"), **extra)
    return env


@dataclass(frozen=True)
class Outcome:
    block: Block
    output: str
    problem: str | None
    """What went wrong, in words (None: the block did what the doc says)."""


def run_document(
    blocks: list[Block], *, base_url: str, env: dict[str, str], cwd: Path, timeout: float = 240
) -> list[Outcome]:
    """Run the blocks that run, in order, in one bash session against the service at `base_url`;
    an outcome for each, up to the first that failed (the later ones depend on it)."""
    runnable = [block for block in blocks if block.not_run is None]
    if not runnable:
        return []
    host = base_url.removeprefix("http://")
    script = ["set -euo pipefail", "exec 2>&1"]
    for number, block in enumerate(runnable):
        code = block.code
        for origin in DEMO_ORIGINS:
            code = code.replace(origin, host)
        script += [f"printf '\\n{_SENTINEL.format(number)}\\n'", code]
    script.append(f"printf '\\n{_SENTINEL.format('end')}\\n'")
    try:
        done = subprocess.run(  # noqa: S603 - bash running the docs' own commands
            ["bash", "--noprofile", "--norc", "-c", "\n".join(script)],  # noqa: S607 - the reader's bash, from PATH
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output, code_ = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        code_ = None
    parts = re.split(r"\n@@doc-block (\d+|end)@@\n", output)
    printed = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    outcomes = []
    for number, block in enumerate(runnable):
        text = printed.get(str(number))
        if text is None:
            break
        finished = str(number + 1) in printed or (number == len(runnable) - 1 and "end" in printed)
        problem = None
        if not finished:
            problem = "timed out" if code_ is None else f"exit status {code_}"
        else:
            codes = error_codes(text)
            if codes != list(block.refusals):
                expected = f"the refusals {list(block.refusals)}" if block.refusals else "no error envelope"
                problem = f"answered the error envelopes {codes}, where the doc means {expected}"
        outcomes.append(Outcome(block, text, problem))
        if problem:
            break
    return outcomes


def error_codes(output: str) -> list[str]:
    """The `error.code` of each `{"success": false, ...}` envelope in the output, in order."""
    decoder = json.JSONDecoder()
    codes = []
    index = output.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(output, index)
        except ValueError:
            index = output.find("{", index + 1)
            continue
        if isinstance(value, dict) and value.get("success") is False:
            error = value.get("error")
            codes.append(str(error.get("code")) if isinstance(error, dict) else "?")
        index = output.find("{", end)
    return codes


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After a run that ran or parsed the docs' shell blocks: the blocks not run, and why."""
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])]
    if not any(_BLOCK_TESTS.search(getattr(report, "nodeid", "")) for report in reports):
        return
    blocks = [block for doc in DOCS for block in fenced_blocks(doc) if block.language in SHELLS]
    not_run = [block for block in blocks if block.not_run is not None]
    terminalreporter.section("docs' shell blocks not run (<!-- not-run: why -->)", sep="-")
    terminalreporter.line(f"{len(not_run)} of the {len(blocks)} shell blocks of README.md and docs/ are not run:")
    for block in not_run:
        terminalreporter.line(f"  {block.name}: {block.not_run}")


_BLOCK_TESTS = re.compile(r"test_doc_blocks\.py|test_each_shell_block_parses")
