"""Writes of customer value: settings, scoring runs, stage overrides and win-back tasks.

A scoring run reads the booked orders of the firm's current customers in bulk (one raw
query into numpy arrays), scores them in `kehu.insights.scoring` and writes one
CustomerScore per customer with `BulkWriter`, in batches, updating the run's progress.
The new rows become the latest only when every batch is written, in one transaction, so
pages never show half a run. Scoring never changes a party (its relationship state is
the people's call).
"""

import contextvars
import datetime
import functools
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.activities.selectors import party_effort
from kehu.activities.services import task_create
from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.bulk import BulkWriter, sqlite_pragma
from kehu.core.columns import read_records
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.insights import btyd, scoring, selectors
from kehu.insights.models import (
    CustomerScore,
    InsightSettings,
    LifecycleStage,
    RunStatus,
    ScoringMethod,
    ScoringRun,
    StageOverride,
    WinBackAction,
)
from kehu.parties.models import Party, RelationshipState
from kehu.sales.models import BOOKED, Order, OrderKind, OrderLine, Product
from kehu.tenancy.models import User

log = logging.getLogger(__name__)

SETTINGS_FIELDS = (
    "horizon_months",
    "annual_discount_rate",
    "default_margin",
    "weight_longevity",
    "weight_scale",
    "weight_efficiency",
    "share_s",
    "share_a",
    "share_b",
    "churn_alive_threshold",
    "churn_trend_threshold",
    "winback_due_days",
    "nightly",
    "task_hours",
    "staff_hour_cost",
)
# Scored customers: those who buy now, and those won back.
SCORED_STATES = (RelationshipState.CURRENT, RelationshipState.WON_BACK)
# Score rows a transaction: the two CLP indexes take a run's rows at random places, so
# every commit writes most of their pages again; fewer, larger commits write them less
# often (a million rows: 20 commits, not 200).
WRITE_BATCH = 50_000
# SQLite: the page cache of the run's connection while it writes (KiB); the CLP indexes
# of a million rows are about 60 MB and the default 64 MiB cache also holds the table.
WRITE_CACHE_KIB = 256 * 1024
READ_BATCH = 100_000
EPOCH = datetime.date(1970, 1, 1)
# A run queued or running for longer than this died with its worker: another may start.
STALE_RUN = datetime.timedelta(hours=2)
MONEY_LIMIT = 999_999_999_999.0


@transaction.atomic
def insight_settings_update(*, actor: User, **changes: object) -> InsightSettings:
    rule = selectors.insight_settings()
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(rule, SETTINGS_FIELDS) if rule.pk else {}
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.full_clean(exclude=["tenant"])
    if rule.share_s + rule.share_a + rule.share_b >= 100:
        raise ValidationError({"share_b": _("S、A、B 类占比之和必须小于 100%，其余为 C 类。")})
    if rule.share_s <= 0 or rule.share_a <= 0 or rule.share_b <= 0:
        raise ValidationError({"share_s": _("每个等级的占比都必须大于 0。")})
    if rule.weight_longevity + rule.weight_scale + rule.weight_efficiency <= 0:
        raise ValidationError({"weight_longevity": _("三项权重不能都为 0。")})
    rule.save()
    changed = diff(before, snapshot(rule, SETTINGS_FIELDS))
    if changed:
        action = AuditEntry.Action.UPDATE if before else AuditEntry.Action.CREATE
        audit_write(actor_id=actor.pk, action=action, obj=rule, changes=changed)
    return rule


def _config(rule: InsightSettings) -> scoring.Config:
    return scoring.Config(
        horizon_months=rule.horizon_months,
        annual_discount_rate=float(rule.annual_discount_rate) / 100,
        default_margin=float(rule.default_margin) / 100,
        weight_longevity=float(rule.weight_longevity),
        weight_scale=float(rule.weight_scale),
        weight_efficiency=float(rule.weight_efficiency),
        share_s=rule.share_s / 100,
        share_a=rule.share_a / 100,
        share_b=rule.share_b / 100,
        churn_alive_threshold=rule.churn_alive_threshold / 100,
        churn_trend_threshold=rule.churn_trend_threshold / 100,
    )


