"""The report endpoints: the same figures as the pages, scoped, with problem details
on bad input and pinned query counts. (Every persona's access is also walked in
kehu/core/tests/test_api_access.py.)"""

from typing import Any

import pytest

from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.reports.tests.helpers import YEAR, Book, book_of_business
from kehu.tenancy.models import Tenant, User

RANGE: dict[str, str] = {"since": YEAR["since"], "until": YEAR["until"]}


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> Book:
    with tenant_scope(acme.pk):
        return book_of_business(alice, bob)


def test_revenue_by_month(book: Book, alice: User) -> None:
    body = api_client(alice).get("/api/v1/reports/revenue", RANGE).json()
    assert body["currency"] == "CNY" and len(body["rows"]) == 12
    march = body["rows"][2]
    assert march == {
        "key": "2025-03-01",
        "label": "2025-03",
        "orders": 1,
        "revenue": "540.00",
        "cost": "360.00",
        "profit": "180.00",
        "margin": "33.3",
    }
    assert body["total"]["revenue"] == "940.00"
    assert body["other_currencies"][0]["currency"] == "USD"


def test_revenue_by_team_and_region_drill_down(book: Book, alice: User) -> None:
    client = api_client(alice)
    teams = client.get("/api/v1/reports/revenue", {**RANGE, "by": "team"}).json()
    assert [(r["label"], r["revenue"]) for r in teams["rows"]] == [
        ("华南", "940.00"),
        ("华北", "300.00"),
    ]
    cities = client.get(
        "/api/v1/reports/revenue", {**RANGE, "by": "region", "province": "广东省"}
    ).json()
    assert [r["label"] for r in cities["rows"]] == ["深圳市"]


def test_a_salesperson_gets_his_own_figures(book: Book, bob: User) -> None:
    client = api_client(bob)
    body = client.get("/api/v1/reports/revenue", {**RANGE, "by": "rep"}).json()
    assert [r["label"] for r in body["rows"]] == ["Bob"]
    effort = client.get("/api/v1/reports/customer-effort", RANGE).json()
    assert [r["name"] for r in effort["rows"]] == ["乙公司"]


def test_an_outsider_gets_only_his_own_firm(book: Book, charlie: User) -> None:
    body = api_client(charlie).get("/api/v1/reports/revenue", RANGE).json()
    assert body["total"]["revenue"] == "0.00" and body["other_currencies"] == []
    effort = api_client(charlie).get("/api/v1/reports/customer-effort", RANGE).json()
    assert effort["rows"] == []


def test_customer_effort_and_new_vs_existing(book: Book, alice: User) -> None:
    client = api_client(alice)
    effort = client.get("/api/v1/reports/customer-effort", {**RANGE, "top": "1"}).json()
    assert effort["rows"] == [
        {
            "party_id": book.jia.pk,
            "name": "甲公司",
            "hours": "3.0",
            "revenue": "640.00",
            "profit": "220.00",
            "profit_per_hour": "73.33",
        }
    ]
    split = client.get("/api/v1/reports/new-vs-existing", {**RANGE, "period": "quarter"}).json()
    q1 = split["rows"][0]
    assert (q1["label"], q1["new_revenue"], q1["existing_revenue"]) == ("2025 Q1", "940.00", "0.00")
    assert (q1["new_hours"], q1["prospect_hours"], q1["new_hours_share"]) == ("4.5", "1.5", "75.0")


def test_until_before_since_is_a_problem_naming_until(alice: User) -> None:
    response = api_client(alice).get(
        "/api/v1/reports/revenue", {"since": "2025-05-01", "until": "2025-04-01"}
    )
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["until"]


def test_bad_dimension_and_top_are_problems(alice: User) -> None:
    client = api_client(alice)
    assert_problem(client.get("/api/v1/reports/revenue", {"by": "colour"}), 422)
    assert_problem(client.get("/api/v1/reports/customer-effort", {"top": 0}), 422)


@pytest.mark.parametrize(
    ("path", "query", "count"),
    [
        # where the daily sales summary is read, two of them check it for pending orders
        # and stale parties; by period, the rows, total and other currencies are one
        # query, else the rows and then the totals by currency
        ("/api/v1/reports/revenue", {"by": "period"}, 5),
        ("/api/v1/reports/revenue", {"by": "product"}, 6),
        ("/api/v1/reports/customer-effort", {}, 5),
        ("/api/v1/reports/new-vs-existing", {}, 6),
    ],
)
def test_pinned_query_counts(
    path: str,
    query: dict[str, str],
    count: int,
    book: Book,
    alice: User,
    django_assert_num_queries: Any,
) -> None:
    client = api_client(alice)
    with django_assert_num_queries(count):
        # (the data replaces a query string in the path: `by` goes with it)
        assert client.get(path, RANGE | query).status_code == 200
