"""Scoring runs, history, overrides and win-back tasks, through the services."""

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from kehu.activities.models import Task, TaskStatus
from kehu.activities.services import task_set_status
from kehu.core.bulk import BulkWriter
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.insights import selectors, services
from kehu.insights.models import CustomerScore, RunStatus, ScoringRun, StageOverride
from kehu.insights.tests.conftest import AS_OF
from kehu.parties.models import Party
from kehu.sales.models import BOOKED, Order, Product, ProductCategory
from kehu.tenancy.models import Tenant, User


def latest(party: Party) -> CustomerScore:
    return selectors.published_scores().get(party=party)


def test_five_customers_are_scored_by_rfm_rules_and_the_run_says_why(
    scored: ScoringRun, firm: dict[str, Party], in_acme: None
) -> None:
    assert scored.status == RunStatus.DONE and scored.progress == 100
    assert scored.method == "rfm"
    assert scored.customers_scored == 5
    assert "数据太少，无法拟合模型" in scored.message
    assert "5 位" in scored.message
    scores = {s.party.name: s for s in CustomerScore.objects.select_related("party")}
    assert len(scores) == 5
    assert sum(1 for s in scores.values() if s.tier == "S") == 1
    for s in scores.values():
        assert s.clp == s.current_value + s.growth_potential
        assert 0 <= s.p_alive <= 1 and 0 <= s.churn_risk <= 1
    assert scores["甲公司"].lifecycle_stage == "formation"  # 2 years are not yet 730 days
    assert scores["乙公司"].lifecycle_stage == "decline"
    assert scores["乙公司"].stage_reasons["rule"] == "one_time_stale"
    assert scores["丙公司"].lifecycle_stage == "decline"
    assert scores["戊公司"].lifecycle_stage == "exploration"


def test_a_run_keeps_how_long_each_stage_took(scored: ScoringRun) -> None:
    seconds = scored.parameters["seconds"]
    stages = [
        "read_orders",
        "read_categories_and_hours",
        "model",
        "write_scores",
        "publish",
    ]
    assert list(seconds) == [*stages, "total"]
    assert all(seconds[stage] >= 0 for stage in stages)
    assert seconds["total"] >= sum(seconds[stage] for stage in stages) - 0.01


def test_returns_and_zero_value_orders(
    scored: ScoringRun, firm: dict[str, Party], in_acme: None
) -> None:
    d = latest(firm["丁公司"])
    # 4 chairs at 100 less one returned; a free sample: two purchase days, two orders.
    assert d.revenue_total == 300
    assert d.profit_total == 120
    assert d.orders_count == 2
    assert d.stage_reasons["signals"]["purchase_days"] == 2


def test_scoring_keeps_history_and_leaves_parties_alone(
    scored: ScoringRun, firm: dict[str, Party], alice: User, in_acme: None
) -> None:
    before = list(Party.objects.order_by("pk").values_list("relationship_state", "updated_at"))
    second = services.scoring_run_now(actor=alice, as_of=AS_OF + datetime.timedelta(days=30))
    assert CustomerScore.objects.count() == 10
    assert selectors.published_scores().count() == 5
    assert set(selectors.published_scores().values_list("run", flat=True)) == {second.pk}
    history = selectors.party_scores(firm["甲公司"])
    assert [s.as_of for s in history] == [second.as_of, AS_OF]
    assert [s.is_latest for s in history] == [True, False]
    after = list(Party.objects.order_by("pk").values_list("relationship_state", "updated_at"))
    assert after == before


def test_a_second_run_waits_for_the_first(alice: User, in_acme: None) -> None:
    services.scoring_run_start(actor=alice, enqueue=False)
    with pytest.raises(services.RunInProgress):
        services.scoring_run_start(actor=alice, enqueue=False)


def test_a_queued_run_is_executed_by_its_task(
    firm: dict[str, Party], alice: User, acme: Tenant, django_capture_on_commit_callbacks: object
) -> None:
    with tenant_scope(acme.pk), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        run = services.scoring_run_start(actor=alice, as_of=AS_OF)
    with tenant_scope(acme.pk):
        run.refresh_from_db()
        assert run.status == RunStatus.DONE
        assert CustomerScore.objects.filter(run=run).count() == 5


