"""Movement between two scoring runs through the API: the same selectors and scope as
the pages (flows_selectors). A run that is not one of the firm's finished runs is a 422
on its field, never another firm's data."""

import datetime
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from kehu.core.pagination import Page, PageParams, page_of
from kehu.insights import flows_selectors as selectors
from kehu.insights.flows_selectors import STAGE, TIER, Group
from kehu.insights.models import ScoringRun
from kehu.parties.selectors import capped_count
from kehu.tenancy.api_auth import api_user

router = Router(tags=["insights"])


class RunsQuery(Schema):
    from_run: int | None = None
    to_run: int | None = None


class CellQuery(RunsQuery):
    source: str
    target: str


class RunOut(Schema):
    id: int
    as_of: datetime.date


class GroupOut(Schema):
    customers: int
    clp_from: Decimal
    clp_to: Decimal


class CellOut(GroupOut):
    source: str
    target: str


class MigrationSummary(Schema):
    up: GroupOut
    down: GroupOut
    stayed: GroupOut
    new: GroupOut
    out: GroupOut


class StageSummary(Schema):
    changed: GroupOut
    stayed: GroupOut
    new: GroupOut
    out: GroupOut


class MigrationOut(Schema):
    from_run: RunOut | None
    to_run: RunOut | None
    customers: int
    cells: list[CellOut]
    summary: MigrationSummary


class LifecycleFlowsOut(Schema):
    from_run: RunOut | None
    to_run: RunOut | None
    customers: int
    cells: list[CellOut]
    summary: StageSummary


class FlowCustomerOut(Schema):
    party_id: int
    name: str
    from_tier: str | None
    to_tier: str | None
    from_stage: str | None
    to_stage: str | None
    from_clp: Decimal | None
    to_clp: Decimal | None


def _pair(query: RunsQuery) -> tuple[ScoringRun, ScoringRun] | None:
    return selectors.choose_runs(query.from_run, query.to_run, selectors.finished_runs())


def _figures(request: HttpRequest, dimension: str, query: RunsQuery) -> dict[str, Any]:
    pair = _pair(query)
    if pair is None:
        kinds = ("up", "down") if dimension == TIER else ("changed",)
        empty = {k: Group() for k in (*kinds, "stayed", "new", "out")}
        return {"from_run": None, "to_run": None, "customers": 0, "cells": [], "summary": empty}
    figures = selectors.flows(api_user(request), dimension, *pair)
    return {
        "from_run": {"id": pair[0].pk, "as_of": pair[0].as_of},
        "to_run": {"id": pair[1].pk, "as_of": pair[1].as_of},
        "customers": figures.customers,
        "cells": [
            figures.cell(s, t)
            for s in figures.sources
            for t in figures.targets
            if (s, t) in figures.cells
        ],
        "summary": figures.summary,
    }


def _customers(
    request: HttpRequest, dimension: str, query: CellQuery, page: PageParams
) -> dict[str, Any]:
    pair = _pair(query)
    if pair is None:
        raise ValidationError({"to_run": _("需要至少两次已完成的评分才能比较。")})
    rows = selectors.cell_customers(api_user(request), dimension, *pair, query.source, query.target)
    # Rows as values (dicts), the fields FlowCustomerOut names.
    return page_of(cast("QuerySet[Any]", rows), page, capped_count(rows))


@router.get("/migration", response=MigrationOut)
def migration(request: HttpRequest, query: Query[RunsQuery]) -> dict[str, Any]:
    """Customers (and their CLP in both runs) per pair of value tiers, from the earlier
    run (`source`: S, A, B, C or `new`, scored only in the later run) to the later one
    (`target`: S, A, B, C or `out`, scored only in the earlier run); empty cells are left
    out. Without run ids: the latest finished run and the one closest to three months
    before it; nulls when the firm has fewer than two finished runs."""
    return _figures(request, TIER, query)


@router.get("/migration/customers", response=Page[FlowCustomerOut])
def migration_customers(
    request: HttpRequest, query: Query[CellQuery], page: Query[PageParams]
) -> dict[str, Any]:
    """The customers of one migration cell, the highest CLP first."""
    return _customers(request, TIER, query, page)


@router.get("/lifecycle-flows", response=LifecycleFlowsOut)
def lifecycle_flows(request: HttpRequest, query: Query[RunsQuery]) -> dict[str, Any]:
    """As /migration, by lifecycle stage (exploration, formation, stability, decline)."""
    return _figures(request, STAGE, query)


@router.get("/lifecycle-flows/customers", response=Page[FlowCustomerOut])
def lifecycle_customers(
    request: HttpRequest, query: Query[CellQuery], page: Query[PageParams]
) -> dict[str, Any]:
    """The customers of one lifecycle flow, the highest CLP first."""
    return _customers(request, STAGE, query, page)
