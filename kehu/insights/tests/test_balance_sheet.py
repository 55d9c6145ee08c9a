"""The customer asset balance sheet: exact figures on a hand-checked book of seven
customers scored in two runs, scoping (a rep's own customers; planned spend only for
those who see the firm), what is behind each figure, and pinned query counts.

The book (old run 2026-10-31, this run 2026-11-30; the period is November):

    customer  owner  old run (tier, CLP, alive)  this run (tier, cv+gp=CLP, alive)  first order
    甲        alice  B 1000 .9                   A 1200+300=1500 .9  upgraded       2025-01-10
    乙        alice  A  800 .8                   B  500+100= 600 .7  downgraded     2025-03-01
    丙        alice  C  400 .7                   C  100+ 20= 120 .3  churned (<.5)  2025-05-01
    丁        alice  C  250 .6                   —                   churned        —
    戊        alice  —                           C  200+ 50= 250 .9  gained, new    2026-11-10
    己        bob    —                           C  300+100= 400 .9  gained, referral (link)
    庚        bob    C  100 .9                   C   80+ 10=  90 .9  same, referral (lead)

Assets (alice): current 甲乙丙 cv 1800, gp 420; new 戊 250; referral 己+庚 490 → 2960.
Open tasks with this run's customers: 甲 2, 乙 1, 庚 1 (丙's is done, 丁 is not scored
now, one task has no customer) → 4 × 1.5 h × ¥120 = 720. Planned spend holding
2026-11-30: acquisition 1000 + 500, win-back 300, other 50 (retention starts in
December) → 1850. Liabilities 2570; equity 390.
Movement: gained 2 (0 → 650), churned 2 (650 → 120), upgraded 1 (1000 → 1500),
downgraded 1 (800 → 600), same 1 (100 → 90); 2550 → 2960, +410.
Bob (his 己 and 庚): referral 490; 庚's task 180; no planned spend; equity 310.
"""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from conftest import login, page_text
from kehu.activities import services as activities
from kehu.activities.models import Task, TaskStatus
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.insights import balance_selectors as selectors
from kehu.insights import balance_services as balance
from kehu.insights.models import CustomerScore, InsightSettings, RunStatus, ScoringRun
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import services as sales
from kehu.sales.models import Lead, SourceChannel
from kehu.tenancy.models import Tenant, User

OLD, NOW = datetime.date(2026, 10, 31), datetime.date(2026, 11, 30)
PAGE = reverse("insights_firm:balance_sheet")
API = "/api/v1/insights/firm/balance-sheet"
D = Decimal


FIRST_ORDERS = {
    "甲": datetime.date(2025, 1, 10),
    "乙": datetime.date(2025, 3, 1),
    "丙": datetime.date(2025, 5, 1),
    "戊": datetime.date(2026, 11, 10),
    "己": datetime.date(2026, 11, 15),
    "庚": datetime.date(2024, 6, 1),
}


def _score(run: ScoringRun, party: Party, tier: str, cv: int, gp: int, alive: float) -> None:
    """A score as the run would write it: the days since the first purchase, if any."""
    first = FIRST_ORDERS.get(party.name[0])
    CustomerScore.objects.create(
        orders_count=1 if first else 0,
        tenure_days=(run.as_of - first).days if first else 0,
        run=run,
        party=party,
        as_of=run.as_of,
        current_value=D(cv),
        growth_potential=D(gp),
        clp=D(cv + gp),
        tier=tier,
        p_alive=alive,
        inferred_stage="stability",
        lifecycle_stage="stability",
    )


def _first_order(actor: User, party: Party, day: datetime.date) -> None:
    product = sales.product_create(
        actor=actor, code=f"P{party.pk}", name=f"品{party.pk}", unit_price=D(10)
    )
    sales.order_create(
        actor=actor,
        party=party,
        lines=[sales.LineIn(product, D(1))],
        order_date=day,
        status="confirmed",
    )


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    return make_book(acme, alice, bob)


