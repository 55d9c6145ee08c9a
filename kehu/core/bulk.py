"""Writing plain rows fast: executemany on SQLite, COPY on PostgreSQL.

The demo generator and the importer write many rows at once; building a model instance
for each and going through `bulk_create` is four times slower than handing the driver
tuples. The values are still converted by the model fields themselves, so the rows are
the ones the ORM would write.

`insert_plain` and `insert_groups` go one step further for the importer's many small
rows (search keys, audit entries, row outcomes): on SQLite the batch travels as one JSON
document that the database expands itself (`json_each`), so no tuple is made per row
and no JSON is dumped per row; on PostgreSQL the rows are flattened for COPY as before.
"""

import contextlib
import datetime
import gc
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, models

Row = tuple[Any, ...]
# The columns `kehu.core.audit.audit_write` fills, in this order, for writers that add
# audit entries as plain rows (tenant and created_at come from the writer).
AUDIT_COLUMNS = (
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "root_type",
    "root_id",
    "changes",
)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk write builds and holds its batch.

    A batch of thousands of rows allocates hundreds of thousands of objects that stay
    alive until it is written; each time they fill a generation the collector walks
    them, and they end up in the oldest one, whose full walks cost an order import a
    tenth of its batch. Reference counting still frees everything without cycles; what
    has cycles is collected after. Process-wide, as `gc.disable` is.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class EncodedJSON(str):
    """JSON text a writer made itself (formatting a fixed shape is many times cheaper
    than json.dumps of a dict per row): written as it is into a JSON field."""


# `->` and `->>` (JSON text of a part, and its SQL value) came with SQLite 3.38.
SQLITE_JSON_ARROWS = sqlite3.sqlite_version_info >= (3, 38)


# WAL pages between automatic checkpoints while a bulk writer runs (SQLite's default
# is 1,000, ~4 MB: a batch of the importer writes more than that, so every commit
# checkpointed; see `fewer_checkpoints`).
BULK_WAL_AUTOCHECKPOINT = 16384


