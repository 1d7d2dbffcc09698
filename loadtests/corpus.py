"""Record every answer a tree gives to a fixed set of journeys, and compare two recordings byte for byte.

A redesign that must not change a single answer (the money after the quote, the quote engine's
structure) is checked by recording the tree before it and the tree after it, then comparing:

    uv run python loadtests/corpus.py record --tree . --out /tmp/before.jsonl
    uv run python loadtests/corpus.py record --tree /path/to/redesign --out /tmp/after.jsonl
    uv run python loadtests/corpus.py compare /tmp/before.jsonl /tmp/after.jsonl

`record` serves the tree at --tree (its own `.venv/bin/quote-service serve --demo`, the tree's code
first on PYTHONPATH) on a fresh PostgreSQL database, created and dropped here on the server of
DATABASE_URL (default the local one), and on a Redis logical database claimed as the test sessions
claim theirs and flushed first, with a fixed environment; it runs the journeys below over HTTP
twice, once per phase (default settings, then COMMISSION_TAX_RATE=20, each on a database of its
own; before the journeys, unrecorded, it starts the demo flash sale and gives every demo promotion a
priority of its own, in their order: equal ones stack in the order of their ids, drawn anew by each
seed), and writes one JSON line per request: the phase, the step, method, path, request body,
status, the response's content type (and `Idempotent-Replayed`) and the response body as the
server wrote it, after normalization. The last line holds what was recorded (tree, commit, seed,
seconds). The journeys: catalog reads; quotes of demo baskets (1-4 lines across the three demo
sellers, coupons valid and rejected, express, cities served by shipping profiles and not, the gold
shopper, offers by product, seller and offer id, installments, named commission fees, tax-included
and exempt lines, price lists, channels, refusals); orders of them; refunds (partial, with and
without fees, full, by line); edits (add, remove, replace; preview, commit, after refunds) and
cancels; the flash sale; statements, ledgers and balances of each seller, payout terms and runs;
payout previews. Which baskets, quantities and fates is drawn from --seed.

Normalized, and only that, because it cannot be equal between two runs: UUIDs (`<id:N>`, numbered
in order of first appearance across the whole file, requests included), RFC 3339 instants within
400 days of the run (`<time>`), calendar dates within 400 days (`<date+N>`: days from the phase's
start, UTC) and ISO weeks (`<week+N>`), `processing_time_ms`, API keys and tokens, page cursors (as
what they decode to, normalized) and the demo shopper's experiment arm (a hash of its random user id).
Money, numbers, key order and spacing are kept as the server wrote them.

`compare A B` prints the first --show differing requests, each with a unified diff of its response
(laid out one JSON member a line), and how many differ; it exits 0 only when both files hold the
same requests with the same answers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import difflib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

# --- normalization (pure: tests/tooling/test_corpus.py) -------------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w:])")
_WEEK = re.compile(r"(?<![\w-])(\d{4})-W(\d{2})(?!\w)")
_ELAPSED = re.compile(r'"processing_time_ms":(\s*)-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
_API_KEY = re.compile(r"qsk_[A-Za-z0-9_-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CURSOR = re.compile(r'"(next_cursor|cursor)":(\s*)"([A-Za-z0-9_=+/-]+)"')
_SECRET = re.compile(r'"(access_token|refresh_token|token|secret|signing_secret)":(\s*)"[^"]*"')
WINDOW = timedelta(days=400)
"""Instants and dates this close to the run are the run's own (kept beyond it: 2020-01-01, the
demo's fixed `effective_from`, is the same in every run)."""


