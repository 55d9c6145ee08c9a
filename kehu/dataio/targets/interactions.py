"""Importing interactions: calls, visits, meetings… logged with a customer already in the
archive (found by 客户编号 or exact name, see `targets.common`).

Each row is checked by the rules `activities.services.interaction_log` applies (the
model's own validation, no time later than tomorrow) and written set-based with what
that service writes: the interaction, its InteractionParty row (the timeline's copy of
the moment), the audit entry in the party's history, and the owner's touch of the
party (the customer pool's idle clock).

A re-import creates nothing new: a row with a 外部编号 is that interaction (kept as an
`InteractionKey` of the job's 来源系统, by default the file's name); a row without one
is the interaction of the same customer, moment, kind and subject, if there is one.
Either found, the row updates what differs (`interaction_update`'s fields) or is
left unchanged.
"""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.activities.models import Interaction, InteractionKind, InteractionParty
from kehu.activities.services import INTERACTION_FIELDS, interaction_check
from kehu.activities.summary import effort_refresh
from kehu.core.audit import audit_entry, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.dataio import normalizers
from kehu.dataio.mapping import TargetField
from kehu.dataio.models import Import, InteractionKey, Outcome
from kehu.dataio.targets import RowResult, SourceRow
from kehu.dataio.targets.common import (
    PARTY_REFERENCE_FIELDS,
    PartyFinder,
    PlannedTarget,
    listed,
    party_reference,
)
from kehu.parties.models import Party
from kehu.parties.services import party_touch
from kehu.tenancy.models import User

F = TargetField
INTERACTION_FIELDS_IMPORTED = [
    F(
        "external_id",
        gettext_lazy("外部编号"),
        ("外部编号", "记录编号", "互动编号", "记录ID", "External ID", "Record ID", "Activity ID"),
    ),
    *PARTY_REFERENCE_FIELDS,
    F(
        "kind",
        gettext_lazy("类型"),
        ("类型", "互动类型", "方式", "跟进方式", "联系方式", "Type", "Kind", "Activity Type"),
    ),
    F("subject", gettext_lazy("主题"), ("主题", "标题", "摘要", "Subject", "Title", "Summary")),
    F(
        "body",
        gettext_lazy("内容"),
        ("内容", "详情", "跟进内容", "沟通内容", "记录", "备注", "Body", "Content", "Notes"),
    ),
    F(
        "occurred_at",
        gettext_lazy("时间"),
        ("时间", "日期", "发生时间", "互动时间", "跟进时间", "Date", "Time", "When", "Occurred At"),
    ),
    F(
        "duration",
        gettext_lazy("时长（分钟）"),
        ("时长（分钟）", "时长", "用时", "分钟", "Duration", "Minutes"),
    ),
    F(
        "staff",
        gettext_lazy("记录人"),
        ("记录人", "负责人", "跟进人", "销售", "员工", "Owner", "Staff", "Logged By", "User"),
    ),
]
_KIND_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("电话", "通话", "来电", "去电", "打电话", "call", "phone", "phone call"),
        InteractionKind.CALL,
    ),
    **dict.fromkeys(("拜访", "上门", "面访", "走访", "visit"), InteractionKind.VISIT),
    **dict.fromkeys(("会议", "开会", "会面", "见面", "meeting"), InteractionKind.MEETING),
    **dict.fromkeys(("邮件", "电子邮件", "email", "e-mail", "mail"), InteractionKind.EMAIL),
    **dict.fromkeys(("微信", "wechat", "weixin"), InteractionKind.WECHAT),
    **dict.fromkeys(("备注", "记录", "笔记", "其他", "note", "other"), InteractionKind.NOTE),
}
INTERACTION_TYPE = Interaction._meta.label_lower
Action = AuditEntry.Action


@dataclass
class Plan:
    number: int
    party_key: str = ""
    party_name: str = ""
    party: Party | None = None
    external_id: str = ""
    interaction: Interaction | None = None  # unsaved until written, or the one found
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)

    def natural_key(self) -> tuple[Any, ...]:
        i = self.interaction
        assert i is not None and self.party is not None
        return (self.party.pk, i.occurred_at, i.kind, i.subject)

    def result(self) -> RowResult:
        party_id = self.party.pk if self.party else None
        return RowResult(self.number, self.outcome, party_id, self.errors + self.notes)