@contextlib.contextmanager
def sqlite_pragma(name: str, value: int, connection: Any = None) -> Iterator[None]:
    """On SQLite, the connection's (the default one's: None) `PRAGMA name` set to `value`
    while the block runs and put back after (unless SQLite reports none, as for a
    database in memory's mmap_size). Nothing on other databases."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        row = cursor.fetchone()
        cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        if row:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA {name} = {int(row[0])}")


def fewer_checkpoints(using: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractContextManager[None]:
    """On SQLite, checkpoint the write-ahead log every ~64 MB instead of every ~4 MB
    while a long series of bulk transactions runs, and put the setting back after.

    Durability is unchanged: a transaction is as durable at its commit as before (the
    log is the durable record; `synchronous` stays what the settings say), a checkpoint
    only copies logged pages into the database file. Fewer of them copy the pages each
    batch touches again (index pages) once instead of once a batch. The log grows to
    ~64 MB before it is copied back and reused. Nothing on PostgreSQL."""
    return sqlite_pragma("wal_autocheckpoint", BULK_WAL_AUTOCHECKPOINT, connections[using])


class _Checkpointer:
    """One thread per process and SQLite file that copies the write-ahead log into the
    database (`PRAGMA wal_checkpoint(PASSIVE)`) when a bulk writer asks it to, on a
    connection of its own.

    A checkpoint is mostly waiting on the disk (copying pages, two fsyncs): ~150 ms after
    each 1,000-order batch, which SQLite's automatic checkpoint made the committing
    request wait for. Here the request answers at once and the copy runs beside the next
    batch's checks. A passive checkpoint takes no lock that writers or readers wait on;
    what it cannot copy yet (frames a reader still needs) the next one copies. Requests
    coming while one runs are merged into one more run after it.

    The log is only reused from its start when a writer finds it copied in full, which
    batches following each other closely may not leave time for; so once the file is
    over WAL_LIMIT bytes the thread also truncates it (`TRUNCATE`: it waits for the
    writer of the moment, copies what is left, and empties the file)."""

    WAL_LIMIT = 256 * 2**20

    _lock = threading.Lock()
    _running: dict[tuple[int, str], "_Checkpointer"] = {}

    def __init__(self, path: str):
        self.path = path
        self.wanted = threading.Event()
        self.runs = 0  # checkpoints done, for whoever waits on `ran`
        self.ran = threading.Condition()
        thread = threading.Thread(target=self._loop, name="kehu-wal-checkpoint", daemon=True)
        thread.start()

    @classmethod
    def of(cls, path: str) -> "_Checkpointer":
        key = (os.getpid(), path)  # a forked worker starts its own
        with cls._lock:
            running = cls._running.get(key)
            if running is None:
                running = cls._running[key] = cls(path)
            return running

    def _loop(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        while True:
            self.wanted.wait()
            self.wanted.clear()
            # A failed checkpoint loses nothing (the log still holds every page); the next
            # request, or SQLite's own automatic checkpoint, copies them.
            with contextlib.suppress(sqlite3.Error):
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self._log_size() > self.WAL_LIMIT:
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            with self.ran:
                self.runs += 1
                self.ran.notify_all()

    def wait(self, runs: int, timeout: float) -> bool:
        """Whether `runs` checkpoints are done within `timeout` seconds."""
        with self.ran:
            return self.ran.wait_for(lambda: self.runs >= runs, timeout)

    def _log_size(self) -> int:
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except OSError:
            return 0


def _wal_file(connection: Any) -> str | None:
    """The database file of an SQLite connection in WAL mode, else None (in memory)."""
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
        cursor.execute("PRAGMA database_list")
        path = next((row[2] for row in cursor.fetchall() if row[1] == "main"), "")
    return path if mode == "wal" and path else None


@contextlib.contextmanager
def checkpoint_after(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """On SQLite, the block's commit checkpoints nothing itself: once it commits, the
    process's checkpoint thread copies the log into the database beside what comes next.
    Use it around one bulk transaction (an order batch). Nothing on PostgreSQL."""
    connection = connections[using]
    path = _wal_file(connection)
    if path is None:
        yield
        return
    with sqlite_pragma("wal_autocheckpoint", 0, connection):
        yield
    _Checkpointer.of(path).wanted.set()


class BulkWriter:
    """Inserts plain rows into a model's table, one statement per batch.

    `fields` name model fields (attnames for foreign keys: "party_id"). Fields left out
    get what `bulk_create` would give them: the tenant for `tenant`, now for auto
    timestamps, the field's default otherwise — so a field another app adds later with a
    default does not break the generator. Dates, times and JSON are converted by the
    field itself (`get_db_prep_save`), the same as the ORM does.
    """

    def __init__(self, tenant_id: int, now: datetime.datetime, using: str = DEFAULT_DB_ALIAS):
        self.tenant_id = tenant_id
        self.now = now
        self.connection = connections[using]
        self.rows: Counter[str] = Counter()
        self._plans: dict[tuple[type[models.Model], tuple[str, ...]], _InsertPlan] = {}

    @property
    def is_postgresql(self) -> bool:
        return self.connection.vendor == "postgresql"

    def reserve_ids(self, model: type[models.Model], n: int) -> Sequence[int]:
        """n primary keys for rows written in the current transaction.

        SQLite: the write lock is held (transaction_mode IMMEDIATE), so the next ids after
        the largest used one are ours. PostgreSQL: drawn from the table's sequence, so they
        are safe beside concurrent writers.
        """
        table = model._meta.db_table
        if not self.is_postgresql and not self.connection.in_atomic_block:
            raise RuntimeError("reserve_ids on SQLite needs the write lock of a transaction")
        with self.connection.cursor() as cursor:
            if self.is_postgresql:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, n],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(
                f'SELECT max(coalesce((SELECT max("id") FROM "{table}"), 0), '  # noqa: S608
                "coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                [table],
            )
            first = int(cursor.fetchone()[0]) + 1
            return range(first, first + n)

    def insert(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        rows: Sequence[Row],
        *,
        prepared: bool = False,
    ) -> None:
        """`prepared`: the caller gives every value as the database takes it (dates as
        ISO text, JSON as its text), so no value is converted row by row."""
        if not rows:
            return
        plan = self._plan(model, fields)
        plan.write(rows, prepared=prepared)
        self.rows[model._meta.label] += len(rows)

    def insert_plain(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        nested: Collection[str] = (),
        order_by: Sequence[int] = (),
    ) -> None:
        """Rows whose values are all plain JSON values as the database takes them (text,
        integers, booleans, None; no floats, dates or decimals), except the JSON fields
        named in `nested`, given as Python lists and dicts (stored as their JSON text).
        `order_by`: indexes into `fields`; the rows go in in that order (keys inserted in
        index order fill their index one after another).

        SQLite: one statement expands one JSON document of the rows (no tuple and no
        json.dumps per row). PostgreSQL, or an SQLite before 3.38: the rows as `insert`
        takes them (nested values dumped one by one, as the JSON field does)."""
        if not rows:
            return
        if self.is_postgresql or not SQLITE_JSON_ARROWS:
            dumped = [i for i, name in enumerate(fields) if name in nested]
            flat: list[Row] = []
            for row in rows:
                values = list(row)
                for i in dumped:
                    values[i] = EncodedJSON(json.dumps(values[i]))
                flat.append(tuple(values))
            if order_by:
                flat.sort(key=lambda row: tuple(row[i] for i in order_by))
            self.insert(model, fields, flat, prepared=True)
            return
        plan = self._plan(model, fields)
        parts = [
            f"value -> {i}" if name in nested else f"value ->> {i}" for i, name in enumerate(fields)
        ]
        order = ", ".join(str(i + 1) for i in order_by)
        # Table and column names come from the model's meta, the document is a parameter.
        select = f"SELECT {', '.join(parts)}{plan.default_marks} FROM json_each(%s)"  # noqa: S608
        sql = plan.insert_head + select + (f" ORDER BY {order}" if order else "")
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [*plan.defaults, json.dumps(rows)])
        self.rows[model._meta.label] += len(rows)

    def insert_groups(
        self,
        model: type[models.Model],
        fields: tuple[str, str],
        groups: Sequence[tuple[Any, Iterable[Any]]],
    ) -> None:
        """Rows (a, b) for each group (a, [b, b, …]), in the order of (b, a): a party's
        search keys, say, written as `(party_id, key)` rows sorted by key. SQLite: one JSON
        document of the groups, expanded and sorted by the database."""
        if not groups:
            return
        if self.is_postgresql or not SQLITE_JSON_ARROWS:
            rows = [(a, b) for a, many in groups for b in many]
            rows.sort(key=lambda row: (row[1], row[0]))
            self.insert(model, fields, rows, prepared=True)
            return
        plan = self._plan(model, fields)
        document = json.dumps([[a, list(many)] for a, many in groups])
        sql = (
            f"{plan.insert_head}SELECT g.value ->> 0, b.value{plan.default_marks} "  # noqa: S608
            "FROM json_each(%s) AS g, json_each(g.value, '$[1]') AS b ORDER BY 2, 1"
        )
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [*plan.defaults, document])
            self.rows[model._meta.label] += cursor.rowcount

    def _plan(self, model: type[models.Model], fields: Sequence[str]) -> "_InsertPlan":
        key = (model, tuple(fields))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _InsertPlan(self, model, tuple(fields))
        return plan


class _InsertPlan:
    """The statement and value conversions for one model and list of fields."""

    def __init__(self, writer: BulkWriter, model: type[models.Model], fields: tuple[str, ...]):
        self.writer = writer
        connection = writer.connection
        meta = model._meta
        given = [cast(models.Field[Any, Any], meta.get_field(name)) for name in fields]
        given_names = {f.name for f in given}
        rest = [f for f in meta.concrete_fields if f.name not in given_names and not f.primary_key]
        self.defaults: Row = tuple(f.get_db_prep_save(self._default(f), connection) for f in rest)
        self.converters = [
            (i, f)
            for i, f in enumerate(given)
            if isinstance(f, models.DateField | models.JSONField)
        ]
        columns = ", ".join(f'"{f.column}"' for f in (*given, *rest))
        table = meta.db_table
        # For insert_plain / insert_groups: the defaults follow the given columns.
        self.insert_head = f'INSERT INTO "{table}" ({columns}) '
        self.default_marks = "".join(", %s" for _f in rest)
        if writer.is_postgresql:
            self.sql = f'COPY "{table}" ({columns}) FROM STDIN'
        else:
            marks = ", ".join(["%s"] * (len(given) + len(rest)))
            self.sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'  # noqa: S608

    def _default(self, f: models.Field[Any, Any]) -> Any:
        if f.name == "tenant":
            return self.writer.tenant_id
        if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add):
            return self.writer.now
        return f.get_default()

    def write(self, rows: Sequence[Row], *, prepared: bool = False) -> None:
        connection = self.writer.connection
        if self.converters and not prepared:
            rows = self._converted(rows)
        if self.defaults:
            rows = [(*row, *self.defaults) for row in rows]
        with connection.cursor() as cursor:
            if self.writer.is_postgresql:
                with cursor.cursor.copy(self.sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)

    def _converted(self, rows: Sequence[Row]) -> list[Row]:
        """The rows with dates, times and JSON as the backend takes them. A value that is
        the very object of the row before (an audit entry written once in a record's
        history and once in its parent's) is converted once: JSON is the dear part."""
        connection = self.writer.connection
        out = []
        last_in: list[Any] = [None] * len(self.converters)
        last_out: list[Any] = [None] * len(self.converters)
        for row in rows:
            values = list(row)
            for k, (i, f) in enumerate(self.converters):
                value = values[i]
                if isinstance(value, EncodedJSON):
                    values[i] = str(value)
                    continue
                if value is not last_in[k] or value is None:
                    last_in[k] = value
                    # prepared=True: the values are already the right Python types, so
                    # only the backend's adaptation (aware datetime → UTC text on SQLite,
                    # JSON → text) runs.
                    last_out[k] = f.get_db_prep_value(value, connection, prepared=True)
                values[i] = last_out[k]
            out.append(tuple(values))
        return out
