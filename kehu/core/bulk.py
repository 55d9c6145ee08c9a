"""Writing plain rows fast: executemany on SQLite, COPY on PostgreSQL.

The demo generator and the importer write many rows at once; building a model instance
for each and going through `bulk_create` is four times slower than handing the driver
tuples. The values are still converted by the model fields themselves, so the rows are
the ones the ORM would write.
"""

import contextlib
import datetime
import gc
from collections import Counter
from collections.abc import Iterator, Sequence
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
        key = (model, tuple(fields))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _InsertPlan(self, model, tuple(fields))
        plan.write(rows, prepared=prepared)
        self.rows[model._meta.label] += len(rows)


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