def test_stage_override_is_audited_and_kept_by_the_next_run(
    scored: ScoringRun, firm: dict[str, Party], alice: User, in_acme: None
) -> None:
    party = firm["乙公司"]
    services.stage_override_set(
        actor=alice, party=party, stage="stability", reason="年度框架合同，每年一次"
    )
    assert latest(party).lifecycle_stage == "stability"
    assert latest(party).inferred_stage == "decline"
    entry = AuditEntry.objects.get(object_type="insights.stageoverride")
    assert entry.actor == alice and entry.root_id == party.pk
    assert entry.changes["lifecycle_stage"] == ["", "stability"]
    services.scoring_run_now(actor=alice, as_of=AS_OF + datetime.timedelta(days=1))
    assert latest(party).lifecycle_stage == "stability"
    services.stage_override_set(actor=alice, party=party, stage="", reason="合同到期")
    assert latest(party).lifecycle_stage == "decline"
    assert StageOverride.objects.count() == 2


def test_an_override_needs_a_reason(
    scored: ScoringRun, firm: dict[str, Party], alice: User, in_acme: None
) -> None:
    with pytest.raises(ValidationError):
        services.stage_override_set(actor=alice, party=firm["甲公司"], stage="decline", reason=" ")
    assert StageOverride.objects.count() == 0


def test_win_back_list_and_one_open_task_per_party(
    scored: ScoringRun, firm: dict[str, Party], alice: User, in_acme: None
) -> None:
    listed = list(selectors.win_back_list(alice))
    names = [s.party.name for s in listed]
    assert "乙公司" in names and "丙公司" in names and "戊公司" not in names
    assert [s.clp for s in listed] == sorted((s.clp for s in listed), reverse=True)
    party = firm["乙公司"]
    outcome = services.win_back_tasks_create(actor=alice, parties=[party])
    task = outcome.created[0].task
    assert task.party == party and task.assignee == party.owner and task.status == "open"
    again = services.win_back_tasks_create(actor=alice, parties=[party])
    assert again.created == [] and len(again.skipped) == 1
    task_set_status(actor=alice, task=task, status=TaskStatus.DONE)
    third = services.win_back_tasks_create(actor=alice, parties=[party])
    assert len(third.created) == 1
    assert Task.objects.filter(party=party).count() == 2


def test_settings_check_shares_and_are_audited(alice: User, in_acme: None) -> None:
    with pytest.raises(ValidationError):
        services.insight_settings_update(actor=alice, share_s=50, share_a=30, share_b=20)
    rule = services.insight_settings_update(actor=alice, share_s=10, horizon_months=24)
    assert rule.share_c == 45
    assert AuditEntry.objects.filter(object_type="insights.insightsettings").count() == 1


def test_settings_change_the_result(firm: dict[str, Party], alice: User, in_acme: None) -> None:
    services.scoring_run_now(actor=alice, as_of=AS_OF)
    long = latest(firm["甲公司"]).current_value
    services.insight_settings_update(actor=alice, horizon_months=12)
    services.scoring_run_now(actor=alice, as_of=AS_OF + datetime.timedelta(days=1))
    assert 0 < latest(firm["甲公司"]).current_value < long


def test_the_orders_as_read_for_scoring(firm: dict[str, Party], in_acme: None) -> None:
    orders = services._read_orders(AS_OF).orders
    ding = orders.party == firm["丁公司"].pk
    rows = sorted(
        zip(
            (AS_OF - services.EPOCH).days - orders.day[ding],
            orders.revenue[ding],
            orders.profit[ding],
            orders.cost_known[ding],
            orders.is_return[ding],
            strict=True,
        )
    )
    # The return is dated on its original's day (80 days ago), with its minus signs; the
    # free sample has no cost, and needs none: its revenue is 0.
    assert [tuple(map(float, row[:3])) + tuple(map(bool, row[3:])) for row in rows] == [
        (80.0, -100.0, -40.0, True, True),
        (80.0, 400.0, 160.0, True, False),
        (90.0, 0.0, 0.0, True, False),
    ]
    # Another firm's orders are not read.
    assert set(orders.party.tolist()) == {p.pk for p in firm.values()}


def test_orders_read_the_same_with_party_and_day_as_two_columns(
    firm: dict[str, Party], monkeypatch: pytest.MonkeyPatch, in_acme: None
) -> None:
    """Party ids too large to share an integer with the day are read as two columns."""
    packed = services._read_orders(AS_OF)
    monkeypatch.setattr(services, "_MAX_PACKED_PARTY", 0)
    plain = services._read_orders(AS_OF)
    booked = Order.objects.filter(status__in=BOOKED, order_date__lte=AS_OF).count()
    assert packed.ids.size == plain.ids.size == booked > 0
    for name in ("party", "day", "revenue", "profit", "cost_known", "is_return"):
        assert getattr(packed.orders, name).tolist() == getattr(plain.orders, name).tolist()
    assert packed.ids.tolist() == plain.ids.tolist()


