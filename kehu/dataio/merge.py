"""Merging two parties into one, and undoing it exactly.

Every row that points at a party is found through the app registry (`party_references`)
and handled by its rule in `RULES`: moved to the survivor; moved unless the survivor
already has its like (then kept aside whole and put back on undo); rebuilt (search
keys); or kept as history of the loser. A reference without a rule stops the merge,
and `test_every_party_reference_has_a_rule` fails, so a new foreign key to Party cannot
be forgotten. The loser is soft-deleted like any deleted party; the `PartyMerge` row
holds both parties as they were, the ids moved and the rows set aside.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.activities.summary import effort_refresh
from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.models import AuditEntry
from kehu.dataio.models import CandidateStatus, DuplicateCandidate, PartyMerge
from kehu.parties import search
from kehu.parties.models import Party
from kehu.parties.services import party_clean
from kehu.sales.models import Order
from kehu.sales.summary import summary_refresh
from kehu.tenancy.models import User

Action = AuditEntry.Action

# The fields a merge lets the user take from either party.
MERGE_FIELDS = (
    "name",
    "uscc",
    "gender",
    "industry",
    "website",
    "source",
    "description",
    "relationship_state",
    "is_direct",
    "owner",
    "province",
    "city",
    "district",
)


@dataclass(frozen=True)
class Rule:
    """`move`: point at the survivor. `unique`: the same, except a row whose `same`
    fields equal one of the survivor's (or that would point the survivor at itself),
    which is set aside. `rebuild`: derived rows, rewritten. `keep`: history left as is."""

    how: str
    same: tuple[str, ...] = ()


MOVE, UNIQUE, REBUILD, KEEP = "move", "unique", "rebuild", "keep"

RULES: dict[str, Rule] = {
    "parties.partyrole.party": Rule(UNIQUE, ("role",)),
    "parties.partylink.from_party": Rule(UNIQUE, ("to_party", "kind")),
    "parties.partylink.to_party": Rule(UNIQUE, ("from_party", "kind")),
    "parties.contactpoint.party": Rule(UNIQUE, ("kind", "value")),
    "parties.address.party": Rule(MOVE),
    "parties.partytag.party": Rule(UNIQUE, ("tag",)),
    "parties.preference.party": Rule(MOVE),
    "parties.importantdate.party": Rule(MOVE),
    "parties.accountteammember.party": Rule(UNIQUE, ("user",)),
    "parties.statechange.party": Rule(MOVE),
    "parties.ownershipchange.party": Rule(MOVE),
    "parties.searchkey.party": Rule(REBUILD),
    "activities.interactionparty.party": Rule(UNIQUE, ("interaction",)),
    "activities.task.party": Rule(MOVE),
    "activities.servicetime.party": Rule(MOVE),
    "sales.order.party": Rule(MOVE),
    "sales.opportunity.party": Rule(MOVE),
    "sales.opportunity.contact": Rule(MOVE),
    "sales.opportunitycompetitor.party": Rule(UNIQUE, ("opportunity",)),
    "sales.lead.converted_party": Rule(MOVE),
    "sales.lead.converted_contact": Rule(MOVE),
    "dataio.externalkey.party": Rule(MOVE),
    # What an import row did, a candidate pair, a merge: history of the party as it was.
    "dataio.importrow.party": Rule(KEEP),
    "dataio.duplicatecandidate.party_a": Rule(KEEP),
    "dataio.duplicatecandidate.party_b": Rule(KEEP),
    "dataio.partymerge.survivor": Rule(KEEP),
    "dataio.partymerge.loser": Rule(KEEP),
    # A score is what one run found for that party as it was; the next run scores the
    # survivor with the merged orders. A manager's stage call stays with the party it
    # was made on; a win-back action follows its task (which moves).
    "insights.customerscore.party": Rule(KEEP),
    "insights.stageoverride.party": Rule(KEEP),
    "insights.winbackaction.party": Rule(MOVE),
    # What the daily sales summary used of each party: both are stored again after the
    # merge (and its undo), with the days of their orders (`_refresh_sales`).
    "sales.summaryparty.party": Rule(KEEP),
    # The daily effort summary's rows of each party: computed again after the merge (and
    # its undo) from the activities that moved (`_refresh_sales`).
    "activities.dailyeffort.party": Rule(KEEP),
}


def party_references() -> list[models.ForeignKey[Any, Any]]:
    """Every concrete foreign key to Party in the project (many-to-many links count
    through their own models' foreign keys)."""
    found = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if isinstance(f, models.ForeignKey) and f.related_model is Party:
                found.append(f)
    return found


def reference_label(f: models.ForeignKey[Any, Any]) -> str:
    return f"{f.model._meta.label_lower}.{f.name}"


def _rule(f: models.ForeignKey[Any, Any]) -> Rule:
    rule = RULES.get(reference_label(f))
    if rule is None:
        raise RuntimeError(f"no merge rule for {reference_label(f)}: add one to merge.RULES")
    return rule


def _dump(obj: models.Model) -> dict[str, Any]:
    """The row as JSON, exactly (datetimes to the microsecond), for `_load`."""
    values: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        value = getattr(obj, f.attname)
        plain = value is None or isinstance(f, models.JSONField)
        values[f.attname] = value if plain else f.value_to_string(obj)
    return {"model": obj._meta.label_lower, "values": values}


def _load(data: Mapping[str, Any]) -> None:
    """Put a row dumped by `_dump` back: its values over the row, or the row anew."""
    model = apps.get_model(data["model"])
    values = {}
    for f in model._meta.concrete_fields:
        value = data["values"][f.attname]
        plain = value is None or isinstance(f, models.JSONField)
        values[f.attname] = value if plain else f.to_python(value)
    pk = values.pop(model._meta.pk.attname)
    if not model._base_manager.filter(pk=pk).update(**values):
        model._base_manager.bulk_create([model(pk=pk, **values)])


def merge_choices_default(survivor: Party, loser: Party) -> dict[str, str]:
    """Keep the survivor's values, and fill the ones it lacks from the loser."""
    return {
        name: "loser"
        if _value(survivor, name) in ("", None) and _value(loser, name) not in ("", None)
        else "survivor"
        for name in MERGE_FIELDS
    }


def concrete_field(model: type[models.Model], name: str) -> "models.Field[Any, Any]":
    """A model's own column by name (get_field also answers relations and generic keys)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name
    return field


def _value(party: Party, name: str) -> Any:
    return getattr(party, concrete_field(Party, name).attname)


@transaction.atomic
def party_merge(
    *,
    actor: User,
    survivor: Party,
    loser: Party,
    choices: Mapping[str, str],
    candidate: DuplicateCandidate | None = None,
) -> PartyMerge:
    """Merge `loser` into `survivor`: the chosen fields ({field: "survivor" | "loser"}),
    every linked row, then the loser soft-deleted. All or nothing."""
    _check_mergeable(survivor, loser)
    unknown = set(choices) - set(MERGE_FIELDS)
    bad = set(choices.values()) - {"survivor", "loser"}
    if unknown or bad:
        names = ", ".join(sorted(unknown | bad))
        raise ValidationError(_("合并选项无效：%(names)s") % {"names": names})
    survivor = Party.with_deleted.select_for_update().get(pk=survivor.pk)
    loser = Party.with_deleted.select_for_update().get(pk=loser.pk)
    record = PartyMerge(
        survivor=survivor,
        loser=loser,
        candidate=candidate,
        survivor_before=_dump(survivor),
        loser_before=_dump(loser),
        merged_by=actor,
    )
    before = snapshot(survivor, MERGE_FIELDS)
    taken = {n: _value(loser, n) for n in MERGE_FIELDS if choices.get(n) == "loser"}
    loser.deleted_at = timezone.now()
    if "uscc" in taken:
        loser.uscc = ""  # the code is unique in the firm: it moves with the choice
    loser.save(update_fields=["deleted_at", "uscc", "updated_at"])
    for name, value in taken.items():
        setattr(survivor, concrete_field(Party, name).attname, value)
    party_clean(survivor)
    survivor.save()
    record.moved, record.removed = _move_references(survivor.pk, loser.pk)
    record.removed += _demote_primaries(survivor.pk, loser.pk, record.moved)
    record.save()
    _refresh_sales(survivor.pk, loser.pk)
    search.refresh_keys(survivor)
    if candidate is not None:
        _decide(candidate, actor, CandidateStatus.MERGED)
    _audit_merge(actor, record, survivor, loser, diff(before, snapshot(survivor, MERGE_FIELDS)))
    return record


def _refresh_sales(*party_ids: int) -> None:
    """The orders moved between the two parties: their days in the sales summary; the
    activities moved: both parties' rows in the effort summary."""
    days = Order.objects.filter(party_id__in=party_ids).values_list("order_date", flat=True)
    summary_refresh(days=set(days), parties=party_ids)
    effort_refresh(party_ids)


def _check_mergeable(survivor: Party, loser: Party) -> None:
    if survivor.pk == loser.pk:
        raise ValidationError(_("不能把客户与自己合并。"))
    if survivor.tenant_id != loser.tenant_id:
        raise ValidationError(_("只能合并本公司的客户。"))
    if survivor.kind != loser.kind:
        raise ValidationError(_("组织和个人不能合并。"))
    if survivor.deleted_at is not None or loser.deleted_at is not None:
        raise ValidationError(_("已删除的客户不能合并。"))


def _move_references(
    survivor_id: int, loser_id: int
) -> tuple[dict[str, list[int]], list[dict[str, Any]]]:
    moved: dict[str, list[int]] = {}
    removed: list[dict[str, Any]] = []
    for f in party_references():
        rule = _rule(f)
        if rule.how in {REBUILD, KEEP}:
            continue
        rows = f.model._base_manager.filter(**{f.name: loser_id})
        if rule.how == UNIQUE:
            for row in _clashes(f, rule, rows, survivor_id):
                removed.append(_dump(row))
                row.delete()
        ids = list(rows.values_list("pk", flat=True))
        if ids:
            f.model._base_manager.filter(pk__in=ids).update(**{f.name: survivor_id})
            moved[reference_label(f)] = ids
    return moved, removed


# The parts of which a party has one primary: per kind of contact point, one address.
PRIMARY_GROUPS = {
    "parties.contactpoint.party": ("kind",),
    "parties.address.party": (),
}


def _demote_primaries(
    survivor_id: int, loser_id: int, moved: Mapping[str, list[int]]
) -> list[dict[str, Any]]:
    """The loser's primary parts that moved where the survivor already has a primary of
    their kind stop being primary, so that the survivor keeps one of each. They are
    returned dumped as they were (the loser's, primary) for undo to put back."""
    kept: list[dict[str, Any]] = []
    for label, group in PRIMARY_GROUPS.items():
        ids = moved.get(label)
        if not ids:
            continue
        model = apps.get_model(label.rsplit(".", 1)[0])
        own = model._base_manager.filter(party_id=survivor_id, is_primary=True)
        taken = {tuple(getattr(row, n) for n in group) for row in own.exclude(pk__in=ids)}
        for row in model._base_manager.filter(pk__in=ids, is_primary=True).order_by("pk"):
            key = tuple(getattr(row, n) for n in group)
            if key not in taken:
                taken.add(key)  # the first moved primary of its kind stays one
                continue
            dumped = _dump(row)
            dumped["values"]["party_id"] = loser_id
            kept.append(dumped)
            row.is_primary = False
            row.save(update_fields=["is_primary"])
    return kept


def _clashes(
    f: models.ForeignKey[Any, Any], rule: Rule, rows: models.QuerySet[Any], survivor_id: int
) -> list[models.Model]:
    """The loser's rows the survivor already has (same `rule.same` values), or that
    would make the survivor point at itself (a link between the two)."""
    attnames = [concrete_field(f.model, n).attname for n in rule.same]
    theirs = set(
        f.model._base_manager.filter(**{f.name: survivor_id}).values_list(*attnames)
        if attnames
        else []
    )
    clashes = []
    for row in rows:
        values = tuple(getattr(row, a) for a in attnames)
        if values in theirs or survivor_id in values:
            clashes.append(row)
    return clashes


def _decide(candidate: DuplicateCandidate, actor: User | None, status: str) -> None:
    candidate.status = status
    candidate.decided_by = actor
    candidate.decided_at = timezone.now() if status != CandidateStatus.OPEN else None
    candidate.save(update_fields=["status", "decided_by", "decided_at"])


def _audit_merge(
    actor: User,
    record: PartyMerge,
    survivor: Party,
    loser: Party,
    changes: dict[str, list[Any]],
) -> None:
    moved = {label: len(ids) for label, ids in record.moved.items()}
    audit_write(
        actor_id=actor.pk,
        action=Action.UPDATE,
        obj=survivor,
        changes={**changes, "merged_from": [None, loser.pk], "moved": [None, moved]},
    )
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=loser,
        changes={"merged_into": [None, survivor.pk]},
    )


