"""Merging two parties and undoing it; the pages and endpoints of duplicates."""

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from conftest import login
from kehu.activities import services as activities
from kehu.activities.models import Task
from kehu.core.context import tenant_scope
from kehu.dataio import dedup, duplicates, merge
from kehu.dataio.models import CandidateStatus, DuplicateCandidate, DuplicateScan, PartyMerge
from kehu.parties import services
from kehu.parties.models import Address, ContactPoint, Party, PartyTag, SearchKey
from kehu.tenancy.models import Tenant, User


def test_every_party_reference_has_a_rule() -> None:
    """A new foreign key to Party must say how a merge treats it (merge.RULES)."""
    labels = {merge.reference_label(f) for f in merge.party_references()}
    assert labels - set(merge.RULES) == set()
    assert set(merge.RULES) - labels == set()


def _everything(party_ids: list[int]) -> dict[str, list[Any]]:
    """Every row pointing at these parties, as (pk, field, party id), plus the parties."""
    out: dict[str, list[Any]] = {}
    for f in merge.party_references():
        if f.model in {PartyMerge, DuplicateCandidate}:
            continue  # the merge's own records
        rows = f.model._base_manager.filter(**{f"{f.name}__in": party_ids})
        first = "key" if f.model is SearchKey else "pk"  # keys are rebuilt: new ids
        out[merge.reference_label(f)] = sorted(rows.values_list(first, f.attname))
    out["parties"] = sorted(
        Party.with_deleted.filter(pk__in=party_ids).values_list(
            *[f.attname for f in Party._meta.concrete_fields if f.name != "updated_at"]
        )
    )
    return out


@pytest.fixture
def pair(acme: Tenant, alice: User, bob: User) -> tuple[Party, Party]:
    with tenant_scope(acme.pk):
        a = services.party_create(
            actor=alice,
            kind="organisation",
            name="深圳市腾讯科技有限公司",
            contacts=[("mobile", "13812345678")],
            uscc="",
        )
        b = services.party_create(
            actor=bob,
            kind="organisation",
            name="腾讯科技（深圳）有限公司",
            contacts=[("mobile", "13812345678"), ("email", "a@qq.com")],
            uscc="914403001922038216",
            industry="互联网",
        )
        for party in (a, b):
            services.tag_add(actor=alice, party=party, name="重点")
        services.tag_add(actor=alice, party=b, name="华南")
        services.party_link_add(actor=alice, from_party=a, to_party=b, kind="refers")
        activities.interaction_log(actor=alice, parties=[a, b], kind="call", subject="一起")
        activities.interaction_log(actor=bob, parties=[b], kind="visit", subject="拜访")
        activities.task_create(actor=bob, title="回访", due_date=datetime.date(2026, 1, 5), party=b)
    return a, b


def _candidate(a: Party, b: Party) -> DuplicateCandidate:
    duplicates.candidates_record(
        [dedup.score_pair(*duplicates._profiles(Party.objects.filter(pk__in=[a.pk, b.pk])))]
    )
    return DuplicateCandidate.objects.get(party_a=a, party_b=b)


def test_merge_moves_everything_and_undo_restores_exactly(
    acme: Tenant, alice: User, pair: tuple[Party, Party]
) -> None:
    a, b = pair
    with tenant_scope(acme.pk):
        candidate = _candidate(a, b)
        assert "同一手机号" in candidate.explanation
        before = _everything([a.pk, b.pk])
        record = merge.party_merge(
            actor=alice,
            survivor=a,
            loser=b,
            choices={"uscc": "loser", "industry": "loser"},
            candidate=candidate,
        )
        a.refresh_from_db()
        assert a.uscc == "914403001922038216" and a.industry == "互联网"
        assert Party.with_deleted.get(pk=b.pk).deleted_at is not None
        assert a.interactions.count() == 2
        assert Task.objects.filter(party=a).count() == 1
        assert sorted(PartyTag.objects.filter(party=a).values_list("tag__name", flat=True)) == [
            "华南",
            "重点",
        ]
        values = ContactPoint.objects.filter(party=a).values_list("value", flat=True)
        assert sorted(values) == ["+8613812345678", "a@qq.com"]
        for f in merge.party_references():
            if merge.RULES[merge.reference_label(f)].how in {merge.MOVE, merge.UNIQUE}:
                assert not f.model._base_manager.filter(**{f.name: b.pk}).exists(), f
        candidate.refresh_from_db()
        assert candidate.status == CandidateStatus.MERGED
        assert merge.merge_undoable(PartyMerge.objects.get(pk=record.pk))

        merge.party_merge_undo(actor=alice, record=record)
        assert _everything([a.pk, b.pk]) == before
        candidate.refresh_from_db()
        assert candidate.status == CandidateStatus.OPEN
        with pytest.raises(ValidationError):
            merge.party_merge_undo(actor=alice, record=record)