class Normalizer:
    """Rewrites what differs between two runs of the same journeys; one per corpus (the UUID numbers
    run on across phases), the start moved to each phase's own."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        text = _SECRET.sub(lambda m: f'"{m.group(1)}":{m.group(2)}"<secret>"', text)
        text = _JWT.sub("<jwt>", text)
        text = _API_KEY.sub("<api-key>", text)
        text = _UUID.sub(self._id, text)
        text = _INSTANT.sub(self._instant, text)
        text = _DATE.sub(self._date, text)
        text = _WEEK.sub(self._week, text)
        text = _ELAPSED.sub(lambda m: f'"processing_time_ms":{m.group(1)}"<ms>"', text)
        return _CURSOR.sub(self._cursor, text)

    def _id(self, match: re.Match[str]) -> str:
        number = self.ids.setdefault(match.group(0).lower(), len(self.ids) + 1)
        return f"<id:{number}>"

    def _cursor(self, match: re.Match[str]) -> str:
        """A page cursor names the page's last row (its time and id): what it decodes to, normalized."""
        try:
            inner = base64.urlsafe_b64decode(match.group(3) + "=" * (-len(match.group(3)) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            inner = "?"
        return f'"{match.group(1)}":{match.group(2)}{json.dumps("<cursor:" + self(inner) + ">")}'

    def _instant(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "T"))
        except ValueError:
            return text
        return "<time>" if abs(moment - self.start) <= WINDOW else text

    def _date(self, match: re.Match[str]) -> str:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return match.group(0)
        days = (day - self.start.date()).days
        return f"<date{days:+d}>" if abs(days) <= WINDOW.days else match.group(0)

    def _week(self, match: re.Match[str]) -> str:
        try:
            monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        except ValueError:
            return match.group(0)
        start = self.start.date()
        weeks = (monday - (start - timedelta(days=start.weekday()))).days // 7
        return f"<week{weeks:+d}>" if abs(weeks) <= WINDOW.days // 7 else match.group(0)


# --- compare ----------------------------------------------------------------------------------------


def layout(raw: str) -> list[str]:
    """`raw` one JSON member or element a line, indented, every character kept (nothing is parsed:
    key order and number formats show as written); text that is not JSON, line by line."""
    if not raw.lstrip().startswith(("{", "[")):
        return raw.splitlines()
    lines: list[str] = []
    current: list[str] = []
    depth = 0
    in_string = escaped = False

    def flush() -> None:
        if current:
            lines.append("  " * depth + "".join(current))
            current.clear()

    for char in raw:
        if in_string:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            current.append(char)
            in_string = True
        elif char in "{[":
            current.append(char)
            flush()
            depth += 1
        elif char in "}]":
            flush()
            depth = max(0, depth - 1)
            current.append(char)
        elif char == ",":
            current.append(char)
            flush()
        else:
            current.append(char)
    flush()
    return lines


@dataclass
class Recording:
    path: Path
    meta: dict[str, Any] | None
    records: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Recording:
        meta = None
        records = []
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                entry = json.loads(line)
                if "meta" in entry:
                    meta = entry["meta"]
                else:
                    records.append(entry)
        return cls(path, meta, records)

    def describe(self) -> str:
        if self.meta is None:
            return f"{self.path}: {len(self.records)} requests, no closing line (an interrupted recording)"
        m = self.meta
        return (
            f"{self.path}: {len(self.records)} requests, tree {m.get('tree')} at {m.get('commit')}, seed "
            f"{m.get('seed')}, phases {', '.join(m.get('phases', []))}, recorded {m.get('recorded_at')} in "
            f"{m.get('seconds')} s"
        )


COMPARED = ("method", "path", "request", "status", "headers", "response")


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields two records of the same place differ in."""
    return [name for name in COMPARED if a.get(name) != b.get(name)]


def show(a: dict[str, Any], b: dict[str, Any], fields: list[str], out: TextIO) -> None:
    where = f"#{a.get('n')} {a.get('phase')} {a.get('step')}: {a.get('method')} {a.get('path')}"
    print(f"\n=== {where}  (differs in {', '.join(fields)})", file=out)
    if "path" in fields or "method" in fields:
        print(f"  B: {b.get('method')} {b.get('path')} ({b.get('step')})", file=out)
    if "status" in fields:
        print(f"  status {a.get('status')} -> {b.get('status')}", file=out)
    if "headers" in fields:
        print(f"  headers {a.get('headers')} -> {b.get('headers')}", file=out)
    for name in ("request", "response"):
        if name not in fields:
            continue
        left, right = a.get(name) or "", b.get(name) or ""
        diff = list(difflib.unified_diff(layout(left), layout(right), f"A {name}", f"B {name}", lineterm="", n=2))
        if not diff:  # the same members: spacing outside strings differs, shown raw
            diff = list(difflib.unified_diff([left], [right], f"A {name}", f"B {name}", lineterm=""))
        for line in diff:
            print(line, file=out)


def compare(first: Path, second: Path, *, shown: int, out: TextIO = sys.stdout) -> int:
    """0 when both recordings hold the same requests with the same answers, else 1."""
    a, b = Recording.load(first), Recording.load(second)
    print(f"A: {a.describe()}", file=out)
    print(f"B: {b.describe()}", file=out)
    if a.meta and b.meta and a.meta.get("seed") != b.meta.get("seed"):
        print("note: the two were recorded with different --seed: their journeys differ by design", file=out)
    differing = 0
    for left, right in zip(a.records, b.records, strict=False):
        fields = differences(left, right)
        if fields:
            differing += 1
            if differing <= shown:
                show(left, right, fields, out)
    extra = abs(len(a.records) - len(b.records))
    if extra:
        longer = "A" if len(a.records) > len(b.records) else "B"
        print(f"\n{longer} has {extra} more requests than the other (first: #{min(len(a.records), len(b.records))})",
              file=out)  # fmt: skip
    incomplete = [r.path for r in (a, b) if r.meta is None]
    total = max(len(a.records), len(b.records))
    if differing or extra or incomplete:
        hidden = f" (the first {shown} shown)" if differing > shown else ""
        print(f"\n{differing + extra} of {total} requests differ{hidden}", file=out)
        for path in incomplete:
            print(f"{path} is incomplete: its recording did not finish", file=out)
        return 1
    print(f"\nidentical: {total} requests, the same answers byte for byte", file=out)
    return 0


# --- the stores and the served tree -----------------------------------------------------------------

SERVER_ENV = {
    "ENVIRONMENT": "development",
    "SECRET_KEY": "corpus-recording-secret-key-0123456789abcdef",
    "ALGORITHM": "HS256",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "WARNING",
    "BUSINESS_TIMEZONE": "UTC",
    # Patient: a loaded machine must not turn an answer into a 503 or a 504 in one run only.
    "QUOTE_TIMEOUT": "60",
    "DB_ACQUIRE_TIMEOUT": "30",
    "DB_LOCK_TIMEOUT": "30",
    "DB_STATEMENT_TIMEOUT": "30",
    "RATE_LIMIT_PER_MINUTE": "1000000",
    # A small pool, opened whole at start: the journeys send one request at a time, and a PostgreSQL
    # shared with test sessions may have no connection to spare later ("too many clients").
    "DB_POOL_MIN_SIZE": "4",
    "DB_POOL_MAX_SIZE": "4",
}
"""Every setting the server gets besides the stores (nothing is inherited from the caller's shell)."""


@dataclass(frozen=True)
class Phase:
    name: str
    env: dict[str, str]


PHASES = (Phase("default", {}), Phase("commission_tax_20", {"COMMISSION_TAX_RATE": "20"}))
READY_SECONDS = 240.0
"""`serve --demo` migrates and seeds (about 15 s on a quiet 2-core machine) before it answers."""
STARTS = 3
"""How many times a phase's server is started before the record gives up (a shared PostgreSQL out of
connections fails a start; each try is on a database of its own)."""
CAMPAIGN_HOUR_SECONDS = 9 * 60
"""The demo's campaign moves the denim jacket ten minutes after seeding (docs/demo.md): a phase that
takes longer may see a price move the other run did not (the journeys leave the jacket alone)."""


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """A new, empty database `name` on the server of `admin_url` until the block ends (then dropped)."""
    create_or_drop(admin_url, name, create=True)
    try:
        yield with_database(admin_url, name)
    finally:
        create_or_drop(admin_url, name, create=False)


def create_or_drop(admin_url: str, name: str, *, create: bool, tries: int = 20) -> None:
    """Drop the database `name` (and create it afresh when `create`), waiting for a connection while the
    server has none to spare (test sessions may hold them all for a while): a scratch database is never
    left behind for want of one."""
    import asyncpg
    from plumbing import database

    for attempt in range(1, tries + 1):
        try:
            asyncio.run(database(name, create=create, admin_url=admin_url))
            return
        except asyncpg.exceptions.TooManyConnectionsError:
            if attempt == tries:
                raise
            time.sleep(3)


@contextlib.contextmanager
def claimed_redis(base_url: str) -> Iterator[str]:
    """A Redis logical database (1-15) no test session holds, claimed as tests/conftest.py claims its
    own (`qs-test:db:N` in database 0, with a TTL) until the block ends."""
    import redis

    base = urlunsplit(urlsplit(base_url)._replace(path=""))
    claims = redis.Redis.from_url(base)
    token = f"corpus:{os.getpid()}:{uuid.uuid4().hex}"
    number = next((n for n in range(1, 16) if claims.set(f"qs-test:db:{n}", token, nx=True, ex=3600)), None)
    if number is None:
        raise SystemExit("every Redis database 1-15 is claimed by a test session: try again later")
    try:
        yield f"{base.rstrip('/')}/{number}"
    finally:
        if claims.get(f"qs-test:db:{number}") == token.encode():
            claims.delete(f"qs-test:db:{number}")
        claims.close()


def flush(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()


def commit_of(tree: Path) -> str:
    def git(*args: str) -> str:
        command = ["git", "-C", str(tree), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - git, read only
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


class StartFailed(SystemExit):
    """The server exited, or did not answer, before it was ready."""


@contextlib.contextmanager
def serving(tree: Path, env: dict[str, str], workdir: Path, *, demo: bool = True) -> Iterator[tuple[str, float]]:
    """`quote-service serve --demo` of `tree` until the block ends (without `demo`: `serve`, on a database seeded
    already); yields its URL and when seeding ended."""
    from plumbing import free_port, wait_ready

    command = tree / ".venv" / "bin" / "quote-service"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the tree's own console script
            [str(command), "serve", *(["--demo"] if demo else []), "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its worker
        )
    try:
        try:
            wait_ready(base, process, seconds=READY_SECONDS)
        except SystemExit as exc:
            raise StartFailed(f"{exc}; its log:\n{log_path.read_text()[-4000:]}") from None
        yield base, time.monotonic()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def clear_of_midnight(margin: float = 300.0) -> None:
    """Wait past a UTC midnight that would fall within `margin` seconds: a statement's days, a payout's
    ISO week and the normalized dates are counted from the phase's start."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    left = (midnight - now).total_seconds()
    if left < margin:
        print(f"waiting {left + 5:.0f} s for UTC midnight to pass (a phase must not straddle two days)", flush=True)
        time.sleep(left + 5)


# --- recording ------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and isinstance(self.data, dict | list)


@dataclass
class Recorder:
    """Sends requests and writes each one, normalized, as a line of the corpus."""

    out: TextIO
    normalize: Normalizer
    phase: str = ""
    base: str = ""
    count: int = 0
    surprises: list[str] = field(default_factory=list)
    _http: Any = None

    def open(self, base: str, phase: str) -> None:
        import httpx

        self.close()
        self.base, self.phase = base, phase
        self._http = httpx.Client(base_url=base, timeout=120)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def send(
        self, method: str, path: str, auth: dict[str, str], body: Any = None, *,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None, raw: str | None = None,
    ) -> Answer:  # fmt: skip
        """A request that is not recorded (finding ids, logging in)."""
        return self._exchange(method, path, auth, body, params=params, headers=headers, raw=raw)[0]

    def call(
        self, step: str, method: str, path: str, auth: dict[str, str], body: Any = None, *,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None, raw: str | None = None,
        expect: tuple[int, ...] = (200, 201), vary: tuple[tuple[re.Pattern[str], str], ...] = (),
    ) -> Answer:  # fmt: skip
        """A request that is recorded; `vary` rewrites what this answer holds that no run can repeat."""
        answer, sent_path, sent_body, text = self._exchange(
            method, path, auth, body, params=params, headers=headers, raw=raw
        )
        for pattern, replacement in vary:
            text = pattern.sub(replacement, text)
        self.count += 1
        kept = {k: answer.headers[k] for k in ("content-type", "idempotent-replayed") if k in answer.headers}
        record = {
            "n": self.count,
            "phase": self.phase,
            "step": step,
            "method": method,
            "path": self.normalize(sent_path),
            "request": None if sent_body is None else self.normalize(sent_body),
            "status": answer.status,
            "headers": kept,
            "response": self.normalize(text),
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if answer.status not in expect:
            message = answer.body.get("message") if isinstance(answer.body, dict) else text[:120]
            self.surprises.append(f"#{self.count} {self.phase} {step}: {answer.status} ({message})")
        return answer

    def _exchange(
        self, method: str, path: str, auth: dict[str, str], body: Any, *,
        params: dict[str, Any] | None, headers: dict[str, str] | None, raw: str | None,
    ) -> tuple[Answer, str, str | None, str]:  # fmt: skip
        if params:
            path = f"{path}?{urlencode(params)}"
        content = raw if raw is not None else None if body is None else json.dumps(body, ensure_ascii=False)
        sent = {**auth, **(headers or {})}
        if content is not None:
            sent["Content-Type"] = "application/json"
        response = self._http.request(method, path, content=None if content is None else content.encode(), headers=sent)
        text = response.content.decode("utf-8", errors="backslashreplace")
        try:
            parsed = json.loads(text) if "json" in response.headers.get("content-type", "") else None
        except ValueError:
            parsed = None
        answer = Answer(response.status_code, parsed, {k.lower(): v for k, v in response.headers.items()})
        return answer, path, content, text


# --- the journeys -----------------------------------------------------------------------------------

SELLERS = ("seller-anatolia", "seller-bosphorus", "seller-cappadocia")
SALE_SKUS = ("DEMO-ELEC-001", "DEMO-ELEC-003", "DEMO-HOME-002")
LEFT_OUT = {
    "DEMO-FASH-002": "the demo campaign moves its price on the hour",
    "DEMO-HOME-006": "8 in stock",
    "DEMO-GROC-002": "115 in stock, above the inventory rule's threshold",
}
"""Demo products no random basket takes (beside the flash sale's, quoted in their own step)."""
OFFER_SKUS = ("DEMO-HOME-004", "DEMO-BOOK-006", "DEMO-ELEC-009")
"""The Kilim Cushion Cover, the Turkish Cookbook and the Webcam: sold by other sellers too."""
PERFUMES = ("OTV-PERF-001", "OTV-PERF-002")
CARD_BIN = "45436012"
CITIES: tuple[dict[str, Any], ...] = (
    {"city": "Istanbul", "country": "TR"},
    {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
    {"city": "Ankara", "country": "TR"},
    {"city": "Izmir", "country": "TR"},
    {"city": "Bursa", "country": "TR"},
    {"city": "Berlin", "country": "DE"},
)
PICKUP = {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023}
COUPONS: tuple[list[str], ...] = (
    [], [], [], ["WELCOME10"], ["FREESHIP"], ["FULLPRICE10"], ["WELCOME10", "FREESHIP"], ["NOPE"],
    ["WELCOME10", "FULLPRICE10"], ["GEN10"],
)  # fmt: skip
SHOPPER_VARIANT = ((re.compile(r'"checkout_banner":"[^"]*"'), '"checkout_banner":"<the shopper\'s>"'),)
"""The demo shopper's arm of the demo experiment: a hash of its user id, a UUID drawn anew by every seed
(a checkout's customer ids are the journeys' own, and so are their arms)."""
PROMOTION_INPUT = (
    "name", "kind", "config", "conditions", "priority", "combinable", "combines_with_coupons", "starts_at", "ends_at",
    "usage_limit", "is_active", "funded_by", "group", "budget", "per_customer_limit", "on_reduced_lines",
)  # fmt: skip
"""What `PUT /api/v1/promotions/{id}` takes: the whole promotion."""
UNITS_PER_PRODUCT = 14
"""At most this many units of a product (or an offer: its stock less one) go into orders in a phase:
every product's stock stays well inside the inventory rule's thresholds and no order is refused."""
FATES = (
    "keep", "refund_one", "refund_with_fees", "refund_all", "refund_by_line", "edit_add", "edit_remove",
    "edit_replace", "refund_then_edit", "edit_then_refund", "edit_then_cancel", "cancel", "cancel_then_refund",
)  # fmt: skip


@dataclass
class Placed:
    """An order of the journeys and what is left of each of its lines."""

    name: str
    order_id: str
    caller: str
    lines: list[dict[str, Any]]

    def remaining(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["left"] > 0]


def order_lines(order: Any) -> list[dict[str, Any]]:
    items = order.get("items", []) if isinstance(order, dict) else []
    return [
        {"product_id": item["product_id"], "line": item.get("line", index), "left": item["quantity"],
         "seller_id": item.get("seller_id")}
        for index, item in enumerate(items)
    ]  # fmt: skip


class Journeys:
    """One phase's journeys on a freshly seeded demo. What they send is drawn from `rng` and from the
    answers before it (the ids, an order's lines): the same seed and the same answers send the same
    requests, and where an answer differs (an order refused), what follows it may differ too."""

    def __init__(self, rec: Recorder, rng: random.Random) -> None:
        self.rec = rec
        self.rng = rng
        self.auth: dict[str, dict[str, str]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.offers: dict[tuple[str, str], dict[str, Any]] = {}
        self.taken: dict[str, int] = {}
        self.sale_id = ""
        self.shopper_id = ""
        self.quotes = 0
        self.scale = 1.0

    # setup: nothing here is recorded
    def setup(self) -> None:
        def login(username: str, password: str) -> dict[str, str]:
            answer = self.rec.send("POST", "/api/v1/auth/token", {}, {"username": username, "password": password})
            if not answer.ok:
                raise SystemExit(f"cannot log in as {username}: {answer.status} {answer.body}")
            return {"Authorization": f"Bearer {answer.data['access_token']}"}

        admin = login("demo-admin", "quote-service-admin")
        key = self.rec.send("POST", "/api/v1/api-keys", admin, {"name": "corpus", "role": "service"})
        self.auth = {
            "admin": admin,
            "service": {"X-API-Key": key.data["key"]},
            "shopper": login("demo-shopper", "quote-service-shopper"),
            "seller": login("demo-seller", "quote-service-seller"),
        }
        self.shopper_id = self.rec.send("GET", "/api/v1/users/me", self.auth["shopper"]).data["id"]
        listed = self.rec.send("GET", "/api/v1/products", admin, params={"limit": 500}).data["items"]
        self.products = {p["sku"]: p for p in listed}
        for offer in self.rec.send("GET", "/api/v1/offers", admin, params={"limit": 500}).data["items"]:
            sku = next(s for s, p in self.products.items() if p["id"] == offer["product_id"])
            self.offers[(sku, offer["seller_id"])] = offer
        self.untie_promotions()
        sales = self.rec.send("GET", "/api/v1/flash-sales", admin).data["items"]
        sale = next((s for s in sales if s["name"] == "Demo flash sale"), None)
        if sale is None:
            self.rec.surprises.append(f"{self.rec.phase}: the demo has no flash sale: none is bought")
            return
        self.sale_id = sale["id"]
        if sale["status"] == "scheduled":  # it starts a minute after seeding: now, so that no quote sees it start
            self.rec.send("POST", f"/api/v1/flash-sales/{self.sale_id}/activate", admin)

    def untie_promotions(self) -> None:
        """Give every promotion a priority of its own, keeping their order (higher first; equal ones by name):
        combinable promotions of equal priority stack in the order of their ids, which every seed draws anew,
        so two of them in one basket would discount it one way in one run and another way in the next."""
        admin = self.auth["admin"]
        promotions = self.rec.send("GET", "/api/v1/promotions", admin, params={"limit": 500}).data["items"]
        ranked = sorted(promotions, key=lambda p: (-p["priority"], p["name"]))
        for index, promotion in enumerate(ranked):
            priority = len(ranked) - index
            if promotion["priority"] == priority:
                continue
            body = {key: promotion[key] for key in PROMOTION_INPUT if key in promotion}
            answer = self.rec.send(
                "PUT", f"/api/v1/promotions/{promotion['id']}", admin, {**body, "priority": priority}
            )
            if not answer.ok:
                raise SystemExit(f"cannot set the priority of {promotion['name']!r}: {answer.status} {answer.body}")

    def pid(self, sku: str) -> str:
        return str(self.products[sku]["id"])

    @property
    def pool(self) -> list[str]:
        return sorted(
            sku for sku in self.products
            if sku.startswith(("DEMO-", "OTV-")) and sku not in SALE_SKUS and sku not in LEFT_OUT
        )  # fmt: skip

    def sellers_of(self, sku: str) -> list[str]:
        return [self.products[sku]["seller_id"], *sorted(s for (k, s) in self.offers if k == sku)]

    def room(self, key: str, units: int) -> bool:
        sku, _, seller = key.partition("@")
        limit = UNITS_PER_PRODUCT if not seller else int(self.offers[(sku, seller)]["stock"]) - 1
        return self.taken.get(key, 0) + units <= limit

    def take(self, keys: list[tuple[str, int]]) -> bool:
        """Count these units against the phase's stock budget, or none of them when one does not fit."""
        if not all(self.room(key, units) for key, units in keys):
            return False
        for key, units in keys:
            self.taken[key] = self.taken.get(key, 0) + units
        return True

    # 0. catalog
    def catalog(self) -> None:
        for sku in sorted(self.products):
            if sku.startswith(("DEMO-", "OTV-")):
                self.rec.call(f"catalog/{sku}", "GET", f"/api/v1/products/{self.pid(sku)}", self.auth["admin"])
        for sku in OFFER_SKUS:
            for where, quantity in (("Istanbul", 1), ("Ankara", 1), ("Ankara", 3)):
                params = {"city": where, "country": "TR", "quantity": quantity}
                self.rec.call(f"offers/{sku}/{where}/{quantity}", "GET", f"/api/v1/products/{self.pid(sku)}/offers",
                              self.auth["admin"], params=params)  # fmt: skip

    # 1. quotes
    def quote(self, step: str, caller: str, body: dict[str, Any], expect: tuple[int, ...] = (200,)) -> Answer:
        self.quotes += 1
        if caller == "shopper":
            body = {"customer_id": self.shopper_id, **body, "context": {"session_id": f"corpus-{self.quotes}"}}
        else:
            body = {"customer_id": f"corpus-c{self.quotes:03d}", **body}
        vary = SHOPPER_VARIANT if caller == "shopper" else ()
        return self.rec.call(
            f"quote/{step}", "POST", "/api/v1/quote", self.auth[caller], body, expect=expect, vary=vary
        )

    def item(self, sku: str, quantity: int, mode: str = "product", seller: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"product_id": self.pid(sku), "quantity": quantity}
        if mode == "seller" and seller is not None:
            item["seller_id"] = seller
        elif mode == "offer" and seller is not None and (sku, seller) in self.offers:
            item["offer_id"] = self.offers[(sku, seller)]["id"]
        return item

    def random_basket(self) -> tuple[dict[str, Any], list[tuple[str, int]], str]:
        """A basket of 1-4 demo products, its stock keys, and its caller."""
        rng = self.rng
        skus = rng.sample(self.pool, rng.choice((1, 1, 2, 2, 3, 4)))
        items, keys = [], []
        for sku in skus:
            quantity = rng.choice((1, 1, 1, 2, 2, 3, 4))
            mode, seller = "product", None
            if sku in OFFER_SKUS:
                mode = rng.choice(("product", "seller", "offer"))
                seller = rng.choice(self.sellers_of(sku)[1:] if mode == "offer" else self.sellers_of(sku))
                quantity = 1
            items.append(self.item(sku, quantity, mode, seller))
            named = seller is not None and seller != self.products[sku]["seller_id"]
            keys.append((f"{sku}@{seller}" if named else sku, quantity))
        body: dict[str, Any] = {
            "currency": "TRY",
            "items": items,
            "delivery_address": rng.choice(CITIES),
            "coupon_codes": rng.choice(COUPONS),
            "is_express_delivery": rng.random() < 0.25,
        }
        caller = rng.choice(("service", "service", "service", "admin", "shopper"))
        if caller != "shopper":
            if rng.random() < 0.3:
                body["customer_tier"] = rng.choice(("gold", "silver"))
            if rng.random() < 0.15:
                body["customer_group"] = "b2b"
            if rng.random() < 0.2:
                body["channel"] = rng.choice(("newsletter", "demo-app", "web"))
            if rng.random() < 0.2:
                body["logistics_provider"] = "fastship"
        if rng.random() < 0.2 and body["delivery_address"]["city"] == "Istanbul":
            body["pickup_address"] = PICKUP
        if rng.random() < 0.1:
            body["hints"] = True
        if rng.random() < 0.15:
            body["card_bin"] = CARD_BIN
        return body, keys, caller

    def specials(self) -> list[tuple[str, str, dict[str, Any], list[tuple[str, int]], tuple[int, ...], bool]]:
        """(name, caller, body, stock keys, expected statuses, order it) of the quotes every corpus has."""
        p = self.item
        ist, ank = {"city": "Istanbul", "country": "TR"}, {"city": "Ankara", "country": "TR"}
        tr = {"currency": "TRY"}
        perfume = [p("OTV-PERF-001", 1)]
        kilim = "DEMO-HOME-004"
        ok = (200,)
        return [
            ("readme", "admin", {**tr, "seller_id": "seller-anatolia", "customer_tier": "gold",
              "logistics_provider": "fastship", "is_express_delivery": True, "coupon_codes": ["WELCOME10", "NOPE"],
              "items": [p("DEMO-ELEC-002", 1), p("DEMO-BOOK-001", 3)], "pickup_address": PICKUP,
              "delivery_address": {**ist, "latitude": 41.0082, "longitude": 28.9784}},
             [("DEMO-ELEC-002", 1), ("DEMO-BOOK-001", 3)], ok, True),
            ("three-sellers-ankara", "service", {**tr, "delivery_address": ank, "items": [
                p("DEMO-FASH-004", 1), p("DEMO-FASH-005", 1), p("DEMO-FASH-006", 2)]},
             [("DEMO-FASH-004", 1), ("DEMO-FASH-005", 1), ("DEMO-FASH-006", 2)], ok, True),
            ("three-sellers-next-day", "service", {**tr, "delivery_address": ank, "shipping": {
                "seller-bosphorus": "next_day"}, "items": [p("DEMO-FASH-004", 1), p("DEMO-FASH-005", 1),
                p("DEMO-FASH-006", 2)]}, [("DEMO-FASH-004", 1), ("DEMO-FASH-005", 1), ("DEMO-FASH-006", 2)], ok, True),
            ("unknown-delivery-option", "service", {**tr, "delivery_address": ank, "shipping": {
                "seller-bosphorus": "drone"}, "items": [p("DEMO-FASH-005", 1)]}, [], (422,), False),
            ("named-fees", "service", {**tr, "delivery_address": ist, "items": [
                p("DEMO-GROC-007", 1), p("DEMO-GROC-008", 2), p("DEMO-GROC-005", 1)]},
             [("DEMO-GROC-007", 1), ("DEMO-GROC-008", 2), ("DEMO-GROC-005", 1)], ok, True),
            ("buy-two-get-one", "service", {**tr, "delivery_address": ank, "coupon_codes": ["WELCOME10"],
              "items": [p("DEMO-GROC-001", 3)]}, [("DEMO-GROC-001", 3)], ok, True),
            ("home-platform-funded", "service", {**tr, "delivery_address": ist, "coupon_codes": ["FULLPRICE10"],
              "items": [p("DEMO-HOME-003", 2), p("DEMO-HOME-009", 1)]},
             [("DEMO-HOME-003", 2), ("DEMO-HOME-009", 1)], ok, True),
            ("big-basket-capped-coupon", "service", {**tr, "delivery_address": ist,
              "coupon_codes": ["WELCOME10", "FREESHIP"], "items": [p("DEMO-ELEC-007", 1), p("DEMO-ELEC-005", 2)]},
             [("DEMO-ELEC-007", 1), ("DEMO-ELEC-005", 2)], ok, True),
            ("small-basket-fee", "service", {**tr, "delivery_address": {"city": "Bursa", "country": "TR"},
              "items": [p("DEMO-ELEC-010", 1)]}, [("DEMO-ELEC-010", 1)], ok, True),
            ("gold-shopper", "shopper", {**tr, "delivery_address": ist, "coupon_codes": ["WELCOME10"],
              "items": [p("DEMO-BOOK-004", 3), p("DEMO-ELEC-008", 1)]},
             [("DEMO-BOOK-004", 3), ("DEMO-ELEC-008", 1)], ok, True),
            ("shopper-express", "shopper", {**tr, "delivery_address": ank, "is_express_delivery": True,
              "items": [p("DEMO-FASH-003", 1)]}, [("DEMO-FASH-003", 1)], ok, True),
            ("shopper-other-tier", "shopper", {**tr, "customer_tier": "platinum", "delivery_address": ist,
              "items": [p("DEMO-BOOK-009", 1)]}, [], (422,), False),
            ("shopper-client-price", "shopper", {**tr, "delivery_address": ist, "items": [
                {"product_id": "gift-wrap", "quantity": 1, "unit_price": "0.01"}]}, [], (422,), False),
            ("request-priced", "service", {**tr, "customer_tier": "gold", "delivery_address": ist, "items": [
                {"product_id": "gift-wrap", "quantity": 2, "unit_price": "4.90", "category_id": "gifts",
                 "seller_id": "seller-anatolia"}, p("DEMO-BOOK-007", 1)]}, [("DEMO-BOOK-007", 1)], ok, True),
            ("kilim-best-landed-istanbul", "service", {**tr, "delivery_address": ist, "items": [p(kilim, 1)]},
             [(f"{kilim}@seller-bosphorus", 1)], ok, True),
            ("kilim-best-landed-ankara", "service", {**tr, "delivery_address": ank, "items": [p(kilim, 1)]},
             [(kilim, 1)], ok, True),
            ("kilim-named-seller", "service", {**tr, "delivery_address": ank,
              "items": [p(kilim, 1, "seller", "seller-bosphorus")]}, [(f"{kilim}@seller-bosphorus", 1)], ok, True),
            ("kilim-offer-id", "service", {**tr, "delivery_address": ank,
              "items": [p(kilim, 1, "offer", "seller-cappadocia"), p("DEMO-HOME-001", 1)]},
             [(f"{kilim}@seller-cappadocia", 1), ("DEMO-HOME-001", 1)], ok, True),
            ("cookbook-used-offer", "admin", {**tr, "delivery_address": ist,
              "items": [p("DEMO-BOOK-006", 1, "seller", "seller-anatolia")]},
             [("DEMO-BOOK-006@seller-anatolia", 1)], ok, True),
            ("webcam-refurbished", "service", {**tr, "delivery_address": {"city": "Izmir", "country": "TR"},
              "items": [p("DEMO-ELEC-009", 1, "offer", "seller-bosphorus")]},
             [("DEMO-ELEC-009@seller-bosphorus", 1)], ok, True),
            ("unknown-offer", "service", {**tr, "delivery_address": ist, "items": [
                {"product_id": self.pid(kilim), "offer_id": "00000000-0000-4000-8000-000000000000", "quantity": 1}]},
             [], (422,), False),
            ("seller-without-offer", "service", {**tr, "delivery_address": ist,
              "items": [p("DEMO-ELEC-009", 1, "seller", "seller-anatolia")]}, [], (422,), False),
            ("perfume-card-options", "service", {**tr, "delivery_address": ist, "items": perfume,
              "card_bin": CARD_BIN}, [], ok, False),
            ("perfume-installments-3-platform", "service", {**tr, "delivery_address": ist, "items": perfume,
              "card_bin": CARD_BIN, "installments": 3}, [("OTV-PERF-001", 1)], ok, True),
            ("perfume-installments-6-seller", "service", {**tr, "delivery_address": ist, "items": [
                p("OTV-PERF-001", 2), p("DEMO-GROC-008", 1)], "card_bin": CARD_BIN, "installments": 6},
             [("OTV-PERF-001", 2), ("DEMO-GROC-008", 1)], ok, True),
            ("perfume-installments-9-customer", "service", {**tr, "delivery_address": ank,
              "items": [p("OTV-PERF-002", 1)], "card_bin": "55287901", "installments": 9},
             [("OTV-PERF-002", 1)], ok, True),
            ("installments-not-offered", "service", {**tr, "delivery_address": ist, "items": perfume,
              "card_bin": CARD_BIN, "installments": 12}, [], (422,), False),
            ("card-without-plan", "service", {**tr, "delivery_address": ist, "items": perfume,
              "card_bin": "41111111"}, [], ok, False),
            ("exempt", "service", {**tr, "delivery_address": ist, "tax_exemption": "exempt",
              "items": [p("OTV-PERF-002", 1), p("DEMO-BOOK-002", 1)]},
             [("OTV-PERF-002", 1), ("DEMO-BOOK-002", 1)], ok, True),
            ("reverse-charge", "admin", {**tr, "delivery_address": ist, "tax_exemption": "reverse_charge",
              "customer_tax_id": "DE136695976", "items": perfume}, [("OTV-PERF-001", 1)], ok, True),
            ("reverse-charge-without-id", "service", {**tr, "delivery_address": ist,
              "tax_exemption": "reverse_charge", "items": perfume}, [], (422,), False),
            ("eur-web-price-list", "service", {"currency": "EUR", "channel": "web", "delivery_address": ist,
              "items": [p("DEMO-ELEC-002", 1), p("DEMO-BOOK-005", 2)]},
             [("DEMO-ELEC-002", 1), ("DEMO-BOOK-005", 2)], ok, True),
            ("eur-without-price-list", "service", {"currency": "EUR", "delivery_address": ist,
              "items": [p("DEMO-ELEC-002", 1)]}, [], (422,), False),
            ("b2b-price-list", "service", {**tr, "customer_group": "b2b", "delivery_address": ank,
              "items": [p("DEMO-HOME-007", 2), p("DEMO-BOOK-008", 1)]},
             [("DEMO-HOME-007", 2), ("DEMO-BOOK-008", 1)], ok, True),
            ("newsletter-bundle-and-tiers", "service", {**tr, "channel": "newsletter", "delivery_address": ist,
              "items": [p("DEMO-BOOK-001", 1), p("DEMO-BOOK-003", 1), p("DEMO-BOOK-010", 1),
                        p("DEMO-HOME-007", 1), p("DEMO-HOME-008", 1)]},
             [("DEMO-BOOK-001", 1), ("DEMO-BOOK-003", 1), ("DEMO-BOOK-010", 1), ("DEMO-HOME-007", 1),
              ("DEMO-HOME-008", 1)], ok, True),
            ("newsletter-fashion-budget", "service", {**tr, "channel": "newsletter", "delivery_address": ank,
              "items": [p("DEMO-FASH-009", 1), p("DEMO-FASH-007", 2)], "hints": True},
             [("DEMO-FASH-009", 1), ("DEMO-FASH-007", 2)], ok, True),
            ("app-half-delivery", "service", {**tr, "channel": "demo-app", "delivery_address": ank,
              "items": [p("DEMO-FASH-008", 1), p("DEMO-ELEC-004", 1)]},
             [("DEMO-FASH-008", 1), ("DEMO-ELEC-004", 1)], ok, True),
            ("hints", "service", {**tr, "delivery_address": ank, "hints": True,
              "items": [p("DEMO-FASH-006", 1), p("DEMO-GROC-009", 2)]}, [], ok, False),
            ("quantity-zero", "service", {**tr, "delivery_address": ist, "items": [p("DEMO-BOOK-009", 0)]},
             [], (422,), False),
        ]  # fmt: skip

    # 2. orders
    def order(self, name: str, caller: str, quote_id: str) -> Placed | None:
        headers = {"Idempotency-Key": f"corpus-order-{name}"}
        answer = self.rec.call(f"order/{name}", "POST", "/api/v1/orders", self.auth[caller], {"quote_id": quote_id},
                               headers=headers, expect=(201,))  # fmt: skip
        if not answer.ok:
            return None
        placed = Placed(name, answer.data["id"], caller, order_lines(answer.data))
        self.get_order(placed, "placed")
        return placed

    def get_order(self, placed: Placed, when: str) -> None:
        self.rec.call(f"order/{placed.name}/{when}", "GET", f"/api/v1/orders/{placed.order_id}",
                      self.auth[placed.caller if placed.caller != "shopper" else "admin"])  # fmt: skip

    # 3. refunds
    def refund(
        self, placed: Placed, label: str, lines: list[dict[str, Any]], *, include_fees: bool = False,
        caller: str = "admin", by_line: bool = False, expect: tuple[int, ...] = (201,),
        extra: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        """Give back `units` of each of `lines` (each names the order's line it counts down as `ref`)."""
        body: dict[str, Any] = {
            "lines": [
                {
                    "product_id": line["product_id"],
                    "quantity": line["units"],
                    **({"line": line["line"]} if by_line else {}),
                }
                for line in lines
            ],
            "include_fees": include_fees,
            "reason": f"corpus {label}",
            **(extra or {}),
        }
        key = {"Idempotency-Key": f"corpus-refund-{placed.name}-{label}"}
        answer = self.rec.call(f"refund/{placed.name}/{label}", "POST", f"/api/v1/orders/{placed.order_id}/refunds",
                               self.auth[caller], body, headers=key, expect=expect)  # fmt: skip
        if answer.status == 201:
            for line in lines:
                if "ref" in line:
                    line["ref"]["left"] -= line["units"]
        self.get_order(placed, f"after-{label}")

    def units(self, placed: Placed, *, everything: bool = False, first: bool = False) -> list[dict[str, Any]]:
        """Lines to give back, drawn from what is left of the order: one line, some of its units (its first
        unit, `first`), or every unit left (`everything`)."""
        left = placed.remaining()
        if everything:
            return [{**line, "units": line["left"], "ref": line} for line in left]
        if not left:
            return []
        line = self.rng.choice(left)
        return [{**line, "units": 1 if first else self.rng.randint(1, line["left"]), "ref": line}]

    def give_back(self, placed: Placed, label: str, lines: list[dict[str, Any]], **options: Any) -> None:
        if lines:
            self.refund(placed, label, lines, **options)

    # 4. edits and cancels
    def edit(self, placed: Placed, label: str, body: dict[str, Any], *, commit: bool = True,
             caller: str = "admin", expect: tuple[int, ...] = (201,)) -> str | None:  # fmt: skip
        answer = self.rec.call(f"edit/{placed.name}/{label}", "POST", f"/api/v1/orders/{placed.order_id}/edits",
                               self.auth[caller], body, expect=expect)  # fmt: skip
        if not answer.ok:
            return None
        edit_id = str(answer.data["edit_id"])
        if commit:
            self.commit(placed, label, edit_id, caller=caller)
        return edit_id

    def commit(self, placed: Placed, label: str, edit_id: str, *, caller: str = "admin",
               expect: tuple[int, ...] = (200,)) -> None:  # fmt: skip
        key = {"Idempotency-Key": f"corpus-edit-{placed.name}-{label}"}
        answer = self.rec.call(f"edit/{placed.name}/{label}/commit", "POST",
                               f"/api/v1/orders/{placed.order_id}/edits/{edit_id}/commit", self.auth[caller],
                               headers=key, expect=expect)  # fmt: skip
        if answer.status == 200 and answer.ok:
            placed.lines = order_lines(answer.data)
        self.get_order(placed, f"after-{label}")

    def cancel(self, placed: Placed, label: str, *, caller: str = "admin", expect: tuple[int, ...] = (200,)) -> None:
        key = {"Idempotency-Key": f"corpus-cancel-{placed.name}-{label}"}
        path = f"/api/v1/orders/{placed.order_id}/cancel"
        answer = self.rec.call(f"cancel/{placed.name}/{label}", "POST", path, self.auth[caller],
                               {"reason": f"corpus {label}"}, headers=key, expect=expect)  # fmt: skip
        if answer.status == 200:
            for line in placed.lines:
                line["left"] = 0
        self.get_order(placed, f"after-{label}")

    @staticmethod
    def placer(placed: Placed) -> str:
        """Who cancels an order: the service key that placed it, else the admin."""
        return "service" if placed.caller == "service" else "admin"

    def other_product(self, placed: Placed) -> str | None:
        """A product of the pool the order does not hold, with a unit of stock budget left."""
        held = {line["product_id"] for line in placed.lines}
        free = [sku for sku in self.pool if self.pid(sku) not in held and sku not in OFFER_SKUS and self.room(sku, 1)]
        if not free:
            return None
        sku = self.rng.choice(free)
        self.take([(sku, 1)])
        return sku

    def fate(self, placed: Placed, fate: str) -> None:
        rng = self.rng
        if fate == "refund_one":
            self.give_back(placed, "one", self.units(placed, first=True))
        elif fate == "refund_with_fees":
            self.give_back(placed, "with-fees", self.units(placed), include_fees=True)
            self.give_back(placed, "after-fees", self.units(placed), include_fees=True)
        elif fate == "refund_all":
            self.give_back(placed, "all", self.units(placed, everything=True), include_fees=rng.random() < 0.5)
            self.refund(placed, "closed", [{**placed.lines[0], "units": 1}], expect=(409,))
        elif fate == "refund_by_line":
            caller = "service" if placed.caller == "service" else "admin"  # a key sees only its own orders
            self.give_back(placed, "by-line", self.units(placed), by_line=True, caller=caller)
        elif fate in ("edit_add", "refund_then_edit", "edit_then_refund", "edit_then_cancel"):
            if fate == "refund_then_edit":
                self.give_back(placed, "before-edit", self.units(placed, first=True))
            sku = self.other_product(placed)
            if sku is not None:  # an order whose one unit was given back is closed: 409
                body = {"add": [{"product_id": self.pid(sku), "quantity": 1}]}
                self.edit(placed, "add", body, expect=(201, 409) if fate == "refund_then_edit" else (201,))
            if fate == "edit_then_refund":
                self.give_back(placed, "after-edit", self.units(placed), by_line=True)
            elif fate == "edit_then_cancel":
                self.cancel(placed, "after-edit")
        elif fate == "edit_remove":
            left = placed.remaining()
            if left:
                line = rng.choice(left)
                units = 1 if line["left"] > 1 or len(left) == 1 else line["left"]
                emptied = len(left) == 1 and line["left"] == 1  # refused: a cancel's work, not an edit's
                body = {"remove": [{"product_id": line["product_id"], "quantity": units}]}
                self.edit(placed, "remove", body, expect=(422,) if emptied else (201,))
        elif fate == "edit_replace":
            left = placed.remaining()
            sku = self.other_product(placed)
            if left and sku is not None:
                line = rng.choice(left)
                swap = {"product_id": line["product_id"], "quantity": 1,
                        "with": {"product_id": self.pid(sku), "quantity": 1}}  # fmt: skip
                self.edit(placed, "replace", {"replace": [swap]})
        elif fate == "cancel":
            self.cancel(placed, "cancel", caller=self.placer(placed))
        elif fate == "cancel_then_refund":
            self.cancel(placed, "cancel")
            self.refund(placed, "after-cancel", [{**placed.lines[0], "units": 1}], expect=(409,))

    def quotes_and_orders(self) -> None:
        rng = self.rng
        made: list[tuple[str, str, str, list[tuple[str, int]], bool]] = []
        for name, caller, body, keys, expect, order in self.specials():
            answer = self.quote(name, caller, body, expect)
            if answer.ok and "quote_id" in answer.data:
                made.append((name, caller, answer.data["quote_id"], keys, order))
        for index in range(int(self.scale * 70)):
            body, keys, caller = self.random_basket()
            answer = self.quote(f"random-{index:02d}", caller, body)
            if answer.ok and "quote_id" in answer.data:
                made.append((f"random-{index:02d}", caller, answer.data["quote_id"], keys, rng.random() < 0.6))
        for name, caller, quote_id, _, _ in made[:6]:
            vary = SHOPPER_VARIANT if caller == "shopper" else ()
            self.rec.call(f"quote/{name}/read", "GET", f"/api/v1/quotes/{quote_id}", self.auth[caller], vary=vary)
        placed: list[Placed] = []
        for name, caller, quote_id, keys, order in made:
            if order and self.take(keys):
                one = self.order(name, caller, quote_id)
                if one is not None:
                    placed.append(one)
        if made:  # the same key again (a replay), with another quote (a conflict), and an ordered quote again
            name, caller, quote_id, _, _ = made[0]
            headers = {"Idempotency-Key": f"corpus-order-{name}"}
            auth = self.auth[caller]
            self.rec.call("order/replay", "POST", "/api/v1/orders", auth, {"quote_id": quote_id}, headers=headers)
            other = next((m for m in made[1:] if m[1] == caller and not m[4]), None)
            if other is not None:
                self.rec.call("order/key-conflict", "POST", "/api/v1/orders", auth, {"quote_id": other[2]},
                              headers=headers, expect=(409,))  # fmt: skip
            self.rec.call("order/ordered-again", "POST", "/api/v1/orders", auth, {"quote_id": quote_id},
                          headers={"Idempotency-Key": "corpus-order-again"}, expect=(409,))  # fmt: skip
        self.rec.call("order/unknown-quote", "POST", "/api/v1/orders", self.auth["service"],
                      {"quote_id": "01900000-0000-7000-8000-000000000000"},
                      headers={"Idempotency-Key": "corpus-order-unknown"}, expect=(404, 409))  # fmt: skip
        self.after_the_orders(placed)

    def after_the_orders(self, placed: list[Placed]) -> None:
        named = {p.name: p for p in placed}
        # Fixed fates for the special orders: every money path at least once.
        fixed = {
            "readme": "refund_with_fees", "three-sellers-ankara": "refund_by_line", "named-fees": "refund_all",
            "buy-two-get-one": "refund_one", "home-platform-funded": "edit_remove",
            "big-basket-capped-coupon": "cancel",
            "gold-shopper": "edit_replace", "request-priced": "refund_all", "kilim-named-seller": "edit_add",
            "perfume-installments-6-seller": "refund_with_fees", "perfume-installments-9-customer": "cancel",
            "exempt": "refund_one", "reverse-charge": "edit_then_refund", "eur-web-price-list": "refund_with_fees",
            "b2b-price-list": "refund_then_edit", "newsletter-bundle-and-tiers": "edit_remove",
            "newsletter-fashion-budget": "edit_then_cancel", "app-half-delivery": "cancel_then_refund",
            "three-sellers-next-day": "edit_add", "kilim-offer-id": "edit_replace",
        }  # fmt: skip
        for one in placed:
            self.fate(one, fixed.get(one.name) or self.rng.choice(FATES))
        if "three-sellers-ankara" in named:  # a shipment's fee given back by naming its seller
            one = named["three-sellers-ankara"]
            self.give_back(one, "shipment", self.units(one), extra={"shipments": ["seller-bosphorus"]})
        if "readme" in named:
            one = named["readme"]
            lines = [{**line, "units": 99} for line in one.remaining()[:1]]
            self.refund(one, "too-many", lines, expect=(409,))
            self.refund(one, "unknown-product", [{"product_id": "not-in-the-order", "line": 0, "left": 1, "units": 1}],
                        expect=(422,))  # fmt: skip
            self.rec.call("refund/readme/list", "GET", f"/api/v1/orders/{one.order_id}/refunds", self.auth["admin"])
        if "gold-shopper" in named:  # a second preview made stale by a commit; an empty edit; a replayed commit
            one = named["gold-shopper"]
            sku = self.other_product(one)
            if sku is not None:
                body = {"add": [{"product_id": self.pid(sku), "quantity": 1}]}
                first = self.edit(one, "first-of-two", body, commit=False)
                second = self.edit(one, "second-of-two", body, commit=False)
                if first and second:
                    self.commit(one, "first-of-two", first)
                    self.commit(one, "second-of-two", second, expect=(409,))
                    self.commit(one, "first-of-two", first)  # the same key: the first answer again
            self.edit(one, "empty", {}, commit=False, expect=(422,))
        if "big-basket-capped-coupon" in named:
            one = named["big-basket-capped-coupon"]
            self.cancel(one, "cancel", caller=self.placer(one))  # the same key: replayed
            self.edit(one, "cancelled", {"remove": [{"product_id": one.lines[0]["product_id"], "quantity": 1}]},
                      commit=False, expect=(409,))  # fmt: skip
        self.rec.call("orders/list/shopper", "GET", "/api/v1/orders", self.auth["admin"],
                      params={"customer_id": self.shopper_id, "limit": 5})  # fmt: skip
        self.rec.call("orders/list/cancelled", "GET", "/api/v1/orders", self.auth["admin"],
                      params={"seller_id": "seller-bosphorus", "status": "cancelled", "limit": 5})  # fmt: skip

    # 7. the flash sale
    def flash_sale(self) -> None:
        if not self.sale_id:
            return
        admin, service = self.auth["admin"], self.auth["service"]
        sale = f"/api/v1/flash-sales/{self.sale_id}"
        self.rec.call("flash/sale", "GET", sale, admin)
        answer = self.quote("flash-elec-001", "service", {"currency": "TRY", "delivery_address": {
            "city": "Ankara", "country": "TR"}, "items": [self.item("DEMO-ELEC-001", 3)]})  # fmt: skip
        if answer.ok:
            placed = self.order("flash-elec-001", "service", answer.data["quote_id"])
            if placed is not None:
                self.give_back(placed, "one-flash-unit", [{**placed.lines[0], "units": 1, "ref": placed.lines[0]}])
        mixed = self.quote("flash-mixed", "shopper", {"currency": "TRY", "delivery_address": {
            "city": "Istanbul", "country": "TR"}, "items": [self.item("DEMO-ELEC-003", 1),
            self.item("DEMO-HOME-002", 1), self.item("DEMO-BOOK-002", 1)]})  # fmt: skip
        if mixed.ok:
            placed = self.order("flash-mixed", "shopper", mixed.data["quote_id"])
            if placed is not None:
                self.cancel(placed, "cancel")
        home = self.pid("DEMO-HOME-002")
        buy = {"product_id": home, "quantity": 2, "customer_id": "corpus-flash-1"}
        for label, body, expect in (
            ("buy", buy, (201,)),
            ("buy", buy, (201,)),  # the same key: the same purchase
            ("over-limit", {**buy, "quantity": 1}, (409,)),
            ("price-changed", {**buy, "customer_id": "corpus-flash-2", "expected_unit_price": "1.00"}, (409,)),
            ("one", {**buy, "customer_id": "corpus-flash-3", "quantity": 1}, (201,)),
        ):
            key = {"Idempotency-Key": f"corpus-purchase-{label}"}
            answer = self.rec.call(f"flash/purchase/{label}", "POST", f"{sale}/purchases", service, body, headers=key,
                                   expect=expect)  # fmt: skip
            if label == "one" and answer.ok and answer.data.get("order_id"):
                order_id = answer.data["order_id"]
                self.rec.call("flash/purchase/order", "GET", f"/api/v1/orders/{order_id}", admin)
                placed = Placed("flash-purchase", order_id, "admin", [
                    {"product_id": home, "line": 0, "left": 1, "seller_id": None}])  # fmt: skip
                self.give_back(placed, "purchase", [{**placed.lines[0], "units": 1, "ref": placed.lines[0]}],
                               include_fees=True)  # fmt: skip
        self.rec.call("flash/purchases/me", "GET", f"{sale}/purchases/me", self.auth["shopper"])

    # 5. statements, ledgers, balances, payouts
    def books(self) -> None:
        admin = self.auth["admin"]
        for seller in SELLERS:
            base = f"/api/v1/sellers/{seller}"
            multi = seller == "seller-bosphorus"  # it sold in EUR too: a statement must name the currency
            for currency in ("TRY", "EUR") if multi else (None,):
                money = {"currency": currency} if currency else {}
                self.rec.call(f"books/{seller}/statement{'/' + currency if currency else ''}", "GET",
                              f"{base}/statement", admin, params=money or None)  # fmt: skip
                self.rec.call(f"books/{seller}/statement-csv", "GET", f"{base}/statement", admin,
                              params={**money, "format": "csv"})  # fmt: skip
                self.rec.call(f"books/{seller}/ledger", "GET", f"{base}/statement/entries", admin,
                              params={**money, "limit": 500})  # fmt: skip
                self.rec.call(f"books/{seller}/ledger-csv", "GET", f"{base}/statement/entries", admin,
                              params={**money, "format": "csv"})  # fmt: skip
            if multi:
                self.rec.call(f"books/{seller}/statement-two-currencies", "GET", f"{base}/statement", admin,
                              expect=(422,))  # fmt: skip
            self.rec.call(f"books/{seller}/balance", "GET", f"{base}/balance", admin)
        self.rec.call("books/seller-own-balance", "GET", "/api/v1/sellers/seller-bosphorus/balance",
                      self.auth["seller"])  # fmt: skip
        terms = (
            {"seller_id": "seller-cappadocia", "hold_days": 0, "reserve_percent": "10", "reserve_days": 30,
             "currency": "TRY"},
            {"seller_id": "seller-anatolia", "hold_days": 0, "min_payout": "100000.00", "currency": "TRY"},
        )  # fmt: skip
        for body in terms:
            self.rec.call(f"payouts/terms/{body['seller_id']}", "POST", "/api/v1/payout-terms", admin, body)
        for seller in SELLERS:
            self.rec.call(f"payouts/{seller}/balance-before", "GET", f"/api/v1/sellers/{seller}/balance", admin)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        run = self.rec.call("payouts/run", "POST", "/api/v1/payouts/run", admin, {"as_of": now})
        self.rec.call("payouts/run-again", "POST", "/api/v1/payouts/run", admin,
                      {"as_of": datetime.now(UTC).isoformat().replace("+00:00", "Z")})  # fmt: skip
        self.rec.call("payouts/run-back-in-time", "POST", "/api/v1/payouts/run", admin,
                      {"as_of": "2020-01-01T00:00:00Z"}, expect=(422,))  # fmt: skip
        for seller in SELLERS:
            self.rec.call(f"payouts/{seller}/list", "GET", "/api/v1/payouts", admin, params={"seller_id": seller})
            self.rec.call(f"payouts/{seller}/balance-after", "GET", f"/api/v1/sellers/{seller}/balance", admin)
        paid = run.data.get("payouts", []) if run.ok and isinstance(run.data, dict) else []
        for payout in paid[:1]:
            self.rec.call("payouts/paid", "POST", f"/api/v1/payouts/{payout['id']}/paid", admin,
                          {"reference": "CORPUS-0001"})  # fmt: skip
            self.rec.call("payouts/balance-after-paid", "GET", f"/api/v1/sellers/{payout['seller_id']}/balance", admin)

    # 6. payout previews
    def previews(self) -> None:
        own = {
            "seller-anatolia": ("DEMO-BOOK-001", "DEMO-HOME-001"),
            "seller-bosphorus": ("DEMO-GROC-008", "OTV-PERF-001"),
            "seller-cappadocia": ("DEMO-GROC-006", "DEMO-HOME-003"),
        }
        offered = {s: [(sku, o) for (sku, seller), o in sorted(self.offers.items()) if seller == s] for s in SELLERS}
        for seller, skus in own.items():
            path = f"/api/v1/sellers/{seller}/payout-preview"
            caller = "seller" if seller == "seller-bosphorus" else "admin"
            for sku in skus:
                pid = self.pid(sku)
                price = self.products[sku]["current_price"]
                bodies = {
                    "current": {"product_id": pid},
                    "unit-price": {"product_id": pid, "quantity": 2, "unit_price": price, "city": "Ankara",
                                   "country": "TR"},
                    "target": {"product_id": pid, "quantity": 1, "target_payout": price},
                    "target-ankara": {"product_id": pid, "quantity": 2, "target_payout": "400.00", "city": "Ankara",
                                      "country": "TR"},
                    "with-promotions": {"product_id": pid, "quantity": 3, "with_promotions": True, "city": "Istanbul",
                                        "country": "TR"},
                }  # fmt: skip
                for label, body in bodies.items():
                    self.rec.call(f"preview/{seller}/{sku}/{label}", "POST", path, self.auth[caller], body)
            for sku, offer in offered[seller]:
                for label, body in (
                    ("offer", {"offer_id": offer["id"], "city": "Ankara", "country": "TR"}),
                    ("offer-target", {"offer_id": offer["id"], "target_payout": "200.00"}),
                ):
                    self.rec.call(f"preview/{seller}/{sku}/{label}", "POST", path, self.auth["service"], body,
                                  expect=(200, 422))  # fmt: skip
            pid = self.pid(skus[0])
            for label, body in (
                ("unreachable", {"product_id": pid, "target_payout": "999999999999.99"}),
                ("below-floor", {"product_id": pid, "unit_price": "0.01"}),
                ("both", {"product_id": pid, "unit_price": "100.00", "target_payout": "100.00"}),
                ("not-its-product", {"product_id": self.pid(own[SELLERS[(SELLERS.index(seller) + 1) % 3]][0])}),
            ):
                self.rec.call(f"preview/{seller}/{label}", "POST", path, self.auth["admin"], body, expect=(422,))

    def run(self) -> None:
        self.catalog()
        self.quotes_and_orders()
        self.flash_sale()
        self.books()
        self.previews()
        experiment = self.rec.send("GET", "/api/v1/experiments/checkout_banner", self.auth["admin"])
        status = experiment.data.get("status") if isinstance(experiment.data, dict) else experiment.status
        if status != "running":  # its guardrail stops it on its own clock: quotes would change arm mid-phase
            self.rec.surprises.append(f"{self.rec.phase}: the demo experiment checkout_banner is {status}, not running")


@contextlib.contextmanager
def served_phase(tree: Path, phase: Phase, admin_url: str, redis_url: str, workdir: Path) -> Iterator[str]:
    """The tree served for `phase` on a new database and the flushed Redis database, with the fixed
    environment; a start that fails is tried again (STARTS in all) on a new database."""
    for attempt in range(1, STARTS + 1):
        here = workdir / f"start-{attempt}"
        here.mkdir(parents=True)
        flush(redis_url)
        with scratch_database(admin_url, f"qs_corpus_{os.getpid()}_{phase.name}") as database_url:
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", str(here)),
                "LANG": "C.UTF-8",
                "TZ": "UTC",
                "PYTHONPATH": str(tree),  # the tree's own code, even where its .venv is a copy
                "QUOTE_SERVICE_HOME": str(here / "home"),
                "QUOTE_LOG_SPOOL_DIR": str(here / "spool"),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                **SERVER_ENV,
                **phase.env,
            }
            try:
                with serving(tree, env, here) as (base, _):
                    yield base
                    return
            except StartFailed as failed:
                if attempt == STARTS:
                    raise
                reason = str(failed).strip().splitlines()[-1]
                print(f"{phase.name}: the server did not start ({reason}); trying again in 15 s", flush=True)
        time.sleep(15)


def record(args: argparse.Namespace) -> int:
    tree = Path(args.tree).resolve()
    command = tree / ".venv" / "bin" / "quote-service"
    if not command.exists():
        raise SystemExit(f"{command} is missing: run `uv sync` (or `make bootstrap`) in {tree} first")
    phases = [p for p in PHASES if not args.phase or p.name in args.phase]
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    began = time.monotonic()
    normalizer = Normalizer(datetime.now(UTC))
    with tempfile.TemporaryDirectory(prefix="qs-corpus-") as scratch, partial.open("w", encoding="utf-8") as sink:
        rec = Recorder(sink, normalizer)
        with claimed_redis(args.redis_url) as redis_url:
            for phase in phases:
                clear_of_midnight()
                print(f"{phase.name}: serving {tree} (serve --demo: migrate, seed)...", flush=True)
                start = time.monotonic()
                with served_phase(tree, phase, args.database_url, redis_url, Path(scratch) / phase.name) as base:
                    seeded = time.monotonic()
                    normalizer.start = datetime.now(UTC)
                    print(f"{phase.name}: ready after {seeded - start:.0f} s; journeys...", flush=True)
                    rec.open(base, phase.name)
                    journeys = Journeys(rec, random.Random(args.seed))
                    journeys.scale = args.scale
                    before = rec.count
                    journeys.setup()
                    journeys.run()
                    rec.close()
                    took = time.monotonic() - seeded
                    print(f"{phase.name}: {rec.count - before} requests in {took:.0f} s", flush=True)
                    if took > CAMPAIGN_HOUR_SECONDS:
                        print(f"warning: {phase.name} took {took:.0f} s after seeding: the demo campaign may "
                              "have moved a price in one run and not the other", flush=True)  # fmt: skip
        seconds = round(time.monotonic() - began)
        meta = {
            "tree": str(tree),
            "commit": commit_of(tree),
            "seed": args.seed,
            "scale": args.scale,
            "phases": [p.name for p in phases],
            "requests": rec.count,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": seconds,
        }
        sink.write(json.dumps({"meta": meta}) + "\n")
    partial.replace(out)
    print(f"wrote {out}: {rec.count} requests in {seconds} s")
    if rec.surprises:
        print(f"{len(rec.surprises)} answers other than the journeys expected (recorded as they came):")
        for line in rec.surprises[:40]:
            print(f"  {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="corpus.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="More: docs/development.md, section 'Replaying a recorded corpus'.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="serve a tree on fresh stores, run the journeys, write FILE.jsonl",
                         description="Serve --tree on a fresh database and Redis, seed the demo, run the journeys "
                         "(once per phase) and write every request and its normalized answer to --out.")  # fmt: skip
    rec.add_argument("--tree", required=True, help="the checkout to serve (its .venv/bin/quote-service)")
    rec.add_argument("--out", required=True, help="the JSON-lines file to write")
    rec.add_argument("--seed", type=int, default=1, help="draws the baskets, quantities and fates (default 1)")
    rec.add_argument("--phase", action="append", choices=[p.name for p in PHASES],
                     help="record only this phase (repeatable; default every phase)")  # fmt: skip
    rec.add_argument("--scale", type=float, default=1.0, help="random baskets, as a multiple of 70 (default 1)")
    rec.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                     help="a PostgreSQL URL whose role may create databases (default $DATABASE_URL, else the "
                     "local server)")  # fmt: skip
    rec.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
                     help="the Redis server (default $REDIS_URL, else the local one); a free database 1-15 "
                     "is claimed")  # fmt: skip
    cmp = sub.add_parser("compare", help="compare two recordings; exit 0 only when identical",
                         description="Print the first differing requests of two recordings, each with a unified "
                         "diff of its answer, and how many differ. Exit 0 only when they are identical.")  # fmt: skip
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    cmp.add_argument("--show", type=int, default=10, help="how many differing requests to print (default 10)")
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args)
    try:
        return compare(args.a, args.b, shown=args.show)
    except BrokenPipeError:  # `compare ... | head`
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
