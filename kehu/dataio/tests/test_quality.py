"""The data-quality page and endpoints: exact figures on a hand-checked archive of five
parties, the customer-list filters behind every link, the stale window, duplicates,
who sees what (Bob: own; Dora: read-only; Charlie: another firm), pinned query counts
and the nightly snapshot with its trend."""

import datetime
import io
import re
from html import unescape
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import login, page_text
from kehu.activities import services as activities
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.dataio import quality, tasks
from kehu.dataio.models import CandidateStatus, DuplicateCandidate, QualitySnapshot
from kehu.parties import normalize
from kehu.parties import services as parties
from kehu.parties.models import ContactPoint, Party
from kehu.parties.selectors import PartyFilters, party_list
from kehu.pool.tasks import next_night
from kehu.tenancy.models import Team, TeamMembership, Tenant, User

PAGE = reverse("quality:page")
API = "/api/v1/data-quality"
USCC = normalize.uscc_with_check_digit("91110000MA01ABCDE")
# A code of the right form with a wrong check digit (it should end in M).
BAD_USCC = "91440300MA5FXXXXX4"
NOW = timezone.now()


@pytest.fixture
def archive(acme: Tenant, alice: User, bob: User) -> dict[str, Party]:
    """Five parties with known gaps (Alice owns 甲, 乙 and 王五; Bob 张三 and 李四):

    | party        | industry | province/city | address | phone | email | wechat | ...
    | 甲公司 (org) | 制造     | 广东省 深圳市 | yes     | mobile| yes   | yes    |
    | 乙公司 (org) |          |               |         |       |       |        |
    | 张三         |          |               |         | mobile| yes   |        |
    | 李四         | 零售     |               |         |       |       |        |
    | 王五         |          |               |         |       | yes   |        |

    and 甲公司 alone has a contact person (王五, employed), a USCC and a source (展会);
    李四 a source (转介绍).
    """
    with tenant_scope(acme.pk):
        jia = parties.party_create(
            actor=alice,
            kind="organisation",
            name="甲公司",
            industry="制造",
            province="广东省",
            city="深圳市",
            uscc=USCC,
            source="展会",
            contacts=[("mobile", "13812345678"), ("email", "jia@example.cn")],
        )
        parties.address_add(actor=alice, party=jia, kind="office", province="广东省", city="深圳市")
        parties.contact_point_add(actor=alice, party=jia, kind="wechat", value="jia_gongsi")
        yi = parties.party_create(actor=alice, kind="organisation", name="乙公司")
        zhang = parties.party_create(
            actor=bob,
            kind="person",
            name="张三",
            contacts=[("mobile", "13912345678"), ("email", "zhang@example.cn")],
        )
        li = parties.party_create(
            actor=bob, kind="person", name="李四", industry="零售", source="转介绍"
        )
        wang = parties.party_create(
            actor=alice, kind="person", name="王五", contacts=[("email", "wang@example.cn")]
        )
        parties.party_link_add(actor=alice, from_party=jia, to_party=wang, kind="employs")
    return {"jia": jia, "yi": yi, "zhang": zhang, "li": li, "wang": wang}


def tenant_of(user: User) -> int:
    assert user.tenant_id is not None
    return user.tenant_id


def names(user: User, **filters: Any) -> set[str]:
    with tenant_scope(tenant_of(user)):
        return set(
            party_list(user, PartyFilters(in_pool=False, **filters)).values_list("name", flat=True)
        )


def figures_of(user: User, days: int = 90) -> quality.Report:
    with tenant_scope(tenant_of(user)):
        return quality.report(quality.user_scope(user), days=days)