def test_merge_refused_across_tenants_and_kinds(
    acme: Tenant, other: Tenant, alice: User, charlie: User, pair: tuple[Party, Party]
) -> None:
    a, _b = pair
    with tenant_scope(other.pk):
        foreign = services.party_create(actor=charlie, kind="organisation", name="腾讯科技")
    with tenant_scope(acme.pk):
        person = services.party_create(actor=alice, kind="person", name="腾讯科技")
        count = PartyMerge.objects.count()
        for loser in (foreign, person, a):
            with pytest.raises((ValidationError, Party.DoesNotExist)):
                merge.party_merge(actor=alice, survivor=a, loser=loser, choices={})
        assert PartyMerge.objects.count() == count


def test_queue_merge_and_undo_pages(acme: Tenant, alice: User, pair: tuple[Party, Party]) -> None:
    a, b = pair
    with tenant_scope(acme.pk):
        candidate = _candidate(a, b)
    client = login(alice)
    page = client.get("/duplicates/")
    assert page.status_code == 200 and "同一手机号" in page.content.decode()
    assert client.get(f"/duplicates/{candidate.pk}/").status_code == 200
    response = client.post(f"/duplicates/{candidate.pk}/", {"survivor": "b", "name": "a"})
    assert response.status_code == 302
    with tenant_scope(acme.pk):
        b.refresh_from_db()
        assert b.name == "深圳市腾讯科技有限公司"
        record = PartyMerge.objects.get()
    assert client.post(f"/duplicates/merges/{record.pk}/undo/").status_code == 302
    with tenant_scope(acme.pk):
        assert Party.objects.filter(pk__in=[a.pk, b.pk]).count() == 2


def _counts(tenant: Tenant) -> tuple[int, ...]:
    with tenant_scope(tenant.pk):
        return (
            Party.objects.count(),
            PartyMerge.objects.filter(undone_at__isnull=True).count(),
            DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN).count(),
        )


@pytest.mark.parametrize("who", ["bob", "dora", "charlie"])
def test_pages_and_endpoints_refuse_colleagues_without_rights_and_outsiders(
    request: pytest.FixtureRequest, acme: Tenant, alice: User, pair: tuple[Party, Party], who: str
) -> None:
    a, b = pair
    with tenant_scope(acme.pk):
        candidate = _candidate(a, b)
        record = merge.party_merge(actor=alice, survivor=a, loser=b, choices={})
        merge.party_merge_undo(actor=alice, record=record)
        record = merge.party_merge(actor=alice, survivor=a, loser=b, choices={})
        merge.party_merge_undo(actor=alice, record=record)
    user: User = request.getfixturevalue(who)
    client = login(user)
    before = _counts(acme)
    refused = {403, 404}
    api = "/api/v1"
    if who != "charlie":  # a manager of another firm has a queue of its own
        assert client.get("/duplicates/").status_code == 403
        assert client.post("/duplicates/scan/").status_code == 403
        assert client.get(f"{api}/duplicates").status_code == 403
        assert client.post(f"{api}/duplicates/scan").status_code == 403
    else:
        assert a.name not in client.get("/duplicates/").content.decode()
        assert client.get(f"{api}/duplicates").json()["items"] == []
    assert client.get(f"/duplicates/{candidate.pk}/").status_code in refused
    assert client.post(f"/duplicates/{candidate.pk}/", {"survivor": "a"}).status_code in refused
    assert client.post(f"/duplicates/{candidate.pk}/dismiss/").status_code in refused
    assert client.post(f"/duplicates/merges/{record.pk}/undo/").status_code in refused
    assert client.post(f"{api}/duplicates/{candidate.pk}/dismiss").status_code in refused
    response = client.post(
        f"{api}/duplicates/{candidate.pk}/merge", {"survivor": "a"}, content_type="application/json"
    )
    assert response.status_code in refused
    assert client.post(f"{api}/merges/{record.pk}/undo").status_code in refused
    assert _counts(acme) == before
    if who == "charlie":  # acme's rows do not exist for another firm
        assert client.get(f"/duplicates/{candidate.pk}/").status_code == 404
        assert client.post(f"{api}/merges/{record.pk}/undo").status_code == 404


