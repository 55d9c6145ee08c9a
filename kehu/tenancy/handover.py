"""Handover (工作交接): what a member of staff holds, and moving it to colleagues.

Tenancy owns the staff lifecycle but knows nothing of parties or tasks. Each app that
gives staff records to hold registers a `Participant` (in its AppConfig.ready): it lists
what a colleague holds and moves one record to another colleague with a note. The
handover service and the deactivation check ask every participant, so an app added
later (opportunities, tickets …) plugs in without touching tenancy.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kehu.tenancy.models import User

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


@dataclass(frozen=True)
class Holding:
    """One record a colleague holds. Records about the same party go to the same receiver."""

    kind: str  # the participant's key
    pk: int
    label: str
    party_id: int | None


class Participant(Protocol):
    key: str
    label: "_StrPromise"  # a plural noun: "客户", "待办任务"

    def holdings(self, user: User) -> list[Holding]:
        """What `user` holds now, in a stable order."""

    def count(self, user: User) -> int: ...

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        """Move one record to `receiver`, leaving `note` in its history."""


_PARTICIPANTS: dict[str, Participant] = {}


def register(participant: Participant) -> None:
    _PARTICIPANTS[participant.key] = participant


def participants() -> Iterator[Participant]:
    """In registration order: parties first, so their records follow them."""
    return iter(list(_PARTICIPANTS.values()))


@dataclass(frozen=True)
class HandoverGroup:
    """What a colleague holds of one kind, for the handover page."""

    key: str
    label: str
    holdings: list[Holding]

    @staticmethod
    def row(holding: Holding, receiver: User) -> "HandedOverRow":
        return HandedOverRow(holding, receiver, str(_PARTICIPANTS[holding.kind].label))


@dataclass(frozen=True)
class HandedOverRow:
    holding: Holding
    receiver: User
    label: str


def holdings_of(user: User) -> list[HandoverGroup]:
    """Every kind the user holds something of, with the records."""
    groups = [HandoverGroup(p.key, str(p.label), p.holdings(user)) for p in participants()]
    return [group for group in groups if group.holdings]
