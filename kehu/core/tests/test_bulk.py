"""BulkWriter's document inserts (one JSON document a batch on SQLite) write the rows
that its row-by-row insert writes, in the order asked for."""

import json
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