class InteractionTarget(PlannedTarget):
    fields = INTERACTION_FIELDS_IMPORTED

    def __init__(self, job: Import) -> None:
        super().__init__(job)
        self.source: str = job.option("source") or job.file_name
        self.finder = PartyFinder(self.actor, job.option("source"))
        self.kind_words = _KIND_WORDS | {str(label): v for v, label in InteractionKind.choices}
        self.kind_words |= {v: v for v in InteractionKind.values}
        # The file's interactions seen so far, across batches: {hash of its key: row}.
        self.seen: dict[int, int] = {}

    # One row.

    def _plan(self, row: SourceRow) -> Plan:
        plan = Plan(row.number)
        plan.party_key, plan.party_name = party_reference(self, row)
        if not plan.party_key and not plan.party_name:
            self._error(plan, -1, [_("客户名称和客户编号都为空。")])
        plan.external_id = normalizers.text(self._cell(row, "external_id")[1])[:100]
        subject = normalizers.text(self._cell(row, "subject")[1])
        body = self._cell(row, "body")[1]
        if not subject:
            # The first line of the content, as the archive's list shows it.
            subject = normalizers.text(body.splitlines()[0] if body else "")[:200]
        if not subject:
            self._error(plan, -1, [_("主题和内容都为空。")])
        interaction = Interaction(
            tenant_id=current_tenant_id(),
            kind=self._kind(row, plan),
            subject=subject,
            body=body,
            # The moment, or a stand-in on a row refused for it.
            occurred_at=self._moment(row, plan) or timezone.now(),
            duration_minutes=self._parsed(row, plan, "duration", normalizers.minutes),
            created_by=self._staff_in(row, plan, "staff"),
        )
        plan.interaction = interaction
        if plan.errors:
            return plan
        try:
            interaction_check(interaction)
        except ValidationError as exc:
            columns = {"body": "body", "subject": "subject", "occurred_at": "occurred_at"}
            columns |= {"duration_minutes": "duration", "kind": "kind"}
            for name, messages in exc.message_dict.items():
                self._error(plan, self._cell_column(columns.get(name, "")), messages)
        return plan

    def _kind(self, row: SourceRow, plan: Plan) -> str:
        column, value = self._cell(row, "kind")
        if not value:
            return InteractionKind.NOTE
        kind = self.kind_words.get(normalizers.text(value).lower())
        if kind is None:
            words = listed(InteractionKind.labels)
            message = _("类型应为%(words)s之一：%(value)s") % {"words": words, "value": value}
            self._error(plan, column, [message])
            return InteractionKind.NOTE
        return kind

    def _moment(self, row: SourceRow, plan: Plan) -> datetime.datetime | None:
        if not self._cell(row, "occurred_at")[1]:
            self._error(plan, self._cell_column("occurred_at"), [_("时间为空。")])
            return None
        return self._parsed(row, plan, "occurred_at", normalizers.moment)

    # The batch against the archive.

    def _prepare(self, plans: Sequence[Plan]) -> None:
        """Each row's customer, for the whole batch at once."""
        self.finder.load(
            [p.party_key for p in plans if p.party_key],
            [p.party_name for p in plans if p.party_name],
        )
        for plan in plans:
            if not (plan.party_key or plan.party_name):
                continue
            party, failed, why = self.finder.find(plan.party_key, plan.party_name)
            if party is None:
                self._error(plan, self._cell_column(failed), [why])
            plan.party = party

    def _match(self, plans: Sequence[Plan]) -> None:
        by_key = self._by_external_id([p.external_id for p in plans if p.external_id])
        by_nature = self._by_natural_key([p for p in plans if not p.external_id])
        for plan in plans:
            marked = hash(("id", plan.external_id) if plan.external_id else plan.natural_key())
            if marked in self.seen:
                plan.outcome = Outcome.DUPLICATE
                plan.notes.append(
                    _("第 %(row)s 行：与文件第 %(other)s 行是同一条互动记录，已跳过。")
                    % {"row": plan.number, "other": self.seen[marked]}
                )
                continue
            self.seen[marked] = plan.number
            found = (
                by_key.get(plan.external_id)
                if plan.external_id
                else by_nature.get(plan.natural_key())
            )
            if found is None:
                plan.outcome = Outcome.CREATED
                continue
            self._compare(plan, found)

    def _compare(self, plan: Plan, found: Interaction) -> None:
        new = plan.interaction
        assert new is not None
        plan.before = snapshot(found, INTERACTION_FIELDS)
        # Compared as values: the same moment read back is in UTC, the file's is local.
        plan.changed = {n for n in INTERACTION_FIELDS if getattr(found, n) != getattr(new, n)}
        for name in plan.changed:
            setattr(found, name, getattr(new, name))
        plan.interaction = found
        plan.outcome = Outcome.UPDATED if plan.changed else Outcome.UNCHANGED

    def _by_external_id(self, keys: Sequence[str]) -> dict[str, Interaction]:
        if not keys:
            return {}
        found = InteractionKey.objects.filter(source=self.source, external_id__in=set(keys))
        return {k.external_id: k.interaction for k in found.select_related("interaction")}

    def _by_natural_key(self, plans: Sequence[Plan]) -> dict[tuple[Any, ...], Interaction]:
        """The batch's customers' interactions at the batch's moments, in one query."""
        party_ids = {p.party.pk for p in plans if p.party}
        moments = {p.interaction.occurred_at for p in plans if p.interaction}
        if not party_ids:
            return {}
        links = InteractionParty.objects.filter(party_id__in=party_ids, occurred_at__in=moments)
        out: dict[tuple[Any, ...], Interaction] = {}
        for link in links.select_related("interaction").order_by("interaction_id"):
            i = link.interaction
            out.setdefault((link.party_id, i.occurred_at, i.kind, i.subject), i)
        return out

    # Writing.

    def _write(self, plans: Sequence[Plan]) -> None:
        new = [p for p in plans if p.outcome == Outcome.CREATED]
        changed = [p for p in plans if p.outcome == Outcome.UPDATED]
        Interaction.objects.bulk_create([p.interaction for p in new if p.interaction])
        entries: list[AuditEntry] = []
        links: list[InteractionParty] = []
        keys: list[InteractionKey] = []
        touched: dict[int, set[int]] = defaultdict(set)
        for plan in new:
            interaction, party = plan.interaction, plan.party
            assert interaction is not None and party is not None
            links.append(
                InteractionParty(
                    tenant_id=interaction.tenant_id,
                    interaction=interaction,
                    party_id=party.pk,
                    occurred_at=interaction.occurred_at,
                )
            )
            if plan.external_id:
                keys.append(
                    InteractionKey(
                        tenant_id=interaction.tenant_id,
                        source=self.source,
                        external_id=plan.external_id,
                        interaction=interaction,
                    )
                )
            changes = diff({}, snapshot(interaction, INTERACTION_FIELDS))
            entries.append(self._entry(Action.CREATE, interaction, changes, party))
            touched[interaction.created_by_id or self.actor.pk].add(party.pk)
        if changed:
            self._update(changed, entries)
        InteractionParty.objects.bulk_create(links)
        InteractionKey.objects.bulk_create(keys)
        AuditEntry.objects.bulk_create(entries)
        staff = User.objects.in_bulk(list(touched))
        for user_id, party_ids in touched.items():
            party_touch(actor=staff[user_id], party_ids=party_ids)
        written = [p.interaction.pk for p in new + changed if p.interaction]
        links_of = InteractionParty.objects.filter(interaction_id__in=written)
        effort_refresh(set(links_of.values_list("party_id", flat=True)))

    def _update(self, plans: Sequence[Plan], entries: list[AuditEntry]) -> None:
        """As `interaction_update`: the fields, the timeline's copy of the moment, and an
        entry in the history of each party the interaction is with."""
        found = [p.interaction for p in plans if p.interaction]
        Interaction.objects.bulk_update(found, list(INTERACTION_FIELDS))
        parties: dict[int, list[int]] = defaultdict(list)
        ids = [i.pk for i in found]
        for interaction_id, party_id in InteractionParty.objects.filter(
            interaction_id__in=ids
        ).values_list("interaction_id", "party_id"):
            parties[interaction_id].append(party_id)
        moved = []
        for plan in plans:
            interaction = plan.interaction
            assert interaction is not None
            after = snapshot(interaction, INTERACTION_FIELDS)
            changes = {k: v for k, v in diff(plan.before, after).items() if k in plan.changed}
            if "occurred_at" in changes:
                moved.append(interaction)
            for party_id in sorted(parties[interaction.pk]):
                entries.append(self._entry(Action.UPDATE, interaction, changes, Party(pk=party_id)))
        for interaction in moved:
            InteractionParty.objects.filter(interaction=interaction).update(
                occurred_at=interaction.occurred_at
            )

    def _entry(
        self, action: str, interaction: Interaction, changes: dict[str, Any], party: Party
    ) -> AuditEntry:
        return audit_entry(
            actor_id=self.actor.pk, action=action, obj=interaction, changes=changes, root=party
        )
