"""What an import writes into. A target names its fields (for the mapping step) and
turns a batch of rows into outcomes, writing them unless it is a dry run.

Three targets (`ImportTarget`): parties (`targets.parties`), interactions with them
(`targets.interactions`) and orders (`targets.orders`). A target may also say which
rows belong together (`group_of`: the lines of one order), so that a batch never splits
them.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.utils.translation import gettext as _

from kehu.dataio.mapping import Mapping, TargetField
from kehu.dataio.models import Import


@dataclass
class RowResult:
    number: int  # the row's line in the file (the header is row 1)
    outcome: str
    party_id: int | None = None
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceRow:
    number: int
    values: list[str]


class Target(Protocol):
    def process(self, rows: Sequence[SourceRow], *, write: bool) -> list[RowResult]: ...

    def group_of(self, row: SourceRow) -> str: ...


@dataclass(frozen=True)
class TargetSpec:
    factory: Callable[[Import], Target]
    fields: Sequence[TargetField]
    # The mapping must name at least one of these fields, or is refused with `missing`.
    needs: tuple[str, ...]
    missing: str


def _specs() -> dict[str, TargetSpec]:
    from kehu.dataio.targets import interactions, orders, parties

    return {
        "parties": TargetSpec(
            parties.PartyTarget,
            parties.PARTY_FIELDS_IMPORTED,
            ("name", "contact"),
            _("请至少指定「客户名称」或「联系人」所在的列。"),
        ),
        "interactions": TargetSpec(
            interactions.InteractionTarget,
            interactions.INTERACTION_FIELDS_IMPORTED,
            ("party_key", "party_name"),
            _("请至少指定「客户名称」或「客户编号」所在的列。"),
        ),
        "orders": TargetSpec(
            orders.OrderTarget,
            orders.ORDER_FIELDS_IMPORTED,
            ("number",),
            _("请指定「订单号」所在的列：同一订单号的行是同一张订单。"),
        ),
    }


def spec_of(target: str) -> TargetSpec:
    return _specs()[target]


def target_for(job: Import) -> Target:
    return spec_of(job.target).factory(job)


def fields_of(target: str) -> Sequence[TargetField]:
    return spec_of(target).fields


__all__ = ["Mapping", "RowResult", "SourceRow", "Target", "fields_of", "spec_of", "target_for"]
