"""BulkWriter's document inserts (one JSON document a batch on SQLite) write the rows
that its row-by-row insert writes, in the order asked for."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.core import bulk
from kehu.core.bulk import AUDIT_COLUMNS, BulkWriter, EncodedJSON
from kehu.core.models import AuditEntry
from kehu.parties.models import Party, PartyKind, SearchKey
from kehu.tenancy.models import Tenant, User

AUDITED = (
    *("id", "actor_id", "action", "object_type", "object_id", "object_repr"),
    *("root_type", "root_id", "changes", "created_at", "tenant_id"),
)


def _entries(actor: User) -> list[tuple[Any, ...]]:
    changes: list[dict[str, Any]] = [
        {"name": [None, "北京字节跳动科技有限公司"], "is_direct": [None, True]},
        {"value": [None, "+8613812345678"], "label": [None, ""], "is_primary": [None, False]},
        {"note": [None, 'a "quoted" \\ back\nslash \U0001f600'], "tags": [None, [1, 2]]},
        {},
    ]
    return [
        (
            actor.pk if i != 2 else None,
            "create",
            "parties.party",
            10 + i,
            f"第{i}个",
            "parties.party",
            7,
            c,
        )
        for i, c in enumerate(changes)
    ]


def _party(tenant: Tenant, actor: User, name: str) -> Party:
    return Party.objects.create(tenant=tenant, kind=PartyKind.ORGANISATION, name=name, owner=actor)


def _audit_rows() -> list[tuple[Any, ...]]:
    return [row[1:] for row in AuditEntry.objects.order_by("id").values_list(*AUDITED)]


@pytest.mark.django_db
def test_plain_rows_are_the_rows_insert_writes(acme: Tenant, alice: User, in_acme: None) -> None:
    now = timezone.now()
    entries = _entries(alice)
    writer = BulkWriter(acme.pk, now)
    with transaction.atomic():
        writer.insert(
            AuditEntry,
            AUDIT_COLUMNS,
            [(*e[:7], EncodedJSON(json.dumps(e[7]))) for e in entries],
        )
    by_insert = _audit_rows()
    AuditEntry.objects.all().delete()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        writer.insert_plain(AuditEntry, AUDIT_COLUMNS, entries, nested={"changes"})
    assert _audit_rows() == by_insert
    assert [e.changes for e in AuditEntry.objects.order_by("id")] == [e[7] for e in entries]
    assert writer.rows[AuditEntry._meta.label] == 2 * len(entries)
    if connection.vendor == "sqlite" and bulk.SQLITE_JSON_ARROWS:
        # The whole batch in one statement that expands one document.
        assert len(queries) == 1 and "json_each" in queries[0]["sql"]


@pytest.mark.django_db
@pytest.mark.parametrize("arrows", [True, False])
def test_plain_rows_go_in_in_the_order_asked(
    acme: Tenant, alice: User, in_acme: None, monkeypatch: pytest.MonkeyPatch, arrows: bool
) -> None:
    """`order_by`: ids are given in that order (here by object text), on the document
    path and on the row-by-row one (PostgreSQL's, or an old SQLite's)."""
    monkeypatch.setattr(bulk, "SQLITE_JSON_ARROWS", arrows and bulk.SQLITE_JSON_ARROWS)
    entries = [(*e[:4], text, *e[5:]) for e, text in zip(_entries(alice), "dbca", strict=True)]
    with transaction.atomic():
        BulkWriter(acme.pk, timezone.now()).insert_plain(
            AuditEntry, AUDIT_COLUMNS, entries, nested={"changes"}, order_by=(4,)
        )
    written = list(AuditEntry.objects.order_by("id").values_list("object_repr", "changes"))
    assert written == sorted((e[4], e[7]) for e in entries)


@pytest.mark.django_db
@pytest.mark.parametrize("arrows", [True, False])
def test_groups_are_expanded_in_key_order(
    acme: Tenant, alice: User, in_acme: None, monkeypatch: pytest.MonkeyPatch, arrows: bool
) -> None:
    """A party's search keys given as (party, {keys}) become (party, key) rows written in
    (key, party) order, so the (tenant, key) index fills in order; the count is kept."""
    monkeypatch.setattr(bulk, "SQLITE_JSON_ARROWS", arrows and bulk.SQLITE_JSON_ARROWS)
    first, second = _party(acme, alice, "字节跳动"), _party(acme, alice, "跳动")
    SearchKey.objects.all().delete()
    groups = [(first.pk, {"字节跳动", "跳动", "zijie", "动"}), (second.pk, {"跳动", "动", "td"})]
    writer = BulkWriter(acme.pk, timezone.now())
    with transaction.atomic():
        writer.insert_groups(SearchKey, ("party_id", "key"), groups)
    written = list(SearchKey.objects.order_by("id").values_list("key", "party_id", "tenant_id"))
    expected = sorted((key, pk, acme.pk) for pk, keys in groups for key in keys)
    assert written == expected
    assert writer.rows[SearchKey._meta.label] == len(expected)


def _wal_database(path: str) -> Any:
    """A raw SQLite connection to a new file in WAL mode that never checkpoints itself."""
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (x TEXT)")
    return db


def _fill(db: Any, rows: int = 2000) -> None:
    db.execute("BEGIN")
    db.executemany("INSERT INTO t VALUES (?)", [("行" * 200,) for _ in range(rows)])
    db.execute("COMMIT")


def test_the_checkpoint_thread_copies_the_log_into_the_database(tmp_path: Any) -> None:
    """What a writer logged reaches the database file once the thread is asked, on the
    thread's own connection; the writer's connection stays open and untouched."""
    path = str(tmp_path / "wal.sqlite3")
    db = _wal_database(path)
    _fill(db)
    before = Path(path).stat().st_size
    assert Path(f"{path}-wal").stat().st_size > 1_000_000  # ~1.2 MB logged, nothing copied

    checkpointer = bulk._Checkpointer.of(path)
    assert bulk._Checkpointer.of(path) is checkpointer  # one per process and file
    checkpointer.wanted.set()
    assert checkpointer.wait(1, timeout=10)
    assert Path(path).stat().st_size > before + 1_000_000
    # Everything was copied: a checkpoint now has no frame left to copy.
    busy, logged, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, copied) == (0, logged)
    assert db.execute("SELECT count(*) FROM t").fetchone() == (2000,)
    db.close()


def test_the_checkpoint_thread_empties_a_log_over_its_limit(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "big-wal.sqlite3")
    db = _wal_database(path)
    checkpointer = bulk._Checkpointer.of(path)
    _fill(db)
    checkpointer.wanted.set()
    assert checkpointer.wait(1, timeout=10)
    kept = Path(f"{path}-wal").stat().st_size
    assert kept > 1_000_000  # copied, but under the limit the file is kept for reuse

    monkeypatch.setattr(bulk._Checkpointer, "WAL_LIMIT", 1_000_000)
    _fill(db)
    checkpointer.wanted.set()
    assert checkpointer.wait(2, timeout=10)
    assert Path(f"{path}-wal").stat().st_size == 0
    assert db.execute("SELECT count(*) FROM t").fetchone() == (4000,)
    db.close()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="a setting of SQLite's log")
def test_checkpoint_after_leaves_the_commit_to_the_thread(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the block the connection checkpoints nothing itself; after it, the setting
    is back and the file's checkpoint thread has been asked."""

    def setting() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return int(cursor.fetchone()[0])

    path = str(tmp_path / "asked.sqlite3")
    _wal_database(path).close()
    # The suite's database lives in memory (no log): stand a file's in for it.
    monkeypatch.setattr(bulk, "_wal_file", lambda _connection: path)
    before = setting()
    with bulk.checkpoint_after():
        inside = setting()
    assert (before, inside, setting()) == (before, 0, before) and before > 0
    assert bulk._Checkpointer.of(path).wait(1, timeout=10)


@pytest.mark.django_db
def test_checkpoint_after_does_nothing_without_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's SQLite database is in memory, PostgreSQL has no such log: no thread."""
    started: list[str] = []
    monkeypatch.setattr(
        bulk._Checkpointer, "of", classmethod(lambda cls, path: started.append(path))
    )
    with bulk.checkpoint_after():
        pass
    assert bulk._wal_file(connection) is None and started == []