def merge_undoable(record: PartyMerge) -> bool:
    """Not undone yet, and neither party was merged again since (undo that one first)."""
    if record.undone_at is not None:
        return False
    later = PartyMerge.objects.filter(pk__gt=record.pk, undone_at__isnull=True)
    ids = [record.survivor_id, record.loser_id]
    return not later.filter(models.Q(survivor_id__in=ids) | models.Q(loser_id__in=ids)).exists()


@transaction.atomic
def party_merge_undo(*, actor: User, record: PartyMerge) -> PartyMerge:
    """Put everything back as it was before the merge: the moved rows point at the loser
    again, the rows set aside return, both parties get their old values back."""
    record = PartyMerge.objects.select_for_update().get(pk=record.pk)
    if not merge_undoable(record):
        raise ValidationError(_("这次合并已撤销，或之后又有合并涉及这两个客户，请先撤销那次。"))
    for label, ids in record.moved.items():
        model_label, field_name = label.rsplit(".", 1)
        model = apps.get_model(model_label)
        model._base_manager.filter(pk__in=ids).update(**{field_name: record.loser_id})
    _load(record.survivor_before)  # first: a USCC it took from the loser is freed
    _load(record.loser_before)
    for data in record.removed:
        _load(data)
    survivor = Party.with_deleted.get(pk=record.survivor_id)
    loser = Party.with_deleted.get(pk=record.loser_id)
    _refresh_sales(survivor.pk, loser.pk)
    search.refresh_keys(survivor)
    search.refresh_keys(loser)
    record.undone_at = timezone.now()
    record.undone_by = actor
    record.save(update_fields=["undone_at", "undone_by"])
    if record.candidate_id is not None:
        candidate = DuplicateCandidate.objects.get(pk=record.candidate_id)
        _decide(candidate, None, CandidateStatus.OPEN)
    audit_write(
        actor_id=actor.pk,
        action=Action.UPDATE,
        obj=survivor,
        changes={"merged_from": [loser.pk, None]},
    )
    audit_write(
        actor_id=actor.pk,
        action=Action.RESTORE,
        obj=loser,
        changes={"merged_into": [survivor.pk, None]},
    )
    return record
