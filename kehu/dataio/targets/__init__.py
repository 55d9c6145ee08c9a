"""What an import writes into. A target names its fields (for the mapping step) and
turns a batch of rows into outcomes, writing them unless it is a dry run.

Parties are the first target; orders and interactions come as further classes with the
same two members, registered in `TARGETS`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

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


def target_for(job: Import) -> Target:
    from kehu.dataio.targets.parties import PartyTarget

    targets: dict[str, Callable[[Import], Target]] = {"parties": PartyTarget}
    return targets[job.target](job)


def fields_of(target: str) -> Sequence[TargetField]:
    from kehu.dataio.targets.parties import PARTY_FIELDS_IMPORTED

    return {"parties": PARTY_FIELDS_IMPORTED}[target]


__all__ = ["Mapping", "RowResult", "SourceRow", "Target", "fields_of", "target_for"]