class RunInProgress(ValidationError):
    """A scoring run of the firm is queued or running already."""


@transaction.atomic
def scoring_run_start(
    *, actor: User | None, as_of: datetime.date | None = None, enqueue: bool = True
) -> ScoringRun:
    """Queue a scoring of every current customer (the task runs it after commit)."""
    recent = timezone.now() - STALE_RUN
    busy = ScoringRun.objects.select_for_update().filter(
        status__in=(RunStatus.QUEUED, RunStatus.RUNNING), created_at__gte=recent
    )
    if busy.exists():
        raise RunInProgress(_("评分正在进行中，请等它完成后再试。"))
    run = ScoringRun.objects.create(
        as_of=as_of or timezone.localdate(), triggered_by=actor, status=RunStatus.QUEUED
    )
    audit_write(
        actor_id=actor.pk if actor else None,
        action=AuditEntry.Action.CREATE,
        obj=run,
        changes={"as_of": [None, run.as_of.isoformat()]},
    )
    if enqueue:
        from kehu.insights.tasks import scoring_run_task  # the task module imports this one

        tenant_id, run_id = current_tenant_id(), run.pk
        transaction.on_commit(lambda: scoring_run_task.enqueue(tenant_id, run_id))
    return run


def _progress(run: ScoringRun, progress: int, **fields: Any) -> None:
    run.progress = progress
    for name, value in fields.items():
        setattr(run, name, value)
    ScoringRun.objects.filter(pk=run.pk).update(progress=progress, **fields)


def scoring_run_execute(*, run: ScoringRun) -> ScoringRun:
    """Score the firm now as of the run's day; the run says how it went."""
    _progress(run, 1, status=RunStatus.RUNNING, started_at=timezone.now())
    try:
        _score(run)
    except Exception as exc:
        log.exception("scoring run %s failed", run.pk)
        CustomerScore.objects.filter(run=run).delete()
        _progress(
            run,
            run.progress,
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            message=_("评分失败：%(error)s") % {"error": exc},
        )
        raise
    return run


def scoring_run_now(*, actor: User | None, as_of: datetime.date | None = None) -> ScoringRun:
    """Start and execute a run in this process (nightly job, demo, command line)."""
    run = scoring_run_start(actor=actor, as_of=as_of, enqueue=False)
    return scoring_run_execute(run=run)


def day_number(day: datetime.date) -> int:
    return (day - EPOCH).days


