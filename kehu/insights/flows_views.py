"""The pages of movement between two scoring runs: tier migration, lifecycle flows, and
the customers behind each of their cells (see flows_selectors)."""

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.web import render_page
from kehu.insights import flows_selectors as selectors
from kehu.insights.flows_selectors import NEW, OUT, STAGE, TIER, Flows
from kehu.insights.models import LifecycleStage, ScoringRun, ValueTier
from kehu.parties.selectors import capped_count
from kehu.parties.views import page_number, paginate
from kehu.tenancy.views import MemberRequest, member_required

PAGES = {
    TIER: ("insights_firm:migration", "insights_firm:migration_customers", "migration"),
    STAGE: ("insights_firm:lifecycle_flows", "insights_firm:lifecycle_customers", "flows"),
}


def label(dimension: str, value: str | None) -> str:
    """A tier's or stage's name, or "new" / "out"; "—" for none."""
    if value == NEW:
        return _("新增客户")
    if value == OUT:
        return _("流出客户")
    if not value:
        return "—"
    choices = ValueTier if dimension == TIER else LifecycleStage
    return str(choices(value).label)


def run_label(run: ScoringRun) -> str:
    return _("%(day)s 的评分（%(customers)s 位客户）") % {
        "day": run.as_of.isoformat(),
        "customers": run.customers_scored,
    }


def cell_url(figures: Flows, source: str, target: str) -> str:
    query = {
        "from_run": figures.earlier.pk,
        "to_run": figures.later.pk,
        "source": source,
        "target": target,
    }
    return f"{reverse(PAGES[figures.dimension][1])}?{urlencode(query)}"


def matrix(figures: Flows) -> list[dict[str, Any]]:
    """The table: a row per earlier value (and "new"), a cell per later value (and "out")."""
    rows = []
    for source in figures.sources:
        cells = []
        for target in figures.targets:
            cell = figures.cell(source, target)
            possible = (source, target) != (NEW, OUT)
            url = cell_url(figures, source, target) if possible and cell.customers else ""
            kind = figures.kind(cell) if possible else ""
            cells.append({"cell": cell, "url": url, "possible": possible, "kind": kind})
        rows.append({"label": label(figures.dimension, source), "cells": cells})
    return rows


def heatmap(figures: Flows) -> dict[str, Any]:
    """Customers per cell; a click opens the cell's customers."""
    data = [
        {
            "value": [x, y, figures.cell(source, target).customers],
            "url": cell_url(figures, source, target),
        }
        for y, source in enumerate(figures.sources)
        for x, target in enumerate(figures.targets)
        if figures.cell(source, target).customers
    ]
    return {
        "kind": "heatmap",
        "x": [label(figures.dimension, t) for t in figures.targets],
        "y": [label(figures.dimension, s) for s in figures.sources],
        "x_name": _("较晚一次评分"),
        "y_name": _("较早一次评分"),
        "data": data,
    }


def sankey(figures: Flows) -> dict[str, Any]:
    """Earlier stages (and "new") on the left, later ones (and "out") on the right."""
    links = [
        {
            "source": f"from:{cell.source}",
            "target": f"to:{cell.target}",
            "value": cell.customers,
            "url": cell_url(figures, cell.source, cell.target),
        }
        for cell in figures.cells.values()
    ]
    used = {link["source"] for link in links} | {link["target"] for link in links}
    nodes = [
        {"name": f"{side}:{value}", "text": label(STAGE, value)}
        for side, values in (("from", figures.sources), ("to", figures.targets))
        for value in values
        if f"{side}:{value}" in used
    ]
    return {"kind": "sankey", "nodes": nodes, "links": links}


def _runs_chosen(
    request: MemberRequest,
) -> tuple[list[ScoringRun], tuple[ScoringRun, ScoringRun] | None, dict[str, list[str]]]:
    runs = selectors.finished_runs()
    try:
        pair = selectors.choose_runs(request.GET.get("from_run"), request.GET.get("to_run"), runs)
    except ValidationError as exc:
        return runs, None, exc.message_dict
    return runs, pair, {}


def _flows_page(request: MemberRequest, dimension: str) -> HttpResponse:
    runs, pair, errors = _runs_chosen(request)
    context: dict[str, Any] = {
        "nav": "insights",
        "tab": PAGES[dimension][2],
        "tier": dimension == TIER,
        "runs": [(r.pk, run_label(r)) for r in runs],
        "errors": errors,
        "figures": None,
        # What the pickers show: the runs compared, else what was asked for.
        "chosen_from": str(pair[0].pk) if pair else request.GET.get("from_run", ""),
        "chosen_to": str(pair[1].pk) if pair else request.GET.get("to_run", ""),
    }
    if pair is not None:
        figures = selectors.flows(request.user, dimension, *pair)
        context.update(
            figures=figures,
            earlier=pair[0],
            later=pair[1],
            matrix=matrix(figures),
            columns=[label(dimension, t) for t in figures.targets],
            summary=[(kind, group) for kind, group in figures.summary.items()],
            chart=heatmap(figures) if dimension == TIER else sankey(figures),
        )
    return render_page(request, "insights/firm/flows.html", context, status=422 if errors else 200)


@member_required
def migration(request: MemberRequest) -> HttpResponse:
    return _flows_page(request, TIER)


@member_required
def lifecycle_flows(request: MemberRequest) -> HttpResponse:
    return _flows_page(request, STAGE)


def _with_labels(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "from_stage": label(STAGE, row["from_stage"]),
        "to_stage": label(STAGE, row["to_stage"]),
    }


def _cell_page(request: MemberRequest, dimension: str) -> HttpResponse:
    _runs, pair, errors = _runs_chosen(request)
    source, target = request.GET.get("source", ""), request.GET.get("target", "")
    context: dict[str, Any] = {
        "nav": "insights",
        "tab": PAGES[dimension][2],
        "back": reverse(PAGES[dimension][0]),
        "dimension": dimension,
        "errors": errors,
        "page": None,
    }
    if pair is not None:
        try:
            rows = selectors.cell_customers(request.user, dimension, *pair, source, target)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            earlier, later = pair
            query = urlencode({"from_run": earlier.pk, "to_run": later.pk})
            page = paginate(rows, page_number(request), capped_count(rows))
            context.update(
                page=replace(page, rows=[_with_labels(row) for row in page.rows]),
                earlier=earlier,
                later=later,
                back=f"{context['back']}?{query}",
                source=label(dimension, source),
                target=label(dimension, target),
            )
    elif not errors:
        errors["to_run"] = [_("需要至少两次已完成的评分才能比较。")]
    return render_page(
        request, "insights/firm/flow_customers.html", context, status=422 if errors else 200
    )


@member_required
def migration_customers(request: MemberRequest) -> HttpResponse:
    return _cell_page(request, TIER)


@member_required
def lifecycle_customers(request: MemberRequest) -> HttpResponse:
    return _cell_page(request, STAGE)
