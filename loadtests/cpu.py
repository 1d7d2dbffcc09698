"""CPU accounting for the benchmarks, from /proc: who spent the machine's cores on a request.

`ServerCpu(pid)` splits a granian server's CPU into its workers' Python (event-loop) threads,
their other threads (granian's Rust runtime, thread pools), and the master process; `stores`
is what PostgreSQL (every backend) and Redis used meanwhile. Divide by the requests answered to
get CPU microseconds per request.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
_TIMES = {"all": (11, 12), "user": (11,), "system": (12,)}[os.environ.get("BENCH_CPU_TIME", "all")]
"""Which of /proc/<pid>/stat's times count (fields 14 and 15: utime, stime): BENCH_CPU_TIME=system
makes every benchmark that reads CPU here report the system calls' share alone (docs/hot-path.md)."""
Table = dict[int, tuple[int, str, float]]


def _stat(path: Path) -> tuple[int, str, float] | None:
    try:
        raw = path.read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[1]), raw[raw.index("(") + 1 : raw.rindex(")")], sum(int(rest[i]) for i in _TIMES) / TICKS


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process so far; 0.0 once it is gone."""
    stat = _stat(Path(f"/proc/{pid}/stat"))
    return 0.0 if stat is None else stat[2]


def processes() -> Table:
    """{pid: (parent pid, command name, CPU seconds)} of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry / "stat")) is not None:
            found[int(entry.name)] = stat
    return found


def descendants(root: int, table: Table) -> list[int]:
    """A process and all its descendants (granian's master and workers)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu(root: int, table: Table) -> float:
    """CPU seconds of a process and all its descendants."""
    return sum(table[pid][2] for pid in descendants(root, table))


def stores_cpu(table: Table, since: Table) -> float:
    """CPU seconds PostgreSQL and Redis used since an earlier table (see `store_parts`)."""
    return sum(store_parts(table, since).values())


def store_parts(table: Table, since: Table, roots: tuple[int, ...] = ()) -> dict[str, float]:
    """CPU seconds PostgreSQL (every backend, whoever's) and Redis each used since an earlier table.

    Per process, so that a backend which exits in between does not make the sum go backwards.
    With `roots` (the servers' own pids), only those servers and their children count: not the
    other PostgreSQL and Redis servers a shared machine runs.
    """
    used = {"postgres": 0.0, "redis": 0.0}
    mine = {pid for root in roots for pid in descendants(root, table)} if roots else None
    for pid, (_, name, seconds) in table.items():
        if mine is not None and pid not in mine:
            continue
        part = "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis-server") else None
        if part is not None:
            before = since.get(pid)
            used[part] += seconds - (before[2] if before is not None and before[1] == name else 0.0)
    return used


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


def _threads(pid: int) -> dict[int, float]:
    """{thread id: CPU seconds} of one process."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        if (stat := _stat(task / "stat")) is not None:
            found[int(task.name)] = stat[2]
    return found


@dataclass
class ServerCpu:
    """CPU seconds of a granian server by part, and of PostgreSQL and Redis, between start() and stop()."""

    root: int
    stores: tuple[int, ...] = ()
    """PostgreSQL's and Redis's own pids, when known (see `store_parts`)."""
    _before: dict[str, float] = field(default_factory=dict)
    _table: Table = field(default_factory=dict)
    _threads: dict[tuple[int, int], float] = field(default_factory=dict)
    _stopped: Table = field(default_factory=dict)

    def _sample(self) -> tuple[Table, dict[tuple[int, int], float]]:
        table = processes()
        threads = {(pid, tid): s for pid in descendants(self.root, table) for tid, s in _threads(pid).items()}
        return table, threads

    def start(self) -> None:
        self._table, self._threads = self._sample()

    def stop(self) -> dict[str, float]:
        """{worker_python, worker_threads, master, postgres, redis}: CPU seconds used since start()."""
        table, threads = self._sample()
        self._stopped = table
        parts = {"worker_python": 0.0, "worker_threads": 0.0, "master": 0.0}
        for (pid, tid), seconds in threads.items():
            used = seconds - self._threads.get((pid, tid), 0.0)
            if pid == self.root:
                parts["master"] += used
            else:
                parts["worker_python" if tid == pid else "worker_threads"] += used
        parts.update(store_parts(table, self._table, self.stores))
        return parts

    def drain(
        self, *, interval: float = 0.5, idle_share: float = 0.04, limit: float = 60.0
    ) -> tuple[dict[str, float], float]:
        """After stop(): wait until this server's stores have been idle for one `interval` (under
        `idle_share` of a core: PostgreSQL and Redis of an idle service use ~1 %), `limit` seconds
        at most, and return what they used since stop() ({postgres, redis}) and the seconds waited.

        A server whose quote log's writer falls behind writes the phase's rows after the load
        stops: uncounted, its PostgreSQL looks cheaper, and its writes land in the next phase,
        another server's (8e7ec84 wrote ~half its rows of a README phase afterwards, ~10 s of
        them: docs/hot-path.md). Without known stores (`stores` empty) it returns at once."""
        if not self.stores:
            return {"postgres": 0.0, "redis": 0.0}, 0.0
        started = time.monotonic()
        last = table = self._stopped
        while time.monotonic() - started < limit:
            time.sleep(interval)
            table = processes()
            if sum(store_parts(table, last, self.stores).values()) < idle_share * interval:
                break
            last = table
        return store_parts(table, self._stopped, self.stores), time.monotonic() - started
