"""read_records gives a query's rows as numpy records, whole and in order, on SQLite and
(from a binary COPY stream) on PostgreSQL, and refuses what it cannot read rightly."""

import numpy as np
import pytest
from django.db import connection

from kehu.core import columns
from kehu.core.columns import ColumnReadError, read_records

pytestmark = pytest.mark.django_db

FIELDS = [("n", "i8"), ("x", "f8"), ("big", "i8")]


def _series(count: int) -> str:
    """Rows n = 1…count with a float and a large (above 2^32) or negative integer."""
    if connection.vendor == "postgresql":
        return (
            "SELECT g::int8, (g * 0.5 - 3)::float8, (g::int8 * 4294967311 - 7)::int8 "
            "FROM generate_series(1, %s) g ORDER BY g"
        )
    return (
        "WITH RECURSIVE s(g) AS "
        "(SELECT 1 WHERE %s >= 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s) "
        "SELECT g, g * 0.5 - 3, g * 4294967311 - 7 FROM s ORDER BY g"
    )


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, columns.record_type(FIELDS))


@pytest.mark.parametrize("count", [0, 1, 2_500])
def test_every_row_comes_back_as_its_numbers(count: int) -> None:
    params = [count] if connection.vendor == "postgresql" else [count, count]
    got = _joined(list(read_records(connection, _series(count), params, FIELDS, batch=700)))
    n = np.arange(1, count + 1, dtype=np.int64)
    assert got.dtype.names == ("n", "x", "big")
    assert got["n"].tolist() == n.tolist()
    assert got["x"].tolist() == (n * 0.5 - 3).tolist()
    assert got["big"].tolist() == (n * 4294967311 - 7).tolist()


def test_small_chunks_split_records_anywhere_and_lose_none(monkeypatch: pytest.MonkeyPatch) -> None:
    # A chunk boundary that is no multiple of a record's size leaves part of a record
    # for the next chunk (PostgreSQL); SQLite chunks by rows.
    monkeypatch.setattr(columns, "_CHUNK_BYTES", 997)
    params = [3_000] if connection.vendor == "postgresql" else [3_000, 3_000]
    chunks = list(read_records(connection, _series(3_000), params, FIELDS, batch=333))
    assert len(chunks) > 5
    got = _joined(chunks)
    assert got["n"].tolist() == list(range(1, 3_001))
    assert got["big"][-1] == 3_000 * 4294967311 - 7


def test_only_whole_integers_and_floats_are_asked_for() -> None:
    with pytest.raises(ValueError, match="i4"):
        list(read_records(connection, "SELECT 1", [], [("n", "i4")]))


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_null_is_refused_not_read_as_a_number() -> None:
    sql = (
        "SELECT g::int8, CASE WHEN g = 3 THEN NULL ELSE 1.5 END::float8, g::int8 "
        "FROM generate_series(1, 5) g"
    )
    with pytest.raises(ColumnReadError, match=r"^x: a NULL"):
        list(read_records(connection, sql, [], FIELDS))


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_column_of_another_width_is_refused() -> None:
    # A 4-byte integer where an 8-byte one is expected.
    sql = "SELECT g::int4, 1.5::float8, g::int8 FROM generate_series(1, 50) g"
    with pytest.raises(ColumnReadError, match=r"^n: "):
        list(read_records(connection, sql, [], FIELDS))
