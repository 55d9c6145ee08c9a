"""How customers moved between two finished scoring runs: from value tier to value tier
(migration, 等级迁移) and from lifecycle stage to stage (flows, 生命周期流转).

Both are one grouped query (`flows_sql`): the two runs' score rows joined on party and
counted per (earlier, later) pair. A party scored only in the later run is "new"; one
scored only in the earlier run is "out" (churned, or no longer a current customer).
Scope as the Pareto page (firm_selectors.scores_in_scope): a salesperson sees his own
customers' moves only."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from kehu.insights.firm_selectors import ZERO, scores_in_scope
from kehu.insights.models import (
    TIER_ORDER,
    CustomerScore,
    LifecycleStage,
    RunStatus,
    ScoringRun,
)
from kehu.tenancy.models import User

NEW = "new"  # scored only in the later run
OUT = "out"  # scored only in the earlier run
TIER = "tier"
STAGE = "lifecycle_stage"
# The values of each dimension, in the order the pages show them (tiers from the top).
ORDERS: dict[str, tuple[str, ...]] = {
    TIER: tuple(t.value for t in TIER_ORDER),
    STAGE: tuple(s.value for s in LifecycleStage),
}
# The earlier run the pages pick by default: the one closest to this long before the later.
DEFAULT_GAP = datetime.timedelta(days=91)
CENTS = Decimal("0.01")


def finished_runs() -> list[ScoringRun]:
    """The firm's finished runs, the latest first (the choices of both pickers)."""
    runs = ScoringRun.objects.filter(status=RunStatus.DONE)
    return list(runs.order_by("-as_of", "-created_at", "-id"))


def _default_earlier(later: ScoringRun, runs: list[ScoringRun]) -> ScoringRun | None:
    """Among the runs before `later`, the one closest to three months before it (the
    later one of two equally close)."""
    before = runs[runs.index(later) + 1 :]
    target = later.as_of - DEFAULT_GAP
    return min(before, key=lambda r: abs((r.as_of - target).days), default=None)


def _given(value: Any) -> bool:
    return value not in (None, "")


def _run_named(value: Any, runs: list[ScoringRun]) -> ScoringRun | None:
    by_pk = {r.pk: r for r in runs}
    try:
        return by_pk.get(int(value))
    except (TypeError, ValueError):
        return None


def choose_runs(
    from_run: Any, to_run: Any, runs: list[ScoringRun]
) -> tuple[ScoringRun, ScoringRun] | None:
    """The (earlier, later) runs named, or the defaults for those left empty: the latest
    run, and the one closest to three months before it. None when the firm has fewer
    than two finished runs and none were named. A run that is not one of `runs` (not
    the firm's, not finished, not a number), the same run twice, or an earlier run that
    is not before the later one: ValidationError on the field (both fields when both
    are wrong)."""
    if not _given(from_run) and not _given(to_run) and len(runs) < 2:
        return None
    unknown = _("没有这次评分：请选择本公司一次已完成的评分。")
    named = {"from_run": from_run, "to_run": to_run}
    found = {name: _run_named(value, runs) for name, value in named.items() if _given(value)}
    errors = {name: [unknown] for name, run in found.items() if run is None}
    if errors:
        raise ValidationError(errors)
    later = found.get("to_run") or runs[0]
    earlier = found.get("from_run") or _default_earlier(later, runs)
    if earlier is None:
        raise ValidationError({"from_run": _("这次评分之前没有已完成的评分，无法比较。")})
    if earlier.pk == later.pk:
        raise ValidationError({"to_run": _("请选择两次不同的评分。")})
    if runs.index(earlier) < runs.index(later):
        raise ValidationError({"from_run": _("较早的评分须在较晚的评分之前。")})
    return earlier, later


