"""What every target does with a row: read its mapped cells, word an error with the row
and the column, find the staff member and the customer a cell names.

The interactions and orders targets name a customer that must already be in the
archive: by its 客户编号 (an external id a parties import recorded) or by its exact name
(as the archive normalises names), among the parties the importing user may see. A
name two visible parties share is refused as ambiguous rather than guessed.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any, Protocol, TypeVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from kehu.dataio import normalizers
from kehu.dataio.mapping import TargetField
from kehu.dataio.models import ExternalKey, Import, Outcome
from kehu.dataio.targets import RowResult, SourceRow
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.tenancy.models import User

T = TypeVar("T")
# The customer a row of interactions or orders is about.
PARTY_REFERENCE_FIELDS = [
    TargetField(
        "party_key",
        gettext_lazy("客户编号"),
        ("客户编号", "客户ID", "客户代码", "Customer ID", "Customer No", "Account ID"),
    ),
    TargetField(
        "party_name",
        gettext_lazy("客户名称"),
        (
            "客户名称",
            "客户",
            "公司",
            "公司名称",
            "单位",
            "单位名称",
            "购买方",
            "Customer",
            "Customer Name",
            "Company",
            "Account",
            "Account Name",
        ),
    ),
]


class HasErrors(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def errors(self) -> list[str]: ...


class Planned(HasErrors, Protocol):
    outcome: str

    def result(self) -> RowResult: ...


class RowReader:
    """The mapped columns of a job: {field key: column indexes}, and the row's cells."""

    def __init__(self, job: Import) -> None:
        self.job = job
        self.actor: User = job.created_by
        self.headers: list[str] = job.headers
        self.columns: dict[str, list[int]] = defaultdict(list)
        for index, key in sorted(job.mapping.items(), key=lambda item: int(item[0])):
            self.columns[key].append(int(index))

    def group_of(self, row: SourceRow) -> str:
        """Rows with the same non-empty group go in one batch (each row on its own here)."""
        return ""

    def _cells(self, row: SourceRow, key: str) -> list[tuple[int, str]]:
        values = row.values
        n = len(values)
        return [
            (i, value) for i in self.columns.get(key, ()) if i < n and (value := values[i].strip())
        ]

    def _cell(self, row: SourceRow, key: str) -> tuple[int, str]:
        """The first non-empty mapped cell (a row is asked for ~25 of them: no list)."""
        values = row.values
        n = len(values)
        for i in self.columns.get(key, ()):
            if i < n and (value := values[i].strip()):
                return i, value
        return -1, ""

    def _cell_column(self, key: str) -> int:
        columns = self.columns.get(key, [])
        return columns[0] if columns else -1

    @cached_property
    def staff(self) -> dict[str, User]:
        return staff_by_name()

    def _staff_named(self, plan: HasErrors, column: int, value: str) -> User | None:
        """The active staff member a cell names (None, and an error, when there is none)."""
        user = self.staff.get(normalizers.text(value).lower())
        if user is None:
            self._error(plan, column, [_("找不到这位在职员工：%(value)s") % {"value": value}])
        return user

    def _staff_in(self, row: SourceRow, plan: HasErrors, key: str) -> User:
        """The staff member the row's cell names; the importing user when it is empty."""
        column, value = self._cell(row, key)
        return (self._staff_named(plan, column, value) if value else None) or self.actor

    def _parsed(
        self, row: SourceRow, plan: HasErrors, key: str, parse: Callable[[str], T]
    ) -> T | None:
        """The cell through a normaliser: None when empty, or (with an error) when bad."""
        column, value = self._cell(row, key)
        if not value:
            return None
        try:
            return parse(value)
        except ValidationError as exc:
            self._error(plan, column, exc.messages)
            return None

    def _error(self, plan: HasErrors, column: int, messages: Iterable[str]) -> None:
        """「第 42 行，「客户名称」列：…」, or without the column when there is none."""
        header = self.headers[column] if 0 <= column < len(self.headers) else ""
        for message in messages:
            plan.errors.append(
                _("第 %(row)s 行，「%(column)s」列：%(message)s")
                % {"row": plan.number, "column": header, "message": message}
                if header
                else _("第 %(row)s 行：%(message)s") % {"row": plan.number, "message": message}
            )


