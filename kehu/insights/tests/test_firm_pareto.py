"""The Pareto page and endpoint: exact shares on a hand-checked book of ten customers,
scoping (a rep sees their own customers' figures), access, and no scores yet."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client
from kehu.insights import firm_selectors as selectors
from kehu.insights.models import CustomerScore, RunStatus, ScoringRun
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

AS_OF = datetime.date(2026, 11, 30)
# Ten customers: total 900; the top 2 (20 %) hold 600, the top 1 (5 %, rounded up) 400;
# one of ten (10 %) destroys 100.
PROFITS = [400, 200, 100, 100, 50, 50, 50, 30, 20, -100]
PAGE = reverse("insights_firm:pareto")
API = "/api/v1/insights/firm/pareto"


def score(run: ScoringRun, party: Party, profit: int, clp: int) -> None:
    CustomerScore.objects.create(
        run=run,
        party=party,
        as_of=run.as_of,
        profit_total=Decimal(profit),
        clp=Decimal(clp),
        tier="C",
        inferred_stage="stability",
        lifecycle_stage="stability",
    )


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> list[Party]:
    """Alice owns the first eight customers, Bob the last two (the 20 and the −100)."""
    with tenant_scope(acme.pk):
        old = ScoringRun.objects.create(as_of=AS_OF.replace(month=10), status=RunStatus.DONE)
        run = ScoringRun.objects.create(as_of=AS_OF, status=RunStatus.DONE)
        customers = []
        for i, profit in enumerate(PROFITS):
            owner = bob if i >= 8 else alice
            party = parties.party_create(actor=owner, kind="organisation", name=f"客户{i}")
            score(old, party, 999, 999)  # an older run: never counted
            score(run, party, profit, profit * 2)
            customers.append(party)
        return customers


def test_exact_shares_of_a_hand_checked_book(book: list[Party], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        figures = selectors.pareto(alice)
    assert figures.count == 10
    assert figures.total == Decimal(900)
    assert figures.share_of(figures.top(20)) == 66.7
    assert figures.share_of(figures.top(5)) == 44.4
    assert [c.name for c in figures.top(20)] == ["客户0", "客户1"]
    assert figures.negative_share == 10.0
    assert figures.destroyed == Decimal(-100)
    curve = figures.curve()
    # Top half: 400+200+100+100+50 = 850 of 900.
    assert (curve[0], curve[10], curve[20], curve[50], curve[100]) == (0.0, 44.4, 66.7, 94.4, 100.0)
    assert curve[90] == 111.1  # before the loss-maker: more than the whole


def test_a_rep_sees_only_their_own_customers(book: list[Party], bob: User) -> None:
    response = api_client(bob).get(API)
    assert response.status_code == 200
    data = response.json()
    assert data["customers"] == 2
    assert Decimal(data["total"]) == Decimal(-80)
    assert data["top20_share"] is None  # a share of a loss means nothing
    assert data["negative_share"] == 50.0
    assert [c["name"] for c in data["negative"]] == ["客户9"]
    page = login(bob).get(PAGE, {"show": "top20"}).content.decode()
    assert "客户8" in page and "客户0" not in page


def test_the_api_gives_the_page_figures_by_clp(book: list[Party], alice: User) -> None:
    data = api_client(alice).get(API, {"measure": "clp"}).json()
    assert data["measure"] == "clp"
    assert Decimal(data["total"]) == Decimal(1800)
    assert data["top20_share"] == 66.7
    assert Decimal(data["negative_profit"]) == Decimal(-200)
    assert len(data["curve"]) == 101


def test_each_figure_links_to_its_customers(book: list[Party], alice: User) -> None:
    client = login(alice)
    page = client.get(PAGE).content.decode()
    assert "66.7%" in page and "44.4%" in page and "10.0%" in page
    assert "?measure=profit_total&amp;show=negative" in page
    negative = client.get(PAGE, {"show": "negative"}).content.decode()
    assert reverse("parties:detail", args=[book[9].pk]) in negative
    assert reverse("parties:detail", args=[book[0].pk]) not in negative
    top5 = client.get(PAGE, {"show": "top5"}).content.decode()
    assert reverse("parties:detail", args=[book[0].pk]) in top5
    assert reverse("parties:detail", args=[book[1].pk]) not in top5


def test_an_outsider_sees_none_of_the_firm(book: list[Party], charlie: User) -> None:
    data = api_client(charlie).get(API).json()
    assert data["customers"] == 0 and data["curve"] == []
    page = login(charlie).get(PAGE).content.decode()
    assert "客户0" not in page
    assert "请先运行评分" in page


def test_a_colleague_without_rights_sees_no_one_elses_customers(
    book: list[Party], acme: Tenant
) -> None:
    from conftest import _user
    from kehu.tenancy.models import Role, Visibility

    carol = _user(acme, "carol", Role.SERVICE, Visibility.OWN)
    assert api_client(carol).get(API).json()["customers"] == 0
    assert "请先运行评分" in login(carol).get(PAGE).content.decode()


def test_the_page_asks_for_a_login(db: None) -> None:
    from django.test import Client

    response = Client().get(PAGE)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_no_scores_yet_says_so_without_dividing_by_zero(alice: User) -> None:
    response = login(alice).get(PAGE)
    assert response.status_code == 200
    assert "请先运行评分" in response.content.decode()
    data = api_client(alice).get(API).json()
    assert data["customers"] == 0
    assert data["top20_share"] is None and data["negative_share"] is None
