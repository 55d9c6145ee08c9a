"""The pipeline reports' figures through the API: the same selectors and cells as the
pages (definitions). Every member may call them, over the deals they may report on."""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from kehu.reports import pipeline_selectors as pipeline
from kehu.reports.api import query_filters, range_fields
from kehu.reports.definitions import (
    cycle_cells,
    lost_reason_cells,
    stage_cells,
    stage_time_cells,
    win_rate_cells,
)
from kehu.reports.pipeline_schemas import (
    CycleDistributionOut,
    CycleQuery,
    CycleReportOut,
    GroupedQuery,
    LostReasonReportOut,
    PipelineByStageOut,
    PipelineQuery,
    TimeInStageOut,
    WinRateReportOut,
)
from kehu.reports.selectors import ReportFilters
from kehu.sales.models import Pipeline
from kehu.tenancy.api_auth import api_user

router = Router(tags=["reports"])


def _deal_filters(query: PipelineQuery) -> ReportFilters:
    if query.pipeline is not None and not Pipeline.objects.filter(pk=query.pipeline).exists():
        raise ValidationError({"pipeline": _("没有找到这个销售流程。")})
    return query_filters(query, pipeline_id=query.pipeline)


def _keyed(cells: dict[str, Any]) -> dict[str, Any]:
    key = cells.get("key")
    return {**cells, "key": None if key is None else str(key)}


def _stage_row(row: pipeline.StageRow) -> dict[str, Any]:
    cells = stage_cells(row)
    stage = row.stage
    return {**cells, "stage_id": cells["key"], "stage": stage.name, "kind": stage.kind}


@router.get("/reports/pipeline-by-stage", response=PipelineByStageOut)
def pipeline_by_stage(request: HttpRequest, query: Query[PipelineQuery]) -> dict[str, Any]:
    """Each stage of the pipeline (the default one unless `pipeline` is given): its open
    deals today, with amount and weighted amount; the won and lost stages: the deals
    closed in the range."""
    filters = _deal_filters(query)
    report = pipeline.pipeline_by_stage(api_user(request), filters)
    total = _stage_row(report.total()) | {"stage_id": None, "kind": "open", "probability": None}
    return {
        **range_fields(filters),
        "pipeline_id": report.pipeline.pk if report.pipeline else None,
        "pipeline": report.pipeline.name if report.pipeline else "",
        "rows": [_stage_row(row) for row in report.rows],
        "total": total,
    }


@router.get("/reports/win-rate", response=WinRateReportOut)
def win_rate(request: HttpRequest, query: Query[GroupedQuery]) -> dict[str, Any]:
    """Won ÷ (won + lost) of the deals closed in the range, `by` period, rep, team or
    pipeline, with the numbers and amounts won and lost."""
    filters = _deal_filters(query)
    report = pipeline.win_rate(api_user(request), filters, query.by)
    return {
        **range_fields(filters),
        "by": query.by,
        "rows": [_keyed(win_rate_cells(row)) for row in report.rows],
        "total": _keyed(win_rate_cells(report.total)),
    }


def _reason(cells: dict[str, Any]) -> dict[str, Any]:
    return {**cells, "reason_id": cells["key"]}


@router.get("/reports/lost-reasons", response=LostReasonReportOut)
def lost_reasons(request: HttpRequest, query: Query[PipelineQuery]) -> dict[str, Any]:
    """The deals lost in the range by reason, most frequent first."""
    filters = _deal_filters(query)
    report = pipeline.lost_reasons(api_user(request), filters)
    return {
        **range_fields(filters),
        "rows": [_reason(lost_reason_cells(row)) for row in report.rows],
        "total": _reason(lost_reason_cells(report.total)),
    }


@router.get("/reports/sales-cycle", response=CycleReportOut)
def sales_cycle(request: HttpRequest, query: Query[CycleQuery]) -> dict[str, Any]:
    """Days from a deal's creation to its close, median and mean, `by` period, rep or
    pipeline, for the deals closed in the range."""
    filters = _deal_filters(query)
    report = pipeline.sales_cycle(api_user(request), filters, query.by)
    return {
        **range_fields(filters),
        "by": query.by,
        "rows": [_keyed(cycle_cells(row)) for row in report.rows],
        "total": _keyed(cycle_cells(report.total)),
    }


@router.get("/reports/sales-cycle-distribution", response=CycleDistributionOut)
def sales_cycle_distribution(request: HttpRequest, query: Query[PipelineQuery]) -> dict[str, Any]:
    """The deals closed in the range, by how many days they took (0–7, 8–14, …)."""
    filters = _deal_filters(query)
    buckets = pipeline.cycle_distribution(api_user(request), filters)
    rows = [
        {"label": b.label, "min_days": b.low, "max_days": b.high, "won": b.won, "lost": b.lost}
        for b in buckets
    ]
    return {**range_fields(filters), "rows": rows}


@router.get("/reports/time-in-stage", response=TimeInStageOut)
def time_in_stage(request: HttpRequest, query: Query[PipelineQuery]) -> dict[str, Any]:
    """How long deals stay in each open stage of the pipeline, from the stage history."""
    filters = _deal_filters(query)
    report = pipeline.time_in_stage(api_user(request), filters)
    rows = [
        {**stage_time_cells(row), "stage_id": row.stage.pk, "stage": row.stage.name}
        for row in report.rows
    ]
    return {
        **range_fields(filters),
        "pipeline_id": report.pipeline.pk if report.pipeline else None,
        "pipeline": report.pipeline.name if report.pipeline else "",
        "rows": rows,
    }