@dataclass(frozen=True)
class Cell:
    source: str  # a tier or stage in the earlier run, or NEW
    target: str  # a tier or stage in the later run, or OUT
    customers: int = 0
    clp_from: Decimal = ZERO  # their CLP in the earlier run
    clp_to: Decimal = ZERO  # and in the later one

    @property
    def clp(self) -> Decimal:
        """What the cell is worth: the later CLP, or the earlier one of those gone."""
        return self.clp_from if self.target == OUT else self.clp_to


@dataclass(frozen=True)
class Group:
    """A sum of cells (moved up, stayed, …)."""

    customers: int = 0
    clp_from: Decimal = ZERO
    clp_to: Decimal = ZERO

    def plus(self, cell: Cell) -> "Group":
        return Group(
            self.customers + cell.customers,
            self.clp_from + cell.clp_from,
            self.clp_to + cell.clp_to,
        )


@dataclass(frozen=True)
class Flows:
    dimension: str  # TIER or STAGE
    earlier: ScoringRun
    later: ScoringRun
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)  # the non-empty ones

    @property
    def sources(self) -> tuple[str, ...]:
        return (*ORDERS[self.dimension], NEW)

    @property
    def targets(self) -> tuple[str, ...]:
        return (*ORDERS[self.dimension], OUT)

    def cell(self, source: str, target: str) -> Cell:
        return self.cells.get((source, target)) or Cell(source, target)

    @property
    def customers(self) -> int:
        return sum(c.customers for c in self.cells.values())

    def kind(self, cell: Cell) -> str:
        """up, down or stayed (a tier's move; a stage only stays or changes), new, out."""
        if cell.source == NEW:
            return "new"
        if cell.target == OUT:
            return "out"
        if cell.source == cell.target:
            return "stayed"
        if self.dimension != TIER:
            return "changed"
        order = ORDERS[TIER]
        return "up" if order.index(cell.target) < order.index(cell.source) else "down"

    @property
    def summary(self) -> dict[str, Group]:
        kinds = ("up", "down") if self.dimension == TIER else ("changed",)
        groups = {k: Group() for k in (*kinds, "stayed", "new", "out")}
        for cell in self.cells.values():
            kind = self.kind(cell)
            groups[kind] = groups[kind].plus(cell)
        return groups


def _money(value: Any) -> Decimal:
    """A SUM as the database driver gives it (a float or int on SQLite) → cents."""
    return ZERO if value is None else Decimal(str(value)).quantize(CENTS)


def flows_sql(
    user: User, dimension: str, earlier: ScoringRun, later: ScoringRun
) -> tuple[str, tuple[Any, ...]]:
    """The one statement behind `flows`: the later run's visible scores (through
    score_run_idx) left-joined on party to the earlier run's (through the party's index
    on tenant, party, as_of), grouped per pair; then, grouped per earlier value, the
    earlier run's visible scores with no later one (out)."""

    def visible_rows(run: ScoringRun) -> tuple[str, tuple[Any, ...]]:
        # as_of too: where the visible parties lead (a salesperson's), each one's row
        # is then found at once in (tenant, party, as_of), not among all its runs.
        rows = scores_in_scope(user).filter(run_id=run.pk, as_of=run.as_of).order_by()
        sql, params = rows.values("party_id", dimension, "clp").query.sql_with_params()
        return sql, tuple(params)

    connection = connections[CustomerScore.objects.db]
    table = connection.ops.quote_name(CustomerScore._meta.db_table)
    if dimension not in ORDERS:
        raise ValueError(dimension)
    column = connection.ops.quote_name(dimension)  # the field and its column are one name
    later_rows, later_params = visible_rows(later)
    earlier_rows, earlier_params = visible_rows(earlier)
    # Django's own SQL for the visible rows, with its parameters kept apart, and names
    # from the model: nothing of the request is pasted in.
    sql = (
        f"SELECT e.{column}, l.{column}, COUNT(*), SUM(e.clp), SUM(l.clp) "  # noqa: S608
        f"FROM ({later_rows}) l LEFT JOIN {table} e ON e.tenant_id = %s "
        "AND e.party_id = l.party_id AND e.as_of = %s AND e.run_id = %s "
        f"GROUP BY e.{column}, l.{column} "
        f"UNION ALL SELECT e.{column}, NULL, COUNT(*), SUM(e.clp), NULL "
        f"FROM ({earlier_rows}) e WHERE NOT EXISTS (SELECT 1 FROM {table} l "
        "WHERE l.tenant_id = %s AND l.party_id = e.party_id AND l.as_of = %s "
        f"AND l.run_id = %s) GROUP BY e.{column}"
    )
    params = (
        *later_params,
        *(earlier.tenant_id, connection.ops.adapt_datefield_value(earlier.as_of), earlier.pk),
        *earlier_params,
        *(later.tenant_id, connection.ops.adapt_datefield_value(later.as_of), later.pk),
    )
    return sql, params