def test_api_merge_and_undo(acme: Tenant, alice: User, pair: tuple[Party, Party]) -> None:
    a, b = pair
    with tenant_scope(acme.pk):
        candidate = _candidate(a, b)
    client = login(alice)
    listed = client.get("/api/v1/duplicates").json()
    assert listed["items"][0]["explanation"].startswith("同一手机号")
    response = client.post(
        f"/api/v1/duplicates/{candidate.pk}/merge",
        {"survivor": "a", "choices": {"uscc": "b"}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    merged = response.json()
    assert merged["loser_id"] == b.pk
    undone = client.post(f"/api/v1/merges/{merged['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]


def test_create_warns_of_a_likely_duplicate_in_form_and_api(
    acme: Tenant, alice: User, pair: tuple[Party, Party]
) -> None:
    client = login(alice)
    form = {
        "name": "腾讯科技有限公司",
        "owner": alice.pk,
        "is_direct": "1",
        "mobile": "13812345678",
    }
    response = client.post("/customers/new/?kind=organisation", form)
    assert response.status_code == 200 and "可能已有这个客户" in response.content.decode()
    assert _counts(acme)[0] == 2
    response = client.post("/customers/new/?kind=organisation", {**form, "allow_duplicate": "1"})
    assert response.status_code == 302
    assert _counts(acme)[0] == 3
    with tenant_scope(acme.pk):
        assert DuplicateCandidate.objects.count() >= 2
    payload = {"kind": "organisation", "name": "（深圳）腾讯科技", "contacts": []}
    response = client.post("/api/v1/parties", payload, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["duplicates"]
    response = client.post(
        "/api/v1/parties?allow_duplicate=true", payload, content_type="application/json"
    )
    assert response.status_code == 201
    check = client.post(
        "/api/v1/duplicates/check",
        {"kind": "organisation", "name": "腾迅科技", "phones": ["138 1234 5678"]},
        content_type="application/json",
    )
    assert check.status_code == 200 and check.json()["duplicates"]


def test_full_scan_finds_the_pair(acme: Tenant, alice: User, pair: tuple[Party, Party]) -> None:
    from django.test import TestCase

    a, b = pair
    with tenant_scope(acme.pk), TestCase.captureOnCommitCallbacks(execute=True):
        scan = duplicates.scan_start(actor=alice)
    with tenant_scope(acme.pk):
        scan.refresh_from_db()
        assert scan.status == "done" and scan.candidates_found == 1
        assert DuplicateCandidate.objects.filter(party_a=a, party_b=b).exists()


def test_the_scan_resumes_after_its_checkpoint_and_records_many_pairs_at_once(
    acme: Tenant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 parties of one phone: 1,225 pairs in one commit (the known pairs were
    once looked up as one OR of every pair: too deep for SQLite); a scan resumed after
    its first blocks scores only the rest, a full scan then adds what that block held."""
    with tenant_scope(acme.pk):
        for i in range(50):
            services.party_create(
                actor=alice,
                kind="organisation",
                name=f"华信{i % 2}科技有限公司",
                contacts=[("mobile", "13812345678")],
                uscc="",
            )
        monkeypatch.setattr(duplicates, "SCAN_BATCH", 1)  # a commit per block
        scan = DuplicateScan.objects.create(started_by=alice)
        timings: dict[str, float] = {}
        duplicates.scan_run(scan_id=scan.pk, timings=timings)
        scan.refresh_from_db()
        assert scan.candidates_found == DuplicateCandidate.objects.count() == 1225
        assert set(timings) == {"read", "block", "score", "write"}
        first = scan.pairs_compared
        DuplicateCandidate.objects.all().delete()
        resumed = DuplicateScan.objects.create(started_by=alice, blocks_done=1)
        duplicates.scan_run(scan_id=resumed.pk)
        resumed.refresh_from_db()
        assert resumed.status == "done" and resumed.blocks_done == resumed.total_blocks
        assert 0 < resumed.pairs_compared < first
        again = DuplicateScan.objects.create(started_by=alice)
        duplicates.scan_run(scan_id=again.pk)
        again.refresh_from_db()
        # The full scan adds the pairs only the skipped first block held, nothing else.
        assert again.pairs_compared == first
        assert again.candidates_found == 1225 - resumed.candidates_found > 0
        assert DuplicateCandidate.objects.count() == 1225


def _primaries(party: Party) -> list[tuple[str, str]]:
    contacts = ContactPoint.objects.filter(party=party, is_primary=True)
    addresses = Address.objects.filter(party=party, is_primary=True)
    return sorted(
        [*contacts.values_list("kind", "value"), *(("address", a.city) for a in addresses)]
    )


def test_the_survivor_keeps_one_primary_of_each_kind_and_undo_gives_the_loser_its_own(
    acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        a = services.party_create(actor=alice, kind="person", name="王小明")
        b = services.party_create(actor=alice, kind="person", name="王晓明")
        services.contact_point_add(
            actor=alice, party=a, kind="mobile", value="13812345678", is_primary=True
        )
        services.contact_point_add(
            actor=alice, party=b, kind="mobile", value="13987654321", is_primary=True
        )
        services.contact_point_add(
            actor=alice, party=b, kind="email", value="w@example.cn", is_primary=True
        )
        for party, city in ((a, "深圳市"), (b, "广州市")):
            services.address_add(
                actor=alice,
                party=party,
                kind="office",
                province="广东省",
                city=city,
                is_primary=True,
            )
        loser_before = _primaries(b)
        record = merge.party_merge(actor=alice, survivor=a, loser=b, choices={})
        # The survivor's own mobile and address stay primary; the loser's email, the
        # only one of its kind, stays primary too.
        assert _primaries(a) == [
            ("address", "深圳市"),
            ("email", "w@example.cn"),
            ("mobile", "+8613812345678"),
        ]
        assert ContactPoint.objects.filter(party=a, kind="mobile").count() == 2
        merge.party_merge_undo(actor=alice, record=record)
        assert _primaries(b) == loser_before
        assert _primaries(a) == [("address", "深圳市"), ("mobile", "+8613812345678")]
