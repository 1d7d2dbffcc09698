"""Which errors mean "the connection to a store was lost" (503 + Retry-After) and which are bugs (500).

The classes themselves come from real outages: tests/faults/test_postgres_restart_orders.py
drives an order storm through PostgreSQL restarts and finds only 201 and 503.
"""

from __future__ import annotations

import errno

import asyncpg
import pytest

from quote_service.web.errors import connection_lost


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
        # seen in an order storm: the server dropped the connection between two statements
        asyncpg.InterfaceError("cannot call Connection.transaction(): connection has been released back to the pool"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0), [Errno 111] ..."),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        TimeoutError(),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_connection_loss_is_recognised(exc: Exception) -> None:
    assert connection_lost(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
        ValueError("a bug"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_other_errors_are_not_connection_loss(exc: Exception) -> None:
    assert not connection_lost(exc)
