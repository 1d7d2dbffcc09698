"""A constant-arrival-rate HTTP client: latency as a checkout sees it, not as a closed loop hides it.

wrk keeps `--connections` requests in flight and sends the next one when one returns, so a server
that slows down is sent less (coordinated omission): its percentiles describe the requests the
server let through. Here requests are due at a constant rate (one every 1/rate s, from the start),
whatever the server does; each is sent on a free keep-alive connection (at most `connections`,
opened as needed) and its latency runs from when it was DUE, so time spent waiting for a connection
counts, as a customer's would (the correction wrk2 makes). A server that cannot keep up shows a
latency that grows through the run: `stable` compares the last third's p50 with the first third's.

Used by bench_open_loop.py (25, 50 and 75 % of one worker's closed-loop maximum, the quote and the
echo). The client is Python (uvloop, raw HTTP/1.1): at a few thousand requests a second it takes a
fraction of a core of the machine it measures; read the rates it reached (printed) beside the latencies.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class OpenLoopResult:
    rate: float
    """Requests a second asked for."""
    sent: int
    answered: int
    non_2xx: int
    seconds: float
    latencies_ms: list[float]
    first_third_p50: float
    last_third_p50: float
    worst_window: tuple[float, float] = (float("nan"), float("nan"))
    """(seconds into the run, p50 ms) of the 100 ms of due times whose requests waited longest: a
    stall (the box's other work, a collection, a checkpoint) shows as one window far above the rest."""

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def stable(self) -> bool:
        """No queue building up: the last third's median within 2x the first third's (+2 ms)."""
        return self.last_third_p50 <= 2 * self.first_third_p50 + 2.0

    def line(self, what: str) -> str:
        return (
            f"{what}: {self.rate:,.0f}/s asked, {self.answered / self.seconds:,.0f}/s answered"
            f" (non-2xx {self.non_2xx}) | p50 {self.percentile(0.5):.2f} ms p99 {self.percentile(0.99):.2f} ms"
            f" p99.9 {self.percentile(0.999):.2f} ms | first/last third p50 {self.first_third_p50:.2f} /"
            f" {self.last_third_p50:.2f} ms: {'stable' if self.stable else 'A QUEUE GROWS'}"
            f" | worst 100 ms window p50 {self.worst_window[1]:.2f} ms at {self.worst_window[0]:.1f} s"
        )


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Send one request, read its whole response; the status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def run(
    url: str,
    *,
    rate: float,
    seconds: float,
    body: Callable[[int], bytes],
    headers: dict[str, str],
    connections: int = 256,
) -> OpenLoopResult:
    """`rate` requests a second for `seconds` (POST `body(n)` with `headers`), latency from each one's due time."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    prefix = f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}".encode()
    idle: list[_Connection] = []
    opened = 0
    waiting: asyncio.Queue[_Connection] = asyncio.Queue()
    done: list[tuple[float, float]] = []  # (due, latency ms)
    statuses = {"ok": 0, "other": 0}

    async def connection() -> _Connection:
        nonlocal opened
        if idle:
            return idle.pop()
        if opened < connections:
            opened += 1
            reader, writer = await asyncio.open_connection(host, port)
            return _Connection(reader, writer)
        return await waiting.get()

    def release(conn: _Connection) -> None:
        if waiting._getters:  # type: ignore[attr-defined]  # someone is waiting for one
            waiting.put_nowait(conn)
        else:
            idle.append(conn)

    async def one(n: int, due: float) -> None:
        conn = await connection()
        data = body(n)
        request = prefix + b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
        try:
            status = await conn.exchange(request)
        except (OSError, asyncio.IncompleteReadError):
            statuses["other"] += 1
            return
        release(conn)
        statuses["ok" if 200 <= status < 300 else "other"] += 1
        done.append((due, (time.perf_counter() - due) * 1000))

    # The client's own collections would count as the server's latency: none while the phase runs
    # (what it allocates is freed by reference counting; one collection afterwards).
    gc.disable()
    loop_start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for n in range(total):
        due = loop_start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    gc.enable()
    gc.collect()
    for conn in idle:
        conn.writer.close()
    ordered = sorted(done)
    third = max(1, len(ordered) // 3)
    first = statistics.median(latency for _, latency in ordered[:third]) if ordered else float("nan")
    last = statistics.median(latency for _, latency in ordered[-third:]) if ordered else float("nan")
    windows: dict[int, list[float]] = {}
    for due, latency in ordered:
        windows.setdefault(int((due - loop_start) * 10), []).append(latency)
    worst = max(windows.items(), key=lambda item: statistics.median(item[1]), default=(0, [float("nan")]))
    return OpenLoopResult(
        rate, total, statuses["ok"], statuses["other"], elapsed, [latency for _, latency in done], first, last,
        (worst[0] / 10, statistics.median(worst[1])),
    )  # fmt: skip