def _customer_ids() -> np.ndarray[Any, np.dtype[np.int64]]:
    ids = (
        Party.objects.filter(relationship_state__in=SCORED_STATES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return np.fromiter(ids.iterator(chunk_size=READ_BATCH), dtype=np.int64)


@functools.cache
def _tenant_index_hint(table: str) -> str:
    """SQLite: read a tenant's rows through the index on tenant_id alone.

    Its entries are in rowid order, so the rows are then read from the table in order;
    through an index on (tenant, status, date) the planner would rather pick, each row
    is a random look-up, ten times slower for millions of rows. PostgreSQL plans this
    well by itself: no hint."""
    if connection.vendor != "sqlite":
        return ""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    for name, info in constraints.items():
        if info["index"] and info["columns"] == ["tenant_id"] and not info["unique"]:
            return f'INDEXED BY "{name}"'
    return ""


# An order's party and day travel as one integer, party × 2^25 + (day + 2^21) × 4 + flags:
# one value fewer a row through the driver (a fifth of the read). 2^21 days either side
# of 1970 hold every date Django can store; party ids up to 2^38 fit in the 63 bits.
_DAY_BITS = 25
_DAY_OFFSET = 1 << 21
_MAX_PACKED_PARTY = 1 << (63 - _DAY_BITS)
# An order line's order and product ids travel as one integer while they fit in this many
# bits together.
_PACKED_LINE_BITS = 62


def _order_sql(*, packed: bool) -> str:
    """Booked orders: party and day × 4 + 2 if a return + 1 if its cost is known (a return
    on its original's day), packed into one integer or as two; id, revenue, profit.
    Orders of parties that are not scored are dropped by `scoring.history`."""
    order = Order._meta.db_table
    # A return's original is looked up for returns alone: a join to the table for every
    # order made PostgreSQL hash all of its orders first.
    date = (
        "CASE WHEN o.original_id IS NULL THEN o.order_date ELSE coalesce("  # noqa: S608
        f'(SELECT orig.order_date FROM "{order}" orig WHERE orig.id = o.original_id), '
        "o.order_date) END"
    )
    if connection.vendor == "postgresql":
        day = f"(({date}) - DATE '1970-01-01')"
        num = "{}::float8"
    else:
        day = f"CAST(julianday({date}) - 2440587.5 AS INTEGER)"
        num = "CAST({} AS REAL)"
    flags = (
        "CASE WHEN o.kind = %s THEN 2 ELSE 0 END "
        "+ CASE WHEN o.cost <> 0 OR o.revenue = 0 THEN 1 ELSE 0 END"
    )
    day_flags = f"({day} + {_DAY_OFFSET}) * 4 + {flags}"
    if packed:
        who = _int8(f"o.party_id * {1 << _DAY_BITS} + {day_flags}")
    else:
        who = f"{_int8('o.party_id')}, {_int8(day_flags)}"
    return (
        f"SELECT {who}, {_int8('o.id')}, {num.format('o.revenue')}, {num.format('o.profit')} "  # noqa: S608
        f'FROM "{order}" o {_tenant_index_hint(order)} '
        "WHERE o.tenant_id = %s AND o.status IN (%s, %s) AND o.order_date <= %s"
    )


def _int8(expression: str) -> str:
    """An integer column as PostgreSQL's binary COPY must send it to `read_records`."""
    return f"({expression})::int8" if connection.vendor == "postgresql" else expression


def _largest_id(model: type[Party | Order | Product]) -> int:
    """The largest id of any firm's rows: a bound on ids, no firm's data (the end of the
    primary key's index; a tenant-scoped max would read the firm's whole index)."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT max(id) FROM "{model._meta.db_table}"')  # noqa: S608
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


@dataclass(frozen=True)
class _Booked:
    """The booked orders as scoring reads them, and each one's id (for its lines)."""

    orders: scoring.Orders
    ids: np.ndarray[Any, np.dtype[np.int64]]


def _read_orders(as_of: datetime.date) -> _Booked:
    """Chunk by chunk into compact columns, then joined column by column: the driver's
    rows of a chunk and the columns of all orders are never held twice."""
    packed = _largest_id(Party) < _MAX_PACKED_PARTY
    fields = [("party", "i8")] if packed else [("party", "i8"), ("day", "i8")]
    fields += [("id", "i8"), ("revenue", "f8"), ("profit", "f8")]
    params: list[Any] = [OrderKind.RETURN, current_tenant_id(), *sorted(BOOKED), as_of]
    columns: dict[str, list[np.ndarray[Any, Any]]] = {
        name: [] for name in ("party", "day", "flags", "id", "revenue", "profit")
    }
    for chunk in read_records(connection, _order_sql(packed=packed), params, fields):
        day = chunk["party"] & ((1 << _DAY_BITS) - 1) if packed else chunk["day"]
        columns["party"].append(chunk["party"] >> _DAY_BITS if packed else chunk["party"])
        columns["day"].append((day // 4 - _DAY_OFFSET).astype(np.int32))
        columns["flags"].append((day & 3).astype(np.int8))
        for name in ("id", "revenue", "profit"):
            columns[name].append(chunk[name].copy())
        del chunk, day
    empty = {"party": "i8", "day": "i4", "flags": "i1", "id": "i8", "revenue": "f8"}
    joined = {}
    for name in list(columns):
        parts = columns.pop(name)
        joined[name] = np.concatenate(parts) if parts else np.zeros(0, empty.get(name, "f8"))
        del parts
    flags = joined["flags"]
    return _Booked(
        scoring.Orders(
            party=joined["party"],
            day=joined["day"],
            revenue=joined["revenue"],
            profit=joined["profit"],
            cost_known=(flags & 1) > 0,
            is_return=(flags & 2) > 0,
        ),
        joined["id"],
    )


def _category_counts(
    customer_ids: np.ndarray[Any, np.dtype[np.int64]], booked: _Booked
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """How many product categories each customer has bought (a product without a
    category counts as its own; a return is no purchase). The lines are read alone, in
    table order, and placed on their orders here: joining each line to its order in
    the database is a look-up per line, and a COUNT(DISTINCT …) GROUP BY sorts them.
    Each line becomes one integer, customer × categories + category; the distinct ones
    are found by sorting them (np.unique took twenty times longer on ten million)."""
    counts = np.zeros(customer_ids.size)
    orders = booked.orders
    sale = ~orders.is_return
    who, known = scoring.positions(customer_ids, orders.party[sale])
    order_ids = booked.ids[sale][known]
    who = who[known]
    del sale, known
    if not customer_ids.size or not order_ids.size:
        return counts
    if not (order_ids[1:] > order_ids[:-1]).all():  # read in table order: sorted as a rule
        by_id = np.argsort(order_ids, kind="stable")
        order_ids, who = order_ids[by_id], who[by_id]
        del by_id
    products = Product.objects.values_list("id", "category_id")
    category = {pk: (cat if cat is not None else -pk) for pk, cat in products}
    ids = np.fromiter(category.keys(), dtype=np.int64, count=len(category))
    kinds = np.fromiter(category.values(), dtype=np.int64, count=len(category))
    order_of = np.argsort(ids)
    ids, kinds = ids[order_of], kinds[order_of]
    # Each product's category as a small number.
    categories, dense = np.unique(kinds, return_inverse=True)
    width, last = categories.size, max(ids.size - 1, 0)
    line = OrderLine._meta.db_table
    # Order and product as one integer, order × 2^bits + product, while both fit: one
    # value a line through the driver instead of two.
    bits = max(_largest_id(Product).bit_length(), 1)
    packed = _largest_id(Order).bit_length() + bits <= _PACKED_LINE_BITS
    if packed:
        what, fields = _int8(f"order_id * {1 << bits} + product_id"), [("key", "i8")]
    else:
        what = f"{_int8('order_id')}, {_int8('product_id')}"
        fields = [("order", "i8"), ("product", "i8")]
    sql = (
        f'SELECT {what} FROM "{line}" {_tenant_index_hint(line)} '  # noqa: S608
        "WHERE tenant_id = %s"
    )
    chunks: list[np.ndarray[Any, Any]] = []
    for records in read_records(connection, sql, [current_tenant_id()], fields):
        if packed:
            keys = records["key"]
            line_order, line_product = keys >> bits, keys & ((1 << bits) - 1)
        else:
            line_order, line_product = records["order"], records["product"]
        del records
        # Lines of orders that were not read (not booked, later, returns, other
        # parties') drop out.
        pos = np.clip(np.searchsorted(order_ids, line_order), 0, order_ids.size - 1)
        hit = order_ids[pos] == line_order
        cat = dense[np.clip(np.searchsorted(ids, line_product[hit]), 0, last)]
        chunks.append(who[pos[hit]] * width + cat)
    if not chunks:
        return counts
    keys = np.concatenate(chunks)
    del chunks
    keys.sort()
    distinct = keys[np.r_[True, keys[1:] != keys[:-1]]] // width
    counts += np.bincount(distinct, minlength=customer_ids.size)
    return counts


def _staff_hours(
    customer_ids: np.ndarray[Any, np.dtype[np.int64]], as_of: datetime.date
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Staff hours spent on each customer in the year up to the scoring day (人效)."""
    since = as_of - datetime.timedelta(days=scoring.YEAR - 1)
    effort = party_effort(None, since=since, until=as_of + datetime.timedelta(days=1))
    hours = np.zeros(customer_ids.size)
    if not customer_ids.size:
        return hours
    for party_id, months in effort.items():
        pos = int(np.searchsorted(customer_ids, party_id))
        if pos < customer_ids.size and customer_ids[pos] == party_id:
            hours[pos] = sum(m.total_minutes for m in months) / 60
    return hours


def _fallback_message(result: scoring.Result) -> str:
    counts = result.fallback_counts
    customers, repeat = counts.get("customers", 0), counts.get("repeat", 0)
    if customers < btyd.MIN_CUSTOMERS or repeat < btyd.MIN_REPEAT_CUSTOMERS:
        return _(
            "数据太少，无法拟合模型：有购买记录的客户 %(n)s 位（至少需要 %(min_n)s 位），"
            "其中重复购买的 %(r)s 位（至少需要 %(min_r)s 位）。本次按简单的 RFM 规则估算"
            "存活概率和客户当前价值。"
        ) % {
            "n": customers,
            "min_n": btyd.MIN_CUSTOMERS,
            "r": repeat,
            "min_r": btyd.MIN_REPEAT_CUSTOMERS,
        }
    return _("模型未能拟合（%(why)s），本次按简单的 RFM 规则估算。") % {
        "why": result.fallback_reason
    }


class _Clock:
    """Seconds per stage of a run, kept with its parameters (how long scoring takes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = self._start = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now

    def total(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.perf_counter() - self._start, 3)}


def _score(run: ScoringRun) -> None:
    clock = _Clock()
    rule = selectors.insight_settings()
    config = _config(rule)
    as_of = run.as_of
    customer_ids = _customer_ids()
    booked = _read_orders(as_of)
    orders = booked.orders
    # Current customers without a booked order yet have nothing to score.
    pos, known = scoring.positions(customer_ids, orders.party)
    buying = np.zeros(customer_ids.size, dtype=bool)
    buying[pos[known]] = True
    del pos, known
    without_orders = int(customer_ids.size - buying.sum())
    customer_ids = customer_ids[buying]
    del buying
    clock.mark("read_orders")
    _progress(run, 20)
    categories = _category_counts(customer_ids, booked)
    del booked
    hours = _staff_hours(customer_ids, as_of)
    clock.mark("read_categories_and_hours")
    _progress(run, 30)
    with _database_memory_released():
        result = scoring.score_customers(
            customer_ids,
            orders,
            categories=categories,
            staff_hours=hours,
            as_of=day_number(as_of),
            config=config,
        )
    del orders  # the write needs only the result
    clock.mark("model")
    _progress(run, 50)
    messages = []
    if result.method == ScoringMethod.RFM:
        messages.append(_fallback_message(result))
    if without_orders:
        messages.append(
            _("%(n)s 位现实客户还没有已确认的订单，未参与评分。") % {"n": without_orders}
        )
    _write_scores(run, result, config)
    clock.mark("write_scores")
    # Marking the run done publishes its scores (selectors.published_run).
    with transaction.atomic():
        clock.mark("publish")
        parameters = {
            **result.parameters,
            "settings": snapshot(rule, SETTINGS_FIELDS),
            "seconds": clock.total(),
        }
        _progress(
            run,
            100,
            status=RunStatus.DONE,
            finished_at=timezone.now(),
            customers_scored=int(customer_ids.size),
            method=result.method,
            parameters=parameters,
            message="\n".join(messages),
        )


SCORE_FIELDS = (
    "run_id",
    "party_id",
    "as_of",
    "frequency",
    "orders_count",
    "recency_days",
    "tenure_days",
    "revenue_total",
    "profit_total",
    "revenue_last_year",
    "category_count",
    "staff_hours",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "p_alive",
    "expected_purchases",
    "expected_profit_per_purchase",
    "current_value",
    "growth_potential",
    "clp",
    "longevity_score",
    "scale_score",
    "efficiency_score",
    "value_score",
    "tier",
    "frequency_trend",
    "value_trend",
    "inferred_stage",
    "lifecycle_stage",
    "stage_reasons",
    "churn_risk",
)
# The fields taken straight from the result's columns, in order.
_RESULT_FIELDS = SCORE_FIELDS[3 : SCORE_FIELDS.index("inferred_stage")]
# The result's columns as written; money
# rounded to the cent, shares to 4 places.
_INT = ("frequency", "orders_count", "recency_days", "tenure_days")
_MONEY = ("revenue_total", "profit_total", "revenue_last_year")
_PLAIN = ("category_count", "staff_hours", "rfm_recency", "rfm_frequency", "rfm_monetary")
_SHARE = ("p_alive", "expected_purchases")
_VALUE = ("expected_profit_per_purchase", "current_value", "growth_potential", "clp")
_SCORES = ("longevity_score", "scale_score", "efficiency_score", "value_score")


def _column_lists(c: dict[str, np.ndarray[Any, Any]]) -> dict[str, list[Any]]:
    """Each column as a plain Python list, rounded: numpy scalars do not go to drivers."""
    out: dict[str, list[Any]] = {}
    for name in _INT:
        out[name] = c[name].astype(np.int64).tolist()
    for name in (*_MONEY, *_VALUE):
        out[name] = np.round(np.clip(c[name], -MONEY_LIMIT, MONEY_LIMIT), 2).tolist()
    # CLP is the sum of its parts as shown, to the cent.
    parts = zip(out["current_value"], out["growth_potential"], strict=True)
    out["clp"] = [round(a + b, 2) for a, b in parts]
    out["category_count"] = c["category_count"].astype(np.int64).tolist()
    out["staff_hours"] = np.round(c["staff_hours"], 2).tolist()
    for name in ("rfm_recency", "rfm_frequency", "rfm_monetary"):
        out[name] = c[name].astype(np.int64).tolist()
    for name in (*_SHARE, *_SCORES, "frequency_trend", "value_trend", "churn_risk"):
        out[name] = np.round(c[name], 4).tolist()
    for name in ("tier", "inferred_stage", "stage_rule"):
        out[name] = c[name].astype(str).tolist()
    out["purchase_days"] = c["purchase_days"].astype(np.int64).tolist()
    out["had_before"] = c["had_before"].astype(bool).tolist()
    return out


def stage_thresholds(config: scoring.Config) -> dict[str, float]:
    return {
        "exploration_days": scoring.EXPLORATION_DAYS,
        "stability_days": scoring.STABILITY_DAYS,
        "stability_purchase_days": scoring.STABILITY_PURCHASE_DAYS,
        "rising": scoring.RISING,
        "one_time_stale_days": scoring.ONE_TIME_STALE_DAYS,
        "alive": config.churn_alive_threshold,
        "trend": config.churn_trend_threshold,
    }


def _reasons_json(c: dict[str, list[Any]], thresholds: dict[str, float]) -> list[str]:
    """Each row's stage reasons (rule, signals, thresholds) as JSON text. The shape is
    fixed and the values are numbers, booleans and known rule codes, so formatting it
    is safe, and five times cheaper than json.dumps of a dict per row."""
    tail = json.dumps(thresholds)
    rules = {rule: json.dumps(rule) for rule in set(c["stage_rule"])}
    columns = (
        "stage_rule",
        "tenure_days",
        "purchase_days",
        "recency_days",
        "frequency_trend",
        "value_trend",
        "had_before",
        "p_alive",
    )
    return [
        (
            f'{{"rule": {rules[rule]}, "signals": {{"tenure_days": {tenure}, '
            f'"purchase_days": {days}, "recency_days": {recency}, '
            f'"frequency_trend": {frequency!r}, "value_trend": {value!r}, '
            f'"had_before": {"true" if had else "false"}, "p_alive": {alive!r}}}, '
            f'"thresholds": {tail}}}'
        )
        for rule, tenure, days, recency, frequency, value, had, alive in zip(
            *(c[name] for name in columns), strict=True
        )
    ]


def _rows(
    run: ScoringRun,
    columns: dict[str, np.ndarray[Any, Any]],
    party_ids: list[int],
    overrides: dict[int, str],
    thresholds: dict[str, float],
) -> Iterator[tuple[Any, ...]]:
    """Score rows of some customers, their column lists zipped: no Python work per row
    and field. Every value is as the database takes it (the day as ISO text, the
    reasons as JSON text): BulkWriter converts nothing."""
    c = _column_lists(columns)
    inferred = c["inferred_stage"]
    stages = [overrides.get(pk, stage) for pk, stage in zip(party_ids, inferred, strict=True)]
    return zip(
        repeat(run.pk),
        party_ids,
        repeat(run.as_of.isoformat()),
        *(c[name] for name in _RESULT_FIELDS),
        inferred,
        stages,
        _reasons_json(c, thresholds),
        c["churn_risk"],
    )


@contextmanager
def _database_memory_released(db: BaseDatabaseWrapper = connection) -> Iterator[None]:
    """SQLite: while the block runs, this connection maps no part of the database file
    and holds no cached pages (the model stage reads nothing from it, and the mapping's
    pages count in the process's memory at its peak); the mapping's size afterwards.
    Other databases: nothing."""
    with sqlite_pragma("mmap_size", 0, db):
        if db.vendor == "sqlite":
            with db.cursor() as cursor:
                cursor.execute("PRAGMA shrink_memory")
        yield


def _write_cache() -> AbstractContextManager[None]:
    """SQLite: a larger page cache for this connection while the block runs, so that the
    index pages a batch touches are still in memory when the next batch touches them
    again; the connection's own size afterwards. Other databases: nothing."""
    return sqlite_pragma("cache_size", -WRITE_CACHE_KIB)


def _parallel_write() -> bool:
    """PostgreSQL outside a transaction (the nightly job, a run on demand): a second
    connection writes half of the rows beside the run's own, so the server's work (a
    row's parsing and its seven index entries, most of the write) runs on two cores.
    The rows are nobody's until the run is marked done, so two writers change nothing a
    reader sees. Inside a transaction (tests) a second connection would not see the
    run's uncommitted row: one writer."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _write_scores(run: ScoringRun, result: scoring.Result, config: scoring.Config) -> None:
    """The rows batch by batch, each made from its slice of the result's columns: the
    columns of a million customers as Python lists would be a gigabyte. On PostgreSQL
    two connections write a half each (`_parallel_write`). (Making SQLite's next batch
    in a thread while it wrote this one was tried: no gain, SQLite's own work is the
    write's cost.)"""
    tenant_id = current_tenant_id()
    overrides = selectors.overridden_stages()
    thresholds = stage_thresholds(config)
    total = result.customer_ids.size
    failed = threading.Event()

    def batch(start: int) -> list[tuple[Any, ...]]:
        stop = min(start + WRITE_BATCH, total)
        part = {name: values[start:stop] for name, values in result.columns.items()}
        party_ids = result.customer_ids[start:stop].tolist()
        return list(_rows(run, part, party_ids, overrides, thresholds))

    def write(begin: int, end: int, *, report: bool) -> None:
        writer = BulkWriter(tenant_id, timezone.now())
        start = begin
        while start < end and not failed.is_set():
            rows = batch(start)
            stop = min(start + WRITE_BATCH, end)
            with transaction.atomic():
                writer.insert(CustomerScore, SCORE_FIELDS, rows, prepared=True)
            del rows
            if report:
                _progress(run, 50 + int(49 * (stop - begin) / (end - begin)))
            start = stop

    def other_half(begin: int) -> None:
        try:
            write(begin, total, report=False)
        except Exception:
            failed.set()
            raise
        finally:
            connections.close_all()  # this thread's own connection

    with _write_cache():
        if not _parallel_write() or total <= WRITE_BATCH:
            write(0, total, report=True)
            return
        # Whole batches each; the half written here reports the progress.
        half = -(-total // (2 * WRITE_BATCH)) * WRITE_BATCH
        with ThreadPoolExecutor(max_workers=1) as second:
            theirs = second.submit(contextvars.copy_context().run, other_half, half)
            try:
                write(0, half, report=True)
            except Exception:
                failed.set()
                raise
            theirs.result()


# --- Lifecycle stage overrides ----------------------------------------------------------


@transaction.atomic
def stage_override_set(*, actor: User, party: Party, stage: str, reason: str) -> StageOverride:
    """A manager sets a customer's stage ("" returns it to the inferred one), saying why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("请说明调整生命周期阶段的原因。")})
    if stage and stage not in LifecycleStage.values:
        raise ValidationError({"stage": _("未知的生命周期阶段：%(stage)s") % {"stage": stage}})
    before = selectors.current_override(party)
    override = StageOverride.objects.create(
        party=party, stage=stage, reason=reason[:500], created_by=actor
    )
    latest = selectors.published_scores().filter(party=party).first()
    if latest is not None:
        latest.lifecycle_stage = stage or latest.inferred_stage
        latest.save(update_fields=["lifecycle_stage"])
    audit_write(
        actor_id=actor.pk,
        action=AuditEntry.Action.STATE,
        obj=override,
        root=party,
        changes={"lifecycle_stage": [before.stage if before else "", stage], "reason": reason},
    )
    return override


# --- Win-back ---------------------------------------------------------------------------


@dataclass
class WinBackOutcome:
    created: list[WinBackAction]
    skipped: list[tuple[Party, str]]  # the party and why no task was made


def _reasons_note(score: CustomerScore | None) -> str:
    if score is None:
        return ""
    return _(
        "存活概率 %(p)s%%，客户全生命周期利润 %(clp)s，购买频率趋势 %(f)s%%，价值趋势 %(v)s%%。"
    ) % {
        "p": round(score.p_alive * 100),
        "clp": score.clp,
        "f": round(score.frequency_trend * 100),
        "v": round(score.value_trend * 100),
    }


@transaction.atomic
def win_back_tasks_create(*, actor: User, parties: Sequence[Party]) -> WinBackOutcome:
    """A win-back task for each party's owner, unless one is open already."""
    rule = selectors.insight_settings()
    due = timezone.localdate() + datetime.timedelta(days=rule.winback_due_days)
    open_ids = selectors.open_win_back_party_ids([p.pk for p in parties])
    scores = {s.party_id: s for s in selectors.published_scores().filter(party__in=parties)}
    outcome = WinBackOutcome([], [])
    for party in parties:
        if party.pk in open_ids:
            outcome.skipped.append((party, _("已有未完成的挽回任务")))
            continue
        try:
            with transaction.atomic():
                task = task_create(
                    actor=actor,
                    title=(_("挽回客户：%(name)s") % {"name": party.name})[:200],
                    due_date=due,
                    assignee=party.owner,
                    party=party,
                    note=_reasons_note(scores.get(party.pk)),
                )
                action = WinBackAction.objects.create(
                    party=party, task=task, score=scores.get(party.pk), created_by=actor
                )
        except ValidationError as exc:
            outcome.skipped.append((party, " ".join(exc.messages)))
            continue
        open_ids.add(party.pk)
        outcome.created.append(action)
    return outcome
