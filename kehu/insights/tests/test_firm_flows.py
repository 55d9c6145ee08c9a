"""Tier migration and lifecycle flows between two scoring runs: exact matrices on a
hand-checked book of seven customers, the default runs, scoping (a rep sees his own
customers' moves), access, bad run ids, and pinned query counts."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from conftest import login, page_text
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.insights import flows_selectors as selectors
from kehu.insights.models import CustomerScore, RunStatus, ScoringRun
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

MIGRATION = reverse("insights_firm:migration")
FLOWS = reverse("insights_firm:lifecycle_flows")
MIGRATION_CUSTOMERS = reverse("insights_firm:migration_customers")
FLOW_CUSTOMERS = reverse("insights_firm:lifecycle_customers")
API = "/api/v1/insights/firm"

# name: owner, (tier, stage, CLP) in the earlier run, the same in the later run
# (None: not scored in that run).
BOOK: dict[str, tuple[str, Any, Any]] = {
    "甲": ("alice", ("A", "formation", 100), ("S", "stability", 300)),  # up
    "乙": ("alice", ("S", "stability", 500), ("S", "stability", 600)),  # stayed
    "丙": ("bob", ("B", "stability", 50), ("C", "decline", 20)),  # down
    "丁": ("alice", ("C", "exploration", 10), ("A", "formation", 200)),  # up two
    "戊": ("bob", None, ("B", "exploration", 80)),  # new
    "己": ("alice", ("B", "decline", 40), None),  # out
    "庚": ("alice", ("A", "stability", 200), ("B", "decline", 90)),  # down
}


def score(run: ScoringRun, party: Party, tier: str, stage: str, clp: int) -> None:
    CustomerScore.objects.create(
        run=run,
        party=party,
        as_of=run.as_of,
        clp=Decimal(clp),
        tier=tier,
        inferred_stage=stage,
        lifecycle_stage=stage,
    )


def done_run(as_of: datetime.date, status: str = RunStatus.DONE) -> ScoringRun:
    return ScoringRun.objects.create(as_of=as_of, status=status)


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    """Four finished runs: the two of BOOK (Aug 31 and Nov 30), an older one and one a
    month before the latest (both scoring everyone S, never in the default pair), and a
    failed run."""
    users = {"alice": alice, "bob": bob}
    with tenant_scope(acme.pk):
        oldest = done_run(datetime.date(2026, 5, 31))
        earlier = done_run(datetime.date(2026, 8, 31))
        recent = done_run(datetime.date(2026, 11, 1))
        later = done_run(datetime.date(2026, 11, 30))
        failed = done_run(datetime.date(2026, 12, 1), RunStatus.FAILED)
        customers = {}
        for name, (owner, before, after) in BOOK.items():
            party = parties.party_create(actor=users[owner], kind="organisation", name=name)
            customers[name] = party
            for run in (oldest, recent, failed):
                score(run, party, "S", "stability", 999)
            if before:
                score(earlier, party, *before)
            if after:
                score(later, party, *after)
    return {
        "customers": customers,
        "earlier": earlier,
        "later": later,
        "oldest": oldest,
        "recent": recent,
        "failed": failed,
    }


def runs_of(book: dict[str, Any]) -> dict[str, Any]:
    return {"from_run": book["earlier"].pk, "to_run": book["later"].pk}


def cells(figures: selectors.Flows) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {k: (c.customers, int(c.clp_from), int(c.clp_to)) for k, c in figures.cells.items()}


def test_the_tier_matrix_of_a_hand_checked_book(
    book: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        figures = selectors.flows(alice, selectors.TIER, book["earlier"], book["later"])
    assert cells(figures) == {
        ("A", "S"): (1, 100, 300),
        ("S", "S"): (1, 500, 600),
        ("B", "C"): (1, 50, 20),
        ("C", "A"): (1, 10, 200),
        ("new", "B"): (1, 0, 80),
        ("B", "out"): (1, 40, 0),
        ("A", "B"): (1, 200, 90),
    }
    summary = figures.summary
    assert {k: g.customers for k, g in summary.items()} == {
        "up": 2,
        "down": 2,
        "stayed": 1,
        "new": 1,
        "out": 1,
    }
    assert (summary["up"].clp_from, summary["up"].clp_to) == (Decimal(110), Decimal(500))
    assert figures.cell("B", "out").clp == Decimal(40)  # what went out: its earlier CLP
    assert figures.cell("S", "C").customers == 0


def test_the_stage_flows_of_a_hand_checked_book(
    book: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        figures = selectors.flows(alice, selectors.STAGE, book["earlier"], book["later"])
    assert cells(figures) == {
        ("formation", "stability"): (1, 100, 300),
        ("stability", "stability"): (1, 500, 600),
        ("stability", "decline"): (2, 250, 110),
        ("exploration", "formation"): (1, 10, 200),
        ("new", "exploration"): (1, 0, 80),
        ("decline", "out"): (1, 40, 0),
    }
    assert {k: g.customers for k, g in figures.summary.items()} == {
        "changed": 4,
        "stayed": 1,
        "new": 1,
        "out": 1,
    }


def test_the_default_runs_are_the_latest_and_the_one_three_months_before(
    book: dict[str, Any], acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        runs = selectors.finished_runs()
        assert book["failed"] not in runs
        # Nov 30 less 91 days is Aug 31: that run, not the one a month before.
        assert selectors.choose_runs(None, None, runs) == (book["earlier"], book["later"])
        # Before Nov 1, the closest to Aug 2 is Aug 31 (May 31 is further).
        assert selectors.choose_runs("", book["recent"].pk, runs) == (
            book["earlier"],
            book["recent"],
        )
        # Only the one before it: that one.
        assert selectors.choose_runs(None, book["earlier"].pk, runs) == (
            book["oldest"],
            book["earlier"],
        )


def test_the_api_gives_the_page_figures(book: dict[str, Any], alice: User) -> None:
    data = api_client(alice).get(f"{API}/migration").json()  # the default runs
    assert data["from_run"] == {"id": book["earlier"].pk, "as_of": "2026-08-31"}
    assert data["to_run"]["id"] == book["later"].pk
    assert data["customers"] == 7
    by_cell = {(c["source"], c["target"]): c for c in data["cells"]}
    assert len(by_cell) == 7
    assert by_cell["A", "B"]["customers"] == 1
    assert Decimal(by_cell["A", "B"]["clp_from"]) == Decimal(200)
    assert Decimal(by_cell["A", "B"]["clp_to"]) == Decimal(90)
    assert data["summary"]["up"]["customers"] == 2
    assert Decimal(data["summary"]["out"]["clp_from"]) == Decimal(40)
    flows = api_client(alice).get(f"{API}/lifecycle-flows", runs_of(book)).json()
    stage = {(c["source"], c["target"]): c["customers"] for c in flows["cells"]}
    assert stage["stability", "decline"] == 2
    assert flows["summary"]["changed"]["customers"] == 4


def test_the_page_shows_the_matrix_and_links_each_cell(book: dict[str, Any], alice: User) -> None:
    client = login(alice)
    page = page_text(client.get(MIGRATION))
    assert "2026-08-31" in page and "2026-11-30" in page
    link = f"{MIGRATION_CUSTOMERS}?from_run={book['earlier'].pk}&amp;to_run={book['later'].pk}"
    assert f'{link}&amp;source=A&amp;target=B"' in page
    assert f'{link}&amp;source=new&amp;target=B"' in page
    assert f'{link}&amp;source=S&amp;target=C"' not in page  # an empty cell: no link
    # The failed run is no choice.
    assert f'value="{book["failed"].pk}"' not in page
    assert f'value="{book["oldest"].pk}"' in page
    flows = page_text(client.get(FLOWS, runs_of(book)))
    assert '"kind": "sankey"' in flows
    assert "source=stability&amp;target=decline" in flows


def test_a_cell_lists_its_customers_with_both_runs(book: dict[str, Any], alice: User) -> None:
    client = login(alice)
    customers = book["customers"]
    down = page_text(
        client.get(MIGRATION_CUSTOMERS, {**runs_of(book), "source": "A", "target": "B"})
    )
    assert reverse("parties:detail", args=[customers["庚"].pk]) in down
    assert reverse("parties:detail", args=[customers["甲"].pk]) not in down
    assert ">200<" in down and ">90<" in down
    gone = page_text(
        client.get(FLOW_CUSTOMERS, {**runs_of(book), "source": "decline", "target": "out"})
    )
    assert reverse("parties:detail", args=[customers["己"].pk]) in gone
    data = (
        api_client(alice)
        .get(
            f"{API}/lifecycle-flows/customers",
            {**runs_of(book), "source": "stability", "target": "decline"},
        )
        .json()
    )
    assert data["count"] == 2
    assert [r["name"] for r in data["items"]] == ["庚", "丙"]  # the higher CLP first
    first = data["items"][0]
    assert (first["from_tier"], first["to_tier"]) == ("A", "B")
    assert (first["from_stage"], first["to_stage"]) == ("stability", "decline")
    assert (Decimal(first["from_clp"]), Decimal(first["to_clp"])) == (Decimal(200), Decimal(90))
    new = api_client(alice).get(
        f"{API}/migration/customers", {**runs_of(book), "source": "new", "target": "B"}
    )
    assert [(r["name"], r["from_tier"], r["from_clp"]) for r in new.json()["items"]] == [
        ("戊", None, None)
    ]


def test_a_rep_sees_only_his_own_customers_moves(book: dict[str, Any], bob: User) -> None:
    data = api_client(bob).get(f"{API}/migration", runs_of(book)).json()
    assert data["customers"] == 2
    assert {(c["source"], c["target"]) for c in data["cells"]} == {("B", "C"), ("new", "B")}
    assert data["summary"]["down"]["customers"] == 1 and data["summary"]["up"]["customers"] == 0
    listed = api_client(bob).get(
        f"{API}/migration/customers", {**runs_of(book), "source": "A", "target": "B"}
    )
    assert listed.json()["count"] == 0  # 庚 is Alice's
    page = page_text(
        login(bob).get(
            FLOW_CUSTOMERS, {**runs_of(book), "source": "stability", "target": "decline"}
        )
    )
    assert "丙" in page and "庚" not in page


def test_read_only_dora_sees_the_whole_book(book: dict[str, Any], dora: User) -> None:
    assert api_client(dora).get(f"{API}/migration", runs_of(book)).json()["customers"] == 7
    assert login(dora).get(MIGRATION, runs_of(book)).status_code == 200


def test_an_outsider_gets_an_error_for_the_firms_runs_not_its_data(
    book: dict[str, Any], charlie: User
) -> None:
    client = api_client(charlie)
    for path in ("migration", "lifecycle-flows"):
        response = client.get(f"{API}/{path}", runs_of(book))
        assert_problem(response, 422)
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"from_run", "to_run"}
    listed = client.get(
        f"{API}/migration/customers", {**runs_of(book), "source": "A", "target": "B"}
    )
    assert_problem(listed, 422)
    assert client.get(f"{API}/migration").json()["cells"] == []  # no runs of its own
    page = login(charlie).get(MIGRATION, runs_of(book))
    assert page.status_code == 422
    assert "2026-08-31" not in page_text(page) and "庚" not in page_text(page)
    cell = login(charlie).get(MIGRATION_CUSTOMERS, {**runs_of(book), "source": "A", "target": "B"})
    assert cell.status_code == 422 and "庚" not in page_text(cell)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("text", "from_run", "应为整数"),
        ("failed", "from_run", "没有这次评分"),
        ("same", "to_run", "请选择两次不同的评分"),
        ("reversed", "from_run", "较早的评分须在较晚的评分之前"),
    ],
)
def test_bad_run_ids_name_their_field(
    book: dict[str, Any], alice: User, query: Any, field: str, message: str
) -> None:
    params = {
        "failed": {"from_run": book["failed"].pk, "to_run": book["later"].pk},
        "same": {"from_run": book["later"].pk, "to_run": book["later"].pk},
        "reversed": {"from_run": book["later"].pk, "to_run": book["earlier"].pk},
        "text": {"from_run": "x"},
    }[query]
    response = api_client(alice).get(f"{API}/migration", params)
    assert_problem(response, 422)
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert message in errors[0]["message"]
    if query != "text":  # the API parses an integer; the page reads any text (below)
        page = login(alice).get(MIGRATION, params)
        assert page.status_code == 422
        assert message in page_text(page)
        assert 'aria-invalid="true"' in page_text(page)
    if query in ("same", "reversed"):
        # The pickers keep what was asked for, so that it can be corrected.
        asked = f'<option value="{params["from_run"]}" selected>'
        assert asked in page_text(page)


def test_a_cell_that_is_not_one_names_its_field(book: dict[str, Any], alice: User) -> None:
    response = api_client(alice).get(
        f"{API}/migration/customers", {**runs_of(book), "source": "stability", "target": "B"}
    )
    assert_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["source"]
    response = api_client(alice).get(
        f"{API}/migration/customers", {**runs_of(book), "source": "new", "target": "out"}
    )
    assert [e["field"] for e in response.json()["errors"]] == ["target"]
    page = login(alice).get(MIGRATION_CUSTOMERS, {**runs_of(book), "source": "Z", "target": "B"})
    assert page.status_code == 422 and "没有这个起点" in page_text(page)


def test_fewer_than_two_runs_say_so(alice: User, acme: Tenant) -> None:
    assert "需要至少两次已完成的评分" in page_text(login(alice).get(MIGRATION))
    with tenant_scope(acme.pk):
        done_run(datetime.date(2026, 11, 30))
    assert "只有一次已完成的评分" in page_text(login(alice).get(FLOWS))
    data = api_client(alice).get(f"{API}/lifecycle-flows").json()
    assert data["from_run"] is None and data["cells"] == []
    assert data["summary"]["stayed"]["customers"] == 0


def test_the_pages_ask_for_a_login(db: None) -> None:
    from django.test import Client

    for url in (MIGRATION, FLOWS, MIGRATION_CUSTOMERS, FLOW_CUSTOMERS):
        response = Client().get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("url", [MIGRATION, FLOWS])
def test_the_pages_query_count_is_pinned(
    book: dict[str, Any], alice: User, url: str, django_assert_num_queries: Any
) -> None:
    client = login(alice)
    # Session, user and firm (the page's header), the runs to choose from, the matrix:
    # one query however many customers.
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200


def test_the_cell_list_query_count_is_pinned(
    book: dict[str, Any], alice: User, django_assert_num_queries: Any
) -> None:
    client = login(alice)
    # Session, user and firm, the runs, the count, the page of rows.
    with django_assert_num_queries(6):
        client.get(MIGRATION_CUSTOMERS, {**runs_of(book), "source": "A", "target": "B"})
