"""What a quote's metric updates cost: prometheus_client called per quote vs counted in integers and
flushed every second (observability/deferred.py), in one process and with several workers'
multiprocess files.

    uv run python loadtests/bench_metrics.py [--quotes 200000] [--rounds 5] [--per-flush 4000]

A lean quote updates two histograms (the request's duration, the quote's duration) and three
counters (the edge's lean path, the identical-request cache's miss, the product cache's local
hits). Each way runs those updates `--quotes` times on the service's own metric objects, in a
fresh process per mode (`single`: no PROMETHEUS_MULTIPROC_DIR, as one worker; `multiprocess`: a
scratch directory, as `serve --workers N`); the deferred way also pays one flush per
`--per-flush` quotes (a second's worth at ~4,000 quotes/s). Prints the median of `--rounds` of
µs per quote for each way (BENCHMARKS.md, "Decisions").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def child(quotes: int, rounds: int, per_flush: int) -> None:
    from quote_service.observability import deferred
    from quote_service.observability.deferred import DeferredCounter, DeferredHistogram
    from quote_service.observability.metrics import CACHE_LOOKUPS, EDGE_REQUESTS, QUOTE_DURATION, REQUEST_DURATION

    request = REQUEST_DURATION.labels("POST", "/api/v1/quote", "200")
    lean = EDGE_REQUESTS.labels("/api/v1/quote", "lean")
    miss = CACHE_LOOKUPS.labels("recent_quotes", "local", "miss")
    hits = CACHE_LOOKUPS.labels("products", "local", "hit")

    def immediate() -> None:
        for n in range(quotes):
            seconds = 0.004 + (n % 97) * 1e-4
            request.observe(seconds)
            QUOTE_DURATION.observe(seconds * 0.8)
            lean.inc()
            miss.inc()
            hits.inc(3)

    d_request, d_quote = DeferredHistogram(request), DeferredHistogram(QUOTE_DURATION, nanoseconds=True)
    d_lean, d_miss, d_hits = DeferredCounter(lean), DeferredCounter(miss), DeferredCounter(hits)

    def counted() -> None:
        for n in range(quotes):
            seconds = 0.004 + (n % 97) * 1e-4
            d_request.observe(seconds)
            d_quote.observe(int(seconds * 0.8e9))
            d_lean.inc()
            d_miss.inc()
            d_hits.inc(3)
            if n % per_flush == 0:
                deferred.flush()

    def loop_only() -> None:  # the loop and the arithmetic, subtracted from both
        for n in range(quotes):
            seconds = 0.004 + (n % 97) * 1e-4
            int(seconds * 0.8e9)

    timings: dict[str, list[float]] = {"immediate": [], "deferred": [], "loop": []}
    for _ in range(rounds):
        for name, run in (("immediate", immediate), ("deferred", counted), ("loop", loop_only)):
            started = time.process_time()
            run()
            timings[name].append((time.process_time() - started) / quotes * 1e6)
    loop = statistics.median(timings["loop"])
    print(f"{statistics.median(timings['immediate']) - loop:.2f} {statistics.median(timings['deferred']) - loop:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-flush", type=int, default=4_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.quotes, args.rounds, args.per_flush)
        return
    from plumbing import interpreter

    print(interpreter())
    command = [sys.executable, __file__, "--child", "--quotes", str(args.quotes), "--rounds", str(args.rounds)]
    command += ["--per-flush", str(args.per_flush)]
    for mode in ("single", "multiprocess"):
        with tempfile.TemporaryDirectory(prefix="qs-bench-metrics-") as scratch:
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = scratch
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.split()  # noqa: S603
        immediate, counted = float(out[0]), float(out[1])
        print(
            f"{mode:>12}: prometheus_client per quote {immediate:.2f} µs | counted in integers {counted:.2f} µs "
            f"| saved {immediate - counted:.2f} µs a quote"
        )


if __name__ == "__main__":
    main()
