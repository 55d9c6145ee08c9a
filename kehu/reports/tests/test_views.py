"""The report pages and CSV: figures, access, scoping, bad input, pinned query counts."""

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import login, page_text
from kehu.core.context import tenant_scope
from kehu.parties import services as parties
from kehu.reports.definitions import REPORT_LIST
from kehu.reports.tests.helpers import YEAR, Book, book_of_business
from kehu.sales import services as sales
from kehu.sales.models import Product
from kehu.tenancy.models import Tenant, User


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> Book:
    with tenant_scope(acme.pk):
        return book_of_business(alice, bob)


def url(slug: str) -> str:
    return reverse("reports:report", args=[slug])


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))


def test_index_lists_every_report(book: Book, alice: User) -> None:
    page = login(alice).get(reverse("reports:index")).content.decode()
    for definition in REPORT_LIST:
        assert url(definition.slug) in page


def test_revenue_by_period_page_shows_chart_data_table_and_total(book: Book, alice: User) -> None:
    response = login(alice).get(url("revenue-by-period"), YEAR)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="report-chart-data"' in page and "data-chart=" in page
    assert "940.00" in page and "36.2" in page  # the total row
    assert "USD" in page  # listed apart


@pytest.mark.parametrize("definition", REPORT_LIST, ids=lambda d: d.slug)
def test_every_report_page_in_few_queries(
    definition: Any, book: Book, alice: User, django_assert_max_num_queries: Any
) -> None:
    client = login(alice)
    # session, user, teams and staff for the filter bar, then the report's own queries
    # (those read from the daily sales summary first check it for pending orders and
    # stale parties)
    with django_assert_max_num_queries(12):
        assert client.get(url(definition.slug), YEAR).status_code == 200


@pytest.mark.parametrize(
    ("slug", "count"), [("revenue-by-period", 8), ("customer-effort", 8), ("new-vs-existing", 9)]
)
def test_pinned_query_counts(
    slug: str, count: int, book: Book, alice: User, django_assert_num_queries: Any
) -> None:
    client = login(alice)
    with django_assert_num_queries(count):
        client.get(url(slug), YEAR)


def test_a_salesperson_sees_his_own_figures_and_no_rep_filter(book: Book, bob: User) -> None:
    page = page_text(login(bob).get(url("revenue-by-rep"), YEAR))
    assert "300.00" in page and "940.00" not in page and "Alice" not in page
    assert 'name="rep"' not in page


def test_an_outsider_sees_none_of_the_firm(book: Book, charlie: User) -> None:
    for definition in REPORT_LIST:
        page = page_text(login(charlie).get(url(definition.slug), YEAR))
        assert "940" not in page and "甲公司" not in page


def test_read_only_colleague_reads_and_nobody_signed_out_does(book: Book, dora: User) -> None:
    assert login(dora).get(url("revenue-by-team"), YEAR).status_code == 200
    response = Client().get(url("revenue-by-team"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_unknown_report_is_404(alice: User) -> None:
    assert login(alice).get(url("no-such-report")).status_code == 404


def test_until_before_since_is_an_error_on_the_page(alice: User) -> None:
    query = {"preset": "custom", "since": "2025-05-01", "until": "2025-04-01"}
    response = login(alice).get(url("revenue-by-period"), query)
    assert response.status_code == 422
    assert "结束日期不能早于开始日期" in response.content.decode()


def test_csv_has_the_table_with_totals_and_neutralised_text(
    book: Book, acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        evil = parties.party_create(
            actor=alice, kind="organisation", name="戊公司", source="=HYPERLINK(1)"
        )
        book_sale(alice, evil)
    response = login(alice).get(url("revenue-by-channel"), {**YEAR, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = csv_rows(response)
    assert lines[0] == ["来源渠道", "订单数", "收入", "成本", "毛利", "毛利率 %"]
    assert ["'=HYPERLINK(1)", "1", "100.00", "60.00", "40.00", "40.0"] in lines
    assert lines[-1] == ["合计", "4", "1040.00", "660.00", "380.00", "36.5"]


def book_sale(alice: User, party: Any) -> None:
    chair = Product.objects.get(code="CH-1")
    sales.order_create(
        actor=alice,
        party=party,
        lines=[sales.LineIn(chair, Decimal(1))],
        order_date=datetime.date(2025, 4, 1),
        status="confirmed",
    )
