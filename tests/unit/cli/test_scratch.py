"""The scratch Redis logical database's URL (quote_service/cli/scratch.py): the same server and
credentials, another database, whatever form the configured URL takes."""

from __future__ import annotations

import pytest

from quote_service.cli.scratch import _database_number, redis_database_url


@pytest.mark.parametrize(
    ("url", "scratch", "own"),
    [
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/15", 0),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/15", 0),
        ("redis://:secret@cache:6380/3", "redis://:secret@cache:6380/15", 3),
        ("rediss://user:pw@cache/2?ssl_cert_reqs=none", "rediss://user:pw@cache/15?ssl_cert_reqs=none", 2),
        ("redis://cache/1?db=4", "redis://cache/15", 4),  # redis-py takes the query's db
        ("unix:///run/redis.sock", "unix:///run/redis.sock?db=15", 0),
        ("unix:///run/redis.sock?db=2&password=x", "unix:///run/redis.sock?password=x&db=15", 2),
    ],
)
def test_a_scratch_database_is_another_database_of_the_same_server(url: str, scratch: str, own: int) -> None:
    assert redis_database_url(url, 15) == scratch
    assert _database_number(url) == own
