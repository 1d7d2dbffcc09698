"""What a served worker costs doing nothing: its background loops' CPU, and its stores'.

    uv run python loadtests/bench_idle.py [--settle 15] [--seconds 30]
    (cd /other/checkout && PYTHONPATH=. .venv/bin/python /this/checkout/loadtests/bench_idle.py)   # another tree

`quote-service serve --workers 1` on a private redis-server and a scratch database (seed-demo:
plumbing.private_service), left idle for `--settle` seconds, then the CPU of the server's process
tree, of every PostgreSQL backend and of Redis over `--seconds`, in ms a second. Divided by a
benchmark's quotes a second it is what the idle work adds to each quote (`bench.py` counts it in).
Compare two trees by running each in turn on a quiet box (PostgreSQL counts every backend of the
machine).
"""

from __future__ import annotations

import argparse
import sys
import time

from cpu import processes, store_parts, tree_cpu
from plumbing import free_port, private_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds idle before counting")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds counted")
    args = parser.parse_args()
    with private_service(port=free_port(), workers=1) as service:
        time.sleep(args.settle)
        before, started = processes(), time.monotonic()
        time.sleep(args.seconds)
        after, ended = processes(), time.monotonic()
        elapsed = ended - started
        server = tree_cpu(service.server.pid, after) - tree_cpu(service.server.pid, before)
        stores = store_parts(after, before)
        print(
            f"{sys.executable}: idle, ms of CPU a second: server {server / elapsed * 1000:.1f},"
            f" PostgreSQL {stores['postgres'] / elapsed * 1000:.1f}, Redis {stores['redis'] / elapsed * 1000:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
