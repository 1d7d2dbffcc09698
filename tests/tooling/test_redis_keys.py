"""The Redis keys of docs/operations.md#which-keys-may-go, kept honest.

Under the eviction policy we run with (`volatile-lru`, `quote_service.cache.redis.EVICTION_POLICY`)
a key with a TTL may be evicted at `maxmemory`, a key without one never is. So:

- every key or channel name the package spells (a string or f-string starting `qs:` or
  `{competitor-prices}`) is in the documented table, so a new key gets its TTL and the cost of
  losing it written down;
- only the modules listed here write a key with a TTL, each for the reason given: a new TTL
  elsewhere must first be shown to be safe to evict (and listed here and in the table);
- docker-compose.yml runs Redis with that policy and a `maxmemory`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from quote_service.cache.redis import EVICTION_POLICY

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "quote_service"
KEY = re.compile(r"^(qs:|\{competitor-prices\})\S*$")
# A Redis TTL call always names its key: `.expire()` with no argument is something else (a deadline's).
TTL_WRITE = re.compile(r"\b(ex|px|exat|pxat)\s*=|\.(p?expire(at)?|p?setex|getex)\((?!\))|'(EX|PX)'|'P?EXPIRE(AT)?'")

MAY_EXPIRE = {
    "quotes/store.py": "stored quotes and their ordered marks: an evicted quote answers 409 QUOTE_EXPIRED",
    "quotes/compact.py": "the dictionaries stored quotes are compressed with: touched every minute and expiring an "
    "hour after their last quote, they go after those quotes; one that goes costs what its quotes' eviction would, "
    "and the next group commit puts it back",
    "cache/products.py": "cached products and tombstones: read again from PostgreSQL",
    "flash_sales/counters.py": "purchase markers (the ledger answers a retry) and the rebuild lock (a second "
    "rebuild writes nothing)",
    "flash_sales/service.py": "an ended sale's counters, a week after its end (rebuilt from the ledger)",
    "auth/throttle.py": "failed-login windows (a window that goes starts again at zero)",
    "checkout_sessions/live.py": "checkout sessions' live state (read again from PostgreSQL as last written there) "
    "and updates' Idempotency-Key claims and answers (a retry runs the update again)",
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def spelled_keys(source: str) -> set[str]:
    """Key-like strings of a module, each placeholder of an f-string written `*`."""
    tree = ast.parse(source)
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            text = node.value
        else:
            continue
        if KEY.match(text):
            found.add(text)
    return found


def documented_keys() -> set[str]:
    """The names in the operations page's key table, each `<placeholder>` written `*`."""
    page = (ROOT / "docs" / "operations.md").read_text()
    section = page.split("### Which keys may go", 1)[1].split("\n### ", 1)[0]
    names = re.findall(r"^\| `([^`]+)`", section, flags=re.MULTILINE)
    return {re.sub(r"<[^>]*>", "*", name) for name in names}


def test_every_redis_key_the_package_spells_is_documented() -> None:
    documented = documented_keys()
    assert documented, "docs/operations.md has no key table under '### Which keys may go'"
    for path in _modules():
        missing = spelled_keys(path.read_text()) - documented
        assert not missing, f"{path.relative_to(ROOT)} spells Redis keys docs/operations.md does not list: {missing}"


def test_only_the_listed_modules_write_keys_that_may_expire() -> None:
    writers = {
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if any(TTL_WRITE.search(line) for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    }
    assert writers == set(MAY_EXPIRE), (
        f"new: {sorted(writers - set(MAY_EXPIRE))}, gone: {sorted(set(MAY_EXPIRE) - writers)} — a key with a TTL may "
        "be evicted: say why that loses nothing, here and in docs/operations.md#which-keys-may-go"
    )


def test_the_finder_sees_ttl_writes_in_python_and_lua() -> None:
    assert TTL_WRITE.search("await redis.set(key, value, px=ttl)")
    assert TTL_WRITE.search("await redis.expire(key, 60)")
    assert not TTL_WRITE.search("bound.expire()")
    assert TTL_WRITE.search("redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])")
    assert TTL_WRITE.search("redis.call('PEXPIRE', key, ARGV[1])")
    assert TTL_WRITE.search("await self.redis.expire(key, seconds)")
    assert not TTL_WRITE.search("except RedisError:")
    source = 'K = f"qs:{{fs:{sale}}}:sale"\nC = "qs:{config}:changed"'
    assert spelled_keys(source) == {"qs:{fs:*}:sale", "qs:{config}:changed"}


def test_compose_runs_redis_with_the_eviction_policy_and_a_memory_cap() -> None:
    redis = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--maxmemory-policy") + 1] == EVICTION_POLICY
    assert command[command.index("--maxmemory") + 1]