def flows(user: User, dimension: str, earlier: ScoringRun, later: ScoringRun) -> Flows:
    """Every (earlier, later) pair of `dimension` (TIER or STAGE) with its customers and
    their CLP in both runs, in one query (flows_sql)."""
    sql, params = flows_sql(user, dimension, earlier, later)
    with connections[CustomerScore.objects.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    cells = {}
    for source, target, customers, clp_from, clp_to in rows:
        cell = Cell(source or NEW, target or OUT, customers, _money(clp_from), _money(clp_to))
        cells[cell.source, cell.target] = cell
    return Flows(dimension, earlier, later, cells)


def check_cell(dimension: str, source: str, target: str) -> None:
    """A cell of the matrix, else ValidationError on `source` or `target`."""
    if source not in (*ORDERS[dimension], NEW):
        raise ValidationError(
            {
                "source": _("没有这个起点：应为以下之一：%(choices)s。")
                % {"choices": ", ".join((*ORDERS[dimension], NEW))}
            }
        )
    if target not in (*ORDERS[dimension], OUT) or (source, target) == (NEW, OUT):
        raise ValidationError(
            {
                "target": _("没有这个终点：应为以下之一：%(choices)s。")
                % {"choices": ", ".join((*ORDERS[dimension], OUT))}
            }
        )


def cell_customers(
    user: User, dimension: str, earlier: ScoringRun, later: ScoringRun, source: str, target: str
) -> "QuerySet[CustomerScore, dict[str, Any]]":
    """The customers behind one cell, as values: party, name, tier, stage and CLP in
    each run (None where the run did not score them), the highest CLP first."""
    check_cell(dimension, source, target)

    def score_in(run: ScoringRun, **match: str) -> QuerySet[CustomerScore]:
        # as_of too: the party's index (tenant, party, as_of) then finds the row at once.
        return CustomerScore.objects.filter(
            run_id=run.pk, as_of=run.as_of, party_id=OuterRef("party_id"), **match
        )

    scope = scores_in_scope(user)
    if target == OUT:
        rows = scope.filter(run_id=earlier.pk, **{dimension: source})
        rows = rows.filter(~Exists(score_in(later)))
        here, there = "from", "to"
        other = later
    else:
        rows = scope.filter(run_id=later.pk, **{dimension: target})
        if source == NEW:
            rows = rows.filter(~Exists(score_in(earlier)))
        else:
            rows = rows.filter(Exists(score_in(earlier, **{dimension: source})))
        here, there = "to", "from"
        other = earlier
    annotations = {
        f"{here}_tier": F("tier"),
        f"{here}_stage": F("lifecycle_stage"),
        f"{here}_clp": F("clp"),
        **{
            f"{there}_{name}": Subquery(score_in(other).values(column)[:1])
            for name, column in (("tier", "tier"), ("stage", "lifecycle_stage"), ("clp", "clp"))
        },
    }
    listed: QuerySet[CustomerScore, dict[str, Any]] = (
        rows.annotate(name=F("party__name"), **annotations)
        .values("party_id", "name", *annotations)
        .order_by("-clp", "id")
    )
    return listed