def test_completeness_of_a_hand_checked_archive(archive: dict[str, Party], alice: User) -> None:
    total = figures_of(alice).total
    assert (total.parties, total.organisations) == (5, 2)
    percent = {c.key: total.percent(c.key) for c in quality.CHECKS}
    assert percent == {
        "name": 100.0,
        "industry": 40.0,
        "province": 20.0,
        "city": 20.0,
        "address": 20.0,
        "owner": 100.0,
        "phone": 40.0,
        "email": 60.0,
        "wechat": 20.0,
        "contact": 50.0,  # of the two organisations
        "uscc": 50.0,
        "source": 40.0,
    }
    assert total.missing("email") == 2
    assert total.missing("contact") == 1
    # (100+40+20+20+20+100+40+60+20+50+50+40) / 12 = 46.67
    assert total.completeness == 46.7


def test_by_owner_adds_up(archive: dict[str, Party], alice: User, bob: User) -> None:
    owners = {f.owner_id: f for f in figures_of(alice).owners}
    assert set(owners) == {alice.pk, bob.pk}
    assert owners[alice.pk].parties == 3
    assert owners[bob.pk].parties == 2
    assert owners[bob.pk].filled["email"] == 1  # 张三
    assert owners[bob.pk].percent("industry") == 50.0  # 李四
    assert owners[bob.pk].percent("contact") is None  # Bob has no organisations


def test_every_missing_and_filled_filter_lists_exactly_the_counted(
    archive: dict[str, Party], alice: User, bob: User
) -> None:
    for user in (alice, bob):
        total = figures_of(user).total
        for check in quality.CHECKS:
            assert len(names(user, missing=check.key)) == total.missing(check.key), check.key
            assert len(names(user, filled=check.key)) == total.filled[check.key], check.key
    assert names(alice, missing="email") == {"乙公司", "李四"}
    assert names(alice, missing="contact") == {"乙公司"}  # people have no contact person
    assert names(bob, missing="phone") == {"李四"}