class PlannedTarget(RowReader):
    """A target that plans each row, matches the batch's good rows against the archive,
    then writes those that create or update something: the batch's steps."""

    def process(
        self, rows: Sequence[SourceRow], *, write: bool, plans: Sequence[Any] | None = None
    ) -> list[RowResult]:
        """The batch's outcomes; `plans`: the rows' plans, made ahead by a helper process
        (kehu.dataio.ahead) from these very rows."""
        if plans is None:
            plans = [self._plan(row) for row in rows]
        self._prepare(plans)
        live = [p for p in plans if not p.errors]
        self._match(live)
        if write:
            self._write([p for p in live if p.outcome in {Outcome.CREATED, Outcome.UPDATED}])
        for plan in plans:
            if plan.errors:
                plan.outcome = Outcome.REFUSED
        return [plan.result() for plan in plans]

    def _plan(self, row: SourceRow) -> Planned:
        raise NotImplementedError

    def _prepare(self, plans: Sequence[Any]) -> None:
        """What the batch's rows need read before they are matched (none here)."""

    def _match(self, plans: Sequence[Any]) -> None:
        raise NotImplementedError

    def _write(self, plans: Sequence[Any]) -> None:
        raise NotImplementedError


def listed(words: Iterable[object]) -> str:
    """电话、拜访、会议 (in English: Call, Visit, Meeting)."""
    return pgettext("punctuation", "、").join(str(w) for w in words)


def staff_by_name() -> dict[str, User]:
    """The firm's active staff by user name, display name and email (lower case)."""
    staff: dict[str, User] = {}
    for user in User.objects.filter(is_active=True).order_by("pk"):
        staff.setdefault(user.username.lower(), user)
        if user.display_name:
            staff.setdefault(normalizers.text(user.display_name).lower(), user)
        if user.email:
            staff.setdefault(user.email.lower(), user)
    return staff


class PartyFinder:
    """The customers a batch names, read in one query per kind of reference."""

    def __init__(self, actor: User, source: str) -> None:
        self.actor = actor
        self.source = source  # the job's 来源系统, when one was given: only its ids count
        self.by_key: dict[str, list[Party]] = {}
        self.by_name: dict[str, list[Party]] = {}

    def load(self, keys: Sequence[str], names: Sequence[str]) -> None:
        visible = parties_visible_to(self.actor).only(
            "pk", "name", "owner_id", "relationship_state"
        )
        self.by_key, self.by_name = defaultdict(list), defaultdict(list)
        if keys:
            found = ExternalKey.objects.filter(external_id__in=set(keys))
            if self.source:
                found = found.filter(source=self.source)
            pairs = list(found.values_list("external_id", "party_id"))
            parties = visible.in_bulk({pk for _key, pk in pairs})
            for key, pk in pairs:
                party = parties.get(pk)
                if party is not None and party not in self.by_key[key]:
                    self.by_key[key].append(party)
        if names:
            for party in visible.filter(name__in=set(names)).order_by("pk"):
                self.by_name[party.name].append(party)

    def find(self, key: str, name: str) -> tuple[Party | None, str, str]:
        """(the party, "", "") or (None, the field that failed, why)."""
        if key:
            found = self.by_key.get(key, [])
            if len(found) == 1:
                return found[0], "", ""
            if found:
                return None, "party_key", _("客户编号「%(value)s」对应多个客户。") % {"value": key}
            if not name:
                return None, "party_key", _("没有客户编号为「%(value)s」的客户。") % {"value": key}
        found = self.by_name.get(name, [])
        if len(found) == 1:
            return found[0], "", ""
        if found:
            message = _("有 %(n)s 个客户名为「%(name)s」，请改用客户编号区分。")
            return None, "party_name", message % {"n": len(found), "name": name}
        return None, "party_name", _("没有名为「%(name)s」的客户。") % {"name": name}


def party_reference(reader: RowReader, row: SourceRow) -> tuple[str, str]:
    """The 客户编号 and the normalised 客户名称 a row gives."""
    key = normalizers.text(reader._cell(row, "party_key")[1])[:100]
    name = normalizers.text(reader._cell(row, "party_name")[1])
    return key, name