def make_book(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    """The book of the table above (also drawn in test_firm_browser)."""
    with tenant_scope(acme.pk):
        InsightSettings.objects.create(task_hours=D("1.5"), staff_hour_cost=D(120))
        old = ScoringRun.objects.create(as_of=OLD, status=RunStatus.DONE)
        run = ScoringRun.objects.create(as_of=NOW, status=RunStatus.DONE)
        names = {"甲": alice, "乙": alice, "丙": alice, "丁": alice, "戊": alice}
        names |= {"己": bob, "庚": bob}
        p = {
            n: parties.party_create(actor=owner, kind="organisation", name=f"{n}公司")
            for n, owner in names.items()
        }
        for name, tier, cv, alive in [
            ("甲", "B", 1000, 0.9),
            ("乙", "A", 800, 0.8),
            ("丙", "C", 400, 0.7),
            ("丁", "C", 250, 0.6),
            ("庚", "C", 100, 0.9),
        ]:
            _score(old, p[name], tier, cv, 0, alive)
        for name, tier, cv, gp, alive in [
            ("甲", "A", 1200, 300, 0.9),
            ("乙", "B", 500, 100, 0.7),
            ("丙", "C", 100, 20, 0.3),
            ("戊", "C", 200, 50, 0.9),
            ("己", "C", 300, 100, 0.9),
            ("庚", "C", 80, 10, 0.9),
        ]:
            _score(run, p[name], tier, cv, gp, alive)
        for name, day in FIRST_ORDERS.items():
            _first_order(alice, p[name], day)
        parties.party_link_add(actor=alice, from_party=p["甲"], to_party=p["己"], kind="refers")
        Lead.objects.create(
            name="庚先生", source_channel=SourceChannel.REFERRAL, converted_party=p["庚"]
        )
        due = datetime.date(2026, 12, 5)
        for name, title in [("甲", "回访一"), ("甲", "回访二"), ("乙", "送样"), ("庚", "培训")]:
            activities.task_create(actor=alice, title=title, due_date=due, party=p[name])
        done = activities.task_create(actor=alice, title="已办", due_date=due, party=p["丙"])
        Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE)
        activities.task_create(actor=alice, title="丁的事", due_date=due, party=p["丁"])
        activities.task_create(actor=alice, title="无客户", due_date=due)
        for kind, start, end, amount in [
            ("acquisition", datetime.date(2026, 11, 1), NOW, 1000),
            ("acquisition", datetime.date(2026, 10, 1), datetime.date(2026, 12, 31), 500),
            ("win_back", datetime.date(2026, 11, 15), datetime.date(2026, 12, 15), 300),
            ("retention", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31), 700),
            ("other", NOW, NOW, 50),
        ]:
            balance.planned_spend_create(
                actor=alice, kind=kind, period_start=start, period_end=end, amount=D(amount)
            )
    return {"old": old, "run": run, "parties": p}


def _amounts(lines: list[Any]) -> dict[str, Any]:
    return {line.key: line.amount for line in lines}


