"""Pipelines and deals for the tests, built through the services."""

from decimal import Decimal
from typing import Any

from kehu.parties.models import Party
from kehu.sales import pipeline_services as deals
from kehu.sales.models import Opportunity, Pipeline, Stage, StageField, StageKind
from kehu.tenancy.models import User

NEEDS = [StageField.AMOUNT, StageField.EXPECTED_CLOSE]


def new_sales(actor: User, name: str = "新客户销售", **options: Any) -> Pipeline:
    """初步接洽 10% → 需求确认 30% → 提案 60% (amount and close date from here on) →
    谈判 80% → 赢单 / 输单."""
    return deals.pipeline_create(
        actor=actor,
        name=name,
        stages=[
            deals.StageIn("初步接洽", 10),
            deals.StageIn("需求确认", 30),
            deals.StageIn("提案", 60, required_fields=NEEDS),
            deals.StageIn("谈判", 80),
            deals.StageIn("赢单", 100, StageKind.WON),
            deals.StageIn("输单", 0, StageKind.LOST),
        ],
        **options,
    )


def stage(pipeline: Pipeline, name: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, name=name)


def deal(actor: User, party: Party, name: str = "办公椅采购", **fields: Any) -> Opportunity:
    return deals.opportunity_create(actor=actor, party=party, name=name, **fields)


def money(value: str) -> Decimal:
    return Decimal(value)
