"""The pipeline report pages, CSV and endpoints on the book of deals (deal_helpers):
figures, the pipeline choice, access (outsider, salesperson, read-only, signed out), bad
input and query counts."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import login, page_text
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.reports.definitions import REPORT_LIST
from kehu.reports.tests.deal_helpers import Deals, book_of_deals
from kehu.reports.tests.helpers import YEAR
from kehu.reports.tests.test_views import csv_rows, url
from kehu.sales.models import Opportunity
from kehu.tenancy.models import Tenant, User

RANGE: dict[str, str] = {"since": YEAR["since"], "until": YEAR["until"]}
PIPELINE_REPORTS = [d for d in REPORT_LIST if d.pipelines]
ENDPOINTS = [
    "/api/v1/reports/pipeline-by-stage",
    "/api/v1/reports/win-rate?by=rep",
    "/api/v1/reports/lost-reasons",
    "/api/v1/reports/sales-cycle?by=pipeline",
    "/api/v1/reports/sales-cycle-distribution",
    "/api/v1/reports/time-in-stage",
]


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> Deals:
    with tenant_scope(acme.pk):
        return book_of_deals(alice, bob)


def test_every_pipeline_report_is_listed_and_opens(book: Deals, alice: User) -> None:
    client = login(alice)
    index = client.get(reverse("reports:index")).content.decode()
    assert len(PIPELINE_REPORTS) == 11
    for definition in PIPELINE_REPORTS:
        assert url(definition.slug) in index
        page = client.get(url(definition.slug), YEAR)
        assert page.status_code == 200, definition.slug
        assert 'id="report-chart-data"' in page.content.decode()


def test_pipeline_by_stage_page_and_csv(book: Deals, alice: User) -> None:
    page = login(alice).get(url("pipeline-by-stage"), YEAR).content.decode()
    assert "初步接洽" in page and "640.00" in page and 'name="pipeline"' in page
    assert "加权金额 = 金额 × 阶段赢单概率" in page  # the report's own note, not the orders'
    lines = csv_rows(login(alice).get(url("pipeline-by-stage"), {**YEAR, "format": "csv"}))
    assert lines[0] == [
        "阶段",
        "类型",
        "赢单概率 %",
        "商机数",
        "金额",
        "加权金额",
        "其他币种商机数",
    ]
    assert lines[3] == ["提案", "进行中", "60", "1", "1000.00", "600.00", "0"]
    assert lines[-1] == ["进行中合计", "", "", "2", "1400.00", "640.00", "0"]


def test_choosing_another_pipeline(book: Deals, alice: User) -> None:
    query = {**YEAR, "pipeline": str(book.renewals.pk), "format": "csv"}
    lines = csv_rows(login(alice).get(url("pipeline-by-stage"), query))
    assert [line[0] for line in lines[1:-1]] == ["续约洽谈", "续约成功", "未续约"]


def test_win_rate_by_rep_csv(book: Deals, alice: User) -> None:
    lines = csv_rows(login(alice).get(url("win-rate-by-rep"), {**YEAR, "format": "csv"}))
    assert lines[1:] == [
        ["Alice", "2", "3", "40.0", "1800.00", "800.00"],
        ["Bob", "1", "0", "100.0", "2000.00", "0.00"],
        ["合计", "3", "3", "50.0", "3800.00", "800.00"],
    ]


def test_an_unknown_pipeline_is_an_error_on_the_page(book: Deals, alice: User) -> None:
    response = login(alice).get(url("pipeline-by-stage"), {**YEAR, "pipeline": "999999"})
    assert response.status_code == 422


def test_a_salesperson_sees_only_his_deals(book: Deals, bob: User) -> None:
    page = login(bob).get(url("win-rate-by-rep"), YEAR).content.decode()
    assert "Alice" in page  # D4 is Alice's deal on Bob's party 乙: he sees it
    lines = csv_rows(login(bob).get(url("win-rate-by-rep"), {**YEAR, "format": "csv"}))
    assert lines[-1] == ["合计", "1", "1", "50.0", "2000.00", "300.00"]
    stages = csv_rows(login(bob).get(url("pipeline-by-stage"), {**YEAR, "format": "csv"}))
    assert stages[-1][3:6] == ["1", "1000.00", "600.00"]  # O2 only


def test_an_outsider_sees_none_of_the_firm(book: Deals, charlie: User) -> None:
    for definition in PIPELINE_REPORTS:
        response = login(charlie).get(url(definition.slug), YEAR)
        page = page_text(response)
        assert response.status_code == 200
        assert "初步接洽" not in page and "甲公司" not in page and "3800" not in page
    # Nor through another firm's pipeline id: it is not a choice.
    query = {**YEAR, "pipeline": str(book.new_sales.pk)}
    assert login(charlie).get(url("pipeline-by-stage"), query).status_code == 422


def test_read_only_reads_and_nobody_signed_out_does(book: Deals, dora: User) -> None:
    before = Opportunity.all_tenants.count()
    assert login(dora).get(url("time-in-stage"), YEAR).status_code == 200
    response = Client().get(url("win-rate-by-team"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert Opportunity.all_tenants.count() == before


@pytest.mark.parametrize("definition", PIPELINE_REPORTS, ids=lambda d: d.slug)
def test_every_pipeline_report_page_in_few_queries(
    definition: Any, book: Deals, alice: User, django_assert_max_num_queries: Any
) -> None:
    client = login(alice)
    # session, user, teams, staff and pipelines for the filter bar, then the report's own
    # (time in stage: the pipeline, its stages, the kept stays and those of deleted
    # parties' deals, a median a stage, the deals in the stages now)
    with django_assert_max_num_queries(11):
        assert client.get(url(definition.slug), YEAR).status_code == 200


# --- the API ---------------------------------------------------------------------------


def test_api_pipeline_by_stage(book: Deals, alice: User) -> None:
    body = api_client(alice).get("/api/v1/reports/pipeline-by-stage", RANGE).json()
    assert body["pipeline"] == "新客户销售" and body["currency"] == "CNY"
    assert body["rows"][2] == {
        "stage_id": body["rows"][2]["stage_id"],
        "stage": "提案",
        "kind": "open",
        "probability": 60,
        "deals": 1,
        "amount": "1000.00",
        "weighted": "600.00",
        "other_currency": 0,
    }
    assert (body["total"]["deals"], body["total"]["weighted"]) == (2, "640.00")


def test_api_win_rate_lost_reasons_cycle_and_distribution(book: Deals, alice: User) -> None:
    client = api_client(alice)
    teams = client.get("/api/v1/reports/win-rate", {**RANGE, "by": "team"}).json()
    assert [(r["label"], r["won"], r["lost"], r["win_rate"]) for r in teams["rows"]] == [
        ("华北", 1, 0, "100.0"),
        ("华南", 3, 3, "50.0"),
    ]
    reasons = client.get("/api/v1/reports/lost-reasons", RANGE).json()
    assert [(r["label"], r["deals"], r["share"]) for r in reasons["rows"]] == [
        ("价格", 2, "66.7"),
        ("竞品", 1, "33.3"),
    ]
    cycle = client.get("/api/v1/reports/sales-cycle", {**RANGE, "by": "rep"}).json()
    assert cycle["total"]["median_days"] == "15.0" and cycle["total"]["mean_days"] == "27.2"
    spread = client.get("/api/v1/reports/sales-cycle-distribution", RANGE).json()
    assert spread["rows"][0] == {
        "label": "0–7 天",
        "min_days": 0,
        "max_days": 7,
        "won": 0,
        "lost": 1,
    }
    assert spread["rows"][-1]["max_days"] is None


def test_api_pipeline_filter_and_time_in_stage(book: Deals, alice: User) -> None:
    client = api_client(alice)
    renewals = {**RANGE, "pipeline": str(book.renewals.pk)}
    body = client.get("/api/v1/reports/win-rate", {**renewals, "by": "pipeline"}).json()
    assert [r["label"] for r in body["rows"]] == ["续约"]
    stages = client.get("/api/v1/reports/time-in-stage", renewals).json()
    assert [r["stage"] for r in stages["rows"]] == ["续约洽谈"]


def test_api_bad_input_names_the_field(book: Deals, alice: User) -> None:
    client = api_client(alice)
    backwards = {"since": "2025-05-01", "until": "2025-04-01"}
    assert "until" in field_errors(client.get("/api/v1/reports/win-rate", backwards))
    assert_problem(client.get("/api/v1/reports/win-rate", {"by": "product"}), 422)
    assert_problem(client.get("/api/v1/reports/sales-cycle", {"by": "team"}), 422)
    unknown = client.get("/api/v1/reports/time-in-stage", {"pipeline": 999999})
    assert "pipeline" in field_errors(unknown)


def test_api_scoped_to_the_caller(book: Deals, bob: User, charlie: User) -> None:
    mine = api_client(bob).get("/api/v1/reports/win-rate", {**RANGE, "by": "rep"}).json()
    assert (mine["total"]["won"], mine["total"]["lost"]) == (1, 1)
    # Another firm's pipeline is unknown to him.
    theirs = api_client(charlie).get("/api/v1/reports/win-rate", {"pipeline": book.new_sales.pk})
    assert "pipeline" in field_errors(theirs)
    for endpoint in ENDPOINTS:
        body = api_client(charlie).get(endpoint, RANGE).json()
        text = str(body)
        assert "甲公司" not in text and "新客户销售" not in text and "Alice" not in text
