"""db/writes.py: the INSERT and UPDATE texts the repositories send, placeholders counted once."""

from __future__ import annotations

from quote_service.db.writes import deactivate_sql, insert_sql, picked, update_sql


def test_an_insert_names_each_column_once_with_its_placeholder_in_order() -> None:
    assert insert_sql("t", ["a", "b", "c"], "id, a") == "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) RETURNING id, a"
    assert insert_sql("t", {"a": 1}) == "INSERT INTO t (a) VALUES ($1)"


def test_an_update_keys_on_1_stamps_the_actor_2_and_sets_the_columns_from_3() -> None:
    assert update_sql("t", "code", ["a", "b"], "id") == (
        "UPDATE t SET a = $3, b = $4, updated_by = $2, updated_at = now() WHERE code = $1 RETURNING id"
    )
    assert update_sql("t", "id", ["a"], now="clock_timestamp()") == (
        "UPDATE t SET a = $3, updated_by = $2, updated_at = clock_timestamp() WHERE id = $1"
    )


def test_a_deactivation_keeps_the_row_inactive_and_stamped() -> None:
    assert deactivate_sql("t", "id", "id, is_active") == (
        "UPDATE t SET is_active = false, updated_by = $2, updated_at = now() WHERE id = $1 RETURNING id, is_active"
    )


def test_picked_keeps_the_order_of_the_columns_asked_for() -> None:
    assert list(picked({"b": 2, "a": 1, "c": 3}, ["a", "b"]).items()) == [("a", 1), ("b", 2)]