def test_an_inactive_owner_counts_as_missing(
    archive: dict[str, Party], alice: User, bob: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        User.objects.filter(pk=bob.pk).update(is_active=False)
    assert figures_of(alice).total.missing("owner") == 2
    assert names(alice, missing="owner") == {"张三", "李四"}


def _bad_values(archive: dict[str, Party]) -> None:
    """Values that got past no form: written straight to the table (an old import)."""
    for party, kind, value in [
        (archive["yi"], "mobile", "12345"),
        (archive["yi"], "email", "yi-at-example"),
        (archive["li"], "email", "li@@example.cn"),
        (archive["li"], "wechat", "1abc"),  # must start with a letter
        (archive["wang"], "qq", "012"),
        (archive["zhang"], "phone", "+8613912345678"),  # a valid number
    ]:
        ContactPoint.objects.create(party=party, kind=kind, value=value)
    Party.objects.filter(pk=archive["yi"].pk).update(uscc=BAD_USCC)


def test_invalid_values(archive: dict[str, Party], alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        _bad_values(archive)
    total = figures_of(alice).total
    assert total.invalid == {"mobile": 1, "phone": 0, "email": 2, "wechat": 1, "qq": 1, "uscc": 1}
    assert total.invalid_parties == 3  # 乙公司, 李四, 王五
    assert names(alice, invalid="email") == {"乙公司", "李四"}
    assert names(alice, invalid="uscc") == {"乙公司"}
    assert names(alice, invalid="phone") == set()
    assert names(alice, invalid="any") == {"乙公司", "李四", "王五"}
    assert names(bob, invalid="any") == {"李四"}
    assert figures_of(bob).total.invalid_parties == 1
    for kind in quality.VALIDATED:
        assert len(names(alice, invalid=kind)) == total.invalid[kind]


def _stale_setup(archive: dict[str, Party], alice: User) -> None:
    """Customers: 甲公司 (won back, never contacted), 张三 (10 days ago), 李四 (100 days)."""
    Party.objects.filter(pk=archive["jia"].pk).update(relationship_state="won_back")
    Party.objects.filter(pk__in=[archive["zhang"].pk, archive["li"].pk]).update(
        relationship_state="current"
    )
    for party, days in [(archive["zhang"], 10), (archive["li"], 100), (archive["yi"], 500)]:
        activities.interaction_log(
            actor=alice,
            parties=[party],
            kind="call",
            subject="回访",
            occurred_at=NOW - datetime.timedelta(days=days),
        )


def test_stale_customers_by_window(archive: dict[str, Party], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        _stale_setup(archive, alice)
    assert figures_of(alice).total.customers == 3
    expected = {5: {"甲公司", "张三", "李四"}, 90: {"甲公司", "李四"}, 200: {"甲公司"}}
    for days, stale in expected.items():
        assert figures_of(alice, days).total.stale == len(stale)
        assert names(alice, stale_days=days) == stale  # 乙公司 is no customer


def _pair(a: Party, b: Party, status: str = CandidateStatus.OPEN) -> DuplicateCandidate:
    low, high = sorted([a, b], key=lambda p: p.pk)
    return DuplicateCandidate.objects.create(party_a=low, party_b=high, score=0.9, status=status)


def test_duplicates(archive: dict[str, Party], alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        _pair(archive["zhang"], archive["wang"])  # Bob's and Alice's
        _pair(archive["jia"], archive["yi"])  # both Alice's
        _pair(archive["li"], archive["wang"], CandidateStatus.DISMISSED)
    total = figures_of(alice).total
    assert (total.duplicate_pairs, total.duplicate_parties) == (2, 4)
    owners = {f.owner_id: f for f in figures_of(alice).owners}
    assert (owners[alice.pk].duplicate_pairs, owners[alice.pk].duplicate_parties) == (2, 3)
    assert (owners[bob.pk].duplicate_pairs, owners[bob.pk].duplicate_parties) == (1, 1)
    assert names(alice, duplicate=True) == {"甲公司", "乙公司", "张三", "王五"}
    bobs = figures_of(bob).total
    assert (bobs.duplicate_pairs, bobs.duplicate_parties) == (1, 1)
    assert names(bob, duplicate=True) == {"张三"}


def _links(response: Any) -> dict[str, str]:
    """{href: the figure it shows} of the page's links to the customer list."""
    found = re.findall(
        r'<a (?:class="link" )?href="(/customers/[^"]*)">(\d+)</a>', page_text(response)
    )
    return {unescape(href): figure for href, figure in found}


def test_every_figure_on_the_page_links_to_a_list_of_that_many(
    archive: dict[str, Party], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        _bad_values(archive)
        _stale_setup(archive, alice)
        _pair(archive["zhang"], archive["wang"])
    client = login(alice)
    response = client.get(PAGE)
    assert response.status_code == 200
    links = _links(response)
    # The key figures, both tables' and the owner rows' (6 per owner, less the page link).
    assert len(links) >= 1 + 2 + 2 * len(quality.CHECKS) + len(quality.VALIDATED) + 2 * 4
    for href, figure in links.items():
        listed = client.get(href)
        assert listed.status_code == 200
        count = re.search(r"共 (\d+) 个客户", page_text(listed))
        assert count is not None, href
        assert count.group(1) == figure, href


def test_page_for_bob_shows_his_own_and_no_owner_table(
    archive: dict[str, Party], bob: User, alice: User
) -> None:
    response = login(bob).get(PAGE)
    assert response.status_code == 200
    assert 'id="owners"' not in page_text(response)
    assert response.context["figures"].parties == 2
    assert login(bob).get(PAGE, {"owner": alice.pk}).status_code == 404
    own = login(bob).get(PAGE, {"owner": bob.pk})
    assert own.status_code == 200
    assert own.context["figures"].parties == 2


def test_page_for_dora_has_the_owner_table(
    archive: dict[str, Party], dora: User, bob: User
) -> None:
    response = login(dora).get(PAGE)
    assert response.status_code == 200
    assert 'id="owners"' in page_text(response)
    assert response.context["figures"].parties == 5
    one = login(dora).get(PAGE, {"owner": bob.pk})
    assert one.status_code == 200
    assert one.context["figures"].parties == 2
    assert one.context["owners"] is None


def test_outsider_sees_nothing_of_acme(
    archive: dict[str, Party], charlie: User, alice: User
) -> None:
    response = login(charlie).get(PAGE)
    assert response.status_code == 200
    assert response.context["figures"].parties == 0
    assert "甲公司" not in page_text(response)
    assert login(charlie).get(PAGE, {"owner": alice.pk}).status_code == 404
    data = api_client(charlie).get(API).json()
    assert data["total"]["parties"] == 0
    assert data["owners"] == []
    assert api_client(charlie).get(f"{API}/owners/{alice.pk}").status_code == 404


def test_days_is_validated_with_a_translated_error(archive: dict[str, Party], alice: User) -> None:
    for bad in ("0", "abc", "3651"):
        response = login(alice).get(PAGE, {"days": bad})
        assert response.status_code == 422
        assert "久未互动天数应为 1 到 3650 之间的整数。" in page_text(response)
        assert response.context["days"] == quality.STALE_DAYS_DEFAULT
    english = login(alice).get(PAGE, {"days": "0"}, headers={"accept-language": "en"})
    assert "between 1 and 3650" in page_text(english)
    problem = api_client(alice).get(API, {"days": "0"})
    assert_problem(problem, 422)
    assert problem.json()["errors"][0]["field"] == "days"
    assert login(alice).get(PAGE, {"owner": "abc"}).status_code == 404


def test_api_figures_match_the_page(archive: dict[str, Party], alice: User, bob: User) -> None:
    data = api_client(alice).get(API, {"days": 30}).json()
    assert data["days"] == 30
    assert data["total"]["parties"] == 5
    assert data["total"]["completeness"] == 46.7
    fields = {f["field"]: f for f in data["total"]["fields"]}
    assert fields["email"] == {
        "field": "email",
        "applicable": 5,
        "filled": 3,
        "missing": 2,
        "percent": 60.0,
    }
    assert {o["owner_id"]: o["parties"] for o in data["owners"]} == {alice.pk: 3, bob.pk: 2}
    mine = api_client(bob).get(API).json()
    assert mine["total"]["parties"] == 2
    assert mine["owners"] is None
    assert api_client(bob).get(f"{API}/owners/{alice.pk}").status_code == 404
    assert api_client(bob).get(f"{API}/owners/{bob.pk}").json()["total"]["parties"] == 2
    one = api_client(alice).get(f"{API}/owners/{bob.pk}").json()
    assert one["total"]["parties"] == 2
    assert one["owners"] is None


def test_page_query_count_is_pinned(
    archive: dict[str, Party], alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        _bad_values(archive)
        _pair(archive["zhang"], archive["wang"])
    client = login(alice)
    client.get(PAGE)
    # session, user; the grouped counts; contact values, USCCs; duplicate parties,
    # pairs; owner names; snapshots; the tenant (the page head)
    with django_assert_num_queries(10):
        response = client.get(PAGE)
    assert response.status_code == 200


def test_snapshot_task_writes_the_trend(
    archive: dict[str, Party], alice: User, bob: User, acme: Tenant, charlie: User
) -> None:
    today = timezone.localdate()
    with tenant_scope(acme.pk):
        yesterday = today - datetime.timedelta(days=1)
        QualitySnapshot.objects.create(
            taken_on=yesterday,
            figures={
                "parties": 4,
                "completeness": 40.0,
                "invalid_parties": 2,
                "duplicate_parties": 0,
                "stale": 1,
            },
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        written = tasks.snapshot_every_tenant()
    # acme: the firm's row and Alice's and Bob's; Charlie's firm: its (empty) firm row
    assert written == 4
    assert tasks.snapshot_every_tenant() == 4  # again today: replaced, not added
    with tenant_scope(acme.pk):
        assert QualitySnapshot.objects.filter(taken_on=today).count() == 3
        points = quality.trend(alice)
        bobs = quality.trend(bob)
    assert [(p.taken_on, p.completeness) for p in points] == [(yesterday, 40.0), (today, 46.7)]
    assert bobs[-1].taken_on == today
    response = login(alice).get(PAGE)
    assert response.context["chart"]["labels"] == [yesterday.isoformat(), today.isoformat()]
    assert 'data-chart="quality-chart-data"' in page_text(response)


DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_schedule_books_the_nightly_snapshot_once(acme: Tenant) -> None:
    out = io.StringIO()
    with override_settings(TASKS=DB_TASKS):
        call_command("quality_snapshot", "--schedule", stdout=out)
        call_command("quality_snapshot", "--schedule", stdout=out)
    booked = DBTaskResult.objects.filter(task_path=tasks.quality_snapshot_nightly.module_path)
    assert booked.count() == 1
    assert booked.get().run_after == next_night()
    assert "already booked" in out.getvalue().splitlines()[1]


def test_the_nightly_task_snapshots_and_books_the_next(acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk):
        parties.party_create(actor=alice, kind="person", name="张三")
    with override_settings(TASKS=DB_TASKS):
        assert tasks.quality_snapshot_nightly.call() == 2  # acme's firm row and Alice's
    assert DBTaskResult.objects.filter(
        task_path=tasks.quality_snapshot_nightly.module_path
    ).exists()


def test_the_list_leaves_out_a_bad_stale_window(archive: dict[str, Party], alice: User) -> None:
    listed = login(alice).get(reverse("parties:list"), {"stale": "abc"})
    assert listed.status_code == 200
    assert "共 5 个客户" in page_text(listed)
    assert "客户久未互动（天）" in page_text(listed)  # the filter is on the list's form


def test_a_team_member_sees_the_team_by_owner(
    archive: dict[str, Party], acme: Tenant, alice: User, bob: User
) -> None:
    with tenant_scope(acme.pk):
        erin = User.objects.create(tenant=acme, username="erin", role="sales", visibility="team")
        team = Team.objects.create(name="华南")
        TeamMembership.objects.create(team=team, user=erin)
        TeamMembership.objects.create(team=team, user=bob)
        quality.snapshot_take()
    response = login(erin).get(PAGE)
    assert response.context["figures"].parties == 2  # Bob's two
    assert [row["owner"] for row in response.context["owners"]] == [bob]
    # The trend: the snapshots of the team's owners (Bob's), not the firm's.
    bobs = {f.owner_id: f for f in figures_of(alice).owners}[bob.pk]
    assert response.context["chart"]["series"][0]["data"] == [bobs.completeness]
    assert login(erin).get(PAGE, {"owner": bob.pk}).context["chart"]["labels"] != []
    # Alice is outside Erin's team: none of her parties, and none of her trend.
    outside = login(erin).get(PAGE, {"owner": alice.pk})
    assert outside.context["figures"].parties == 0
    assert outside.context["chart"]["labels"] == []


def test_a_departed_owners_row_links_to_their_parties(
    archive: dict[str, Party], acme: Tenant, alice: User, bob: User
) -> None:
    with tenant_scope(acme.pk):
        User.objects.filter(pk=bob.pk).update(is_active=False)
    client = login(alice)
    rows = client.get(PAGE).context["owners"]
    bobs = next(row for row in rows if row["owner"] == bob)
    listed = client.get(bobs["list_url"])
    assert "共 2 个客户" in page_text(listed)


def test_api_query_count_is_pinned(
    archive: dict[str, Party], alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        _bad_values(archive)
        _pair(archive["zhang"], archive["wang"])
    client = api_client(alice)
    # token (with its user), its last use; the grouped counts; contact values, USCCs;
    # duplicate parties, pairs; snapshots
    with django_assert_num_queries(8):
        response = client.get(API)
    assert response.json()["total"]["invalid_parties"] == 3
