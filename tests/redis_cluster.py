"""A real local Redis Cluster from the `redis-server` binary, for tests and for `make redis-cluster`.

`LocalCluster(masters=3)` starts that many `redis-server --cluster-enabled yes` processes on free
ports of 127.0.0.1 (and their cluster bus ports, port + 10000), their data and node
files in a temporary directory, joins them with `redis-cli --cluster create ... --cluster-yes`
(`replicas=1` adds one replica per master) and waits until every node says
`cluster_state:ok` and knows every other node. `close()` kills them and removes the directory.

The service reaches it with `url` (`redis+cluster://127.0.0.1:<port of the first master>`:
any node is enough, the client discovers the rest). `python -m tests.redis_cluster` keeps one
running in the foreground for manual use (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from redis import Redis as SyncRedis

START_TIMEOUT = 30.0


def _binary(name: str) -> str:
    """The system's binary first (the virtual environment may hold an older redis-server)."""
    system = Path("/usr/bin") / name
    return str(system) if system.exists() else shutil.which(name) or name


REDIS_SERVER = os.environ.get("REDIS_SERVER") or _binary("redis-server")
REDIS_CLI = os.environ.get("REDIS_CLI") or _binary("redis-cli")


def cluster_available() -> str:
    """Empty when a cluster can be started here; else what is missing."""
    missing = [name for name in (REDIS_SERVER, REDIS_CLI) if shutil.which(name) is None]
    return f"not found: {', '.join(missing)} (set REDIS_SERVER / REDIS_CLI)" if missing else ""


def _bindable(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_node_port(taken: set[int]) -> int:
    """A free port whose cluster bus port (port + 10000, Redis's default) is free too."""
    rng = random.Random()
    while True:
        port = rng.randrange(20_000, 30_000)
        if not {port, port + 10_000} & taken and _bindable(port) and _bindable(port + 10_000):
            taken.update({port, port + 10_000})
            return port


@dataclass
class Node:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> SyncRedis:
        return SyncRedis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5)

    def info(self, section: str) -> dict[str, str]:
        with self.client() as client:
            raw = client.execute_command("CLUSTER", "INFO") if section == "cluster" else client.info(section)
        if isinstance(raw, bytes):
            raw = raw.decode()
        if isinstance(raw, str):
            return dict(line.split(":", 1) for line in raw.splitlines() if ":" in line)
        return {k: str(v) for k, v in raw.items()}

    def role(self) -> str:
        return self.info("replication")["role"]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalCluster:
    """`masters` masters (and `replicas` replicas each) on 127.0.0.1, private to its owner."""

    def __init__(self, *, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 1000) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qs-redis-cluster-"))
        self.node_timeout_ms = node_timeout_ms
        self.replicas = replicas
        self.nodes: list[Node] = []
        taken: set[int] = set()
        for n in range(masters * (1 + replicas)):
            directory = self.root / f"node{n}"
            directory.mkdir()
            self.nodes.append(Node(_free_node_port(taken), directory))

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> LocalCluster:
        try:
            for node in self.nodes:
                self._spawn(node)
            for node in self.nodes:
                self._wait_ping(node)
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(  # noqa: S603
                [
                    REDIS_CLI,
                    "--cluster",
                    "create",
                    *addresses,
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=START_TIMEOUT,
            )
            self.wait_ok()
        except BaseException:
            self.close()
            raise
        return self

    def _spawn(self, node: Node) -> None:
        command = [
            REDIS_SERVER,
            "--port", str(node.port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--dir", str(node.directory), "--save", "", "--appendonly", "no",
            "--logfile", str(node.directory / "redis.log"), "--protected-mode", "no",
        ]  # fmt: skip
        node.process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def _wait_ping(self, node: Node) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with node.client() as client:
                    client.ping()
                return
            except Exception:
                if time.monotonic() > deadline or not node.alive:
                    raise RuntimeError(f"redis-server on {node.port} did not start; see {node.directory}") from None
                time.sleep(0.05)

    def wait_ok(self, timeout: float = START_TIMEOUT) -> None:
        """Until every live node reports cluster_state:ok and knows all live nodes."""
        deadline = time.monotonic() + timeout
        live = [node for node in self.nodes if node.alive]
        while True:
            try:
                infos = [node.info("cluster") for node in live]
                if all(i["cluster_state"] == "ok" and int(i["cluster_known_nodes"]) >= len(live) for i in infos):
                    return
            except Exception:  # noqa: S110 - a node still starting: ask again
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster in {self.root} did not become ok")
            time.sleep(0.1)

    def masters(self) -> list[Node]:
        return [node for node in self.nodes if node.alive and node.role() == "master"]

    def flushall(self) -> None:
        """Empty every master (the replicas follow)."""
        for node in self.masters():
            with node.client() as client:
                client.flushall()

    def master_of(self, key: str) -> Node:
        """The live master that serves `key`'s slot (as that master itself says)."""
        masters = self.masters()
        with masters[0].client() as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
        for node in masters:
            with node.client() as client:
                for start, end, owner, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end and int(owner[1]) == node.port:
                        return node
        raise LookupError(f"no live master serves {key!r}")

    def kill(self, node: Node) -> None:
        """SIGKILL: no shutdown, nothing saved."""
        assert node.process is not None
        node.process.kill()
        node.process.wait(timeout=10)

    def close(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    node.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    masters = int(os.environ.get("MASTERS", "3"))
    cluster = LocalCluster(masters=masters, replicas=int(os.environ.get("REPLICAS", "0"))).start()
    ports = " ".join(str(node.port) for node in cluster.nodes)
    print(f"Redis Cluster up: ports {ports} (data in {cluster.root})", flush=True)
    print(f"  REDIS_URL={cluster.url} quote-service serve   # Ctrl-C stops the cluster", flush=True)
    try:
        while all(node.alive for node in cluster.nodes):
            time.sleep(1)
        print("a node exited; stopping", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