def test_category_breadth_counts_categories_and_each_product_without_one(
    firm: dict[str, Party], alice: User, in_acme: None
) -> None:
    def breadth() -> dict[str, int]:
        run = services.scoring_run_now(actor=alice, as_of=AS_OF)
        rows = CustomerScore.objects.filter(run=run).values_list("party__name", "category_count")
        return dict(rows)

    # Chair and desk have no category: each counts as its own. A return is no purchase.
    assert breadth() == {"甲公司": 2, "乙公司": 1, "丙公司": 1, "丁公司": 2, "戊公司": 1}
    furniture = ProductCategory.objects.create(name="家具")
    Product.objects.filter(code__in=["CH", "DK"]).update(category=furniture)
    assert breadth() == {"甲公司": 1, "乙公司": 1, "丙公司": 1, "丁公司": 2, "戊公司": 1}


def test_the_customers_read_for_scoring_are_the_firms_current_ones_in_id_order(
    firm: dict[str, Party], alice: User, charlie: User, other: Tenant, in_acme: None
) -> None:
    with tenant_scope(other.pk):
        stranger = Party.objects.create(
            owner=charlie, kind="organisation", name="外公司", relationship_state="current"
        )
    lead = Party.objects.create(
        owner=alice, kind="organisation", name="潜在公司", relationship_state="potential"
    )
    ids = services._customer_ids()
    assert ids.dtype == np.int64
    assert ids.tolist() == sorted(p.pk for p in firm.values())
    assert stranger.pk not in ids.tolist() and lead.pk not in ids.tolist()


def test_category_breadth_does_not_depend_on_the_order_the_orders_were_read_in(
    firm: dict[str, Party], monkeypatch: pytest.MonkeyPatch, in_acme: None
) -> None:
    booked = services._read_orders(AS_OF)
    customers = np.array(sorted(p.pk for p in firm.values()), dtype=np.int64)
    in_order = services._category_counts(customers, booked)
    # The orders backwards (their ids no longer sorted): the lines must still find them.
    o = booked.orders
    backwards = services._Booked(
        type(o)(*(getattr(o, f.name)[::-1] for f in dataclasses.fields(o))), booked.ids[::-1]
    )
    assert (np.diff(backwards.ids) < 0).any()
    assert services._category_counts(customers, backwards).tolist() == in_order.tolist()
    # Order and product ids too large to share an integer: read as two columns, alike.
    monkeypatch.setattr(services, "_PACKED_LINE_BITS", 0)
    assert services._category_counts(customers, booked).tolist() == in_order.tolist()
    names = [p.name for p in sorted(firm.values(), key=lambda p: p.pk)]
    by_name = dict(zip(names, in_order.tolist(), strict=True))
    assert by_name == {"甲公司": 2, "乙公司": 1, "丙公司": 1, "丁公司": 2, "戊公司": 1}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's file mapping")
def test_the_model_stage_maps_no_database_file_and_the_mapping_comes_back(
    tmp_path: Path, db: None
) -> None:
    settings = {
        **connection.settings_dict,
        "NAME": str(tmp_path / "mapped.sqlite3"),
        "OPTIONS": {"init_command": "PRAGMA mmap_size=1048576;"},
    }
    other = SQLiteWrapper(settings, alias="mapped")

    def mapped() -> int:
        with other.cursor() as cursor:
            cursor.execute("PRAGMA mmap_size")
            return int(cursor.fetchone()[0])

    try:
        assert mapped() == 1048576
        with services._database_memory_released(other):
            assert mapped() == 0
        assert mapped() == 1048576
    finally:
        other.close()


def test_stage_reasons_are_written_as_json_of_the_rows_own_signals(
    scored: ScoringRun, in_acme: None
) -> None:
    thresholds = services.stage_thresholds(services._config(selectors.insight_settings()))
    for score in CustomerScore.objects.filter(run=scored):
        reasons = score.stage_reasons
        assert set(reasons) == {"rule", "signals", "thresholds"}
        assert reasons["thresholds"] == thresholds
        signals = reasons["signals"]
        assert (signals["tenure_days"], signals["recency_days"]) == (
            score.tenure_days,
            score.recency_days,
        )
        assert signals["p_alive"] == pytest.approx(score.p_alive)
        assert signals["frequency_trend"] == pytest.approx(score.frequency_trend)
        assert isinstance(signals["had_before"], bool) and isinstance(reasons["rule"], str)