def test_the_hand_checked_sheet(book: dict[str, Any], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        sheet = selectors.balance_sheet(alice, book["run"])
    assert sheet.previous == book["old"]
    assert (sheet.period_start, sheet.period_end) == (datetime.date(2026, 11, 1), NOW)
    assert _amounts(sheet.assets) == {
        "current_value": D(1800),
        "growth_potential": D(420),
        "new": D(250),
        "referral": D(490),
    }
    assert [line.count for line in sheet.assets] == [3, 3, 1, 2]
    assert sheet.total_assets == D(2960)
    assert _amounts(sheet.liabilities) == {
        "service": D(720),
        "loyalty": D(0),
        "spend_acquisition": D(1500),
        "spend_win_back": D(300),
        "spend_retention": D(0),
        "spend_other": D(50),
    }
    assert sheet.liabilities[0].count == 4
    assert sheet.total_liabilities == D(2570)
    assert sheet.equity == D(390)


def test_the_movement_since_the_run_before(book: dict[str, Any], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        sheet = selectors.balance_sheet(alice, book["run"])
    moved = {m.key: (m.customers, m.before, m.now, m.change) for m in sheet.movements}
    assert moved == {
        "gained": (2, D(0), D(650), D(650)),
        "churned": (2, D(650), D(120), D(-530)),
        "upgraded": (1, D(1000), D(1500), D(500)),
        "downgraded": (1, D(800), D(600), D(-200)),
        "same": (1, D(100), D(90), D(-10)),
    }
    assert (sheet.before_total, sheet.now_total, sheet.change_total) == (
        D(2550),
        D(2960),
        D(410),
    )


def test_a_lower_churn_threshold_keeps_a_fading_customer_in_his_tier(
    book: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        InsightSettings.objects.update(churn_alive_threshold=20)  # 丙's 0.3 is above it
        sheet = selectors.balance_sheet(alice, book["run"])
    moved = {m.key: (m.customers, m.before, m.now) for m in sheet.movements}
    assert moved["churned"] == (1, D(250), D(0))
    assert moved["same"] == (2, D(500), D(210))


def test_a_rep_sees_his_own_customers_and_no_planned_spend(book: dict[str, Any], bob: User) -> None:
    data = api_client(bob).get(API).json()
    assert data["run"]["id"] == book["run"].pk
    assets = {a["key"]: D(a["amount"]) for a in data["assets"]}
    assert assets == {"current_value": 0, "growth_potential": 0, "new": 0, "referral": 490}
    liabilities = {line["key"]: line["amount"] for line in data["liabilities"]}
    assert D(liabilities["service"]) == D(180)
    assert liabilities["spend_acquisition"] is None and liabilities["spend_win_back"] is None
    assert data["spend_counted"] is False
    assert D(data["equity"]) == D(310)
    moved = {m["key"]: m["customers"] for m in data["movements"]}
    assert moved == {"gained": 1, "churned": 0, "upgraded": 0, "downgraded": 0, "same": 1}
    page = page_text(login(bob).get(PAGE, {"show": "referral"}))
    assert "己公司" in page and "甲公司" not in page


def test_read_only_colleague_sees_the_firm_and_its_planned_spend(
    book: dict[str, Any], dora: User
) -> None:
    data = api_client(dora).get(API, {"run": book["run"].pk}).json()
    assert D(data["total_assets"]) == D(2960)
    assert D(data["total_liabilities"]) == D(2570)
    assert data["spend_counted"] is True


def test_the_api_gives_the_page_figures(book: dict[str, Any], alice: User) -> None:
    data = api_client(alice).get(API).json()
    assert (data["period_start"], data["period_end"]) == ("2026-11-01", "2026-11-30")
    assert data["previous_run"]["id"] == book["old"].pk
    assert D(data["equity"]) == D(390)
    churned = next(m for m in data["movements"] if m["key"] == "churned")
    assert D(churned["change"]) == D(-530)
    response = login(alice).get(PAGE)
    page = page_text(response)
    assert response.status_code == 200
    assert ">2960.00<" in page and ">2570.00<" in page and 'id="equity">390.00<' in page
    assert "积分功能尚未启用" in page
    assert f"?run={book['run'].pk}&amp;show=churned" in page
    assert reverse("insights_firm:planned_spend") + "?on=2026-11-30" in page


def test_each_figure_links_to_what_is_behind_it(book: dict[str, Any], alice: User) -> None:
    client, p = login(alice), book["parties"]

    def listed(show: str) -> str:
        return page_text(client.get(PAGE, {"run": book["run"].pk, "show": show}))

    new = listed("new")
    assert reverse("parties:detail", args=[p["戊"].pk]) in new
    assert reverse("parties:detail", args=[p["甲"].pk]) not in new
    churned = listed("churned")
    assert "丙公司" in churned and "丁公司" in churned and "甲公司" not in churned
    service = listed("service")
    assert "回访一" in service and "培训" in service
    assert "已办" not in service and "丁的事" not in service and "无客户" not in service
    current = listed("growth_potential")
    assert current.index("甲公司") < current.index("乙公司") < current.index("丙公司")


def test_an_earlier_run_is_chosen_and_has_no_movement(book: dict[str, Any], alice: User) -> None:
    data = api_client(alice).get(API, {"run": book["old"].pk}).json()
    assert data["previous_run"] is None and data["movements"] == []
    # No run before: the 90 days up to the run's date.
    assert data["period_start"] == "2026-08-03"
    assert D(data["total_assets"]) == D(2550)  # all current customers, no gp in the old run
    page = page_text(login(alice).get(PAGE, {"run": book["old"].pk}))
    assert "没有更早的评分" in page and 'id="movements"' not in page


def test_no_such_run_is_a_404(book: dict[str, Any], alice: User, charlie: User) -> None:
    assert_problem(api_client(alice).get(API, {"run": 999999}), 404)
    assert login(alice).get(PAGE, {"run": "x"}).status_code == 404
    # Another firm's run is no run of theirs.
    assert_problem(api_client(charlie).get(API, {"run": book["run"].pk}), 404)
    assert login(charlie).get(PAGE, {"run": book["run"].pk}).status_code == 404


def test_an_outsider_sees_none_of_the_firm(book: dict[str, Any], charlie: User) -> None:
    data = api_client(charlie).get(API).json()
    assert data["run"] is None and data["assets"] == []
    page = page_text(login(charlie).get(PAGE))
    assert "甲公司" not in page and "请先运行评分" in page


def test_a_run_in_progress_is_not_a_sheet(acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk):
        ScoringRun.objects.create(as_of=NOW, status=RunStatus.RUNNING)
    assert api_client(alice).get(API).json()["run"] is None
    assert "请先运行评分" in page_text(login(alice).get(PAGE))


def test_the_page_asks_for_a_login(db: None) -> None:
    from django.test import Client

    response = Client().get(PAGE)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_sheet_takes_a_fixed_number_of_queries(
    book: dict[str, Any],
    alice: User,
    bob: User,
    acme: Tenant,
    django_assert_num_queries: Any,
) -> None:
    """Runs before, settings, assets, open tasks, planned spend, movement: one each."""
    with tenant_scope(acme.pk):
        with django_assert_num_queries(6):
            selectors.balance_sheet(alice, book["run"])
        with django_assert_num_queries(5):  # no planned spend for a rep
            selectors.balance_sheet(bob, book["run"])
        with django_assert_num_queries(2):  # the run before, then the customers
            selectors.behind(alice, book["run"], "new")
