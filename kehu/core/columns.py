"""Reading millions of rows of numbers: a query's result as numpy records, chunk by chunk.

Scoring reads every booked order of a firm (ten million rows for a large one) and needs
them as numbers only. On SQLite the driver's rows of a chunk become a record array. On
PostgreSQL the rows travel as `COPY (query) TO STDOUT (FORMAT BINARY)` and numpy reads
the records straight from the stream: a plain `execute` would first hold the whole
result in the driver's memory (about 100 bytes a value: a gigabyte for ten million
orders), and no Python object is made per value.

The query's columns must be 64-bit integers (`bigint`) or 64-bit floats
(`double precision`) and never NULL on PostgreSQL; a record that is not what the kinds
say stops the read with an error instead of being read wrongly.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from django.db.backends.base.base import BaseDatabaseWrapper

Records = np.ndarray[Any, np.dtype[np.void]]

# The start of every binary COPY stream: signature, flags, header extension length.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8
_TRAILER = b"\xff\xff"
# Records gathered before they are converted (a few megabytes of the stream).
_CHUNK_BYTES = 8 << 20


class ColumnReadError(RuntimeError):
    """The database sent a record that is not the kinds the reader was given."""


def record_type(fields: Sequence[tuple[str, str]]) -> np.dtype[np.void]:
    """The native record of (name, "i8" or "f8") fields."""
    for name, kind in fields:
        if kind not in ("i8", "f8"):
            raise ValueError(f"{name}: {kind} is not i8 or f8")
    return np.dtype(list(fields))


def read_records(
    db: BaseDatabaseWrapper,
    sql: str,
    params: Sequence[Any],
    fields: Sequence[tuple[str, str]],
    *,
    batch: int = 100_000,
) -> Iterator[Records]:
    """The rows of `sql` as record arrays of `fields`, some at a time (about `batch`
    rows on SQLite; about eight megabytes of the stream on PostgreSQL)."""
    native = record_type(fields)
    if db.vendor == "postgresql":
        yield from _copied_records(db, sql, params, native)
        return
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch):
            chunk = np.array(rows, dtype=native)
            del rows
            yield chunk


def _wire_type(native: np.dtype[np.void]) -> np.dtype[np.void]:
    """A binary COPY record of these fields: the field count, then each field's length
    and its big-endian value."""
    parts: list[tuple[str, str]] = [("_count", ">i2")]
    for name in native.names or ():
        parts += [(f"_size_{name}", ">i4"), (name, ">" + native[name].str[1:])]
    return np.dtype(parts)


def _copied_records(
    db: BaseDatabaseWrapper, sql: str, params: Sequence[Any], native: np.dtype[np.void]
) -> Iterator[Records]:
    wire = _wire_type(native)
    names = native.names or ()
    pending = bytearray()
    started = False
    statement = f"COPY ({sql}) TO STDOUT (FORMAT BINARY)"
    with db.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for block in copy:
            pending += block
            if not started:
                if len(pending) < _HEADER:
                    continue
                if bytes(pending[: len(_SIGNATURE)]) != _SIGNATURE:
                    raise ColumnReadError("not a binary COPY stream")
                extension = int.from_bytes(pending[_HEADER - 4 : _HEADER], "big")
                if len(pending) < _HEADER + extension:
                    continue
                del pending[: _HEADER + extension]
                started = True
            if len(pending) >= _CHUNK_BYTES:
                yield _convert(pending, wire, native, names)
    if not started or bytes(pending[-len(_TRAILER) :]) != _TRAILER:
        raise ColumnReadError("the binary COPY stream ended early")
    del pending[-len(_TRAILER) :]
    if pending:
        yield _convert(pending, wire, native, names)
    if pending:
        raise ColumnReadError("the binary COPY stream ended inside a record")


def _convert(
    pending: bytearray, wire: np.dtype[np.void], native: np.dtype[np.void], names: Sequence[str]
) -> Records:
    """The whole records at the start of `pending` (removed from it) as native records."""
    n = len(pending) // wire.itemsize
    size = n * wire.itemsize
    records = np.frombuffer(bytes(pending[:size]), dtype=wire)
    del pending[:size]
    bad = records["_count"] != len(names)
    for name in names:
        bad |= records[f"_size_{name}"] != 8
    if bad.any():
        # The first wrong record says what is wrong; the ones after it are misread.
        first = records[int(np.argmax(bad))]
        if first["_count"] != len(names):
            raise ColumnReadError(f"a record without {len(names)} fields")
        wrong = next(name for name in names if first[f"_size_{name}"] != 8)
        raise ColumnReadError(f"{wrong}: a NULL or a value that is not 8 bytes")
    out = np.empty(n, dtype=native)
    for name in names:
        out[name] = records[name]
    return out