T = TypeVar("T")


def _score_rows(run: ScoringRun) -> list[tuple[object, ...]]:
    fields = [f for f in services.SCORE_FIELDS if f not in ("run_id", "as_of")]
    return list(CustomerScore.objects.filter(run=run).order_by("party_id").values_list(*fields))


def _scored_twice(
    alice: User, monkeypatch: pytest.MonkeyPatch, note: Callable[[BulkWriter], T]
) -> tuple[ScoringRun, ScoringRun, list[T]]:
    """A run written in one batch, then one in batches of two customers; `note` of the
    writer at each insert of the second run, in order."""
    one = services.scoring_run_now(actor=alice, as_of=AS_OF)
    noted: list[T] = []
    insert = BulkWriter.insert

    def noting_insert(writer: BulkWriter, *args: Any, **kwargs: Any) -> None:
        noted.append(note(writer))
        insert(writer, *args, **kwargs)

    monkeypatch.setattr(BulkWriter, "insert", noting_insert)
    monkeypatch.setattr(services, "WRITE_BATCH", 2)
    many = services.scoring_run_now(actor=alice, as_of=AS_OF)
    return one, many, noted


def test_rows_written_in_many_batches_equal_those_written_in_one(
    firm: dict[str, Party], alice: User, monkeypatch: pytest.MonkeyPatch, in_acme: None
) -> None:
    """Batches of two customers (three commits for five) write the same rows as one
    batch, and the connection's page cache is its own size again after the run."""
    from django.db import connection

    def cache_size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return int(cursor.fetchone()[0])

    sqlite = connection.vendor == "sqlite"
    before = cache_size() if sqlite else None
    one, many, seen = _scored_twice(
        alice, monkeypatch, lambda writer: cache_size() if sqlite else None
    )
    assert many.status == RunStatus.DONE and many.progress == 100
    assert len(seen) == 3
    assert len(_score_rows(many)) == 5
    assert _score_rows(many) == _score_rows(one)
    if sqlite:
        assert seen == [-services.WRITE_CACHE_KIB] * 3
        assert cache_size() == before != -services.WRITE_CACHE_KIB


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgresql_writes_with_two_connections(
    firm: dict[str, Party], alice: User, monkeypatch: pytest.MonkeyPatch, in_acme: None
) -> None:
    """Committed (as the nightly job runs): on PostgreSQL a second connection writes
    the second half of the batches, on SQLite one connection writes them all; the rows
    are those of a run written in one batch."""
    import threading

    one, many, writers = _scored_twice(
        alice, monkeypatch, lambda writer: (threading.get_ident(), id(writer.connection))
    )
    assert many.status == RunStatus.DONE and many.progress == 100
    assert len(writers) == 3
    expected = 2 if connection.vendor == "postgresql" else 1
    assert len(set(writers)) == expected
    # The run's own connection writes the first half (two batches of five rows).
    from django.db import connections

    assert writers[0][1] == id(connections["default"])
    assert _score_rows(many) == _score_rows(one)


@pytest.mark.django_db(transaction=True)
def test_a_failing_writer_fails_the_run_and_leaves_no_rows(
    firm: dict[str, Party], alice: User, monkeypatch: pytest.MonkeyPatch, in_acme: None
) -> None:
    """The third batch (the second writer's on PostgreSQL) fails: the run fails, the
    other writer stops, and none of the run's rows stay."""
    insert = BulkWriter.insert
    calls: list[int] = []

    def failing_insert(writer: BulkWriter, model: Any, *args: Any, **kwargs: Any) -> None:
        if model is CustomerScore:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("disk full")
        insert(writer, model, *args, **kwargs)

    monkeypatch.setattr(BulkWriter, "insert", failing_insert)
    monkeypatch.setattr(services, "WRITE_BATCH", 1)
    with pytest.raises(RuntimeError, match="disk full"):
        services.scoring_run_now(actor=alice, as_of=AS_OF)
    run = ScoringRun.objects.get()
    assert run.status == RunStatus.FAILED and "disk full" in run.message
    assert not CustomerScore.objects.filter(run=run).exists()
    # Five batches of one: the writers stopped at the failure (the first writer may
    # have begun one more batch beside it), not after all five.
    assert len(calls) <= 4
