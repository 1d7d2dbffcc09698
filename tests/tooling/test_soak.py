"""loadtests/soak.py: the baskets its wrk script sends (3-line by default, `--lines N` otherwise), the
marketplace it seeds for them, its flatness measure and its verdicts (the soak itself is a
benchmark, run by hand: BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from soak import LINES_MAX, LUA, Run, Sample, growth_over_last_third, lua, per_seller, verdicts  # noqa: E402

IDS = [f"product-{n:03d}" for n in range(300)]


def sent_bodies(script: str, tmp_path: Path, seconds: int = 1) -> list[dict[str, object]]:
    """The quote bodies wrk sends with `script` for `seconds` to a stub that answers each with a quote id."""
    bodies: list[dict[str, object]] = []

    class Stub(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = json.dumps({"data": {"quote_id": f"q-{len(bodies)}"}}, separators=(",", ":")).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "soak.lua"
    path.write_text(script)
    try:
        command = ["wrk", "-t", "1", "-c", "1", "-d", f"{seconds}s", "-s", str(path)]
        subprocess.run([*command, f"http://127.0.0.1:{server.server_port}/api/v1/quote"], check=True, timeout=30)  # noqa: S603
    finally:
        server.shutdown()
        server.server_close()
    return bodies


needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def test_the_default_script_is_the_three_line_one(tmp_path: Path) -> None:
    ids_file = tmp_path / "answered.txt"
    assert lua(IDS[:5], "key", ids_file) == LUA % {
        "ids": ", ".join(json.dumps(p) for p in IDS[:5]),
        "key": "key",
        "ids_file": ids_file,
    }


@needs_wrk
def test_three_line_baskets_are_three_different_products(tmp_path: Path) -> None:
    bodies = sent_bodies(lua(IDS[:6], "key", tmp_path / "answered.txt"), tmp_path)
    assert bodies
    for body in bodies:
        products = [item["product_id"] for item in body["items"]]  # type: ignore[attr-defined]
        assert len(products) == len(set(products)) == 3
        assert body["seller_id"] == "seller-anatolia"


@needs_wrk
@pytest.mark.parametrize("lines", [1, 200])
def test_n_line_baskets_are_n_different_products_drawn_anew(tmp_path: Path, lines: int) -> None:
    ids_file = tmp_path / "answered.txt"
    bodies = sent_bodies(lua(IDS, "key", ids_file, lines), tmp_path)
    assert len(bodies) >= 2
    baskets = []
    for body in bodies:
        items = body["items"]
        assert isinstance(items, list)
        products = [item["product_id"] for item in items]
        assert len(products) == len(set(products)) == lines
        assert set(products) <= set(IDS)
        assert all(1 <= item["quantity"] <= 3 for item in items)
        baskets.append(frozenset(products))
    assert len(set(baskets)) > 1, "every basket was the same"
    assert len({body["customer_id"] for body in bodies}) > 1
    recorded = ids_file.read_text().split()  # every answered quote's id (wrk may cut off the last answer)
    assert set(recorded) <= {f"q-{n}" for n in range(1, len(bodies) + 1)}
    assert len(bodies) - 1 <= len(recorded) == len(set(recorded)) <= len(bodies)


def test_the_marketplace_has_half_as_many_products_again_as_a_basket_has_lines() -> None:
    assert per_seller(3) == 10  # workloads.py's 200-product marketplace at least
    assert 20 * per_seller(200) == 300
    assert 20 * per_seller(LINES_MAX) >= 1.5 * LINES_MAX


def test_lines_out_of_range_are_refused() -> None:
    for lines in ("0", str(LINES_MAX + 1)):
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "loadtests" / "soak.py"), "--lines", lines], capture_output=True, text=True
        )
        assert done.returncode == 2
        assert f"--lines must be between 1 and {LINES_MAX}" in done.stderr


def samples(rss: list[int], used_memory: int = 0) -> list[Sample]:
    return [Sample(float(n), value, used_memory, 1000) for n, value in enumerate(rss)]


def test_growth_over_the_last_third() -> None:
    assert growth_over_last_third(samples([100, 500, 900] + [1000] * 6)) == pytest.approx(0.0)
    grown = growth_over_last_third(samples([1000] * 6 + [1000, 1050, 1100]))
    assert grown == pytest.approx(100 / 1050)


@pytest.mark.parametrize(("lines", "judged"), [(3, "FAIL"), (200, "n/a ")])
def test_redis_bytes_a_quote_are_judged_for_three_line_baskets_only(
    lines: int, judged: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run(0.0, 0, statuses=Counter({200: 1000}), samples=samples([1000] * 9, used_memory=5_000_000))
    args = argparse.Namespace(lines=lines, redis_maxmemory=None)
    passed = verdicts(args, run, 1, {"q"}, ["q"], validity=900)
    out = capsys.readouterr().out
    assert f"{judged}  Redis bytes per live quote" in out
    assert "PASS  server RSS flat" in out
    assert passed is (lines != 3)  # 5,000 B a quote: over a 3-line quote's target
