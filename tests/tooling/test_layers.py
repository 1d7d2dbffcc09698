"""The layers of docs/architecture.md#layers, kept true: no import circles (package or load
tests), and no import running up the layers beyond the few that document why."""

from __future__ import annotations

from pathlib import Path

from tests.tooling.imports import cycles, graph

ROOT = Path(__file__).resolve().parents[2]

# The rooms of quote_service/, bottom floor first: a room imports only rooms listed before it.
# A new room gets its place here and in docs/architecture.md#layers.
LAYERS = [
    "structs", "errors", "clock", "ids", "event_loop", "fault_points", "validation", "pagination", "patch", "resource",
    "pricing", "periods", "config",
    "observability", "background", "embedded", "server", "db", "cache",
    "auth", "web", "health",
    "audit", "webhooks", "agents", "accounts", "fx",
    "catalog", "reservations", "commissions", "coupons", "rules", "price_lists", "promotions", "shipping",
    "offers", "installments", "flags", "extensions",
    "ofrep",
    "repricing", "campaigns",
    "intelligence", "flash_sales", "unit_limits",
    "snapshot", "analytics", "lifecycle", "pages", "quotes", "edge", "orders",
    "order_edits", "statements", "sellers", "payouts", "checkout_sessions", "simulations",
    "app", "cli",
]  # fmt: skip

# Imports that run back up, each explained in docs/architecture.md#imports-that-run-back-up.
# None is left, and a new one fails this test.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _short(module: str) -> str:
    return module.removeprefix("quote_service.")


def test_every_room_has_a_floor() -> None:
    rooms = {_room(module) for module in graph(ROOT / "quote_service", "quote_service")} - {""}
    assert sorted(rooms - set(LAYERS)) == [], "place each new room in LAYERS and docs/architecture.md#layers"
    assert sorted(set(LAYERS) - rooms) == []


def test_imports_run_down_the_layers() -> None:
    floor = {room: number for number, room in enumerate(LAYERS)}
    upward = {
        (_short(module), _short(target))
        for module, targets in graph(ROOT / "quote_service", "quote_service").items()
        for target in targets
        if _room(module) and _room(target) and floor[_room(target)] > floor[_room(module)]
    }
    assert sorted(upward - KNOWN_UPWARD) == [], "an import runs up the layers (docs/architecture.md#layers)"
    assert sorted(KNOWN_UPWARD - upward) == [], "one is gone: take it off KNOWN_UPWARD and the docs"


def test_no_import_circles_in_the_package() -> None:
    assert cycles(graph(ROOT / "quote_service", "quote_service")) == []


def test_no_import_circles_in_the_load_tests() -> None:
    # The load-test scripts import each other as top-level modules (their folder is on sys.path).
    edges = graph(ROOT / "loadtests", None)
    assert edges["bench_flash"] >= {"plumbing"}
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
